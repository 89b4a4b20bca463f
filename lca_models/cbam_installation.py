"""A CBAM installation: what an operator reports to compute specific embedded emissions (SEE).

The data model follows the Commission's communication template for installations (v2.1.1) and the
methodology it implements (Reg (EU) 2023/956 Annex IV; IR (EU) 2025/2547 Annex III A):
- source streams, PFC sources and measured emission sources (template sheet B_EmInst) give the
  installation's direct emissions; the installation's indirect emissions come from sheet C;
- each production process (sheet D_Processes) has its activity level (AL, tonnes of its aggregated good,
  per production route), its directly attributable emissions (DirEm*), measurable heat and waste gases
  imported/exported, electricity consumed and exported, and the precursors it consumes;
- purchased precursors (sheet E_PurchPrec) come with their SEE (direct, indirect), flagged when a
  default value was used;
- products (Summary_Products) name the process they arise from and their CN code.
The SEE arithmetic itself lives in `pcf/cbam/see.py` (on Brightway); here are only the per-line
formulas of the template (source-stream emissions, heat, waste gas, electricity), so that every
consumer computes them the same way. YAML form: `load_installation` / `installation_document`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from .errors import ModelError, ModelErrors, validation_errors

# Template sheet Parameters_Constants: CONST_EFNatGas (tCO2/TJ), GWP100 of N2O, CF4, C2F6 (IPCC AR5, as the
# template uses them: rows 76-78), and the molar-mass ratio CO2/C used by the mass-balance formula (B_EmInst BF).
EF_NATURAL_GAS = 56.1
GWP_N2O = 265.0
GWP_CF4 = 6630.0
GWP_C2F6 = 11100.0
CO2_PER_C = 3.664
# IR 2025/2547 Annex III A.2.3 (Equations 53, 54): imported waste gas counts at the natural-gas emission factor;
# exported waste gas is credited at that factor times Corr_eta, the standard value 0.667 (also the template's).
WASTE_GAS_CORRECTION = 0.667

METHODS = ("combustion", "process emissions", "mass balance")
PFC_METHODS = ("slope method", "overvoltage method")
MEASURED_GASES = ("CO2", "N2O")
EF_UNITS = ("tCO2/TJ", "tCO2/t", "tCO2/1000Nm3")
# Aggregated goods categories, as the template lists them (Parameters_Constants A89:A106; IR 2025/2547 Annex I).
GOODS_CATEGORIES = (
    "Cement", "Cement clinker", "Calcined clays", "Aluminous cement", "Iron or steel products", "Crude steel",
    "Direct reduced iron", "Pig iron", "Alloys (FeMn, FeCr, FeNi)", "Sintered Ore", "Hydrogen", "Ammonia",
    "Nitric acid", "Urea", "Mixed fertilisers", "Aluminium products", "Unwrought aluminium",
    "Electricity (export to EU)",
)


# The installation's identity in the template (A_InstData section 2, items i. to xiv.; ii. is the name, viii. the
# country): key of `Installation.address` -> item.
ADDRESS_ITEMS = {
    "local_name": "i.", "street": "iii.", "economic_activity": "iv.", "post_code": "v.", "po_box": "vi.",
    "city": "vii.", "unlocode": "ix.", "latitude": "x.", "longitude": "xi.", "representative": "xii.",
    "email": "xiii.", "telephone": "xiv.",
}
# The qualitative parameters of a product (template Summary_Products, columns P to AK; IR 2025/2547 Annex IV
# point 2 lists them per aggregated goods category): key -> (column, kind). Shares are fractions, as the template's
# percentage cells hold them (0.14 shows as 14 %).
PRODUCT_PARAMETERS = {
    "reducing_agent": ("P", "text"), "steel_mill_id": ("Q", "text"), "mn_share": ("R", "number"),
    "cr_share": ("S", "number"), "ni_share": ("T", "number"), "other_alloys_share": ("U", "number"),
    "carbon_share": ("V", "number"), "scrap_t_per_t_steel": ("W", "number"), "other_materials_share": ("X", "number"),
    "pre_consumer_scrap_share": ("Y", "number"), "scrap_t_per_t_aluminium": ("Z", "number"),
    "non_aluminium_share": ("AA", "number"), "clinker_factor": ("AB", "number"), "calcined": ("AC", "text"),
    "solution_concentration": ("AD", "number"), "nitric_acid_share": ("AE", "number"), "urea_share": ("AF", "number"),
    "n_share": ("AG", "number"), "n_ammonium_share": ("AH", "number"), "n_nitrate_share": ("AI", "number"),
    "n_urea_share": ("AJ", "number"), "n_other_share": ("AK", "number"),
}

_ALL = ("All production routes",)
# Production routes per aggregated goods category, in the template's order (Parameters_Constants G89:P106):
# the n-th production row of a process in D_Processes (a) is the n-th route of its category.
PRODUCTION_ROUTES: dict[str, tuple[str, ...]] = {category: _ALL for category in GOODS_CATEGORIES} | {
    "Crude steel": ("Basic oxygen steelmaking", "Electric arc furnace", "Other production routes",
                    "Unknown production routes"),
    "Pig iron": ("Blast furnace route", "Smelting reduction", "Other production routes", "Unknown production routes"),
    "Hydrogen": ("Steam reforming and partial oxidation", "Electrolysis of water",
                 "Chlor-Alkali electrolysis and production of chlorates", "Other production routes",
                 "Unknown production routes"),
    "Ammonia": ("Haber-Bosch process with steam reforming of natural gas or biogas",
                "Haber-Bosch process with gasification of coal or other fuels", "Other production routes",
                "Unknown production routes"),
    "Unwrought aluminium": ("Primary (electrolytic) smelting", "Secondary melting (recycling)",
                            "Other production routes", "Unknown production routes"),
}


@dataclass(frozen=True)
class SourceStream:
    """A calculation-based source stream (template B_EmInst (a)); emissions in tCO2e by the template's formulas."""

    name: str
    method: str  # one of METHODS
    activity_data: float  # t or 1000 Nm3 (negative for outputs in a mass balance)
    ad_unit: str = "t"
    ncv: float | None = None  # GJ per AD unit
    emission_factor: float | None = None
    ef_unit: str = "tCO2/t"  # tCO2/TJ or tCO2/<AD unit>
    carbon_content: float | None = None  # tC per AD unit (mass balance)
    oxidation_factor: float | None = None  # %, combustion; empty = 100 %
    conversion_factor: float | None = None  # %, process emissions; empty = 100 %
    biomass_content: float = 0.0  # %

    def _co2(self) -> float:
        if self.method == "mass balance":
            return self.activity_data * (self.carbon_content or 0.0) * CO2_PER_C
        energy = (self.ncv or 0.0) / 1000 if self.ef_unit == "tCO2/TJ" else 1.0
        factor = self.oxidation_factor if self.method == "combustion" else self.conversion_factor
        return self.activity_data * energy * (self.emission_factor or 0.0) * (1.0 if factor is None else factor / 100)

    @property
    def fossil_emissions(self) -> float:
        """tCO2 counted as direct emissions: B_EmInst columns BD-BF."""
        return self._co2() * (1 - self.biomass_content / 100)

    @property
    def biomass_emissions(self) -> float:
        """tCO2 from biomass, reported but not counted: B_EmInst columns BH-BJ."""
        return self._co2() * self.biomass_content / 100

    @property
    def energy_tj(self) -> float:
        """Energy content (fossil + biomass), TJ: B_EmInst AX + AY."""
        return self.activity_data * (self.ncv or 0.0) / 1000


@dataclass(frozen=True)
class PfcSource:
    """Primary-aluminium PFC emissions (template B_EmInst (b)): slope or overvoltage method."""

    technology: str
    method: str  # one of PFC_METHODS
    activity_data: float  # t aluminium
    frequency: float | None = None  # slope: anode effects per cell-day
    duration: float | None = None  # slope: minutes per anode effect
    sef_cf4: float | None = None  # slope coefficient
    aeo: float | None = None  # overvoltage: mV
    ce: float | None = None  # overvoltage: current efficiency
    ovc: float | None = None  # overvoltage coefficient
    f_c2f6: float = 0.0  # t C2F6 per t CF4
    collection_efficiency: float | None = None  # fraction; empty = 1

    @property
    def emissions(self) -> float:
        """tCO2e: B_EmInst AN-AU, including the division by the collection efficiency."""
        if self.method == "slope method":
            cf4 = self.activity_data * (self.frequency or 0.0) * (self.duration or 0.0) * (self.sef_cf4 or 0.0) / 1000
        else:
            cf4 = self.activity_data * ((self.aeo or 0.0) / (self.ce or 1.0)) * (self.ovc or 0.0) / 1000
        co2e = cf4 * GWP_CF4 + cf4 * self.f_c2f6 * GWP_C2F6
        return co2e / (self.collection_efficiency or 1.0)


@dataclass(frozen=True)
class MeasuredSource:
    """A measurement-based emission source (CEMS, template B_EmInst (c))."""

    name: str
    gas: str  # CO2 or N2O
    concentration: float  # g/Nm3, hourly average
    hours: float  # h per period
    flue_gas_flow: float  # 1000 Nm3/h
    biomass_fraction: float = 0.0  # %

    @property
    def emissions(self) -> float:
        """tCO2e (fossil): B_EmInst AU, V*X*Z/1000*(1-bio)*GWP."""
        gwp = GWP_N2O if self.gas == "N2O" else 1.0
        return self.concentration * self.hours * self.flue_gas_flow / 1000 * (1 - self.biomass_fraction / 100) * gwp


@dataclass(frozen=True)
class ProductionProcess:
    """A production process (template D_Processes): AL, attributable emissions and precursor inputs."""

    name: str
    goods_category: str
    production: dict[str, float]  # production route -> t produced (the AL is their sum)
    direct_emissions: float  # DirEm*, tCO2e
    electricity_consumed: float = 0.0  # MWh
    electricity_ef: float = 0.0  # tCO2/MWh
    electricity_ef_source: str = ""
    electricity_exported: float = 0.0  # MWh
    electricity_exported_ef: float = 0.0  # tCO2/MWh
    heat_imported: float = 0.0  # TJ net measurable heat
    heat_imported_ef: float = 0.0  # tCO2/TJ
    heat_exported: float = 0.0
    heat_exported_ef: float = 0.0
    waste_gas_imported: float = 0.0  # TJ
    waste_gas_exported: float = 0.0  # TJ
    produced_for_market: float | None = None  # t (informative; the rest goes to other processes)
    consumed_for_non_cbam: float = 0.0  # t
    precursors: dict[str, float] = field(default_factory=dict)  # own process or purchased precursor -> t consumed
    included_goods: tuple[str, ...] = ()  # further goods categories covered by this process (A_InstData 4(b))

    @property
    def activity_level(self) -> float:
        """AL: total production of the process (D_Processes (a), 'denominator for SEE')."""
        return sum(self.production.values())

    @property
    def heat_emissions(self) -> float:
        """D_Processes (h): imported heat x EF minus exported heat x EF."""
        return self.heat_imported * self.heat_imported_ef - self.heat_exported * self.heat_exported_ef

    @property
    def waste_gas_emissions(self) -> float:
        """D_Processes (i): imported waste gas at the natural-gas EF, minus exported x EF_NG x correction."""
        return (self.waste_gas_imported * EF_NATURAL_GAS
                - self.waste_gas_exported * EF_NATURAL_GAS * WASTE_GAS_CORRECTION)

    @property
    def attributed_direct_emissions(self) -> float:
        """AttrEm(direct), tCO2e: DirEm* + heat + waste gases - exported electricity x its EF (D_Processes (g)-(k)).

        IR 2025/2547 Annex III A.3, Equation 55: "Where AttrEmDir is calculated to have a negative value, it shall
        be set to zero." (The template v2.1.1 does not clamp; it only differs when the credits exceed DirEm*.)
        """
        return max(0.0, self.direct_emissions + self.heat_emissions + self.waste_gas_emissions
                   - self.electricity_exported * self.electricity_exported_ef)

    @property
    def attributed_indirect_emissions(self) -> float:
        """AttrEm(indirect), tCO2e: electricity consumed x its EF (D_Processes (j))."""
        return self.electricity_consumed * self.electricity_ef


@dataclass(frozen=True)
class PurchasedPrecursor:
    """A precursor bought in (template E_PurchPrec) with its SEE as communicated by its producer."""

    name: str
    goods_category: str
    see_direct: float | None = None  # tCO2e/t; None: take the default value of `cn_code` (IR 2025/2621 Annex I)
    specific_electricity: float = 0.0  # MWh/t
    electricity_ef: float = 0.0  # tCO2e/MWh
    country: str = ""
    purchased: dict[str, float] = field(default_factory=dict)  # production route -> t purchased
    see_direct_source: str = "Measured"  # the template's 'Measured' / 'Default' / 'Unknown'
    specific_electricity_source: str = "Measured"
    electricity_ef_source: str = ""
    consumed_other: float = 0.0  # t sold or used otherwise
    cn_code: str = ""  # needed only to look up a default value
    default_variant: str = ""  # where Annex I lists the CN code twice (white / grey clinker)
    see_indirect_given: float | None = None  # SEE(indirect) given as such (a default value, or typed over iv.)

    @property
    def see_indirect(self) -> float:
        """SEE(indirect) = specific electricity consumption x EF (E_PurchPrec (e) iv.), unless given as such."""
        if self.see_indirect_given is not None:
            return self.see_indirect_given
        return self.specific_electricity * self.electricity_ef

    @property
    def default_value(self) -> bool:
        """True when SEE(direct) is a default value (the template flags it from this source column)."""
        return self.see_direct_source.strip().lower() == "default"


@dataclass(frozen=True)
class Product:
    """A good as it leaves the installation (Summary_Products): the process it arises from and its CN code."""

    process: str
    cn_code: str
    name: str = ""
    parameters: dict[str, str | float] = field(default_factory=dict)  # PRODUCT_PARAMETERS (Summary_Products P-AK)


@dataclass(frozen=True)
class Installation:
    """Everything an operator's communication template holds that the SEE depends on (plus its identity)."""

    name: str
    country: str
    period_start: date | None
    period_end: date | None
    processes: tuple[ProductionProcess, ...]
    purchased_precursors: tuple[PurchasedPrecursor, ...] = ()
    products: tuple[Product, ...] = ()
    source_streams: tuple[SourceStream, ...] = ()
    pfc_sources: tuple[PfcSource, ...] = ()
    measured_sources: tuple[MeasuredSource, ...] = ()
    goods_categories: dict[str, list[str]] = field(default_factory=dict)  # category -> routes
    indirect_emissions: float | None = None  # installation total, tCO2e (template C: manual entry)
    address: dict[str, str] = field(default_factory=dict)  # identity and contact: ADDRESS_ITEMS

    @property
    def direct_emissions(self) -> float:
        """Installation direct emissions, tCO2e (template C_Emissions&Energy (a) iii., total direct)."""
        return (sum(s.fossil_emissions for s in self.source_streams) + sum(p.emissions for p in self.pfc_sources)
                + sum(m.emissions for m in self.measured_sources))



# --- YAML form


class _Strict(Schema):
    class Meta:
        unknown = RAISE


_NUMBER = {"allow_nan": False}
_PERCENT = validate.Range(min=0, max=100)
_NON_NEGATIVE = validate.Range(min=0)


def _mapping_of_numbers(**kwargs: Any) -> fields.Dict:
    return fields.Dict(keys=fields.String(validate=validate.Length(min=1)),
                       values=fields.Float(validate=_NON_NEGATIVE, **_NUMBER), **kwargs)


class SourceStreamSchema(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1))
    method = fields.String(required=True, validate=validate.OneOf(METHODS))
    activity_data = fields.Float(required=True, **_NUMBER)
    ad_unit = fields.String(load_default="t", validate=validate.OneOf(["t", "1000Nm3"]))
    ncv = fields.Float(load_default=None, allow_none=True, validate=_NON_NEGATIVE, **_NUMBER)
    emission_factor = fields.Float(load_default=None, allow_none=True, **_NUMBER)
    ef_unit = fields.String(load_default="tCO2/t", validate=validate.OneOf(EF_UNITS))
    carbon_content = fields.Float(load_default=None, allow_none=True, **_NUMBER)
    oxidation_factor = fields.Float(load_default=None, allow_none=True, validate=_PERCENT, **_NUMBER)
    conversion_factor = fields.Float(load_default=None, allow_none=True, validate=_PERCENT, **_NUMBER)
    biomass_content = fields.Float(load_default=0.0, validate=_PERCENT, **_NUMBER)

    @validates_schema
    def _complete(self, data: dict, **kwargs: Any) -> None:
        if data["method"] == "mass balance" and data.get("carbon_content") is None:
            raise ValidationError("a mass-balance source stream needs carbon_content (tC per unit)", "carbon_content")
        if data["method"] != "mass balance" and data.get("emission_factor") is None:
            raise ValidationError(f"a {data['method']} source stream needs emission_factor", "emission_factor")
        if data.get("ef_unit") == "tCO2/TJ" and data["method"] != "mass balance" and data.get("ncv") is None:
            raise ValidationError("an emission factor in tCO2/TJ needs the net calorific value (ncv, GJ/t)", "ncv")

    @post_load
    def _make(self, data: dict, **kwargs: Any) -> SourceStream:
        return SourceStream(**data)


class PfcSourceSchema(_Strict):
    technology = fields.String(required=True)
    method = fields.String(required=True, validate=validate.OneOf(PFC_METHODS))
    activity_data = fields.Float(required=True, validate=_NON_NEGATIVE, **_NUMBER)
    frequency = fields.Float(load_default=None, allow_none=True, **_NUMBER)
    duration = fields.Float(load_default=None, allow_none=True, **_NUMBER)
    sef_cf4 = fields.Float(load_default=None, allow_none=True, **_NUMBER)
    aeo = fields.Float(load_default=None, allow_none=True, **_NUMBER)
    ce = fields.Float(load_default=None, allow_none=True, **_NUMBER)
    ovc = fields.Float(load_default=None, allow_none=True, **_NUMBER)
    f_c2f6 = fields.Float(load_default=0.0, **_NUMBER)
    collection_efficiency = fields.Float(load_default=None, allow_none=True,
                                         validate=validate.Range(min=0, max=1, min_inclusive=False), **_NUMBER)

    @post_load
    def _make(self, data: dict, **kwargs: Any) -> PfcSource:
        return PfcSource(**data)


class MeasuredSourceSchema(_Strict):
    name = fields.String(required=True)
    gas = fields.String(required=True, validate=validate.OneOf(MEASURED_GASES))
    concentration = fields.Float(required=True, validate=_NON_NEGATIVE, **_NUMBER)
    hours = fields.Float(required=True, validate=_NON_NEGATIVE, **_NUMBER)
    flue_gas_flow = fields.Float(required=True, validate=_NON_NEGATIVE, **_NUMBER)
    biomass_fraction = fields.Float(load_default=0.0, validate=_PERCENT, **_NUMBER)

    @post_load
    def _make(self, data: dict, **kwargs: Any) -> MeasuredSource:
        return MeasuredSource(**data)


class ProcessSchema(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1))
    goods_category = fields.String(required=True, validate=validate.OneOf(GOODS_CATEGORIES))
    production = _mapping_of_numbers(required=True, validate=validate.Length(min=1))
    direct_emissions = fields.Float(required=True, **_NUMBER)
    electricity_consumed = fields.Float(load_default=0.0, validate=_NON_NEGATIVE, **_NUMBER)
    electricity_ef = fields.Float(load_default=0.0, validate=_NON_NEGATIVE, **_NUMBER)
    electricity_ef_source = fields.String(load_default="")
    electricity_exported = fields.Float(load_default=0.0, validate=_NON_NEGATIVE, **_NUMBER)
    electricity_exported_ef = fields.Float(load_default=0.0, validate=_NON_NEGATIVE, **_NUMBER)
    heat_imported = fields.Float(load_default=0.0, validate=_NON_NEGATIVE, **_NUMBER)
    heat_imported_ef = fields.Float(load_default=0.0, **_NUMBER)
    heat_exported = fields.Float(load_default=0.0, validate=_NON_NEGATIVE, **_NUMBER)
    heat_exported_ef = fields.Float(load_default=0.0, **_NUMBER)
    waste_gas_imported = fields.Float(load_default=0.0, validate=_NON_NEGATIVE, **_NUMBER)
    waste_gas_exported = fields.Float(load_default=0.0, validate=_NON_NEGATIVE, **_NUMBER)
    produced_for_market = fields.Float(load_default=None, allow_none=True, validate=_NON_NEGATIVE, **_NUMBER)
    consumed_for_non_cbam = fields.Float(load_default=0.0, validate=_NON_NEGATIVE, **_NUMBER)
    precursors = _mapping_of_numbers(load_default=dict)
    included_goods = fields.List(fields.String(), load_default=list)

    @validates_schema
    def _production(self, data: dict, **kwargs: Any) -> None:
        if sum(data.get("production", {}).values()) <= 0:
            raise ValidationError("the activity level (sum of production) must be > 0", "production")
        routes = PRODUCTION_ROUTES.get(data.get("goods_category", ""), ())
        unknown = [route for route in data.get("production", {}) if route not in routes]
        if routes and unknown:
            raise ValidationError(f"unknown production route {unknown[0]!r} for {data['goods_category']} "
                                  f"(routes: {', '.join(routes)})", "production")

    @post_load
    def _make(self, data: dict, **kwargs: Any) -> ProductionProcess:
        return ProductionProcess(**(data | {"included_goods": tuple(data["included_goods"])}))


class PurchasedPrecursorSchema(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1))
    goods_category = fields.String(required=True, validate=validate.OneOf(GOODS_CATEGORIES))
    see_direct = fields.Float(load_default=None, allow_none=True, validate=_NON_NEGATIVE, **_NUMBER)
    specific_electricity = fields.Float(load_default=0.0, validate=_NON_NEGATIVE, **_NUMBER)
    electricity_ef = fields.Float(load_default=0.0, validate=_NON_NEGATIVE, **_NUMBER)
    country = fields.String(load_default="")
    cn_code = fields.String(load_default="", validate=validate.Regexp(r"^(\d{8})?$", error="a CN code has 8 digits"))
    default_variant = fields.String(load_default="")
    see_indirect_given = fields.Float(load_default=None, allow_none=True, validate=_NON_NEGATIVE, **_NUMBER)
    purchased = _mapping_of_numbers(load_default=dict)
    see_direct_source = fields.String(load_default="Measured", validate=validate.OneOf(["Measured", "Default", "Unknown"]))
    specific_electricity_source = fields.String(load_default="Measured",
                                                validate=validate.OneOf(["Measured", "Default", "Unknown"]))
    electricity_ef_source = fields.String(load_default="")
    consumed_other = fields.Float(load_default=0.0, validate=_NON_NEGATIVE, **_NUMBER)

    @validates_schema
    def _see_or_default(self, data: dict, **kwargs: Any) -> None:
        if data.get("see_direct") is None and not (data.get("cn_code") and data.get("country")):
            raise ValidationError("give see_direct, or cn_code and country to use the default value "
                                  "(IR 2025/2621 Annex I)", "see_direct")

    @validates_schema
    def _routes(self, data: dict, **kwargs: Any) -> None:
        routes = PRODUCTION_ROUTES.get(data.get("goods_category", ""), ())
        unknown = [route for route in data.get("purchased", {}) if route not in routes]
        if routes and unknown:
            raise ValidationError(f"unknown production route {unknown[0]!r} for {data['goods_category']} "
                                  f"(routes: {', '.join(routes)})", "purchased")

    @post_load
    def _make(self, data: dict, **kwargs: Any) -> PurchasedPrecursor:
        return PurchasedPrecursor(**data)


def parameter_problems(parameters: dict) -> list[str]:
    """What is wrong with a product's qualitative parameters (PRODUCT_PARAMETERS): a number where text belongs..."""
    problems = []
    for key, value in parameters.items():
        if key not in PRODUCT_PARAMETERS:
            continue  # the schema's key validation names it
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if PRODUCT_PARAMETERS[key][1] == "number" and not (number and value == value and abs(value) != float("inf")):
            problems.append(f"{key}: expected a number, found {value!r}")
        if PRODUCT_PARAMETERS[key][1] == "text" and not isinstance(value, str):
            problems.append(f"{key}: expected text, found {value!r}")
    return problems


class ProductSchema(_Strict):
    process = fields.String(required=True)
    cn_code = fields.String(required=True, validate=validate.Regexp(r"^\d{8}$", error="a CN code has 8 digits"))
    name = fields.String(load_default="")
    parameters = fields.Dict(keys=fields.String(validate=validate.OneOf(PRODUCT_PARAMETERS)), values=fields.Raw(),
                             load_default=dict)

    @validates_schema
    def _parameter_kinds(self, data: dict, **kwargs: Any) -> None:
        problems = parameter_problems(data.get("parameters", {}))
        if problems:
            raise ValidationError(problems, "parameters")

    @post_load
    def _make(self, data: dict, **kwargs: Any) -> Product:
        return Product(**data)


class InstallationSchema(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1))
    country = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{2}$", error="ISO 3166-1 alpha-2 code"))
    period_start = fields.Date(load_default=None, allow_none=True)
    period_end = fields.Date(load_default=None, allow_none=True)
    address = fields.Dict(keys=fields.String(validate=validate.OneOf(ADDRESS_ITEMS)), values=fields.String(),
                          load_default=dict)
    goods_categories = fields.Dict(keys=fields.String(validate=validate.OneOf(GOODS_CATEGORIES)),
                                   values=fields.List(fields.String()), load_default=dict)
    indirect_emissions = fields.Float(load_default=None, allow_none=True, validate=_NON_NEGATIVE, **_NUMBER)
    source_streams = fields.List(fields.Nested(SourceStreamSchema), load_default=list)
    pfc_sources = fields.List(fields.Nested(PfcSourceSchema), load_default=list)
    measured_sources = fields.List(fields.Nested(MeasuredSourceSchema), load_default=list)
    processes = fields.List(fields.Nested(ProcessSchema), required=True, validate=validate.Length(min=1))
    purchased_precursors = fields.List(fields.Nested(PurchasedPrecursorSchema), load_default=list)
    products = fields.List(fields.Nested(ProductSchema), load_default=list)

    @post_load
    def _make(self, data: dict, **kwargs: Any) -> Installation:
        for key in ("processes", "purchased_precursors", "products", "source_streams", "pfc_sources",
                    "measured_sources"):
            data[key] = tuple(data[key])
        return Installation(**data)


def check_references(installation: Installation) -> list[tuple[str, str]]:
    """Cross-field rules: unique names, precursor and product references resolve, no process feeds itself."""
    problems: list[tuple[str, str]] = []
    process_names = [p.name for p in installation.processes]
    purchased_names = [p.name for p in installation.purchased_precursors]
    known = process_names + purchased_names
    for name in {n for n in known if known.count(n) > 1}:
        problems.append(("processes", f"the name {name!r} is used twice (process and purchased precursor names "
                                      "must be unique)"))
    for i, process in enumerate(installation.processes):
        for precursor in process.precursors:
            if precursor == process.name:
                problems.append((f"processes[{i}].precursors.{precursor}", "a process cannot be its own precursor"))
            elif precursor not in known:
                problems.append((f"processes[{i}].precursors.{precursor}",
                                 f"unknown precursor (known: {', '.join(known)})"))
    for i, product in enumerate(installation.products):
        if product.process not in process_names:
            problems.append((f"products[{i}].process", f"unknown process {product.process!r} "
                                                       f"(known: {', '.join(process_names)})"))
    return problems


def parse_installation(document: Any, file: str | None = None) -> Installation:
    """A YAML/JSON-shaped mapping -> Installation; `ModelErrors` with every problem found (path: reason)."""
    if not isinstance(document, dict):
        raise ModelError("a CBAM installation must be a mapping (name, country, processes, ...)", file=file)
    try:
        installation = InstallationSchema().load(document)
    except ValidationError as exc:
        raise validation_errors(exc.messages, file, InstallationSchema) from None
    problems = check_references(installation)
    if problems:
        raise ModelErrors([ModelError(reason, where, file) for where, reason in problems])
    return installation


def load_installation(path: str | Path) -> Installation:
    """Read and validate an installation YAML file."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"cannot read file: {exc.strerror or exc}", file=str(path)) from None
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ModelError(f"not valid YAML: {' '.join(str(exc).split())}", file=str(path)) from None
    return parse_installation(document, str(path))


_NESTED = {"source_streams": SourceStreamSchema, "pfc_sources": PfcSourceSchema,
           "measured_sources": MeasuredSourceSchema, "processes": ProcessSchema,
           "purchased_precursors": PurchasedPrecursorSchema, "products": ProductSchema}


def installation_document(installation: Installation) -> dict:
    """The YAML form of an installation (what `parse_installation` reads back), defaults left out."""
    document = _plain(installation, InstallationSchema)
    for key, schema in _NESTED.items():
        if key in document:
            document[key] = [_plain(item, schema) for item in getattr(installation, key)]
    for key in ("period_start", "period_end"):
        if key in document:
            document[key] = document[key].isoformat()
    return document


def _plain(obj: Any, schema: type[Schema]) -> dict:
    """A dataclass as a plain mapping with the schema's field names, leaving out values equal to their default."""
    out = {}
    for name, spec in schema._declared_fields.items():
        value = getattr(obj, name)
        default = spec.load_default() if callable(spec.load_default) else spec.load_default
        if not spec.required and (value == default or (isinstance(value, tuple) and list(value) == default)):
            continue
        out[name] = dict(value) if isinstance(value, dict) else list(value) if isinstance(value, tuple) else value
    return out

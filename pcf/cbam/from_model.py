"""The CBAM installation of a product model: the same factory model that gives the PCF gives the CBAM SEE.

A process with a `cbam` marker is a CBAM production process (IR 2025/2547 Art. 4); `installation_from_model`
maps it to the installation model (`lca_models/cbam_installation.py`) by IR 2025/2547 Annex III A.3 and B:
- AL: the amount of the marked output, the good, in tonnes (Annex II F). The process's other outputs are
  co-products (home scrap, slag, gases): Annex II F gives them no activity level and "zero embedded emissions
  when entering another production process", so all of the process's emissions go to its good;
- DirEm*: fossil CO2 of its fuels (the bundled combustion factors, IPCC 2006) and its direct emissions of the
  gases Annex I Table 1 covers for its goods category (CO2 always; N2O for nitric acid and mixed fertilisers;
  CF4 and C2F6 for aluminium), at the GWP of Annex II G Table 6. CH4 and the other gases are not covered
  (Reg 2023/956 Annex I); biogenic CO2 is zero-rated, as in the PCF;
- indirect emissions: electricity consumed x the grid factor of the bundled data (Annex II D.4: the grid
  average; instruments such as certificates, PPAs or on-site PV would need the D.4.3 evidence the model does
  not hold, so they do not lower it);
- precursors: flows made by another CBAM process (its good), and purchased inputs carrying `cbam_precursor`
  (their default value, or the SEE their producer communicated); other purchased inputs (ore, coke, lime,
  oxygen) are not CBAM goods and bring no embedded emissions (they do in the PCF);
- a process without a marker that feeds a CBAM process is inside that process's system boundary (Annex I 3.1:
  "all processes directly or indirectly linked"): its direct and indirect emissions and precursors are folded
  into each consumer in proportion to the quantity of its output it consumes (attribution by a physical
  quantity, Annex III A.2). Where that is ill-defined (several outputs, a loop) the mapping refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml

from exchange.cbam.codes import annex_i_row, cn_code_problem, country_problem, in_annex_i, \
    installation_code_problems, known_cn_codes, template_cn_codes
from exchange.cbam.declaration import ANNEX_III_POINT_1
from exchange.cbam.defaults import FIRST_YEAR, default_value
from exchange.cbam.errors import CbamError
from lca_models import background, units
from lca_models.cbam_installation import (
    GWP_C2F6,
    GWP_CF4,
    GWP_N2O,
    Installation,
    Product,
    ProductionProcess,
    PurchasedPrecursor,
    check_references,
)
from .supplier_goods import supplier_good
from lca_models.errors import ModelError, ModelErrors
from lca_models.model import Input, Output, Process, ProductModel

ELECTRICITY = "Electricity (export to EU)"
# IR 2025/2547 Annex I Table 1 (greenhouse gases per aggregated goods category) and Annex II G Table 6 (GWP).
COVERED_NON_CO2 = {
    "n2o": (GWP_N2O, ("Nitric acid", "Mixed fertilisers")),
    "cf4": (GWP_CF4, ("Unwrought aluminium", "Aluminium products")),
    "c2f6": (GWP_C2F6, ("Unwrought aluminium", "Aluminium products")),
}
# Aggregated CO2e flows cannot be split into the gases CBAM covers.
AGGREGATED = ("co2e_fossil", "co2e_luc", "co2e_biogenic_non_co2")
# Bundled datasets that are CBAM goods (IR 2025/2547 Annex I Table 1): consumed by a CBAM process, they are
# precursors, so the model must say how (`cbam_precursor`, or `cbam_out_of_scope` with a reason) rather than have
# them count as zero. The CN code is the heading or subheading the dataset's good falls under.
CBAM_GOOD_DATASETS = {
    "material:steel_bf_bof": "7207", "material:steel_eaf": "7207", "material:steel_dri_eaf": "7207",
    "material:pig_iron": "7201", "material:iron_ore_sinter": "26011200", "material:iron_ore_pellets": "26011200",
    "material:aluminium_primary": "7601", "material:aluminium_primary_cn": "7601",
    "material:aluminium_secondary": "7601", "material:clinker": "25231000", "material:cement_portland": "25232900",
    "material:ammonia": "2814", "material:urea": "310210", "material:ammonium_nitrate": "310230",
    "material:hydrogen_smr": "28041000",
}
# IR 2025/2547 Annex III B: a precursor originating in the Union or in a country of Reg 2023/956 Annex III
# point 1 counts with zero embedded emissions.
ZERO_ORIGINS = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
    "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", *ANNEX_III_POINT_1,
})


def is_product_model(path: Path) -> bool:
    """True when the file holds a product model (processes with outputs, products), not an installation model."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False  # the installation loader reports the problem
    if not isinstance(document, dict) or "products" not in document:
        return False
    processes = document.get("processes")
    return isinstance(processes, list) and any(isinstance(p, dict) and "outputs" in p for p in processes)


def installation_from_model(model: ProductModel) -> Installation:
    """The CBAM installation a product model describes; `ModelErrors` listing every problem found."""
    return _Mapper(model).installation()


@dataclass
class _Burden:
    """What a process brings to a CBAM production process: tCO2e direct, indirect, MWh, precursors (t)."""

    direct: float = 0.0
    indirect: float = 0.0
    electricity_mwh: float = 0.0
    precursors: dict[str, float] = field(default_factory=dict)

    def add(self, other: _Burden, share: float) -> None:
        self.direct += other.direct * share
        self.indirect += other.indirect * share
        self.electricity_mwh += other.electricity_mwh * share
        for name, tonnes in other.precursors.items():
            self.precursor(name, tonnes * share)

    def precursor(self, name: str, tonnes: float) -> None:
        self.precursors[name] = self.precursors.get(name, 0.0) + tonnes


def _activity(output: Output, category: str, amount: Decimal | None = None, unit: str | None = None) -> float:
    """`amount` of `output` (default: all of it) in the functional unit of `category`: tonnes, or MWh."""
    amount = output.amount if amount is None else units.convert(amount, unit or output.unit, output.unit)
    if category == ELECTRICITY:
        return float(units.convert(amount, output.unit, "MWh"))
    return float(amount * (output.mass_kg_per_unit or 0) / 1000)


class _Mapper:
    def __init__(self, model: ProductModel) -> None:
        self.model = model
        self.file = str(model.source_path) if model.source_path else None
        self.errors: list[ModelError] = []
        self.datasets = background.catalogue()
        self.producer = {o.flow: (p, o) for p in model.processes for o in p.outputs}
        self.index = {p.id: i for i, p in enumerate(model.processes)}
        self.purchased: dict[str, PurchasedPrecursor] = {}
        self.folded: dict[tuple[str, str], _Burden] = {}

    def fail(self, where: str, reason: str) -> None:
        error = ModelError(reason, where, self.file)
        if all(str(e) != str(error) for e in self.errors):
            self.errors.append(error)

    def installation(self) -> Installation:
        marked = [p for p in self.model.processes if p.cbam]
        if not marked:
            raise ModelError("no CBAM production process: mark the processes that make CBAM goods with "
                             "cbam: {goods_category, route} (docs/model-format.md)", file=self.file)
        country = self.model.geography_country or (self.model.geography_subdivision or "")[:2]
        if not country:
            self.fail("geography", "CBAM needs the installation's country: give geography.country or subdivision")
        elif (problem := country_problem(country)) is not None:
            self.fail("geography", problem)
        processes = tuple(self._production_process(p) for p in marked)
        identity = dict(self.model.cbam_installation)
        installation = Installation(
            name=identity.pop("name", None) or self.model.company_name, country=country,
            address={key: str(value) for key, value in identity.items()},
            period_start=self.model.reference_period_start.date(), period_end=self.model.reference_period_end.date(),
            processes=processes, purchased_precursors=tuple(self.purchased.values()), products=self._products(),
            goods_categories={c: sorted({p.cbam.route for p in marked if p.cbam.goods_category == c})
                              for c in dict.fromkeys(p.cbam.goods_category for p in marked)},
        )
        if not self.errors:
            for where, reason in check_references(installation):
                self.fail(where, reason)
            for where, reason in installation_code_problems(installation):
                if where == "address.unlocode":  # the rest is checked above, on the model's own paths
                    self.fail("cbam_installation.unlocode", reason)
        if self.errors:
            raise ModelErrors(self.errors)
        return installation

    def _production_process(self, process: Process) -> ProductionProcess:
        marker = process.cbam
        burden = self._burden(process, marker.goods_category, (process.id,))
        good = next(o for o in process.outputs if o.flow == marker.output)
        mwh = burden.electricity_mwh
        return ProductionProcess(
            name=process.id, goods_category=marker.goods_category,
            production={marker.route: _activity(good, marker.goods_category)},
            direct_emissions=burden.direct, electricity_consumed=mwh,
            electricity_ef=burden.indirect / mwh if mwh else 0.0,
            electricity_ef_source="grid factors of the bundled data (lca_models/data/grid_electricity.csv)",
            precursors={name: tonnes for name, tonnes in burden.precursors.items() if tonnes},
        )

    def _burden(self, process: Process, category: str, stack: tuple[str, ...]) -> _Burden:
        """The process's own covered emissions, electricity, precursors, and what its unmarked suppliers bring."""
        where = f"processes[{self.index[process.id]}]"
        burden = _Burden()
        for fuel in process.fuels:
            dataset = self.datasets[f"fuel:{fuel.fuel}"]
            kg_per_gj = sum((amount for flow, amount in dataset.exchanges if flow == "co2_fossil"), Decimal(0))
            burden.direct += float(fuel.amount_gj * kg_per_gj / 1000)
        for j, emission in enumerate(process.emissions):
            if emission.substance == "co2_fossil":
                burden.direct += float(emission.amount_kg) / 1000
            elif emission.substance in COVERED_NON_CO2:
                gwp, categories = COVERED_NON_CO2[emission.substance]
                if category in categories:
                    burden.direct += float(emission.amount_kg) / 1000 * gwp
            elif emission.substance in AGGREGATED:
                self.fail(f"{where}.emissions[{j}].substance", f"{emission.substance} is already CO2e: CBAM counts "
                          "CO2 (and N2O or PFCs in some sectors) only, so give the gases separately")
        for j, electricity in enumerate(process.electricity):
            dataset = self.datasets[f"grid:{electricity.grid}"]
            if dataset.id == background.RENEWABLE_CERTIFICATE:
                self.fail(f"{where}.electricity[{j}].grid", "CBAM uses the grid's emission factor (IR 2025/2547 "
                          "Annex II D.4), not a certificate's: give the grid region the electricity comes from")
                continue
            factor = sum((amount for _, amount in dataset.exchanges), Decimal(0))  # kg/kWh = t/MWh
            burden.electricity_mwh += float(electricity.amount_kwh) / 1000
            burden.indirect += float(electricity.amount_kwh * factor) / 1000
        for j, item in enumerate(process.inputs):
            self._input(f"{where}.inputs[{j}]", item, category, stack, burden)
        return burden

    def _input(self, where: str, item: Input, category: str, stack: tuple[str, ...], burden: _Burden) -> None:
        if item.cbam_precursor is not None:
            burden.precursor(self._purchased(where, item), float(units.convert(item.amount, item.unit, "t")))
        elif item.cbam_out_of_scope is not None:
            return  # declared by the model: not a precursor of this installation's goods (the reason is in the model)
        elif item.kind in ("dataset", "supplier"):
            self._unmarked_purchase(where, item)
        elif item.kind == "flow":
            maker, output = self.producer[item.ref]
            if maker.cbam is not None:
                if maker.cbam.output == output.flow:  # another process's good: an own precursor
                    burden.precursor(maker.id, _activity(output, maker.cbam.goods_category, item.amount, item.unit))
                return  # a co-product (scrap, slag...): zero embedded emissions (Annex II F)
            burden.add(self._folded(where, maker, output, category, stack),
                       float(units.convert(item.amount, item.unit, output.unit) / output.amount))

    def _unmarked_purchase(self, where: str, item: Input) -> None:
        """A purchased input without cbam_precursor: refused when it is a CBAM good (it would count as zero)."""
        how = ("mark it cbam_precursor: {cn_code, country[, see_direct, see_indirect]} (its producer's SEE, or the "
               "default value), or give cbam_out_of_scope: <reason> if it is not a precursor of the goods made here")
        if item.kind == "dataset" and item.ref.startswith("cbam_default:"):
            _, country, cn_code = item.ref.split(":", 2)
            self.fail(where, f"{item.ref} is a CBAM good (CN {cn_code}){_would_apply(cn_code, country)}: {how}")
        elif item.kind == "dataset" and item.ref in CBAM_GOOD_DATASETS:
            code = CBAM_GOOD_DATASETS[item.ref]
            name = item.ref if item.label == item.ref else f"{item.label!r} ({item.ref})"
            self.fail(where, f"{name} is a CBAM good (CN {code}{'...' if len(code) < 8 else ''}, "
                      f"{annex_i_row(code).category}, Reg 2023/956 Annex I){_would_apply(code, self.country)}: {how}")
        elif item.kind == "supplier" and item.ref.startswith(("https://", "http://")):
            self.fail(where, f"{item.label!r}: a footprint on a supplier's node cannot be checked here for a CBAM CN "
                      f"code: {how}")
        elif item.kind == "supplier":
            try:
                good = supplier_good(Path(item.ref))
            except ValueError as exc:
                self.fail(where, f"{item.label!r}: {exc}; whether it is a CBAM good cannot be told: {how}")
                return
            cbam = [code for code in good.cn_codes if in_annex_i(code)]
            if cbam:
                self.fail(where, f"{item.label!r}: the supplier footprint {Path(item.ref).name} carries CN {cbam[0]}, a "
                          f"CBAM good ({annex_i_row(cbam[0]).category}, Reg 2023/956 Annex I)"
                          f"{_would_apply(cbam[0], good.country or self.country)}: {how}")

    def _folded(self, where: str, process: Process, output: Output, category: str,
                stack: tuple[str, ...]) -> _Burden:
        """All of an unmarked supplying process's burden; the consumer takes its share of the output."""
        if len(process.outputs) > 1:
            self.fail(where, f"process {process.id!r} has no cbam marker and several outputs: its emissions cannot be "
                      "attributed to the CBAM process it feeds; mark it as a CBAM process or split it")
            return _Burden()
        if process.id in stack:
            self.fail(where, f"unmarked processes feed each other ({' -> '.join((*stack, process.id))}): mark one "
                      "of them as a CBAM process")
            return _Burden()
        key = (process.id, category)
        if key not in self.folded:
            self.folded[key] = self._burden(process, category, (*stack, process.id))
        return self.folded[key]

    def _purchased(self, where: str, item: Input) -> str:
        """The purchased precursor an input stands for (one per label), registered once."""
        info = item.cbam_precursor
        zero = info.country in ZERO_ORIGINS
        if (problem := country_problem(info.country)) is not None:
            self.fail(f"{where}.cbam_precursor.country", problem)
        category = "Iron or steel products"  # a placeholder where the code is wrong; the errors stop the mapping
        if (problem := cn_code_problem(info.cn_code)) is not None:
            self.fail(f"{where}.cbam_precursor.cn_code", problem)
        else:
            category = known_cn_codes()[info.cn_code]
        precursor = PurchasedPrecursor(
            name=item.label, goods_category=category, country=info.country, cn_code=info.cn_code,
            see_direct=0.0 if zero else (None if info.see_direct is None else float(info.see_direct)),
            see_indirect_given=0.0 if zero else (None if info.see_indirect is None else float(info.see_indirect)),
            see_direct_source="Measured" if zero or info.see_direct is not None else "Default",
            electricity_ef_source="origin in the Union or Reg 2023/956 Annex III point 1: zero" if zero else "",
        )
        known = self.purchased.setdefault(item.label, precursor)
        if known != precursor:
            self.fail(f"{where}.cbam_precursor", f"another purchased precursor is labelled {item.label!r} with "
                      "different CBAM data: give the inputs distinct labels")
        return item.label

    def _products(self) -> tuple[Product, ...]:
        """Products whose CN code is a CBAM good, each linked to the CBAM process whose good it is. A CN code under
        Reg 2023/956 Annex I must be one the template knows, and fit its process; the good of a CBAM process may not
        carry a CN code of no CBAM good: nothing is dropped silently."""
        products = []
        for i, product in enumerate(self.model.products):
            if product.cn_code is None:
                continue
            where = f"products[{i}].cn_code"
            maker, _ = self.producer[product.flow]
            is_good = maker.cbam is not None and maker.cbam.output == product.flow
            if not in_annex_i(product.cn_code):
                if is_good:
                    self.fail(where, f"{product.flow!r} is the good of CBAM process {maker.id!r}, but "
                              f"{cn_code_problem(product.cn_code, template_only=True)}")
                continue
            if (problem := cn_code_problem(product.cn_code, template_only=True)) is not None:
                self.fail(where, problem)
                continue
            if not is_good:
                self.fail(where, f"CN {product.cn_code} is a CBAM good, but {product.flow!r} is not the good of a CBAM "
                          f"process: give process {maker.id!r} a cbam marker with output {product.flow!r}")
                continue
            category = template_cn_codes()[product.cn_code]
            if category != maker.cbam.goods_category:
                self.fail(where, f"CN code {product.cn_code} is {category!r}, but process {maker.id!r} makes "
                          f"{maker.cbam.goods_category}")
                continue
            products.append(Product(process=maker.id, cn_code=product.cn_code, name=product.name,
                                    parameters=dict(product.cbam_parameters)))
        return tuple(products)

    @property
    def country(self) -> str:
        return self.model.geography_country or (self.model.geography_subdivision or "")[:2]


def _would_apply(cn_code: str, country: str) -> str:
    """'; its default value ... would apply' for an 8-digit CN code and a country, '' when none can be looked up."""
    if len(cn_code) != 8 or not country:
        return ""
    try:
        value = default_value(country, cn_code, FIRST_YEAR)
    except CbamError:
        return ""
    indirect = f" + {value.indirect} indirect" if value.indirect is not None else " (indirect: N/A)"
    return (f"; left unmarked it counts as zero, but as a precursor from {country} without its producer's SEE it "
            f"takes the default value {value.direct} direct{indirect} tCO2e/t ({value.source})")

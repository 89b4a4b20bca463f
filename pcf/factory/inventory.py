"""The plant's GHG inventory for the model's reference period (GHG Protocol Corporate Standard / ISO 14064-1).

A tally of the engine's own foreground (`pcf.engine.foreground`): the line items the engine solves on Brightway,
each activity run once (the model states a year's amounts), with the bundled, cited factors as exact `Decimal`s.
The foreground partitions every process over its outputs by allocation factors that sum to one, so summing its
activities gives the plant back; `conservation` then compares the plant with what the solved footprints attribute
to the products, so an allocation or loop that lost or double-counted emissions would show. Scope 2 follows the GHG Protocol Scope 2 Guidance
(2015): location-based = grid average factor x grid kWh; market-based = certificates and PPAs at zero and the
rest at the residual mix where one is bundled, else the grid average (the same foreground lines as the PCF). On-site
PV is not grid electricity: zero in both. Scope 3 category 3 (fuel- and energy-related activities) holds the energy
supply upstream lines: well-to-tank of fuels, upstream of generation and T&D losses of grid electricity. Biogenic
CO2 and removals are memo items outside the scopes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from lca_models import background, units
from lca_models.errors import ModelError
from lca_models.footprint import Footprint, Offset
from lca_models.gwp import elementary_flows, normalise_gwp_set
from lca_models.model import ProductModel

from ..engine.foreground import Foreground, build_foreground
from ..engine.imported import ImportedCatalogue
from ..engine.project import shared_databases
from ..engine.suppliers import SupplierLoader
from .offsets import overlapping

KG_PER_T = Decimal(1000)
GJ_PER_KWH = Decimal("0.0036")
SCOPE1_CATEGORIES = ("stationary_combustion", "mobile_combustion", "process", "fugitive")
# the model's categories of emissions and fuels -> Scope 1 source categories
SCOPE1_OF = {"stationary": "stationary_combustion", "mobile": "mobile_combustion", "process": "process",
             "fugitive": "fugitive"}
# Dataset categories -> GHG Protocol Scope 3 categories (Corporate Value Chain Standard, 2011, Table 5.3)
SCOPE3_OF_DATASET = {"transport": "4_upstream_transport", "waste": "5_waste"}
SCOPE3_PURCHASED = "1_purchased_goods"
SCOPE3_FUEL_UPSTREAM = "3_fuel_and_energy"
RENEWABLE_SOURCES = ("onsite_pv", "ppa", "green_certificate")


@dataclass(frozen=True)
class ProductOutput:
    """What the plant delivers of one product in the period: production less its own consumption."""

    flow: str
    declared_units: Decimal  # in the product's declared unit (x declared_unit_amount)
    mass_t: Decimal


@dataclass(frozen=True)
class EnergyBalance:
    """Final energy used in the period; renewable electricity by instrument (GHG Protocol Scope 2 Ch. 6)."""

    electricity_kwh: Decimal
    electricity_by_source_kwh: dict[str, Decimal]  # onsite_pv, ppa, green_certificate, grid
    certificates_by_scheme_kwh: dict[str, Decimal]  # GEC, I-REC, ... (unnamed: "unspecified")
    fuels_gj: dict[str, Decimal]

    @property
    def fuels_total_gj(self) -> Decimal:
        return sum(self.fuels_gj.values(), Decimal(0))

    @property
    def total_gj(self) -> Decimal:
        return self.electricity_kwh * GJ_PER_KWH + self.fuels_total_gj

    @property
    def renewable_electricity_share(self) -> Decimal:
        """Share (0..1) of electricity from on-site PV, PPAs and green certificates."""
        if not self.electricity_kwh:
            return Decimal(0)
        renewable = sum((self.electricity_by_source_kwh.get(s, Decimal(0)) for s in RENEWABLE_SOURCES), Decimal(0))
        return renewable / self.electricity_kwh


@dataclass(frozen=True)
class Inventory:
    """A plant's inventory in tCO2e (GWP100 of `gwp`); offsets ride beside it and are never subtracted."""

    company: str
    period_start: datetime
    period_end: datetime
    gwp: str
    scope1_by_category: dict[str, Decimal]
    scope1_by_gas: dict[str, Decimal]
    scope2_location_based: Decimal
    scope2_market_based: Decimal
    scope3_by_category: dict[str, Decimal]
    biogenic_co2_t: Decimal  # memo: tonnes of biogenic CO2, outside the scopes
    removals: Decimal  # memo: tCO2e <= 0, biogenic uptake booked in the model
    energy: EnergyBalance
    outputs: tuple[ProductOutput, ...]
    unassigned_outputs: tuple[str, ...]  # flows leaving the plant that are no product of the model
    offsets: tuple[Offset, ...]

    @property
    def scope1(self) -> Decimal:
        return sum(self.scope1_by_category.values(), Decimal(0))

    @property
    def scope3(self) -> Decimal:
        return sum(self.scope3_by_category.values(), Decimal(0))

    @property
    def residual_emissions(self) -> Decimal:
        """Scope 1 + Scope 2 market-based: what is left after the plant's own reductions and green power."""
        return self.scope1 + self.scope2_market_based

    @property
    def output_mass_t(self) -> Decimal:
        return sum((o.mass_t for o in self.outputs), Decimal(0))

    @property
    def offsets_t(self) -> Decimal:
        return sum((o.tonnes_co2e for o in self.offsets), Decimal(0))


def dataset_kgco2e(dataset_id: str, gwp: str) -> Decimal:
    """kgCO2e per unit of a bundled dataset (flows that count in a PCF), from the cited rows."""
    flows = elementary_flows()
    return sum(
        (amount * flows[flow].gwp[gwp] for flow, amount in background.catalogue()[dataset_id].exchanges
         if flows[flow].counts_in_pcf),
        Decimal(0),
    )


class _Tally:
    def __init__(self, gwp: str) -> None:
        self.gwp = gwp
        self.flows = elementary_flows()
        self.scope1_by_category: dict[str, Decimal] = {c: Decimal(0) for c in SCOPE1_CATEGORIES}
        self.scope1_by_gas: dict[str, Decimal] = defaultdict(Decimal)
        self.scope3: dict[str, Decimal] = defaultdict(Decimal)
        self.biogenic_kg = Decimal(0)
        self.removals_kg = Decimal(0)
        self.fuels_gj: dict[str, Decimal] = defaultdict(Decimal)

    def direct(self, flow_id: str, kg: Decimal, category: str) -> None:
        """A direct release at the plant: Scope 1, or a memo item (biogenic CO2, removals)."""
        flow = self.flows[flow_id]
        if flow.category == "biogenic_uptake":
            self.removals_kg += kg * flow.gwp[self.gwp]
        elif not flow.counts_in_pcf:
            self.biogenic_kg += kg
        else:
            self.scope1_by_category[category] += kg * flow.gwp[self.gwp]
            self.scope1_by_gas[flow.gas] += kg * flow.gwp[self.gwp]


def build_inventory(model: ProductModel, gwp: str | None = None, suppliers: SupplierLoader | None = None,
                    data_dir: Path | None = None) -> Inventory:
    """The plant inventory of `model` for its reference period (every process at its full annual amounts).

    `data_dir` holds the databases the model's `activity:` inputs name (default: beside the open project).
    """
    gwp = normalise_gwp_set(gwp or model.gwp)
    twice = overlapping(model.offsets)
    if twice:
        raise ModelError("double use of carbon credits refused: " + "; ".join(
            f"{a.scheme} {a.serial_range} overlaps {b.serial_range}" for a, b in twice), "offsets",
            str(model.source_path or ""))
    imported = ImportedCatalogue(data_dir) if data_dir is not None else None
    foreground = build_foreground(model, shared_databases(), suppliers or SupplierLoader(), gwp, imported)
    tally = _tally_lines(foreground, gwp)
    electricity = _tally_electricity(foreground, gwp)
    outputs, unassigned = _net_outputs(model)
    t = KG_PER_T
    return Inventory(
        company=model.company_name,
        period_start=model.reference_period_start,
        period_end=model.reference_period_end,
        gwp=gwp,
        scope1_by_category={c: v / t for c, v in tally.scope1_by_category.items()},
        scope1_by_gas={g: v / t for g, v in sorted(tally.scope1_by_gas.items())},
        scope2_location_based=electricity.location_kg / t,
        scope2_market_based=electricity.market_kg / t,
        scope3_by_category={c: v / t for c, v in sorted(tally.scope3.items())},
        biogenic_co2_t=tally.biogenic_kg / t,
        removals=tally.removals_kg / t,
        energy=EnergyBalance(electricity.kwh, electricity.by_source, dict(sorted(electricity.by_scheme.items())),
                             dict(sorted(tally.fuels_gj.items()))),
        outputs=outputs,
        unassigned_outputs=unassigned,
        offsets=model.offsets,
    )


def _tally_lines(foreground: Foreground, gwp: str) -> _Tally:
    """Scope 1 from emission and fuel lines, Scope 3 from energy-upstream, dataset and supplier lines, each activity
    run once.

    Electricity lines are Scope 2 (`_tally_electricity`); system-expansion credits are no emission of the plant.
    """
    catalogue = background.catalogue()
    tally = _Tally(gwp)
    for activity in foreground.activities:
        for item in activity.items:
            if item.source == "emission":
                tally.direct(item.flow, item.quantity, SCOPE1_OF[item.category])
            elif item.source == "fuel":
                tally.fuels_gj[item.fuel] += item.quantity
                for flow_id, per_gj in foreground.exchanges_of(item.target):
                    tally.direct(flow_id, per_gj * item.quantity, SCOPE1_OF[item.category])
            elif item.source == "energy_upstream":
                tally.scope3[SCOPE3_FUEL_UPSTREAM] += item.quantity * dataset_kgco2e(item.target[1], gwp)
            elif item.source == "dataset":
                dataset = catalogue[item.target[1]]
                category = SCOPE3_OF_DATASET.get(dataset.category, SCOPE3_PURCHASED)
                tally.scope3[category] += item.quantity * dataset_kgco2e(dataset.id, gwp)
            elif item.source == "supplier":
                supplier = foreground.suppliers[item.target]
                per_unit = sum((amount for flow, amount in supplier.flows(gwp) if flow != "co2_uptake"), Decimal(0))
                tally.scope3[SCOPE3_PURCHASED] += item.quantity * per_unit
            elif item.source in ("activity", "factor"):  # purchased: an imported activity's cumulative inventory
                tally.scope3[SCOPE3_PURCHASED] += item.quantity * _aggregate_kgco2e(foreground.aggregates[item.target], gwp)
    return tally


def _aggregate_kgco2e(flows: tuple[tuple[str, Decimal], ...], gwp: str) -> Decimal:
    """kgCO2e per unit of an aggregated input (flows that count in a PCF): a user factor's row exactly, an imported
    activity's cumulative inventory as solved at import (7 significant digits)."""
    table = elementary_flows()
    return sum((amount * table[flow].gwp[gwp] for flow, amount in flows if table[flow].counts_in_pcf), Decimal(0))


@dataclass
class _Electricity:
    kwh: Decimal = Decimal(0)
    location_kg: Decimal = Decimal(0)
    market_kg: Decimal = Decimal(0)
    by_source: dict[str, Decimal] = field(default_factory=lambda: {s: Decimal(0) for s in (*RENEWABLE_SOURCES, "grid")})
    by_scheme: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))


def _tally_electricity(foreground: Foreground, gwp: str) -> _Electricity:
    """Scope 2 location- and market-based, and the electricity by source and certificate scheme."""
    total = _Electricity()
    for activity in foreground.activities:
        for use in activity.electricity:
            total.location_kg += use.grid_kwh * dataset_kgco2e(use.grid[1], gwp)
            total.market_kg += use.uncovered_kwh * dataset_kgco2e(use.market_target[1], gwp)
            total.kwh += use.kwh
            for kind, scheme, kwh in use.instruments:
                total.by_source[kind] += kwh
                if kind == "green_certificate":
                    total.by_scheme[scheme or "unspecified"] += kwh
            total.by_source["grid"] += use.kwh - sum((kwh for _, _, kwh in use.instruments), Decimal(0))
    return total


def _net_outputs(model: ProductModel) -> tuple[tuple[ProductOutput, ...], tuple[str, ...]]:
    """Each product's production less what the plant's own processes consume of it; and the other flows
    that leave the plant (made more than used, not a product, not credited by system expansion)."""
    produced: dict[str, tuple[Decimal, str]] = {}
    for process in model.processes:
        for index, output in enumerate(process.outputs):
            if process.allocation == "system_expansion" and index > 0:
                continue  # its burden stays with the reference product; the credit is the engine's business
            produced[output.flow] = (output.amount, output.unit)
    net = {flow: amount for flow, (amount, _) in produced.items()}
    for process in model.processes:
        for item in process.inputs:
            if item.kind == "flow" and item.ref in produced:
                net[item.ref] -= units.convert(item.amount, item.unit, produced[item.ref][1])
    outputs = []
    for product in model.products:
        if product.flow not in produced:
            raise ModelError(f"product {product.flow!r} is a co-product credited by system expansion: it carries no "
                             "emissions of its own to report", "products", str(model.source_path or ""))
        symbol = units.PACT_DECLARED_UNITS[product.declared_unit]
        declared = units.convert(net[product.flow], produced[product.flow][1], symbol) / product.declared_unit_amount
        outputs.append(ProductOutput(product.flow, declared, declared * product.mass_per_declared_unit_kg / KG_PER_T))
    products = {p.flow for p in model.products}
    unassigned = tuple(flow for flow, amount in net.items() if flow not in products and amount > 0)
    return tuple(outputs), unassigned


@dataclass(frozen=True)
class Conservation:
    """The plant's Scope 1 + 2 against the sum of what the engine attributes to the products (tCO2e)."""

    plant: Decimal  # Scope 1 + Scope 2 market-based
    attributed: Decimal
    by_product: dict[str, Decimal]
    unassigned_outputs: tuple[str, ...]

    @property
    def relative_difference(self) -> float:
        return abs(float(self.attributed - self.plant)) / abs(float(self.plant)) if self.plant else float(self.attributed != 0)


def conservation(inventory: Inventory, footprints: list[Footprint]) -> Conservation:
    """Direct ("process" lines: emissions and fuel combustion, biogenic uptake apart on both sides) and market-based
    electricity emissions of each footprint, per declared unit, times the product's net output: allocation must
    conserve the plant total.

    Flows that leave the plant without being products carry part of the plant's emissions, so the two sides
    can only agree when `unassigned_outputs` is empty.
    """
    by_product = {}
    for footprint, output in zip(footprints, inventory.outputs, strict=True):
        details = footprint.computed
        direct = sum((c.kgco2e for c in details.contributions if c.kind == "process"), Decimal(0))
        by_product[output.flow] = (direct + details.electricity.market_based_kgco2e) * output.declared_units / KG_PER_T
    plant = inventory.scope1 + inventory.scope2_market_based
    return Conservation(plant, sum(by_product.values(), Decimal(0)), by_product, inventory.unassigned_outputs)


def _num(value: Decimal) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def to_json(inventory: Inventory, check: Conservation | None = None) -> dict:
    """The inventory as JSON-ready data: tCO2e, kWh and GJ as decimal strings; offsets beside, not netted."""
    energy = inventory.energy
    document = {
        "company": inventory.company,
        "reference_period": {"start": inventory.period_start.date().isoformat(),
                             "end": inventory.period_end.date().isoformat()},
        "gwp": inventory.gwp,
        "unit": "tCO2e",
        "scope1": {"total": _num(inventory.scope1),
                   "by_category": {k: _num(v) for k, v in inventory.scope1_by_category.items()},
                   "by_gas": {k: _num(v) for k, v in inventory.scope1_by_gas.items()}},
        "scope2": {"location_based": _num(inventory.scope2_location_based),
                   "market_based": _num(inventory.scope2_market_based)},
        "scope3": {"total": _num(inventory.scope3),
                   "by_category": {k: _num(v) for k, v in inventory.scope3_by_category.items()}},
        "memo": {"biogenic_co2_t": _num(inventory.biogenic_co2_t), "removals": _num(inventory.removals)},
        "residual_emissions": _num(inventory.residual_emissions),
        "energy": {"total_gj": _num(energy.total_gj), "electricity_kwh": _num(energy.electricity_kwh),
                   "electricity_by_source_kwh": {k: _num(v) for k, v in energy.electricity_by_source_kwh.items()},
                   "certificates_by_scheme_kwh": {k: _num(v) for k, v in energy.certificates_by_scheme_kwh.items()},
                   "fuels_gj": {k: _num(v) for k, v in energy.fuels_gj.items()},
                   "heat_purchased_gj": None,
                   "renewable_electricity_share": _num(energy.renewable_electricity_share)},
        "outputs": [{"flow": o.flow, "declared_units": _num(o.declared_units), "mass_t": _num(o.mass_t)}
                    for o in inventory.outputs],
        "offsets": {"note": "retired for the period; disclosed beside the inventory and the PCFs, never subtracted",
                    "total_t": _num(inventory.offsets_t),
                    "lots": [{"scheme": o.scheme, "serial_range": o.serial_range, "vintage": o.vintage,
                              "tonnes": _num(o.tonnes_co2e), "retired_on": o.retired_on} for o in inventory.offsets]},
    }
    if check is not None:
        document["conservation"] = {"plant_scope1_2": _num(check.plant), "sum_over_products": _num(check.attributed),
                                    "by_product": {k: _num(v) for k, v in check.by_product.items()},
                                    "relative_difference": f"{check.relative_difference:.2e}",
                                    "unassigned_outputs": list(check.unassigned_outputs)}
    return document

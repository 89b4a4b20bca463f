"""Turn a validated `ProductModel` into a Brightway foreground database, and keep its bookkeeping.

Each (process, output) pair becomes one Brightway activity producing that output; a multi-output
process is partitioned by its allocation factors (ISO 14044 4.3.4.2: mass, economic or physical),
or, under system expansion, keeps its first output as the reference product and is credited with
the datasets its co-products displace (negative technosphere inputs). Inputs between processes are
linked as technosphere exchanges, so loops (steam, scrap) are solved by Brightway's matrix
factorisation, not walked. Supplier footprints become aggregated activities of their own.

Beside the Brightway data, every activity keeps its line items (each emission, fuel, electricity
draw and external input, per run of the activity as Brightway scales it, as exact `Decimal` quantities) so the
engine can report contributions, primary-data share and DQR per line and location- versus market-based
electricity, and the plant inventory (`pcf.factory.inventory`) is a tally of the same lines: one reading of the
model, not two. Every rule about energy lives here once: a fuel burns on its stationary or mobile (road vehicle)
factors, or on its measured carbon content; its well-to-tank supply, and the generation upstream and T&D losses of
grid electricity, are lines of their own (the "energy supply upstream" stage, `boundary.energy_upstream`);
uncovered grid electricity takes the residual mix under the market-based method where one is bundled.

Each line is an exchange of its own (Brightway sums duplicates), carrying the distribution of its amount
(`uncertainty.exchange_uncertainty`), so a Monte Carlo draws every line independently.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from lca_models import background, units
from lca_models.background import RENEWABLE_CERTIFICATE, combustion_exchanges
from lca_models.errors import ModelError, ModelErrors, UnitError
from lca_models.model import DEFAULT_DQR, Dqr, Fuel, Input, Process, ProductModel, Quality

from .imported import ImportedCatalogue
from .project import SharedDatabases, current_data_dir
from .suppliers import SupplierFootprint, SupplierLoader
from .uncertainty import BASIC_DEMAND, BASIC_TRANSPORT, basic_for_flow, exchange_uncertainty

Key = tuple[str, str]

# Instruments that make grid electricity zero-emission in the market-based method but not in the
# location-based one (GHG Protocol Scope 2 Guidance, 2015, Ch. 6). On-site PV consumed behind the
# meter is not grid electricity at all: zero in both methods.
MARKET_ONLY_INSTRUMENTS = ("green_certificate", "ppa")
AIR_TRANSPORT = "transport:air"


# What a line item is, for the plant inventory's scopes (GHG Protocol Corporate Standard): direct emissions and
# fuels are Scope 1, electricity Scope 2, datasets, supplier footprints, imported activities and user factors
# Scope 3 (energy supply upstream: its category 3), system-expansion credits none.
LINE_SOURCES = ("emission", "fuel", "electricity", "certificate", "energy_upstream", "dataset", "supplier", "credit",
                "activity", "factor")
# the stage (lca_models.footprint.STAGES) of each source
STAGE_OF = {"emission": "production", "fuel": "production", "electricity": "electricity", "certificate": "electricity",
            "energy_upstream": "energy_upstream", "dataset": "materials", "supplier": "materials", "credit": "materials",
            "activity": "materials", "factor": "materials"}


@dataclass(frozen=True)
class LineItem:
    """One contribution source of an activity, per run: its quantity as in the Brightway exchange."""

    label: str
    kind: str  # "process": emitted at the process (direct, fuel combustion); "input": upstream burden
    source: str  # one of LINE_SOURCES
    quantity: Decimal  # kg of `flow`, or units of `target`, per run (Brightway's supply scales whole runs)
    quality: Quality
    primary_fraction: float  # how much of this line counts as primary data (PACT PDS)
    flow: str | None = None  # biosphere flow for a direct emission
    target: Key | None = None  # the external activity whose cumulative burden this line carries
    category: str | None = None  # the model's Scope 1 source category of an emission or fuel
    fuel: str | None = None  # the fuel id of a fuel line (its target may be a measured fuel's own activity)
    packaging: bool = False
    aircraft: bool = False

    @property
    def amount(self) -> float:
        """The quantity as Brightway holds it."""
        return float(self.quantity)

    @property
    def stage(self) -> str:
        return STAGE_OF[self.source]


@dataclass(frozen=True)
class ElectricityUse:
    """Electricity of an activity per run (kWh), split by how it is covered."""

    grid: Key
    kwh: Decimal
    market_zero_kwh: Decimal  # certificates and PPAs: zero market-based, grid factor location-based
    onsite_kwh: Decimal  # on-site PV: zero in both
    instruments: tuple[tuple[str, str | None, Decimal], ...] = ()  # (type, scheme, kWh) per instrument
    market: Key | None = None  # what uncovered grid kWh are charged at, market-based: the residual mix, else the grid

    @property
    def market_target(self) -> Key:
        return self.market or self.grid

    @property
    def grid_kwh(self) -> Decimal:
        """Drawn from the grid: consumption less on-site PV behind the meter."""
        return self.kwh - self.onsite_kwh

    @property
    def uncovered_kwh(self) -> Decimal:
        """Grid kWh no certificate or PPA covers: the market-based method charges them the residual mix."""
        return self.kwh - self.onsite_kwh - self.market_zero_kwh


@dataclass
class ForegroundActivity:
    key: Key
    process_id: str
    flow: str
    unit: str
    items: list[LineItem] = field(default_factory=list)
    electricity: list[ElectricityUse] = field(default_factory=list)


@dataclass
class Foreground:
    """A model's Brightway database plus what the engine needs to read the results."""

    name: str
    data: dict[Key, dict]
    activities: list[ForegroundActivity]
    producers: dict[str, Key]  # flow -> activity producing it
    suppliers: dict[Key, SupplierFootprint]
    own_fuels: dict[Key, tuple[tuple[str, Decimal], ...]] = field(default_factory=dict)  # measured-fuel combustion
    # aggregated inputs (imported activities, user factors): kg of each project flow per unit, cradle to gate
    aggregates: dict[Key, tuple[tuple[str, Decimal], ...]] = field(default_factory=dict)

    def exchanges_of(self, target: Key) -> tuple[tuple[str, Decimal], ...]:
        """(flow, kg per unit) of an external activity a line draws on: a bundled dataset or a measured fuel's own."""
        if target in self.own_fuels:
            return self.own_fuels[target]
        return background.catalogue()[target[1]].exchanges

    def product_demand(self, flow: str, declared_unit: str, declared_amount: Decimal) -> float:
        """Amount of `flow` (in its output unit) that makes one declared unit of the product."""
        output_unit = next(a.unit for a in self.activities if a.key == self.producers[flow])
        symbol = units.PACT_DECLARED_UNITS[declared_unit]
        return float(units.convert(declared_amount, symbol, output_unit))


def database_name(model: ProductModel, loader: SupplierLoader, shared: SharedDatabases, gwp: str,
                  imported: ImportedCatalogue | None = None) -> str:
    """Keyed by the model digest (supplier files and factor libraries included), the supplier documents fetched from
    nodes, the imports of the databases its `activity:` inputs name (a re-import is a new foreground), the bundled
    data it links to and the GWP set (a supplier footprint recharacterised to it has other amounts)."""
    digest = hashlib.sha256(f"{model.digest}:{shared.data_digest}:{gwp}".encode())
    for name, imported_digest in _imported_digests(model, imported):
        digest.update(f"{name}={imported_digest}".encode())
    for ref in sorted({ref for ref in _supplier_refs(model) if ref.startswith(("https://", "http://"))}):
        loader.load(ref)
        digest.update(json.dumps(loader.documents[ref], sort_keys=True).encode())
    return f"pcf-model-{digest.hexdigest()[:16]}"


def _imported_digests(model: ProductModel, imported: ImportedCatalogue | None) -> list[tuple[str, str]]:
    names = sorted({i.activity.database for p in model.processes for i in p.inputs if i.kind == "activity"})
    if not names or imported is None:
        return []
    found = []
    for name in names:
        try:
            found.append((name, imported.database(name).digest))
        except ModelError:
            continue  # reported where the input is resolved
    return found


def _supplier_refs(model: ProductModel) -> list[str]:
    return [i.ref for p in model.processes for i in p.inputs if i.kind == "supplier"]


def _allocation_factors(process: Process) -> list[Decimal]:
    if len(process.outputs) == 1 or process.allocation == "system_expansion":
        return [Decimal(1)] + [Decimal(0)] * (len(process.outputs) - 1)
    weights = []
    for output in process.outputs:
        per_unit = {
            "mass": output.mass_kg_per_unit,
            "economic": output.price_per_unit,
            "physical": output.physical_per_unit,
        }[process.allocation]
        weights.append(output.amount * per_unit)
    total = sum(weights, Decimal(0))
    if total == 0:
        raise ModelError(f"allocation weights of process {process.id!r} sum to zero")
    return [w / total for w in weights]


class _Builder:
    def __init__(self, model: ProductModel, shared: SharedDatabases, loader: SupplierLoader, gwp: str,
                 imported: ImportedCatalogue | None = None) -> None:
        self.model, self.shared, self.loader, self.gwp = model, shared, loader, gwp
        self.imported = imported or ImportedCatalogue(current_data_dir())
        self.name = database_name(model, loader, shared, gwp, self.imported)
        self.aggregates: dict[Key, tuple[tuple[str, Decimal], ...]] = {}
        self.datasets = background.catalogue()
        self.own_fuels: dict[Key, tuple[tuple[str, Decimal], ...]] = {}
        self.data: dict[Key, dict] = {}
        self.producers: dict[str, Key] = {}
        self.output_units: dict[str, str] = {}
        self.credited: dict[str, str] = {}  # co-product flow -> process that credits it
        self.suppliers: dict[Key, SupplierFootprint] = {}
        self.supplier_keys: dict[str, Key] = {}
        self.errors: list[ModelError] = []

    def fail(self, process: Process, reason: str) -> None:
        self.errors.append(ModelError(reason, f"process {process.id!r}", str(self.model.source_path or "")))

    def build(self) -> Foreground:
        for process in self.model.processes:
            for index, output in enumerate(process.outputs):
                if process.allocation == "system_expansion" and index > 0:
                    self.credited[output.flow] = process.id
                else:
                    self.producers[output.flow] = (self.name, f"{process.id}::{output.flow}")
                    self.output_units[output.flow] = output.unit
        activities = []
        for process in self.model.processes:
            factors = _allocation_factors(process)
            for output, factor in zip(process.outputs, factors):
                if output.flow in self.credited:
                    continue
                activities.append(self._activity(process, output.flow, output.amount, output.unit, factor))
        if self.errors:
            raise ModelErrors(self.errors)
        return Foreground(self.name, self.data, activities, self.producers, self.suppliers, self.own_fuels,
                          self.aggregates)

    def _convert(self, process: Process, amount: Decimal, source: str, target: str, what: str) -> Decimal:
        try:
            return units.convert(amount, source, target)
        except UnitError as exc:
            self.fail(process, f"{what}: {exc}")
            return Decimal(0)

    def _activity(self, process: Process, flow: str, amount: Decimal, unit: str, factor: Decimal) -> ForegroundActivity:
        key = (self.name, f"{process.id}::{flow}")
        activity = ForegroundActivity(key, process.id, flow, unit)
        exchanges: list[dict] = [{"input": key, "amount": float(amount), "type": "production"}]

        def uses(target: Key, total: Decimal, quality: Quality, basic: float = BASIC_DEMAND) -> None:
            """A technosphere exchange of its own per line, with the distribution of its amount."""
            exchanges.append({"input": target, "amount": float(total), "type": "technosphere",
                              **exchange_uncertainty(float(total), quality, basic)})

        for emission in process.emissions:
            total = emission.amount_kg * factor
            exchanges.append({"input": (self.shared.biosphere, emission.substance), "amount": float(total),
                              "type": "biosphere",
                              **exchange_uncertainty(float(total), emission.quality, basic_for_flow(emission.substance))})
            activity.items.append(LineItem(
                f"{process.id}: {emission.substance}", "process", "emission", total, emission.quality,
                _primary(emission.quality), flow=emission.substance, category=emission.category))
        for index, fuel in enumerate(process.fuels):
            self._fuel(process, index, activity, fuel, factor, uses)
        for electricity in process.electricity:
            self._electricity(process, activity, electricity, factor, uses)
        for item in process.inputs:
            self._input(process, activity, item, factor, uses)
        if process.allocation == "system_expansion":
            for output in process.outputs[1:]:
                dataset = self.datasets[output.substitutes_dataset]
                displaced = self._convert(process, output.amount * output.substitution_ratio, output.unit,
                                          dataset.unit, f"co-product {output.flow!r} substituting {dataset.id!r}")
                target = (self.shared.background, dataset.id)
                quality = Quality("secondary", DEFAULT_DQR["secondary"])
                uses(target, -displaced, quality)
                activity.items.append(LineItem(
                    f"{process.id}: credit {output.flow} -> {dataset.id}", "input", "credit", -displaced, quality, 0.0,
                    target=target))
        self.data[key] = {
            "name": f"{process.name} ({flow})" if len(process.outputs) > 1 else process.name,
            "unit": unit,
            "location": self.model.geography_subdivision or self.model.geography_country or "GLO",
            "type": "process",
            "reference product": flow,
            "exchanges": exchanges,
            "allocation_factor": float(factor),
        }
        return activity

    def _fuel(self, process: Process, index: int, activity: ForegroundActivity, fuel: Fuel, factor: Decimal,
              uses) -> None:
        """Combustion at the plant (stationary, mobile or measured carbon content) and, in the boundary, its supply."""
        prefix = "fuel_mobile" if fuel.category == "mobile" else "fuel"
        target = (self.shared.background, f"{prefix}:{fuel.fuel}")
        if fuel.co2_kg_per_gj is not None:
            target = self._own_fuel(process, index, fuel, prefix)
        total = fuel.amount_gj * factor
        uses(target, total, fuel.quality)
        activity.items.append(LineItem(
            f"{process.id}: fuel {fuel.fuel}", "process", "fuel", total, fuel.quality, _primary(fuel.quality),
            target=target, category=fuel.category, fuel=fuel.fuel))
        upstream = self.datasets[f"fuel_upstream:{fuel.fuel}"]
        if self.model.boundary.energy_upstream and upstream.exchanges:
            self._upstream_line(activity, f"{process.id}: fuel {fuel.fuel} supply (well-to-tank)", upstream.id, total,
                                fuel.quality, uses)

    def _own_fuel(self, process: Process, index: int, fuel: Fuel, prefix: str) -> Key:
        """A combustion activity per GJ for a fuel of measured carbon content: its CO2, and the default CH4 and N2O."""
        key = (self.name, f"fuel::{process.id}::{index}")
        defaults = dict(self.datasets[f"{prefix}:{fuel.fuel}"].exchanges)
        props = background.fuel_properties()[fuel.fuel]
        per_tj = 1000
        exchanges = combustion_exchanges(fuel.co2_kg_per_gj * per_tj,
                                         defaults.get("ch4_biogenic" if props.biogenic else "ch4_fossil", Decimal(0)) * per_tj,
                                         defaults.get("n2o", Decimal(0)) * per_tj, props.biogenic)
        self.own_fuels[key] = exchanges
        self.data[key] = {
            "name": f"{fuel.fuel}, combusted, measured carbon content ({process.id}), per GJ NCV",
            "unit": "GJ",
            "location": self.model.geography_subdivision or self.model.geography_country or "GLO",
            "type": "process",
            "exchanges": [{"input": key, "amount": 1.0, "type": "production"}] + [
                {"input": (self.shared.biosphere, flow), "amount": float(amount), "type": "biosphere",
                 **exchange_uncertainty(float(amount), fuel.quality, basic_for_flow(flow))} for flow, amount in exchanges],
        }
        return key

    def _upstream_line(self, activity: ForegroundActivity, label: str, dataset_id: str, total: Decimal,
                       quality: Quality, uses) -> None:
        """Energy supply upstream: a bundled, cited factor on a measured quantity (secondary data on the factor)."""
        target = (self.shared.background, dataset_id)
        uses(target, total, quality)
        activity.items.append(LineItem(label, "input", "energy_upstream", total,
                                       Quality("secondary", DEFAULT_DQR["secondary"]), 0.0, target=target))

    def _electricity(self, process, activity, electricity, factor, uses) -> None:
        """Location-based: grid kWh at the grid average. Market-based (the PCF): certificates and PPAs at zero, the rest
        at the residual mix where one is bundled (GHG Protocol Scope 2 Guidance, Ch. 6), else the grid average. The
        upstream of generation and the T&D losses apply to every kWh drawn from the grid."""
        grid = (self.shared.background, f"grid:{electricity.grid}")
        residual = f"residual:{electricity.grid}"
        market = (self.shared.background, residual) if residual in self.datasets else grid
        certificate = (self.shared.background, RENEWABLE_CERTIFICATE)
        market_zero = sum((i.amount_kwh for i in electricity.instruments if i.type in MARKET_ONLY_INSTRUMENTS), Decimal(0))
        onsite = sum((i.amount_kwh for i in electricity.instruments if i.type == "onsite_pv"), Decimal(0))
        from_grid = (electricity.amount_kwh - market_zero - onsite) * factor
        covered = market_zero * factor
        if from_grid:
            uses(market, from_grid, electricity.quality)
        if covered:
            uses(certificate, covered, electricity.quality)
        label = f"{process.id}: electricity {electricity.grid}"
        activity.items.append(LineItem(label, "input", "electricity", from_grid, electricity.quality,
                                       _primary(electricity.quality), target=market))
        if covered:
            activity.items.append(LineItem(f"{label} (certificates/PPA)", "input", "certificate", covered,
                                           electricity.quality, _primary(electricity.quality), target=certificate))
        upstream = f"grid_upstream:{electricity.grid}"
        if self.model.boundary.energy_upstream and upstream in self.datasets and from_grid + covered:
            self._upstream_line(activity, f"{label} supply (generation upstream, T&D losses)", upstream,
                                from_grid + covered, electricity.quality, uses)
        activity.electricity.append(ElectricityUse(
            grid, electricity.amount_kwh * factor, covered, onsite * factor,
            tuple((i.type, i.scheme, i.amount_kwh * factor) for i in electricity.instruments),
            market if market != grid else None))

    def _input(self, process, activity, item: Input, factor, uses) -> None:
        if item.kind in ("activity", "factor"):
            self._aggregated_input(process, activity, item, factor, uses)
            return
        if item.kind == "flow":
            if item.ref in self.credited:
                self.fail(process, f"input {item.ref!r} is a co-product credited by system expansion in process "
                          f"{self.credited[item.ref]!r}; take it from the substituted dataset instead")
                return
            total = self._convert(process, item.amount * factor, item.unit, self.output_units[item.ref], f"input {item.ref!r}")
            uses(self.producers[item.ref], total, item.quality)
            return
        quality = item.quality
        basic = BASIC_DEMAND
        if item.kind == "dataset":
            dataset = self.datasets[item.ref]
            target = (self.shared.background, dataset.id)
            total = self._convert(process, item.amount * factor, item.unit, dataset.unit, f"input {item.ref!r}")
            primary = _primary(item.quality)
            source = "dataset"
            basic = BASIC_TRANSPORT if dataset.category == "transport" else BASIC_DEMAND
        else:
            target, supplier = self._supplier(item.ref, item.label)
            total = self._convert(process, item.amount * factor, item.unit, supplier.unit, f"supplier input {item.label!r}")
            share = supplier.primary_data_share
            primary = float(share) / 100 if share is not None else 0.0
            source = "supplier"
            quality = _supplier_quality(item.quality, supplier)
        uses(target, total, quality, basic)
        activity.items.append(LineItem(
            f"{process.id} <- {item.label}", "input", source, total, quality, primary, target=target,
            packaging=item.packaging, aircraft=item.ref == AIR_TRANSPORT))

    def _aggregated_input(self, process, activity, item: Input, factor, uses) -> None:
        """An imported activity or a user factor: an aggregated activity of the foreground with its per-unit
        flows (the imported database's cumulative inventory, or the library row), linked like any input."""
        resolved = self._imported(item) if item.kind == "activity" else self._factor(item)
        if resolved is None:
            return
        target, unit = resolved
        total = self._convert(process, item.amount * factor, item.unit, unit, f"input {item.label!r}")
        uses(target, total, item.quality)
        activity.items.append(LineItem(
            f"{process.id} <- {item.label}", "input", item.kind, total, item.quality, _primary(item.quality),
            target=target, packaging=item.packaging))

    def _imported(self, item: Input) -> tuple[Key, str] | None:
        try:
            database, found = self.imported.resolve(item.activity)
        except ModelError as exc:
            self.errors.append(ModelError(exc.reason, exc.path, str(self.model.source_path or "")))
            return None
        try:
            unit = units.unit(found.unit).symbol
        except UnitError:
            self.errors.append(ModelError(
                f"activity {found.describe()} of {database.name!r} is per {found.unit!r}, a unit carbon-exchange "
                "does not convert: choose an activity in a known unit", item.activity.path,
                str(self.model.source_path or "")))
            return None
        key = (self.name, f"activity::{database.name}::{found.code}")
        if key not in self.data:
            flows = database.inventory(found)
            self._write_aggregate(key, f"{found.name} ({database.name})", found.unit, found.location or "GLO", flows,
                                  item.quality, {"imported_database": database.name, "imported_digest": database.digest,
                                                 "imported_code": found.code})
        return key, unit

    def _factor(self, item: Input) -> tuple[Key, str]:
        user = item.factor
        key = (self.name, f"factor::{user.id}")
        if key not in self.data:
            self._write_aggregate(key, user.name, user.unit, user.geography or "GLO", user.flows, item.quality,
                                  {"source": user.source, "year": user.year, "library": str(user.library)})
        return key, user.unit

    def _write_aggregate(self, key: Key, name: str, unit: str, location: str,
                         flows: tuple[tuple[str, Decimal], ...], quality: Quality, extra: dict) -> None:
        exchanges = [{"input": key, "amount": 1.0, "type": "production"}]
        exchanges += [{"input": (self.shared.biosphere, flow), "amount": float(amount), "type": "biosphere",
                       **exchange_uncertainty(float(amount), quality, basic_for_flow(flow))} for flow, amount in flows]
        self.data[key] = {"name": name, "unit": unit, "location": location, "type": "process",
                          "exchanges": exchanges, **extra}
        self.aggregates[key] = tuple(flows)

    def _supplier(self, path: str, label: str) -> tuple[Key, SupplierFootprint]:
        if path in self.supplier_keys:
            key = self.supplier_keys[path]
            return key, self.suppliers[key]
        supplier = self.loader.load(path)
        key = (self.name, f"supplier::{len(self.supplier_keys)}")
        self.supplier_keys[path] = key
        self.suppliers[key] = supplier
        quality = _supplier_quality(Quality("supplier", DEFAULT_DQR["supplier"]), supplier)
        exchanges = [{"input": key, "amount": 1.0, "type": "production"}]
        exchanges += [{"input": (self.shared.biosphere, flow), "amount": float(value), "type": "biosphere",
                       **exchange_uncertainty(float(value), quality, basic_for_flow(flow))}
                      for flow, value in supplier.flows(self.gwp, f"{label!r} ({path})")]
        self.data[key] = {
            "name": f"supplier footprint {supplier.id or Path(path).name}",
            "unit": supplier.unit,
            "location": "GLO",
            "type": "process",
            "exchanges": exchanges,
            "pact_id": supplier.id,
        }
        return key, supplier


def _primary(quality: Quality) -> float:
    """PACT primary data share: measured activity data of the company or its suppliers counts as primary."""
    return 1.0 if quality.source in ("primary", "supplier") else 0.0


def _supplier_quality(quality: Quality, supplier: SupplierFootprint) -> Quality:
    """The supplier's own DQR (its footprint's `dqi`) unless the model states one for the line (docs/model-format.md)."""
    if quality.dqr_given or supplier.dqr is None:
        return quality
    return Quality(quality.source, Dqr(*supplier.dqr), False, quality.uncertainty)


def build_foreground(model: ProductModel, shared: SharedDatabases, loader: SupplierLoader | None = None,
                     gwp: str | None = None, imported: ImportedCatalogue | None = None) -> Foreground:
    """Brightway data and bookkeeping for `model` (GWP set `gwp`, default the model's); ModelErrors when it cannot be
    linked. `imported` resolves `activity:` inputs; by default the imported databases beside the open Brightway
    project."""
    return _Builder(model, shared, loader or SupplierLoader(), gwp or model.gwp, imported).build()

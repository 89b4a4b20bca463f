"""The Brightway engine: a validated product model in, one canonical `Footprint` per product out.

Brightway does the LCA: the model becomes a foreground database linked to the bundled background,
bw2calc builds the matrices, factorises the technosphere once (`lci(factorize=True)`) and solves every
further demand (each product, each external input's cumulative burden) against that factorisation.
Databases are written once per model digest and reused; one factorised `LCA` is kept per model and
GWP set for the life of the engine.

Brightway stores matrix values in single precision (~7 significant digits), so reported figures are
rounded to 7 significant digits as they leave it, and become `Decimal` from there on.

Biogenic CO2 uptake is kept apart everywhere (ISO 14067 7.3, PACT v3 `pcfExcludingBiogenicUptake`): the matrices are
scored with a method without it, so the gas, category and stage breakdowns, the contributions and the DQR and
primary-data weights all add up to the PCF excluding uptake, and uptake is its own field.
"""

from __future__ import annotations

import uuid
import warnings
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Callable

import numpy as np

from lca_models import background
from lca_models.errors import ModelError
from lca_models.footprint import (
    STAGES,
    ComputedDetails,
    Contribution,
    DataQualityIndicators,
    ElectricityResult,
    EmissionFactorSource,
    Footprint,
    Provenance,
    UncertaintyResult,
)
from lca_models.gwp import elementary_flows, normalise_gwp_set
from lca_models.model import Product, ProductModel

from ..report.progress import SILENT, Steps
from .foreground import Foreground, ForegroundActivity, Key, LineItem, build_foreground
from .project import SharedDatabases, ensure_shared_databases, open_project
from .suppliers import SupplierLoader
from .uncertainty import INTERVAL, Draws, monte_carlo, new_seed

PACT_SPEC_VERSION = "3.0.3"
FOOTPRINT_NAMESPACE = uuid.UUID("6f1c2a52-8f0e-4d8e-9a55-3a1f0b6f7c21")
SIGNIFICANT_DIGITS = 7
_ENGINE_PACKAGES = ("bw2data", "bw2calc", "bw_processing", "matrix_utils", "stats_arrays", "numpy", "scipy")
HISTOGRAM_BINS = 24


def to_decimal(value: float, digits: int = SIGNIFICANT_DIGITS) -> Decimal:
    """A float from Brightway as a Decimal with the precision Brightway actually has."""
    if value == 0 or not np.isfinite(value):
        return Decimal(0)
    return Decimal(f"{value:.{digits}g}").normalize() + Decimal(0)


@dataclass
class _Solved:
    """A factorised LCA for one model and GWP set, with the ids the engine reads results by."""

    lca: object
    ids: dict[Key, int]
    flow_of_row: dict[int, str]
    scores: dict[Key, float]


@dataclass(frozen=True)
class _Line:
    """A line item of the foreground and what it contributes, kgCO2e per declared unit."""

    item: LineItem
    kgco2e: float


class Engine:
    """Computes footprints; holds Brightway's factorisations so many demands share one."""

    def __init__(self, data_dir: Path | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self.data_dir = data_dir
        self.clock = clock or (lambda: datetime.now(timezone.utc).replace(microsecond=0))
        self._solved: dict[tuple[str, str], _Solved] = {}
        self._bw = None
        self._shared: SharedDatabases | None = None

    def _project(self):
        """Select this engine's Brightway project (bw2data is process-global; another engine may have moved it)."""
        self._bw = open_project(self.data_dir)
        if self._shared is None or self._shared.biosphere not in self._bw.databases:
            self._shared = ensure_shared_databases(self._bw)
        return self._bw, self._shared

    def compute(self, model: ProductModel, gwp: str | None = None, suppliers: SupplierLoader | None = None,
                steps: Steps = SILENT, iterations: int = 0, seed: int | None = None) -> list[Footprint]:
        """One footprint per product of `model`, per its declared unit; ModelError when unsolvable.

        `suppliers` resolves supplier inputs (files by default; footprint URLs when it can fetch them).
        `steps` hears the phases as they start (the first run of a data dir spends seconds writing the
        background) and each product's footprint as it is built. `iterations` > 0 adds a Monte Carlo of that
        many draws (reproducible with `seed`; one is chosen and reported when none is given).
        """
        gwp = normalise_gwp_set(gwp or model.gwp)
        steps.phase("opening the Brightway project")
        bw, shared = self._project()
        steps.phase("building the foreground (supplier footprints included)")
        foreground = build_foreground(model, shared, suppliers, gwp)
        if foreground.name not in bw.databases:
            steps.phase("writing the foreground database")
            bw.Database(foreground.name).write(foreground.data, process=True)
        steps.phase("solving on Brightway")
        solved = self._solve(foreground, shared, gwp)
        steps.phase("building footprints", total=len(model.products))
        footprints = []
        for product in model.products:
            footprints.append(self._footprint(model, product, foreground, solved, gwp))
            steps.advance()
        if iterations > 0:
            steps.phase(f"Monte Carlo: {iterations} draws through bw2calc")
            draws = self._monte_carlo(model, foreground, shared, gwp, iterations, seed or new_seed())
            footprints = [replace(f, computed=replace(f.computed, uncertainty=_summary(draws, p.flow, iterations)))
                          for f, p in zip(footprints, model.products)]
        return footprints

    def _monte_carlo(self, model: ProductModel, foreground: Foreground, shared: SharedDatabases, gwp: str,
                     iterations: int, seed: int) -> Draws:
        """Every product's PCF (excl. biogenic uptake) per declared unit, drawn `iterations` times from one sampler."""
        bw = self._bw
        demands = {}
        for product in model.products:
            amount = foreground.product_demand(product.flow, product.declared_unit, product.declared_unit_amount)
            node = bw.get_node(database=foreground.name, code=foreground.producers[product.flow][1])
            demands[product.flow] = {node.id: amount}
        _, data_objs, _ = bw.prepare_lca_inputs(demand={foreground.activities[0].key: 1.0},
                                                method=shared.pcf_method(gwp), remapping=False)
        return monte_carlo(demands, data_objs, iterations, seed)

    # --- Brightway

    def _solve(self, foreground: Foreground, shared: SharedDatabases, gwp: str) -> _Solved:
        cache_key = (foreground.name, gwp)
        if cache_key in self._solved:
            return self._solved[cache_key]
        import bw2calc
        bw = self._bw
        first = foreground.activities[0].key
        demand, data_objs, _ = bw.prepare_lca_inputs(demand={first: 1.0}, method=shared.pcf_method(gwp))
        lca = bw2calc.LCA(demand=demand, data_objs=data_objs)
        with warnings.catch_warnings():
            warnings.simplefilter("error", category=Warning)  # a singular matrix only warns in scipy
            try:
                lca.lci(factorize=True)
            except Exception as exc:  # noqa: BLE001 - any solver failure means the model has no solution
                raise ModelError(
                    "the model's process network has no solution (a loop in which processes consume at least "
                    f"as much of a flow as they produce, or a flow nobody makes): {exc}"
                ) from None
        lca.lcia()
        targets = {item.target for a in foreground.activities for item in a.items if item.target}
        targets |= {use.grid for a in foreground.activities for use in a.electricity}  # location-based factors
        ids = {key: bw.get_node(database=key[0], code=key[1]).id for key in targets | {a.key for a in foreground.activities}}
        flow_of_row = {row: bw.get_node(id=node_id)["code"] for node_id, row in lca.dicts.biosphere.items()}
        solved = _Solved(lca, ids, flow_of_row, {})
        for target in targets:
            lca.lci(demand={ids[target]: 1.0})
            lca.lcia_calculation()
            solved.scores[target] = float(lca.score)
        self._solved[cache_key] = solved
        return solved

    def _supply(self, solved: _Solved, foreground: Foreground, product_key: Key, amount: float) -> dict[Key, float]:
        lca = solved.lca
        lca.lci(demand={solved.ids[product_key]: amount})
        lca.lcia_calculation()
        supply = {a.key: float(lca.supply_array[lca.dicts.activity[solved.ids[a.key]]]) for a in foreground.activities}
        largest = max(abs(v) for v in supply.values())
        if not all(np.isfinite(v) for v in supply.values()):
            raise ModelError("the model's process network has no solution (singular technosphere matrix)")
        negative = [key[1] for key, v in supply.items() if v < -1e-9 * max(largest, 1e-30)]
        if negative:
            raise ModelError(
                "the model has no physical solution: activities would run backwards "
                f"({', '.join(negative)}); a loop consumes more of a flow than it produces"
            )
        return supply

    # --- Results

    def _footprint(self, model: ProductModel, product: Product, foreground: Foreground, solved: _Solved, gwp: str) -> Footprint:
        amount = foreground.product_demand(product.flow, product.declared_unit, product.declared_unit_amount)
        supply = self._supply(solved, foreground, foreground.producers[product.flow], amount)
        by_flow_kg = self._by_flow(solved)
        flows = elementary_flows()
        gas_sums: dict[str, float] = defaultdict(float)
        category_sums: dict[str, float] = defaultdict(float)
        for flow_id, kg in by_flow_kg.items():
            flow = flows[flow_id]
            if flow.counts_in_pcf:
                category_sums[flow.category] += kg * float(flow.gwp[gwp])
                if flow.category != "biogenic_uptake":
                    gas_sums[flow.gas] += kg * float(flow.gwp[gwp])
        uptake = to_decimal(category_sums.pop("biogenic_uptake", 0.0))
        by_gas = {gas: to_decimal(value) for gas, value in gas_sums.items() if to_decimal(value)}
        by_category = {category: to_decimal(value) for category, value in category_sums.items()}
        fossil = by_category.get("fossil", Decimal(0))
        luc = by_category.get("land_use_change", Decimal(0))
        bio_non_co2 = by_category.get("biogenic_non_co2", Decimal(0))
        pcf_excluding = fossil + luc + bio_non_co2
        lines = list(self._lines(foreground.activities, supply, solved, gwp))
        contributions = _contributions(lines, pcf_excluding)
        packaging = sum((line.kgco2e for line in lines if line.item.packaging), 0.0)
        has_packaging = any(line.item.packaging for line in lines)
        aircraft = sum((line.kgco2e for line in lines if line.item.aircraft), 0.0)
        electricity = self._electricity(foreground.activities, supply, solved, pcf_excluding)
        suppliers = tuple(s.id for s in foreground.suppliers.values() if s.id)
        exclusions = [e for e in model.exclusions if e.applies_to(product.flow)]
        return Footprint(
            id=str(uuid.uuid5(FOOTPRINT_NAMESPACE, f"{model.digest}:{product.flow}:{gwp}")),
            spec_version=PACT_SPEC_VERSION,
            created=self.clock(),
            status="Active",
            company_name=model.company_name,
            company_ids=model.company_ids,
            product_description=product.description,
            product_ids=product.product_ids,
            product_name_company=product.name,
            declared_unit_of_measurement=product.declared_unit,
            declared_unit_amount=product.declared_unit_amount,
            product_mass_per_declared_unit=product.mass_per_declared_unit_kg,
            reference_period_start=model.reference_period_start,
            # the model's end is its last day; PACT's referencePeriodEnd is exclusive (data model 4.7.2)
            reference_period_end=model.reference_period_end + timedelta(days=1),
            pcf_excluding_biogenic_uptake=pcf_excluding,
            pcf_including_biogenic_uptake=pcf_excluding + uptake,
            fossil_ghg_emissions=fossil,
            fossil_carbon_content=product.fossil_carbon_content_kg,
            biogenic_carbon_content=product.biogenic_carbon_content_kg,
            ipcc_characterization_factors=(gwp,),
            cross_sectoral_standards=model.cross_sectoral_standards,
            exempted_emissions_percent=sum((e.share_percent for e in exclusions), Decimal(0)),
            exempted_emissions_description="; ".join(f"{e.what}: {e.why} (~{e.share_percent} %)"
                                                     for e in exclusions) or None,
            product_classifications=product.classifications,
            comment=model.comment,
            geography_country=None if model.geography_subdivision else model.geography_country,
            geography_country_subdivision=model.geography_subdivision,
            boundary_processes_description=_boundary(model),
            land_use_change_ghg_emissions=luc,
            biogenic_co2_uptake=uptake,
            biogenic_non_co2_emissions=bio_non_co2,
            aircraft_ghg_emissions=to_decimal(aircraft),
            packaging_emissions_included=has_packaging,
            packaging_ghg_emissions=to_decimal(packaging) if has_packaging else None,
            allocation_rules_description=_allocation_description(model),
            secondary_emission_factor_sources=(
                EmissionFactorSource("carbon-exchange bundled background data", self._shared.data_digest),
            ),
            primary_data_share=_primary_share(lines),
            dqi=_dqi(lines),
            computed=ComputedDetails(
                by_gas=dict(sorted(by_gas.items())),
                by_category=dict(sorted(by_category.items())),
                contributions=contributions,
                electricity=electricity,
                offsets=model.offsets,
                provenance=Provenance(
                    model_digest=model.digest,
                    engine=f"carbon-exchange {_version('carbon-exchange')}",
                    engine_versions={name: _version(name) for name in _ENGINE_PACKAGES},
                    data_versions=background.data_versions(),
                    gwp_set=gwp,
                    upstream_footprint_ids=suppliers,
                ),
                biogenic_co2_emissions_kg=to_decimal(by_flow_kg.get("co2_biogenic", 0.0)),
                by_stage=_stages(lines),
                sources=_energy_sources(lines),
            ),
        )

    def _by_flow(self, solved: _Solved) -> dict[str, float]:
        """kg of each elementary flow in the last solved inventory (weighted with the GWP table by the caller)."""
        inventory = np.asarray(solved.lca.inventory.sum(axis=1)).ravel()
        return {solved.flow_of_row[row]: float(inventory[row]) for row in solved.flow_of_row}

    def _lines(self, activities: list[ForegroundActivity], supply: dict[Key, float], solved: _Solved, gwp: str):
        """Each line item with the kgCO2e it contributes per declared unit, biogenic uptake excluded (reported apart:
        an uptake line is no contribution, and weighs nothing in the DQR or the primary data share)."""
        flows = elementary_flows()
        for activity in activities:
            scale = supply[activity.key]
            if scale == 0:
                continue
            for item in activity.items:
                if item.flow:
                    flow = flows[item.flow]
                    if flow.category == "biogenic_uptake":
                        continue
                    per_unit = float(flow.gwp[gwp]) if flow.counts_in_pcf else 0.0
                else:
                    per_unit = solved.scores[item.target]  # scored without uptake (project.pcf_method)
                yield _Line(item, scale * item.amount * per_unit)

    def _electricity(self, activities, supply, solved: _Solved, pcf_excluding: Decimal) -> ElectricityResult:
        """Generation only (the upstream and losses are the energy-upstream stage): location-based at the grid
        average, market-based as in the PCF (instruments at zero, uncovered kWh at the residual mix or grid average)."""
        kwh = location = market = 0.0
        basis: dict[str, str] = {}
        for activity in activities:
            scale = supply[activity.key]
            for use in activity.electricity:
                kwh += scale * float(use.kwh)
                location += scale * float(use.grid_kwh) * solved.scores[use.grid]
                market += scale * float(use.uncovered_kwh) * solved.scores[use.market_target]
                region = use.grid[1].removeprefix("grid:")
                basis[region] = (f"{region}: uncovered kWh at the residual mix ({use.market_target[1]})"
                                 if use.market else f"{region}: uncovered kWh at the grid average (no residual mix "
                                 "is bundled for this grid)")
        return ElectricityResult(
            kwh=to_decimal(kwh),
            location_based_kgco2e=to_decimal(location),
            market_based_kgco2e=to_decimal(market),
            pcf_location_based=pcf_excluding + to_decimal(location - market),
            market_basis=tuple(basis[region] for region in sorted(basis)),
        )


def _contributions(lines, pcf_excluding: Decimal) -> tuple[Contribution, ...]:
    totals: dict[tuple[str, str, str], float] = defaultdict(float)
    for line in lines:
        totals[(line.item.label, line.item.kind, line.item.stage)] += line.kgco2e
    ranked = sorted(totals.items(), key=lambda kv: -abs(kv[1]))
    return tuple(
        Contribution(label, kind, to_decimal(value),
                     to_decimal(value / float(pcf_excluding), 4) if pcf_excluding else Decimal(0), stage)
        for (label, kind, stage), value in ranked
        if value != 0
    )


def _stages(lines) -> dict[str, Decimal]:
    """kgCO2e per cradle-to-gate stage (every stage listed, zero where nothing falls in it)."""
    sums = {stage: 0.0 for stage in STAGES}
    for line in lines:
        sums[line.item.stage] += line.kgco2e
    return {stage: to_decimal(value) for stage, value in sums.items()}


def _energy_sources(lines) -> dict[str, str]:
    """The citation of every energy-supply and residual-mix dataset the footprint used (shown with its stage)."""
    catalogue = background.catalogue()
    used = {line.item.target[1] for line in lines if line.item.target and line.kgco2e
            and line.item.target[1].split(":")[0] in ("fuel_upstream", "grid_upstream", "residual")}
    return {dataset: catalogue[dataset].source for dataset in sorted(used)}


def _summary(draws: Draws, flow: str, iterations: int) -> UncertaintyResult:
    """Mean, median, the 2.5-97.5 % interval, the standard error of the mean and a histogram of one product's draws."""
    scores = draws.scores[flow]
    counts, edges = np.histogram(scores, bins=HISTOGRAM_BINS)
    low, median, high = np.percentile(scores, [INTERVAL[0], 50, INTERVAL[1]])
    return UncertaintyResult(
        iterations=iterations, seed=draws.seed, mean=to_decimal(float(scores.mean())), median=to_decimal(float(median)),
        low=to_decimal(float(low)), high=to_decimal(float(high)),
        standard_error=to_decimal(float(scores.std(ddof=1) / np.sqrt(iterations)) if iterations > 1 else 0.0),
        histogram=tuple((to_decimal(float(a)), to_decimal(float(b)), int(n)) for a, b, n in zip(edges, edges[1:], counts)),
    )


def _primary_share(lines) -> Decimal | None:
    """PACT primary data share (percent): the part of the footprint computed from primary data."""
    weight = sum(abs(line.kgco2e) for line in lines)
    if not weight:
        return None
    primary = sum(abs(line.kgco2e) * line.item.primary_fraction for line in lines)
    return to_decimal(100 * primary / weight, 4)


def _dqi(lines) -> DataQualityIndicators | None:
    """DQR per dimension, weighted by each line's absolute contribution (PACT Methodology v3 Sec. 4.2)."""
    weight = sum(abs(line.kgco2e) for line in lines)
    if not weight:
        return None
    dims = [0.0, 0.0, 0.0]
    for line in lines:
        dqr = line.item.quality.dqr
        for i, score in enumerate((dqr.technological, dqr.geographical, dqr.temporal)):
            dims[i] += abs(line.kgco2e) * float(score)
    return DataQualityIndicators(*(to_decimal(d / weight, 3) for d in dims))


def _boundary(model: ProductModel) -> str:
    """The model's description (or one generated from its processes), and what the energy supply upstream holds."""
    names = ", ".join(p.name for p in model.processes)
    text = model.boundary_description or (
        f"Cradle-to-gate: raw material acquisition, inbound transport and the factory processes {names}.")
    if model.boundary.energy_upstream:
        return f"{text} Energy supply upstream included: well-to-tank of fuels, upstream of power generation and T&D losses."
    return f"{text} Energy supply upstream (well-to-tank of fuels, power generation upstream, T&D losses) excluded."


def _allocation_description(model: ProductModel) -> str | None:
    rules = [f"{p.id}: {p.allocation.replace('_', ' ')}" for p in model.processes if p.allocation and len(p.outputs) > 1]
    return "; ".join(rules) if rules else None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"

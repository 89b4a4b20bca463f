"""The product model: a factory's unit processes and what they consume and emit, per reference period.

Built only by `lca_models.model_schema.load_model`, which validates the file; the types below therefore
hold amounts that are already checked (positive, in known units) and references that already resolve.
Words follow PACT/ISO 14067: declared unit, reference period, process, input, output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from typing import TYPE_CHECKING

from .footprint import Offset  # one type for a retired credit, in the model and in the footprint

if TYPE_CHECKING:  # factor_library imports this module (Dqr); the type is only named here
    from .factor_library import UserFactor

DATA_SOURCES = ("primary", "supplier", "secondary")
ALLOCATION_METHODS = ("mass", "economic", "physical", "system_expansion")
INSTRUMENT_TYPES = ("green_certificate", "ppa", "onsite_pv")
# GHG Protocol Corporate Standard Scope 1 source categories (ISO 14064-1 5.2.4 direct emissions)
FUEL_CATEGORIES = ("stationary", "mobile")
EMISSION_CATEGORIES = ("process", "fugitive")
# Probability distributions an amount may carry, with their stats_arrays ids (the ones Brightway samples)
DISTRIBUTIONS = {"lognormal": 2, "normal": 3, "uniform": 4, "triangular": 5}


@dataclass(frozen=True)
class Dqr:
    """Data quality ratings, 1 (best) to 5 (worst), PACT v3 `DataQualityIndicators` dimensions."""

    technological: Decimal
    geographical: Decimal
    temporal: Decimal


# Defaults where the model gives no DQR: documented in docs/model-format.md.
DEFAULT_DQR = {
    "primary": Dqr(Decimal(1), Decimal(1), Decimal(1)),
    "supplier": Dqr(Decimal(2), Decimal(2), Decimal(2)),
    "secondary": Dqr(Decimal(3), Decimal(3), Decimal(3)),
}


@dataclass(frozen=True)
class Uncertainty:
    """A distribution an amount carries, relative to the amount (so it follows every unit conversion and allocation).

    lognormal: geometric standard deviation `gsd` (median = the amount); normal: standard deviation `relative_sd` x
    amount; uniform and triangular (mode = the amount): `relative_min` and `relative_max` x amount.
    """

    distribution: str  # a key of DISTRIBUTIONS
    gsd: Decimal | None = None
    relative_sd: Decimal | None = None
    relative_min: Decimal | None = None
    relative_max: Decimal | None = None


@dataclass(frozen=True)
class Quality:
    """Where an amount comes from and how good it is."""

    source: str  # one of DATA_SOURCES
    dqr: Dqr
    dqr_given: bool = False  # the model states the DQR (else the source's default, or a supplier footprint's own dqi)
    uncertainty: Uncertainty | None = None  # given in the model; else the engine derives one from the DQR (pedigree)


@dataclass(frozen=True)
class Output:
    """A product a process makes, with what allocation needs to know about it."""

    flow: str
    amount: Decimal
    unit: str
    mass_kg_per_unit: Decimal | None = None  # for mass allocation when `unit` is not a mass
    price_per_unit: Decimal | None = None  # economic allocation
    physical_per_unit: Decimal | None = None  # physical allocation (the process names the property)
    substitutes_dataset: str | None = None  # system expansion: the dataset this co-product displaces
    substitution_ratio: Decimal = Decimal(1)  # units of the dataset displaced per unit of co-product


@dataclass(frozen=True)
class Input:
    """Something a process consumes: from another process (`flow`), a dataset, or a supplier footprint;
    or an activity of an imported database (`activity`), or a factor of a user library (`factor`)."""

    kind: str  # "flow" | "dataset" | "supplier" | "activity" | "factor"
    ref: str  # flow name, dataset id, supplier footprint file path (resolved, absolute), database/name, factor id
    amount: Decimal
    unit: str
    quality: Quality
    packaging: bool = False
    label: str = ""  # how contribution analysis names it
    meter: str | None = None  # meter id whose readings give `amount` (pcf factory meters)
    cbam_precursor: CbamPrecursor | None = None  # a purchased CBAM good (dataset or supplier inputs only)
    activity: ActivityRef | None = None  # kind "activity": which activity of which imported database
    factor: UserFactor | None = None  # kind "factor": the library row, already validated
    cbam_out_of_scope: str | None = None  # why a purchased CBAM good is not a precursor here (docs/model-format.md)


@dataclass(frozen=True)
class ActivityRef:
    """An activity of a database imported with `pcf data import`, named as the database names it.

    Resolved by the engine against the data dir's imported databases (the model file cannot know them),
    with a did-you-mean on a miss; `path` is where in the model file it was named, for that error.
    """

    database: str
    name: str
    reference_product: str | None = None
    location: str | None = None
    unit: str | None = None  # the activity's own unit, to choose between activities; not the input's unit
    path: str = ""


@dataclass(frozen=True)
class CbamPrecursor:
    """A purchased input that is itself a CBAM good: what its embedded emissions are looked up by (docs/cbam.md).

    Without `see_direct` the good takes its IR 2025/2621 Annex I default value for `cn_code` and `country`;
    with it, the SEE its producer communicated (tCO2e per tonne).
    """

    cn_code: str
    country: str
    see_direct: Decimal | None = None
    see_indirect: Decimal | None = None


@dataclass(frozen=True)
class CbamMarker:
    """Marks a process as a CBAM production process (IR 2025/2547 Art. 4) making `output`, the good."""

    goods_category: str  # one of lca_models.cbam_installation.GOODS_CATEGORIES
    route: str  # one of PRODUCTION_ROUTES[goods_category]
    output: str  # the flow that is the good; the process's other outputs are co-products


@dataclass(frozen=True)
class Instrument:
    """A contractual or physical source of a process's electricity (GHG Protocol Scope 2 Guidance)."""

    type: str  # one of INSTRUMENT_TYPES
    amount_kwh: Decimal
    scheme: str | None = None  # e.g. "GEC", "I-REC"


@dataclass(frozen=True)
class Electricity:
    """Electricity a process draws, in kWh, from a grid region, with instruments covering part of it."""

    grid: str
    amount_kwh: Decimal
    instruments: tuple[Instrument, ...]
    quality: Quality
    meter: str | None = None


@dataclass(frozen=True)
class Fuel:
    """A fuel burnt in a process, in GJ (net calorific value)."""

    fuel: str
    amount_gj: Decimal
    quality: Quality
    category: str = "stationary"  # one of FUEL_CATEGORIES: stationary or mobile (road-vehicle) combustion factors
    meter: str | None = None
    co2_kg_per_gj: Decimal | None = None  # from measured carbon content and oxidation, overriding the default factor


@dataclass(frozen=True)
class Emission:
    """A direct emission (or biogenic removal, `co2_uptake`) of a process, in kg of the substance."""

    substance: str
    amount_kg: Decimal
    quality: Quality
    category: str = "process"  # one of EMISSION_CATEGORIES: the plant inventory's Scope 1 source category
    meter: str | None = None


@dataclass(frozen=True)
class Process:
    id: str
    name: str
    outputs: tuple[Output, ...]
    allocation: str | None  # one of ALLOCATION_METHODS; required when more than one output
    inputs: tuple[Input, ...] = ()
    electricity: tuple[Electricity, ...] = ()
    fuels: tuple[Fuel, ...] = ()
    emissions: tuple[Emission, ...] = ()
    cbam: CbamMarker | None = None  # a CBAM production process; the PCF ignores it


@dataclass(frozen=True)
class Product:
    """A product whose footprint the model computes: one of the model's flows, per declared unit."""

    flow: str
    name: str
    description: str
    product_ids: tuple[str, ...]
    declared_unit: str  # PACT word, e.g. "kilogram"
    declared_unit_amount: Decimal
    mass_per_declared_unit_kg: Decimal
    cn_code: str | None = None
    classifications: tuple[str, ...] = ()
    fossil_carbon_content_kg: Decimal = Decimal(0)  # kg C per declared unit (PACT v3 fossilCarbonContent)
    biogenic_carbon_content_kg: Decimal | None = None  # kg C per declared unit, where modelled
    cbam_parameters: dict = field(default_factory=dict, compare=False)  # CBAM qualitative parameters (docs/cbam.md)


@dataclass(frozen=True)
class Boundary:
    """What the cradle-to-gate boundary holds beyond the model's own lines (docs/model-format.md)."""

    energy_upstream: bool = True  # well-to-tank of fuels, upstream of generation and T&D losses of grid electricity


@dataclass(frozen=True)
class Exclusion:
    """A declared cut-off: something knowingly left out of the PCF, why, and its estimated share (% of the PCF)."""

    what: str
    why: str
    share_percent: Decimal
    products: tuple[str, ...] = ()  # flows it concerns; empty: every product of the model

    def applies_to(self, flow: str) -> bool:
        return not self.products or flow in self.products


@dataclass(frozen=True)
class ProductModel:
    """A whole validated model file."""

    source_path: Path | None
    digest: str  # sha256 of the canonical JSON of the validated document
    company_name: str
    company_ids: tuple[str, ...]
    reference_period_start: datetime
    reference_period_end: datetime  # the last day of the period, inclusive (00:00 UTC); PACT output makes it exclusive
    geography_country: str | None
    geography_subdivision: str | None
    products: tuple[Product, ...]
    processes: tuple[Process, ...]
    offsets: tuple[Offset, ...] = ()
    gwp: str = "AR6"
    cross_sectoral_standards: tuple[str, ...] = ("ISO14067", "GHGP-Product", "PACT-3.0")
    boundary_description: str | None = None
    comment: str | None = None
    extra: dict = field(default_factory=dict, compare=False)
    boundary: Boundary = Boundary()
    exclusions: tuple[Exclusion, ...] = ()
    cbam_installation: dict = field(default_factory=dict, compare=False)  # the CBAM template's identity fields

    def producer_of(self, flow: str) -> Process:
        """The process whose outputs include `flow` (the schema guarantees exactly one)."""
        for process in self.processes:
            if any(o.flow == flow for o in process.outputs):
                return process
        raise KeyError(flow)

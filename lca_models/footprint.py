"""The canonical product carbon footprint: one type inside, every format a translation at the edge.

Field names follow the PACT v3.0.3 data model (`ProductFootprint` / `CarbonFootprint`, in snake_case) so
that PACT v3 <-> Footprint is lossless; what PACT does not carry (gas breakdown, contributions, location-
vs market-based electricity, offsets, provenance) lives in `ComputedDetails`, which the PACT layer writes
as a data-model extension. All reported quantities are `Decimal`, per declared unit, kgCO2e unless named
otherwise: Brightway computes in floating point, the numbers leave as decimals and are never re-rounded
by a float on the way out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Mapping

from .i18n import N_


@dataclass(frozen=True)
class DataQualityIndicators:
    """PACT v3 `DataQualityIndicators`: DQR scores 1 (best) to 5 (worst), contribution-weighted."""

    technological_dqr: Decimal
    geographical_dqr: Decimal
    temporal_dqr: Decimal


@dataclass(frozen=True)
class ProductOrSectorSpecificRule:
    """PACT v3 `ProductOrSectorSpecificRule`."""

    operator: str  # "PEF" | "EPD International" | "Other"
    rule_names: tuple[str, ...]
    other_operator_name: str | None = None


@dataclass(frozen=True)
class EmissionFactorSource:
    """PACT v3 `EmissionFactorSource`: a secondary database used, with its version."""

    name: str
    version: str


@dataclass(frozen=True)
class Verification:
    """PACT v3 `Verification` (v2 `Assurance`)."""

    coverage: str | None = None  # "PCF calculation model" | "PCF program" | "product level"
    provider_name: str | None = None
    completed_at: datetime | None = None
    standard_name: str | None = None
    comments: str | None = None


@dataclass(frozen=True)
class Extension:
    """PACT `DataModelExtension`: data a footprint carries under another schema, kept verbatim."""

    spec_version: str
    data_schema: str
    data: Mapping[str, Any]
    documentation: str | None = None


@dataclass(frozen=True)
class Contribution:
    """One line of a contribution analysis: what part of the PCF comes from where."""

    label: str  # e.g. "blast_furnace" or "blast_furnace <- coke (dataset coke_cn)"
    kind: str  # "process" (direct emissions of a model process) or "input" (an input's upstream burden)
    kgco2e: Decimal  # per declared unit, biogenic CO2 uptake excluded (ISO 14067 7.3: reported apart)
    share: Decimal  # fraction of the PCF excluding biogenic uptake (can be negative for credits)
    stage: str = ""  # one of STAGES


# Cradle-to-gate stages every contribution belongs to (docs/report.md); they add up to the PCF
STAGES = {  # marked for the catalogue: reports show them in the reader's language
    "production": N_("production: direct emissions of the modelled processes (fuel combustion included)"),
    "electricity": N_("purchased electricity, generation (market-based)"),
    "energy_upstream": N_("energy supply upstream: fuels well-to-tank, power generation upstream, T&D losses"),
    "materials": N_("materials, transport, packaging, waste and supplier footprints (upstream)"),
}


@dataclass(frozen=True)
class ElectricityResult:
    """Location- versus market-based electricity (GHG Protocol Scope 2 Guidance), per declared unit."""

    kwh: Decimal  # electricity consumed along the modelled foreground, per declared unit
    location_based_kgco2e: Decimal
    market_based_kgco2e: Decimal
    pcf_location_based: Decimal  # the PCF (excl. biogenic uptake) had all electricity been location based
    market_basis: tuple[str, ...] = ()  # per grid: what uncovered kWh were charged at (residual mix or grid average)


@dataclass(frozen=True)
class UncertaintyResult:
    """Monte Carlo of the PCF excluding biogenic uptake, per declared unit (docs/methodology.md)."""

    iterations: int
    seed: int
    mean: Decimal
    median: Decimal
    low: Decimal  # 2.5th percentile
    high: Decimal  # 97.5th percentile
    standard_error: Decimal  # of the mean: standard deviation / sqrt(iterations)
    histogram: tuple[tuple[Decimal, Decimal, int], ...] = ()  # (from, to, draws) bins, for the report's chart


@dataclass(frozen=True)
class Offset:
    """A retired carbon credit recorded against the model's period: disclosed, never subtracted."""

    scheme: str  # e.g. "CCER", "VCS", "Gold Standard"
    serial_range: str
    vintage: int
    tonnes_co2e: Decimal
    retired_on: str  # ISO date


@dataclass(frozen=True)
class Provenance:
    """Where a computed footprint came from, so that anyone can recompute and compare."""

    model_digest: str  # sha256 of the canonical model document
    engine: str  # e.g. "carbon-exchange 0.1.0"
    engine_versions: Mapping[str, str]  # bw2data, bw2calc, ... versions
    data_versions: Mapping[str, str]  # bundled data file -> sha256
    gwp_set: str  # "AR6" or "AR5"
    upstream_footprint_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ComputedDetails:
    """What the engine knows beyond PACT's fields; absent for footprints received from others."""

    by_gas: Mapping[str, Decimal]  # gas -> kgCO2e per declared unit (e.g. "CO2", "CH4", "N2O", "SF6"), uptake excluded
    by_category: Mapping[str, Decimal]  # fossil, biogenic_non_co2, land_use_change; uptake is the footprint's own field
    contributions: tuple[Contribution, ...]
    electricity: ElectricityResult
    offsets: tuple[Offset, ...]
    provenance: Provenance
    biogenic_co2_emissions_kg: Decimal = Decimal(0)  # reported, carbon-neutral by convention
    by_stage: Mapping[str, Decimal] = field(default_factory=dict)  # STAGES key -> kgCO2e; adds up to the PCF
    uncertainty: UncertaintyResult | None = None
    sources: Mapping[str, str] = field(default_factory=dict)  # energy-supply and residual-mix dataset -> its citation


@dataclass(frozen=True)
class Footprint:
    """A product carbon footprint (PACT v3 `ProductFootprint` semantics, per declared unit)."""

    # --- ProductFootprint
    id: str  # UUID
    spec_version: str
    created: datetime
    status: str  # "Active" | "Deprecated"
    company_name: str
    company_ids: tuple[str, ...]
    product_description: str
    product_ids: tuple[str, ...]
    product_name_company: str
    # --- CarbonFootprint (mandatory)
    declared_unit_of_measurement: str  # PACT v3 enum word: "kilogram", "piece", "kilowatt hour", ...
    declared_unit_amount: Decimal
    product_mass_per_declared_unit: Decimal
    reference_period_start: datetime
    reference_period_end: datetime  # exclusive, as PACT's referencePeriodEnd (see `reference_period_last_day`)
    pcf_excluding_biogenic_uptake: Decimal
    pcf_including_biogenic_uptake: Decimal
    fossil_ghg_emissions: Decimal
    fossil_carbon_content: Decimal
    ipcc_characterization_factors: tuple[str, ...]  # ("AR6",)
    cross_sectoral_standards: tuple[str, ...]
    exempted_emissions_percent: Decimal
    # --- ProductFootprint (optional)
    preceding_pf_ids: tuple[str, ...] = ()
    validity_period_start: datetime | None = None
    validity_period_end: datetime | None = None
    product_classifications: tuple[str, ...] = ()
    comment: str | None = None
    extensions: tuple[Extension, ...] = ()
    # --- CarbonFootprint (optional)
    geography_region_or_subregion: str | None = None
    geography_country: str | None = None
    geography_country_subdivision: str | None = None
    boundary_processes_description: str | None = None
    biogenic_carbon_content: Decimal | None = None
    recycled_carbon_content: Decimal | None = None
    land_use_change_ghg_emissions: Decimal | None = None
    land_carbon_leakage: Decimal | None = None
    land_management_fossil_ghg_emissions: Decimal | None = None
    land_management_biogenic_co2_emissions: Decimal | None = None
    land_management_biogenic_co2_removals: Decimal | None = None
    biogenic_co2_uptake: Decimal | None = None
    biogenic_non_co2_emissions: Decimal | None = None
    land_area_occupation: Decimal | None = None
    aircraft_ghg_emissions: Decimal | None = None
    packaging_emissions_included: bool | None = None
    packaging_ghg_emissions: Decimal | None = None
    packaging_biogenic_carbon_content: Decimal | None = None
    outbound_logistics_ghg_emissions: Decimal | None = None
    ccs_technological_co2_capture_included: bool | None = None
    ccs_technological_co2_capture: Decimal | None = None
    technological_co2_capture_origin: str | None = None
    technological_co2_removals: Decimal | None = None
    ccu_carbon_content: Decimal | None = None
    ccu_calculation_approach: str | None = None
    ccu_credit_certification: str | None = None
    product_or_sector_specific_rules: tuple[ProductOrSectorSpecificRule, ...] = ()
    exempted_emissions_description: str | None = None
    allocation_rules_description: str | None = None
    secondary_emission_factor_sources: tuple[EmissionFactorSource, ...] = ()
    primary_data_share: Decimal | None = None  # percent, 0..100
    dqi: DataQualityIndicators | None = None
    verification: Verification | None = None
    # --- not in PACT: what the engine computed (None for footprints received from others)
    computed: ComputedDetails | None = field(default=None, compare=True)

    @property
    def reference_period_last_day(self) -> date:
        """The last day the reference period covers: PACT's `referencePeriodEnd` is exclusive (data model 4.7.2)."""
        return (self.reference_period_end - timedelta(microseconds=1)).date()

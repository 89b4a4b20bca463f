"""Hypothesis strategies for valid canonical footprints (the PACT v3 rules hold for every one drawn)."""

from __future__ import annotations

import string
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import strategies as st

from exchange.pact.v3_schema import DECLARED_UNITS, REGIONS, RULE_OPERATORS, VERIFICATION_COVERAGE
from lca_models.footprint import (
    ComputedDetails,
    Contribution,
    DataQualityIndicators,
    ElectricityResult,
    EmissionFactorSource,
    Extension,
    Footprint,
    Offset,
    ProductOrSectorSpecificRule,
    Provenance,
    Verification,
)

text = st.text(alphabet=string.ascii_letters + string.digits + " -_.,;:()%/'\"é中", max_size=20)
non_empty = st.text(alphabet=string.ascii_letters + string.digits + " -_.", min_size=1, max_size=20)
urn = st.builds(lambda nid, nss: f"urn:{nid}:{nss}",
                st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
                st.from_regex(r"[A-Za-z0-9:._-]{1,20}", fullmatch=True))
urns = st.lists(urn, min_size=1, max_size=3, unique=True).map(tuple)
uuid_text = st.uuids().map(str)
moment = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)).map(
    lambda d: d.replace(tzinfo=timezone.utc))


def decimals(low: str | None = None, high: str | None = None, places: int = 4):
    return st.decimals(min_value=Decimal(low) if low else Decimal("-1e6"), max_value=Decimal(high) if high else Decimal("1e6"),
                       allow_nan=False, allow_infinity=False, places=places)


positive = decimals("0.0001")
non_negative = decimals("0")
non_positive = decimals(None, "0")
percent = decimals("0", "100", 2)
dqr = decimals("1", "5", 2)
optional = lambda strategy: st.none() | strategy  # noqa: E731


@st.composite
def periods(draw):
    start = draw(moment)
    return start, start + draw(st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=800)))


computed_details = st.builds(
    ComputedDetails,
    by_gas=st.dictionaries(st.sampled_from(["CO2", "CH4", "N2O", "SF6"]), non_negative, max_size=3),
    by_category=st.dictionaries(st.sampled_from(["fossil", "land_use_change"]), non_negative, max_size=2),
    contributions=st.lists(st.builds(Contribution, non_empty, st.sampled_from(["process", "input"]), decimals(),
                                     decimals("-1", "1")), max_size=3).map(tuple),
    electricity=st.builds(ElectricityResult, non_negative, non_negative, non_negative, non_negative),
    offsets=st.lists(st.builds(Offset, non_empty, non_empty, st.integers(1990, 2100), positive,
                               st.just("2025-12-01")), max_size=2).map(tuple),
    provenance=st.builds(Provenance, st.from_regex(r"[0-9a-f]{64}", fullmatch=True), non_empty,
                         st.dictionaries(non_empty, non_empty, max_size=2), st.dictionaries(non_empty, non_empty, max_size=2),
                         st.sampled_from(["AR6", "AR5"]), st.lists(uuid_text, max_size=2).map(tuple)),
    biogenic_co2_emissions_kg=non_negative,
)

foreign_extension = st.builds(
    Extension, st.just("2.0.0"), st.sampled_from(["https://example.org/schemas/shipment/1.0.0/data-model.json",
                                                  "urn:example:schema:1"]),
    st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.integers() | non_empty, max_size=3),
)


@st.composite
def footprints(draw, v2_expressible: bool = False) -> Footprint:
    """A valid footprint; with `v2_expressible`, one that PACT v2 can also carry (unit, CPC, standards)."""
    reference = draw(periods())
    validity = draw(optional(periods()))
    geography = draw(st.sampled_from(["none", "region", "country", "subdivision"]))
    packaging = draw(optional(st.booleans()))
    ccs = draw(optional(st.booleans()))
    units = ("liter", "kilogram", "cubic meter", "kilowatt hour", "megajoule", "ton kilometer", "square meter")
    classifications = draw(st.lists(urn, max_size=2, unique=True).map(tuple))
    standards = tuple(draw(st.lists(st.sampled_from(["ISO14067", "GHGP-Product", "PACT-3.0", "ISO14083"]),
                                    min_size=1, max_size=3, unique=True)))
    if v2_expressible:
        classifications += (f"urn:pact:productclassification:un-cpc:{draw(st.integers(10000, 99999))}",)
        standards = tuple(dict.fromkeys(("GHGP-Product",) + standards))
    fossil = draw(non_negative)
    uptake = draw(optional(non_positive))
    return Footprint(
        id=draw(uuid_text), spec_version="3.0.3", created=draw(moment), status=draw(st.sampled_from(["Active", "Deprecated"])),
        company_name=draw(non_empty), company_ids=draw(urns), product_description=draw(text),
        product_ids=draw(urns), product_name_company=draw(non_empty),
        declared_unit_of_measurement=draw(st.sampled_from(units if v2_expressible else DECLARED_UNITS)),
        declared_unit_amount=draw(positive), product_mass_per_declared_unit=draw(non_negative),
        reference_period_start=reference[0], reference_period_end=reference[1],
        pcf_excluding_biogenic_uptake=fossil, pcf_including_biogenic_uptake=fossil + (uptake or 0),
        fossil_ghg_emissions=fossil, fossil_carbon_content=draw(non_negative),
        ipcc_characterization_factors=tuple(draw(st.lists(st.sampled_from(["AR6", "AR5"]), min_size=1, unique=True))),
        cross_sectoral_standards=standards, exempted_emissions_percent=draw(percent),
        preceding_pf_ids=tuple(draw(st.lists(uuid_text, max_size=2, unique=True))),
        validity_period_start=validity[0] if validity else None, validity_period_end=validity[1] if validity else None,
        product_classifications=classifications, comment=draw(optional(text)),
        extensions=tuple(draw(st.lists(foreign_extension, max_size=2))),
        geography_region_or_subregion=draw(st.sampled_from(REGIONS)) if geography == "region" else None,
        geography_country=draw(st.sampled_from(["CN", "DE", "US"])) if geography == "country" else None,
        geography_country_subdivision=draw(st.sampled_from(["CN-HE", "DE-BY"])) if geography == "subdivision" else None,
        boundary_processes_description=draw(optional(text)),
        biogenic_carbon_content=draw(optional(non_negative)), recycled_carbon_content=draw(optional(non_negative)),
        land_use_change_ghg_emissions=draw(optional(non_negative)), land_carbon_leakage=draw(optional(non_negative)),
        biogenic_co2_uptake=uptake, biogenic_non_co2_emissions=draw(optional(non_negative)),
        aircraft_ghg_emissions=draw(optional(non_negative)),
        packaging_emissions_included=packaging,
        packaging_ghg_emissions=draw(optional(non_negative)) if packaging else None,
        ccs_technological_co2_capture_included=None if v2_expressible else ccs,
        ccs_technological_co2_capture=draw(optional(non_positive)) if ccs and not v2_expressible else None,
        product_or_sector_specific_rules=tuple(draw(st.lists(st.builds(
            ProductOrSectorSpecificRule, st.sampled_from(RULE_OPERATORS),
            st.lists(non_empty, min_size=1, max_size=2, unique=True).map(tuple), optional(non_empty)),
            max_size=2, unique=True))),
        allocation_rules_description=draw(optional(text)),
        secondary_emission_factor_sources=tuple(draw(st.lists(st.builds(EmissionFactorSource, non_empty, non_empty), max_size=2))),
        primary_data_share=draw(optional(percent)),
        dqi=draw(optional(st.builds(DataQualityIndicators, dqr, dqr, dqr))),
        verification=None if v2_expressible else draw(optional(st.builds(
            Verification, optional(st.sampled_from(VERIFICATION_COVERAGE)), optional(non_empty), optional(moment),
            optional(non_empty), optional(text)))),
        computed=draw(optional(computed_details)),
    )

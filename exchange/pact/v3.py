"""Footprint <-> PACT v3.0.3 ProductFootprint JSON.

The canonical `Footprint` already uses v3's field semantics, so the mapping is by name. What v3 has no field
for travels in the toolkit's own extensions (`own_extensions.py`). Loading validates with the v3 schema,
then the spec's cross-field rules; dumping builds the document and, by default, validates it the same way,
so nothing invalid ever leaves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from lca_models.footprint import (
    DataQualityIndicators,
    EmissionFactorSource,
    Extension,
    Footprint,
    ProductOrSectorSpecificRule,
    Verification,
)
from lca_models.footprint_json import computed_from_dict, computed_to_dict

from . import own_extensions as own
from .errors import PactIssue, PactValidationError, pointer
from .fields import datetime_text, decimal_text
from .rules import check_v3
from .schema_base import validate
from .v3_schema import ProductFootprintV3

SPEC_VERSION = "3.0.3"

# (PACT v3 name, Footprint attribute); each table keeps the OpenAPI's property order.
PRODUCT_FIELDS = (
    ("id", "id"), ("specVersion", "spec_version"), ("precedingPfIds", "preceding_pf_ids"), ("created", "created"),
    ("status", "status"), ("validityPeriodStart", "validity_period_start"), ("validityPeriodEnd", "validity_period_end"),
    ("companyName", "company_name"), ("companyIds", "company_ids"), ("productDescription", "product_description"),
    ("productIds", "product_ids"), ("productClassifications", "product_classifications"),
    ("productNameCompany", "product_name_company"), ("comment", "comment"),
)
CARBON_FIELDS = (
    ("declaredUnitOfMeasurement", "declared_unit_of_measurement"), ("declaredUnitAmount", "declared_unit_amount"),
    ("productMassPerDeclaredUnit", "product_mass_per_declared_unit"), ("referencePeriodStart", "reference_period_start"),
    ("referencePeriodEnd", "reference_period_end"), ("geographyRegionOrSubregion", "geography_region_or_subregion"),
    ("geographyCountry", "geography_country"), ("geographyCountrySubdivision", "geography_country_subdivision"),
    ("boundaryProcessesDescription", "boundary_processes_description"),
    ("pcfExcludingBiogenicUptake", "pcf_excluding_biogenic_uptake"),
    ("pcfIncludingBiogenicUptake", "pcf_including_biogenic_uptake"), ("fossilCarbonContent", "fossil_carbon_content"),
    ("biogenicCarbonContent", "biogenic_carbon_content"), ("recycledCarbonContent", "recycled_carbon_content"),
    ("fossilGhgEmissions", "fossil_ghg_emissions"), ("landUseChangeGhgEmissions", "land_use_change_ghg_emissions"),
    ("landCarbonLeakage", "land_carbon_leakage"),
    ("landManagementFossilGhgEmissions", "land_management_fossil_ghg_emissions"),
    ("landManagementBiogenicCO2Emissions", "land_management_biogenic_co2_emissions"),
    ("landManagementBiogenicCO2Removals", "land_management_biogenic_co2_removals"),
    ("biogenicCO2Uptake", "biogenic_co2_uptake"), ("biogenicNonCO2Emissions", "biogenic_non_co2_emissions"),
    ("landAreaOccupation", "land_area_occupation"), ("aircraftGhgEmissions", "aircraft_ghg_emissions"),
    ("packagingEmissionsIncluded", "packaging_emissions_included"), ("packagingGhgEmissions", "packaging_ghg_emissions"),
    ("packagingBiogenicCarbonContent", "packaging_biogenic_carbon_content"),
    ("outboundLogisticsGhgEmissions", "outbound_logistics_ghg_emissions"),
    ("ccsTechnologicalCO2CaptureIncluded", "ccs_technological_co2_capture_included"),
    ("ccsTechnologicalCO2Capture", "ccs_technological_co2_capture"),
    ("technologicalCO2CaptureOrigin", "technological_co2_capture_origin"),
    ("technologicalCO2Removals", "technological_co2_removals"), ("ccuCarbonContent", "ccu_carbon_content"),
    ("ccuCalculationApproach", "ccu_calculation_approach"), ("ccuCreditCertification", "ccu_credit_certification"),
    ("ipccCharacterizationFactors", "ipcc_characterization_factors"),
    ("crossSectoralStandards", "cross_sectoral_standards"),
    ("productOrSectorSpecificRules", "product_or_sector_specific_rules"),
    ("exemptedEmissionsPercent", "exempted_emissions_percent"),
    ("exemptedEmissionsDescription", "exempted_emissions_description"),
    ("allocationRulesDescription", "allocation_rules_description"),
    ("secondaryEmissionFactorSources", "secondary_emission_factor_sources"),
    ("primaryDataShare", "primary_data_share"), ("dqi", "dqi"), ("verification", "verification"),
)
_SCHEMA = ProductFootprintV3()


@dataclass(frozen=True)
class LoadedFootprint:
    """A footprint read from a PACT document, with the warnings (spec SHOULDs) found on the way."""

    footprint: Footprint
    version: str  # "v3" or "v2"
    warnings: tuple[PactIssue, ...] = ()


# --- plain values <-> JSON


def json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return datetime_text(value)
    if isinstance(value, tuple):
        return [json_value(v) for v in value]
    if isinstance(value, ProductOrSectorSpecificRule):
        rule = {"operator": value.operator, "ruleNames": list(value.rule_names)}
        if value.other_operator_name is not None:
            rule["otherOperatorName"] = value.other_operator_name
        return rule
    if isinstance(value, EmissionFactorSource):
        return {"name": value.name, "version": value.version}
    if isinstance(value, DataQualityIndicators):
        return {"technologicalDQR": decimal_text(value.technological_dqr),
                "geographicalDQR": decimal_text(value.geographical_dqr),
                "temporalDQR": decimal_text(value.temporal_dqr)}
    if isinstance(value, Verification):
        found = {"coverage": value.coverage, "providerName": value.provider_name,
                 "completedAt": datetime_text(value.completed_at) if value.completed_at else None,
                 "standardName": value.standard_name, "comments": value.comments}
        return {k: v for k, v in found.items() if v is not None}
    return value


def extension_json(extension: Extension) -> dict[str, Any]:
    found = {"specVersion": extension.spec_version, "dataSchema": extension.data_schema,
             "documentation": extension.documentation, "data": dict(extension.data)}
    return {k: v for k, v in found.items() if v is not None}


def _fields_json(footprint: Footprint, table: tuple) -> dict[str, Any]:
    document = {}
    for name, attribute in table:
        value = getattr(footprint, attribute)
        if value is None or value == ():
            continue
        document[name] = json_value(value)
    return document


def write_extensions(document: dict, footprint: Footprint, extensions: list[Extension], major: str) -> None:
    """Put unknown fields a peer of this major version sent back where they were; write the other extensions."""
    for extension in extensions[:]:
        if extension.data_schema == own.UNKNOWN_FIELDS and str(extension.data.get("specVersion", "")).startswith(major):
            left = own.restore_unknown(document, dict(extension.data["fields"]))
            extensions.remove(extension)
            if left:
                extensions.append(own.unknown_extension(extension.data["specVersion"], left))
    if footprint.computed is not None:
        extensions.append(own.make(own.COMPUTED, computed_to_dict(footprint.computed)))
    if extensions:
        document["extensions"] = [extension_json(e) for e in extensions]


def to_v3(footprint: Footprint, validate: bool = True) -> dict[str, Any]:
    """The footprint as a PACT v3 ProductFootprint; PactValidationError if it would not be valid."""
    document = _fields_json(footprint, PRODUCT_FIELDS)
    if not footprint.spec_version.startswith("3."):
        document["specVersion"] = SPEC_VERSION
    document["pcf"] = _fields_json(footprint, CARBON_FIELDS)
    write_extensions(document, footprint, list(footprint.extensions), "3")
    if validate:
        validate_v3(document)
    return document


# --- JSON -> Footprint


def validate_v3(document: Any, strict: bool = False) -> tuple[dict, dict[str, Any], list[PactIssue]]:
    """(loaded data, unknown fields by pointer, warnings); PactValidationError listing every error."""
    return validate(_SCHEMA, check_v3, document, strict)


def read_extensions(data: dict) -> tuple[tuple[Extension, ...], Any]:
    extensions, computed = [], None
    for index, item in enumerate(data.get("extensions", ())):
        if item["dataSchema"] == own.COMPUTED:
            try:
                computed = computed_from_dict(item["data"])
            except (KeyError, ValueError, TypeError, ArithmeticError, AttributeError) as exc:
                raise PactValidationError([PactIssue(pointer("extensions", index, "data"),
                                                     f"malformed carbon-exchange computed details: {exc!r}")]) from None
            continue
        extensions.append(Extension(item["specVersion"], item["dataSchema"], item["data"], item.get("documentation")))
    return tuple(extensions), computed


def footprint_kwargs(data: dict, table: tuple) -> dict[str, Any]:
    """Footprint attributes for the (PACT name, attribute) pairs of `table` present in `data`; lists become tuples."""
    kwargs = {}
    for name, attribute in table:
        if name in data:
            value = data[name]
            kwargs[attribute] = tuple(value) if isinstance(value, list) else value
    return kwargs


def carbon_objects(pcf: dict) -> dict[str, Any]:
    """The nested v3 objects of a loaded `pcf` as Footprint values."""
    found: dict[str, Any] = {}
    if "productOrSectorSpecificRules" in pcf:
        found["product_or_sector_specific_rules"] = tuple(
            ProductOrSectorSpecificRule(r["operator"], tuple(r["ruleNames"]), r.get("otherOperatorName"))
            for r in pcf["productOrSectorSpecificRules"])
    if "secondaryEmissionFactorSources" in pcf:
        found["secondary_emission_factor_sources"] = tuple(
            EmissionFactorSource(s["name"], s["version"]) for s in pcf["secondaryEmissionFactorSources"])
    if "dqi" in pcf:
        q = pcf["dqi"]
        found["dqi"] = DataQualityIndicators(q["technologicalDQR"], q["geographicalDQR"], q["temporalDQR"])
    if "verification" in pcf:
        v = pcf["verification"]
        found["verification"] = Verification(v.get("coverage"), v.get("providerName"), v.get("completedAt"),
                                             v.get("standardName"), v.get("comments"))
    return found


def from_v3(document: Any, strict: bool = False) -> LoadedFootprint:
    """Read a PACT v3 ProductFootprint; strict mode refuses unknown fields, lenient keeps them."""
    data, unknown, warnings = validate_v3(document, strict)
    pcf = data["pcf"]
    kwargs = footprint_kwargs(data, PRODUCT_FIELDS)
    carbon = {name: value for name, value in pcf.items()
              if name not in ("productOrSectorSpecificRules", "secondaryEmissionFactorSources", "dqi", "verification")}
    kwargs.update(footprint_kwargs(carbon, CARBON_FIELDS))
    kwargs.update(carbon_objects(pcf))
    extensions, computed = read_extensions(data)
    if unknown:
        extensions += (own.unknown_extension(data["specVersion"], unknown),)
    footprint = Footprint(**kwargs, extensions=extensions, computed=computed)
    return LoadedFootprint(footprint, "v3", tuple(warnings))

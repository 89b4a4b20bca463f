"""Footprint <-> PACT v2.3.3 ProductFootprint JSON, and so v2 <-> v3 migration.

The field mapping and what each direction loses is documented in docs/pact-mapping.md. In short: v2 values
that v3 cannot hold (CPC code, `version`, DQR coverage/completeness/reliability, `assurance.level`, ...) and
v2 values a mapping changes (DQR 1-3 -> 1-5, `assurance` -> `verification`) are kept verbatim in the
`pact-v2-original` extension; dumping v2 again restores each original as long as the footprint still says
the same thing, so v2 -> v3 -> v2 returns the document it started from.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lca_models.footprint import DataQualityIndicators, Footprint, Verification

from . import own_extensions as own
from .errors import PactIssue, PactMappingError
from .fields import datetime_text, decimal_text
from .rules import check_v2
from .schema_base import validate
from .v2_schema import CROSS_SECTORAL_STANDARDS, DECLARED_UNITS, ProductFootprintV2
from .v3 import LoadedFootprint, carbon_objects, footprint_kwargs, json_value, read_extensions, write_extensions

SPEC_VERSION = "2.3.3"
_SCHEMA = ProductFootprintV2()

# v2 `crossSectoralStandardsUsed` (deprecated) <-> v3 `crossSectoralStandards`
STANDARDS_USED = {"GHG Protocol Product standard": "GHGP-Product", "ISO Standard 14067": "ISO14067",
                  "ISO Standard 14044": "ISO14040-44"}
# v2 Assurance.coverage -> v3 Verification.coverage (spec 3.0 changelog: assurance renamed to verification)
COVERAGE_TO_V3 = {"PCF system": "PCF program", "product level": "product level"}
COVERAGE_TO_V2 = {v3: v2 for v2, v3 in COVERAGE_TO_V3.items()}
CPC_URN_PREFIXES = ("urn:pact:productclassification:un-cpc:", "urn:pact:productclassification:cpc:", "urn:cpc:")

# (v2 name, Footprint attribute) mapped one to one; the decimal ones are strings in both versions.
SAME_PRODUCT = (("id", "id"), ("precedingPfIds", "preceding_pf_ids"), ("created", "created"), ("status", "status"),
                ("validityPeriodStart", "validity_period_start"), ("validityPeriodEnd", "validity_period_end"),
                ("companyName", "company_name"), ("companyIds", "company_ids"),
                ("productDescription", "product_description"), ("productIds", "product_ids"),
                ("productClassifications", "product_classifications"), ("productNameCompany", "product_name_company"))
SAME_CARBON = (("declaredUnit", "declared_unit_of_measurement"), ("unitaryProductAmount", "declared_unit_amount"),
               ("pCfExcludingBiogenic", "pcf_excluding_biogenic_uptake"), ("fossilGhgEmissions", "fossil_ghg_emissions"),
               ("fossilCarbonContent", "fossil_carbon_content"), ("dLucGhgEmissions", "land_use_change_ghg_emissions"),
               ("otherBiogenicGhgEmissions", "biogenic_non_co2_emissions"), ("iLucGhgEmissions", "land_carbon_leakage"),
               ("biogenicCarbonWithdrawal", "biogenic_co2_uptake"), ("aircraftGhgEmissions", "aircraft_ghg_emissions"),
               ("packagingGhgEmissions", "packaging_ghg_emissions"),
               ("ipccCharacterizationFactorsSources", "ipcc_characterization_factors"),
               ("referencePeriodStart", "reference_period_start"), ("referencePeriodEnd", "reference_period_end"),
               ("geographyRegionOrSubregion", "geography_region_or_subregion"), ("geographyCountry", "geography_country"),
               ("geographyCountrySubdivision", "geography_country_subdivision"),
               ("exemptedEmissionsPercent", "exempted_emissions_percent"),
               ("allocationRulesDescription", "allocation_rules_description"), ("primaryDataShare", "primary_data_share"))
# v2-only fields, kept verbatim in the extension
V2_ONLY_PRODUCT = ("version", "updated", "statusComment", "productCategoryCpc")
V2_ONLY_CARBON = ("characterizationFactors", "crossSectoralStandardsUsed", "biogenicAccountingMethodology",
                  "landManagementGhgEmissions", "uncertaintyAssessmentDescription")
# v2 objects a mapping changes (DQR scale, assurance -> verification): the original is kept to write back
CHANGED_BY_MAPPING = ("dqi", "assurance")


def dqr_to_v3(value: Decimal) -> Decimal:
    """v2 DQR 1..3 onto v3's 1..5, linearly (1 -> 1, 2 -> 3, 3 -> 5)."""
    return value * 2 - 1


def dqr_to_v2(value: Decimal) -> Decimal:
    return (value + 1) / 2


def _dqi_from_v2(dqi: dict) -> DataQualityIndicators:
    return DataQualityIndicators(dqr_to_v3(dqi["technologicalDQR"]), dqr_to_v3(dqi["geographicalDQR"]),
                                 dqr_to_v3(dqi["temporalDQR"]))


def _verification_from_v2(assurance: dict) -> Verification:
    return Verification(COVERAGE_TO_V3.get(assurance.get("coverage")), assurance.get("providerName"),
                        assurance.get("completedAt"), assurance.get("standardName"), assurance.get("comments"))


def validate_v2(document: Any, strict: bool = False) -> tuple[dict, dict[str, Any], list[PactIssue]]:
    """(loaded data, unknown fields by pointer, warnings); PactValidationError listing every error."""
    return validate(_SCHEMA, check_v2, document, strict)


def from_v2(document: Any, strict: bool = False) -> LoadedFootprint:
    """Read a PACT v2 ProductFootprint into the canonical footprint (v3 semantics)."""
    data, unknown, warnings = validate_v2(document, strict)
    pcf = data["pcf"]
    kwargs = footprint_kwargs(data, SAME_PRODUCT) | footprint_kwargs(pcf, SAME_CARBON)
    kwargs["spec_version"] = "3.0.3"  # the canonical footprint speaks v3; the v2 version is kept below
    kwargs["comment"] = data["comment"] or None
    kwargs["boundary_processes_description"] = pcf["boundaryProcessesDescription"] or None
    kwargs["exempted_emissions_description"] = pcf["exemptedEmissionsDescription"] or None
    kwargs["biogenic_carbon_content"] = pcf["biogenicCarbonContent"]
    kwargs["packaging_emissions_included"] = pcf["packagingEmissionsIncluded"]
    kwargs["pcf_including_biogenic_uptake"] = pcf.get(
        "pCfIncludingBiogenic", pcf["pCfExcludingBiogenic"] + pcf.get("biogenicCarbonWithdrawal", Decimal(0)))
    mass = pcf.get("productMassPerDeclaredUnit")
    if mass is None:  # v3 requires it: the mass of the declared unit is known only for kilogram
        mass = pcf["unitaryProductAmount"] if pcf["declaredUnit"] == "kilogram" else Decimal(0)
        warnings.append(PactIssue("/pcf/productMassPerDeclaredUnit",
                                  f"absent in v2; set to {mass} for v3, which requires it", "warning"))
    kwargs["product_mass_per_declared_unit"] = mass
    kwargs["cross_sectoral_standards"] = tuple(pcf.get("crossSectoralStandards") or dict.fromkeys(
        STANDARDS_USED[s] for s in pcf["crossSectoralStandardsUsed"]))
    carbon = {k: v for k, v in pcf.items() if k in ("productOrSectorSpecificRules", "secondaryEmissionFactorSources")}
    kwargs.update(carbon_objects(carbon))
    if "dqi" in pcf:
        kwargs["dqi"] = _dqi_from_v2(pcf["dqi"])
    if "assurance" in pcf:
        kwargs["verification"] = _verification_from_v2(pcf["assurance"])
    original = {name: document[name] for name in V2_ONLY_PRODUCT + ("specVersion",) if name in document}
    original_pcf = {name: document["pcf"][name] for name in V2_ONLY_CARBON + CHANGED_BY_MAPPING if name in document["pcf"]}
    original["pcf"] = original_pcf
    original["absent"] = [name for name in ("pCfIncludingBiogenic", "productMassPerDeclaredUnit", "crossSectoralStandards")
                          if name not in pcf]
    extensions, computed = read_extensions(data)
    extensions += (own.make(own.V2_ORIGINAL, original),)
    if unknown:
        extensions += (own.unknown_extension(data["specVersion"], unknown),)
    footprint = Footprint(**kwargs, extensions=extensions, computed=computed)
    return LoadedFootprint(footprint, "v2", tuple(warnings))


def _cpc(footprint: Footprint, original: dict) -> str:
    if "productCategoryCpc" in original:
        return original["productCategoryCpc"]
    for urn in footprint.product_classifications:
        for prefix in CPC_URN_PREFIXES:
            if urn.lower().startswith(prefix):
                return urn[len(prefix):]
    raise PactMappingError("PACT v2 requires productCategoryCpc: add a CPC classification to the product "
                           "(e.g. urn:pact:productclassification:un-cpc:41231)")


def _same_as_original(original_pcf: dict, name: str, current: Any, convert) -> bool:
    """Does the v2 original still say what the footprint says now? Then it can be written back verbatim."""
    if name not in original_pcf:
        return False
    try:
        loaded = _SCHEMA.fields["pcf"].schema.fields[name].deserialize(original_pcf[name])
    except Exception:  # noqa: BLE001 - a malformed original is simply not reused
        return False
    return convert(loaded) == current


def to_v2(footprint: Footprint, validate: bool = True) -> dict[str, Any]:
    """The footprint as a PACT v2 ProductFootprint; PactMappingError where v2 cannot express it."""
    extension = own.find(footprint.extensions, own.V2_ORIGINAL)
    original = dict(extension.data) if extension else {}
    original_pcf = dict(original.get("pcf", {}))
    absent = set(original.get("absent", ()))
    if footprint.declared_unit_of_measurement not in DECLARED_UNITS:
        raise PactMappingError(f"PACT v2 has no declared unit {footprint.declared_unit_of_measurement!r} "
                               f"(v2 allows: {', '.join(DECLARED_UNITS)})")
    document: dict[str, Any] = {}
    for name, attribute in SAME_PRODUCT:
        value = getattr(footprint, attribute)
        if value is not None and value != ():
            document[name] = json_value(value)
    document["specVersion"] = original.get("specVersion") or (
        footprint.spec_version if footprint.spec_version.startswith("2.") else SPEC_VERSION)
    document["version"] = original.get("version", 0)
    for name in ("updated", "statusComment"):
        if name in original:
            document[name] = original[name]
    document["productCategoryCpc"] = _cpc(footprint, original)
    document["comment"] = footprint.comment or ""
    pcf: dict[str, Any] = {}
    for name, attribute in SAME_CARBON:
        value = getattr(footprint, attribute)
        if value is not None and value != ():
            pcf[name] = json_value(value)
    for name in ("exemptedEmissionsPercent", "primaryDataShare"):  # JSON numbers in v2
        if name in pcf:
            pcf[name] = _SCHEMA.fields["pcf"].schema.fields[name]._serialize(Decimal(pcf[name]), name, None)
    if "productMassPerDeclaredUnit" not in absent:
        pcf["productMassPerDeclaredUnit"] = decimal_text(footprint.product_mass_per_declared_unit)
    if "pCfIncludingBiogenic" not in absent:
        pcf["pCfIncludingBiogenic"] = decimal_text(footprint.pcf_including_biogenic_uptake)
    pcf["biogenicCarbonContent"] = decimal_text(footprint.biogenic_carbon_content or Decimal(0))
    pcf["packagingEmissionsIncluded"] = bool(footprint.packaging_emissions_included)
    pcf["boundaryProcessesDescription"] = footprint.boundary_processes_description or ""
    pcf["exemptedEmissionsDescription"] = footprint.exempted_emissions_description or ""
    for name in V2_ONLY_CARBON:
        if name in original_pcf:
            pcf[name] = original_pcf[name]
    _standards(footprint, pcf, original_pcf, absent)
    if footprint.product_or_sector_specific_rules:
        pcf["productOrSectorSpecificRules"] = json_value(footprint.product_or_sector_specific_rules)
    if footprint.secondary_emission_factor_sources:
        pcf["secondaryEmissionFactorSources"] = json_value(footprint.secondary_emission_factor_sources)
    if footprint.dqi is not None and _same_as_original(original_pcf, "dqi", footprint.dqi, _dqi_from_v2):
        pcf["dqi"] = original_pcf["dqi"]  # v2 needs coverage, completeness and reliability: only the original has them
    if footprint.verification is not None:
        if _same_as_original(original_pcf, "assurance", footprint.verification, _verification_from_v2):
            pcf["assurance"] = original_pcf["assurance"]
        elif footprint.verification.provider_name:
            pcf["assurance"] = _assurance(footprint.verification)
    document["pcf"] = pcf
    write_extensions(document, footprint, list(own.without(footprint.extensions, own.V2_ORIGINAL)), "2")
    if validate:
        validate_v2(document)
    return document


def _standards(footprint: Footprint, pcf: dict, original_pcf: dict, absent: set) -> None:
    if "characterizationFactors" not in pcf:
        ipcc = footprint.ipcc_characterization_factors
        if "AR6" not in ipcc and "AR5" not in ipcc:
            raise PactMappingError("PACT v2 characterizationFactors must be AR5 or AR6")
        pcf["characterizationFactors"] = "AR6" if "AR6" in ipcc else "AR5"
    if "crossSectoralStandardsUsed" not in pcf:
        used = [v2 for v2, v3 in STANDARDS_USED.items() if v3 in footprint.cross_sectoral_standards]
        if not used:
            raise PactMappingError("PACT v2 crossSectoralStandardsUsed needs GHGP-Product, ISO14067 or ISO14040-44 "
                                   "among the footprint's crossSectoralStandards")
        pcf["crossSectoralStandardsUsed"] = used
    if "crossSectoralStandards" not in absent:
        known = [s for s in footprint.cross_sectoral_standards if s in CROSS_SECTORAL_STANDARDS]
        if known:
            pcf["crossSectoralStandards"] = known


def _assurance(verification: Verification) -> dict[str, Any]:
    found = {"assurance": True, "coverage": COVERAGE_TO_V2.get(verification.coverage),
             "providerName": verification.provider_name,
             "completedAt": datetime_text(verification.completed_at) if verification.completed_at else None,
             "standardName": verification.standard_name, "comments": verification.comments}
    return {k: v for k, v in found.items() if v is not None}

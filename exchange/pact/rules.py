"""Cross-field rules the PACT spec text states but its OpenAPI cannot express.

Errors are MUSTs (spec v3.0.3 Sec. 4.7, OpenAPI `oneOf` on geography); warnings are SHOULDs and
arithmetic consistency, which the spec's own examples do not meet (`../shared/pact/README.md`), so a
receiver must not reject on them.
"""

from __future__ import annotations

from decimal import Decimal
from .errors import PactIssue, pointer
from .v3_schema import CROSS_SECTORAL_STANDARDS

GEOGRAPHY = ("geographyRegionOrSubregion", "geographyCountry", "geographyCountrySubdivision")
CCS_FIELDS = ("ccsTechnologicalCO2Capture", "technologicalCO2Removals", "technologicalCO2CaptureOrigin")
_ZERO = Decimal(0)


def _ordered(issues: list[PactIssue], data: dict, start: str, end: str, *path: str) -> None:
    if start in data and end in data and not data[end] > data[start]:
        issues.append(PactIssue(pointer(*path, end), f"must be after {start}"))


def _common(document: dict, pcf: dict, errors: list[PactIssue], warnings: list[PactIssue]) -> None:
    _ordered(errors, pcf, "referencePeriodStart", "referencePeriodEnd", "pcf")
    _ordered(errors, document, "validityPeriodStart", "validityPeriodEnd")
    present = [name for name in GEOGRAPHY if name in pcf]
    if len(present) > 1:  # OpenAPI CarbonFootprint.oneOf: at most one geography property
        errors.append(PactIssue(pointer("pcf", present[1]), f"at most one geography property; {present[0]} is set too"))
    if "packagingGhgEmissions" in pcf and pcf.get("packagingEmissionsIncluded") is not True:
        errors.append(PactIssue(pointer("pcf", "packagingGhgEmissions"),
                                "must be undefined unless packagingEmissionsIncluded is true"))
    if pcf.get("packagingEmissionsIncluded") is True and "packagingGhgEmissions" not in pcf:
        warnings.append(PactIssue(pointer("pcf", "packagingGhgEmissions"),
                                  "should be defined when packagingEmissionsIncluded is true", "warning"))
    for index, rule in enumerate(pcf.get("productOrSectorSpecificRules", ())):
        if rule.get("operator") == "Other" and "otherOperatorName" not in rule:
            warnings.append(PactIssue(pointer("pcf", "productOrSectorSpecificRules", index, "otherOperatorName"),
                                      'should name the operator when operator is "Other"', "warning"))


def check_v3(document: dict) -> tuple[list[PactIssue], list[PactIssue]]:
    """(errors, warnings) of a schema-valid v3 ProductFootprint."""
    errors: list[PactIssue] = []
    warnings: list[PactIssue] = []
    pcf = document["pcf"]
    _common(document, pcf, errors, warnings)
    if pcf.get("ccsTechnologicalCO2CaptureIncluded") is False:
        for name in CCS_FIELDS:
            if name in pcf:
                errors.append(PactIssue(pointer("pcf", name), "must be undefined when ccsTechnologicalCO2CaptureIncluded is false"))
    parts = sum((pcf.get(name, _ZERO) for name in (
        "fossilGhgEmissions", "landUseChangeGhgEmissions", "landManagementBiogenicCO2Emissions",
        "landManagementBiogenicCO2Removals", "technologicalCO2Removals", "ccsTechnologicalCO2Capture",
        "biogenicNonCO2Emissions")), _ZERO)
    if parts != pcf["pcfExcludingBiogenicUptake"]:  # OpenAPI x-comment on pcfExcludingBiogenicUptake
        warnings.append(PactIssue(pointer("pcf", "pcfExcludingBiogenicUptake"),
                                  f"differs from the sum of its parts ({parts})", "warning"))
    including = pcf["pcfExcludingBiogenicUptake"] + pcf.get("biogenicCO2Uptake", _ZERO)
    if including != pcf["pcfIncludingBiogenicUptake"]:
        warnings.append(PactIssue(pointer("pcf", "pcfIncludingBiogenicUptake"),
                                  f"differs from pcfExcludingBiogenicUptake + biogenicCO2Uptake ({including})", "warning"))
    for index, standard in enumerate(pcf["crossSectoralStandards"]):
        if standard not in CROSS_SECTORAL_STANDARDS:
            warnings.append(PactIssue(pointer("pcf", "crossSectoralStandards", index),
                                      f"{standard!r} is not one of the values the spec lists", "warning"))
    return errors, warnings


def check_v2(document: dict) -> tuple[list[PactIssue], list[PactIssue]]:
    """(errors, warnings) of a schema-valid v2 ProductFootprint."""
    errors: list[PactIssue] = []
    warnings: list[PactIssue] = []
    pcf = document["pcf"]
    _common(document, pcf, errors, warnings)
    if "pCfIncludingBiogenic" in pcf and "biogenicCarbonWithdrawal" in pcf:
        including = pcf["pCfExcludingBiogenic"] + pcf["biogenicCarbonWithdrawal"]
        if including != pcf["pCfIncludingBiogenic"]:
            warnings.append(PactIssue(pointer("pcf", "pCfIncludingBiogenic"),
                                      f"differs from pCfExcludingBiogenic + biogenicCarbonWithdrawal ({including})", "warning"))
    return errors, warnings


"""PACT v3.0.3 data model as marshmallow schemas (`../shared/pact/v3/openapi-3.0.3.yaml`, components.schemas).

Field names are the spec's; types come from `fields.py`. Cross-field rules the spec text states but the
OpenAPI cannot (spec 3.0.3 Sec. 4.7: packaging, CCS, periods, geography) are checked in `rules.py`.
"""

from __future__ import annotations

import re
from decimal import Decimal

from marshmallow import fields, validate

from .fields import DecimalString, Patterned, StrictBoolean, Text, UniqueList, Uri, Urn, UtcDateTime, Uuid
from .schema_base import PactSchema

SPEC_VERSION = re.compile(r"^\d+\.\d+\.\d+(-\d{8})?$")
STATUSES = ("Active", "Deprecated")
DECLARED_UNITS = ("liter", "kilogram", "cubic meter", "kilowatt hour", "megajoule", "ton kilometer",
                  "square meter", "piece", "hour", "megabit second")
REGIONS = ("Africa", "Americas", "Asia", "Europe", "Oceania", "Australia and New Zealand", "Central Asia",
           "Eastern Asia", "Eastern Europe", "Latin America and the Caribbean", "Melanesia", "Micronesia",
           "Northern Africa", "Northern America", "Northern Europe", "Polynesia", "South-eastern Asia",
           "Southern Asia", "Southern Europe", "Sub-Saharan Africa", "Western Asia", "Western Europe")
CROSS_SECTORAL_STANDARDS = ("ISO14067", "ISO14083", "ISO14040-44", "GHGP-Product", "PEF", "PACT-1.0",
                            "PACT-2.0", "PACT-3.0", "PAS2050")
RULE_OPERATORS = ("PEF", "EPD International", "Other")
VERIFICATION_COVERAGE = ("PCF calculation model", "PCF program", "product level")
CCU_APPROACHES = ("Cut-off", "Credit")
COUNTRY = re.compile(r"^[A-Z]{2}$")
SUBDIVISION = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
IPCC_AR = re.compile(r"^AR\d+$")
DQR = {"low": Decimal(1), "high": Decimal(5)}  # spec 3.0.3 Sec. 4.11: "between 1 and 5 inclusive"
PERCENT = {"low": Decimal(0), "high": Decimal(100)}


def OneOf(choices) -> validate.OneOf:  # noqa: N802
    return validate.OneOf(choices, error="must be one of: {choices}")


class DataModelExtensionV3(PactSchema):
    specVersion = Text(required=True)
    dataSchema = Uri(required=True)
    documentation = Uri()
    data = fields.Dict(required=True)


class ProductOrSectorSpecificRuleV3(PactSchema):
    operator = Text(required=True, validate=OneOf(RULE_OPERATORS))
    ruleNames = UniqueList(Text(non_empty=True), min_items=1, required=True)
    otherOperatorName = Text(non_empty=True)


class EmissionFactorSourceV3(PactSchema):
    name = Text(non_empty=True, required=True)
    version = Text(non_empty=True, required=True)


class DataQualityIndicatorsV3(PactSchema):
    technologicalDQR = DecimalString(required=True, **DQR)
    geographicalDQR = DecimalString(required=True, **DQR)
    temporalDQR = DecimalString(required=True, **DQR)


class VerificationV3(PactSchema):
    coverage = Text(validate=OneOf(VERIFICATION_COVERAGE))
    providerName = Text()
    completedAt = UtcDateTime()
    standardName = Text()
    comments = Text()


class CarbonFootprintV3(PactSchema):
    declaredUnitOfMeasurement = Text(required=True, validate=OneOf(DECLARED_UNITS))
    declaredUnitAmount = DecimalString("positive", required=True)
    productMassPerDeclaredUnit = DecimalString(required=True)
    referencePeriodStart = UtcDateTime(required=True)
    referencePeriodEnd = UtcDateTime(required=True)
    geographyRegionOrSubregion = Text(validate=OneOf(REGIONS))
    geographyCountry = Patterned(COUNTRY, "an ISO 3166-1 alpha-2 code (e.g. DE)")
    geographyCountrySubdivision = Patterned(SUBDIVISION, "an ISO 3166-2 code (e.g. CN-HE)")
    boundaryProcessesDescription = Text()
    pcfExcludingBiogenicUptake = DecimalString(required=True)
    pcfIncludingBiogenicUptake = DecimalString(required=True)
    fossilCarbonContent = DecimalString("non_negative", required=True)
    biogenicCarbonContent = DecimalString("non_negative")
    recycledCarbonContent = DecimalString("non_negative")
    fossilGhgEmissions = DecimalString("non_negative", required=True)
    landUseChangeGhgEmissions = DecimalString("non_negative")
    landCarbonLeakage = DecimalString("non_negative")
    landManagementFossilGhgEmissions = DecimalString("non_negative")
    landManagementBiogenicCO2Emissions = DecimalString("non_negative")
    landManagementBiogenicCO2Removals = DecimalString("non_positive")
    biogenicCO2Uptake = DecimalString("non_positive")
    biogenicNonCO2Emissions = DecimalString("non_negative")
    landAreaOccupation = DecimalString("non_negative")
    aircraftGhgEmissions = DecimalString("non_negative")
    packagingEmissionsIncluded = StrictBoolean()
    packagingGhgEmissions = DecimalString("non_negative")
    packagingBiogenicCarbonContent = DecimalString("non_negative")
    outboundLogisticsGhgEmissions = DecimalString("non_negative")
    ccsTechnologicalCO2CaptureIncluded = StrictBoolean()
    ccsTechnologicalCO2Capture = DecimalString("non_positive")
    technologicalCO2CaptureOrigin = Text()
    technologicalCO2Removals = DecimalString("non_positive")
    ccuCarbonContent = DecimalString("non_negative")
    ccuCalculationApproach = Text(validate=OneOf(CCU_APPROACHES))
    ccuCreditCertification = Uri()
    ipccCharacterizationFactors = UniqueList(Patterned(IPCC_AR, "AR<n>, e.g. AR6"), min_items=1, required=True)
    crossSectoralStandards = UniqueList(Text(non_empty=True), min_items=1, required=True)
    productOrSectorSpecificRules = UniqueList(fields.Nested(ProductOrSectorSpecificRuleV3), min_items=1)
    exemptedEmissionsPercent = DecimalString(required=True, **PERCENT)
    exemptedEmissionsDescription = Text()
    allocationRulesDescription = Text()
    secondaryEmissionFactorSources = UniqueList(fields.Nested(EmissionFactorSourceV3), min_items=1, unique=False)
    primaryDataShare = DecimalString(**PERCENT)
    dqi = fields.Nested(DataQualityIndicatorsV3)
    verification = fields.Nested(VerificationV3)


class ProductFootprintV3(PactSchema):
    id = Uuid(required=True)
    specVersion = Patterned(SPEC_VERSION, "a version like 3.0.3", required=True)
    precedingPfIds = UniqueList(Uuid(), min_items=1)
    created = UtcDateTime(required=True)
    status = Text(required=True, validate=OneOf(STATUSES))
    validityPeriodStart = UtcDateTime()
    validityPeriodEnd = UtcDateTime()
    companyName = Text(non_empty=True, required=True)
    companyIds = UniqueList(Urn(), min_items=1, required=True)
    productDescription = Text(required=True)
    productIds = UniqueList(Urn(), min_items=1, required=True)
    productClassifications = UniqueList(Urn(), min_items=1)
    productNameCompany = Text(non_empty=True, required=True)
    comment = Text()
    pcf = fields.Nested(CarbonFootprintV3, required=True)
    extensions = UniqueList(fields.Nested(DataModelExtensionV3), unique=False)

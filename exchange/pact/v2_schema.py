"""PACT v2.3.3 data model as marshmallow schemas (`../shared/pact/v2/openapi-2.3.3.yaml`, components.schemas).

v2 differs from v3 in kind, not only in names: DQRs, `primaryDataShare`, `exemptedEmissionsPercent` and
`coveragePercent` are JSON numbers; DQRs run 1 to 3; `productCategoryCpc`, `version`, `comment`,
`boundaryProcessesDescription` and `exemptedEmissionsDescription` are mandatory.
"""

from __future__ import annotations

from decimal import Decimal

from marshmallow import fields

from .fields import DecimalString, NumberDecimal, Patterned, StrictBoolean, Text, UniqueList, Urn, UtcDateTime, Uuid
from .schema_base import PactSchema
from .v3_schema import (
    COUNTRY,
    IPCC_AR,
    REGIONS,
    SPEC_VERSION,
    STATUSES,
    SUBDIVISION,
    DataModelExtensionV3,
    EmissionFactorSourceV3,
    OneOf,
    ProductOrSectorSpecificRuleV3,
)

DECLARED_UNITS = ("liter", "kilogram", "cubic meter", "kilowatt hour", "megajoule", "ton kilometer", "square meter")
CROSS_SECTORAL_STANDARDS_USED = ("GHG Protocol Product standard", "ISO Standard 14067", "ISO Standard 14044")
CROSS_SECTORAL_STANDARDS = ("ISO14067", "ISO14083", "ISO14040-44", "GHGP-Product", "PEF", "PACT-1.0", "PACT-2.0", "PACT-3.0")
BIOGENIC_METHODOLOGIES = ("PEF", "ISO", "GHGP", "Quantis")
ASSURANCE_COVERAGE = ("corporate level", "product line", "PCF system", "product level")
ASSURANCE_LEVEL = ("limited", "reasonable")
ASSURANCE_BOUNDARY = ("Gate-to-Gate", "Cradle-to-Gate")
CHARACTERIZATION_FACTORS = ("AR6", "AR5")
DQR = {"low": Decimal(1), "high": Decimal(3)}  # components.schemas.FloatBetween1And3
PERCENT = {"low": Decimal(0), "high": Decimal(100)}


# v2's ProductOrSectorSpecificRule and EmissionFactorDatabases have the same fields as their v3 successors.
ProductOrSectorSpecificRuleV2 = ProductOrSectorSpecificRuleV3
EmissionFactorDatabasesV2 = EmissionFactorSourceV3


class DataQualityIndicatorsV2(PactSchema):
    coveragePercent = NumberDecimal(required=True, **PERCENT)
    technologicalDQR = NumberDecimal(required=True, **DQR)
    temporalDQR = NumberDecimal(required=True, **DQR)
    geographicalDQR = NumberDecimal(required=True, **DQR)
    completenessDQR = NumberDecimal(required=True, **DQR)
    reliabilityDQR = NumberDecimal(required=True, **DQR)


class AssuranceV2(PactSchema):
    assurance = StrictBoolean(required=True)
    coverage = Text(validate=OneOf(ASSURANCE_COVERAGE))
    level = Text(validate=OneOf(ASSURANCE_LEVEL))
    boundary = Text(validate=OneOf(ASSURANCE_BOUNDARY))
    providerName = Text(required=True)
    completedAt = UtcDateTime()
    standardName = Text()
    comments = Text()


class CarbonFootprintV2(PactSchema):
    declaredUnit = Text(required=True, validate=OneOf(DECLARED_UNITS))
    unitaryProductAmount = DecimalString("positive", required=True)
    productMassPerDeclaredUnit = DecimalString()
    pCfExcludingBiogenic = DecimalString("non_negative", required=True)
    pCfIncludingBiogenic = DecimalString()
    fossilGhgEmissions = DecimalString("non_negative", required=True)
    fossilCarbonContent = DecimalString("non_negative", required=True)
    biogenicCarbonContent = DecimalString("non_negative", required=True)
    dLucGhgEmissions = DecimalString("non_negative")
    landManagementGhgEmissions = DecimalString()
    otherBiogenicGhgEmissions = DecimalString("non_negative")
    iLucGhgEmissions = DecimalString("non_negative")
    biogenicCarbonWithdrawal = DecimalString("non_positive")
    aircraftGhgEmissions = DecimalString("non_negative")
    packagingEmissionsIncluded = StrictBoolean(required=True)
    packagingGhgEmissions = DecimalString("non_negative")
    characterizationFactors = Text(required=True, validate=OneOf(CHARACTERIZATION_FACTORS))
    ipccCharacterizationFactorsSources = UniqueList(Patterned(IPCC_AR, "AR<n>, e.g. AR6"), min_items=1, required=True)
    crossSectoralStandardsUsed = UniqueList(Text(validate=OneOf(CROSS_SECTORAL_STANDARDS_USED)), min_items=1, required=True)
    crossSectoralStandards = UniqueList(Text(validate=OneOf(CROSS_SECTORAL_STANDARDS)), min_items=1)
    productOrSectorSpecificRules = UniqueList(fields.Nested(ProductOrSectorSpecificRuleV2), min_items=1)
    biogenicAccountingMethodology = Text(validate=OneOf(BIOGENIC_METHODOLOGIES))
    boundaryProcessesDescription = Text(required=True)
    referencePeriodStart = UtcDateTime(required=True)
    referencePeriodEnd = UtcDateTime(required=True)
    geographyRegionOrSubregion = Text(validate=OneOf(REGIONS))
    geographyCountry = Patterned(COUNTRY, "an ISO 3166-1 alpha-2 code (e.g. DE)")
    geographyCountrySubdivision = Patterned(SUBDIVISION, "an ISO 3166-2 code (e.g. CN-HE)")
    secondaryEmissionFactorSources = UniqueList(fields.Nested(EmissionFactorDatabasesV2), min_items=1, unique=False)
    exemptedEmissionsPercent = NumberDecimal(required=True, **PERCENT)
    exemptedEmissionsDescription = Text(required=True)
    allocationRulesDescription = Text()
    uncertaintyAssessmentDescription = Text()
    primaryDataShare = NumberDecimal(**PERCENT)
    dqi = fields.Nested(DataQualityIndicatorsV2)
    assurance = fields.Nested(AssuranceV2)


class ProductFootprintV2(PactSchema):
    id = Uuid(required=True)
    specVersion = Patterned(SPEC_VERSION, "a version like 2.3.0", required=True)
    precedingPfIds = UniqueList(Uuid(), min_items=1)
    version = fields.Integer(strict=True, required=True, validate=lambda v: v >= 0)
    created = UtcDateTime(required=True)
    updated = UtcDateTime()
    status = Text(required=True, validate=OneOf(STATUSES))
    statusComment = Text()
    validityPeriodStart = UtcDateTime()
    validityPeriodEnd = UtcDateTime()
    companyName = Text(non_empty=True, required=True)
    companyIds = UniqueList(Urn(), min_items=1, required=True)
    productDescription = Text(required=True)
    productIds = UniqueList(Urn(), min_items=1, required=True)
    productClassifications = UniqueList(Urn(), min_items=1)
    productCategoryCpc = Text(non_empty=True, required=True)
    productNameCompany = Text(non_empty=True, required=True)
    comment = Text(required=True)
    pcf = fields.Nested(CarbonFootprintV2, required=True)
    extensions = UniqueList(fields.Nested(DataModelExtensionV3), unique=False)

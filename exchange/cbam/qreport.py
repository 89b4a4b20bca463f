"""The CBAM Quarterly Report (QReport) XML of the transitional registry, version 23.00.

    qreport_xml(declarant, goods) -> bytes              built with lxml, validated against schema/QReport_ver23.00.xsd
    write_qreport(declarant, goods, path) -> Path        the same, written only once it validates
    read_goods(path) -> list[ImportedGood]               .csv or .xlsx: cn_code,origin_country,net_mass_t,...

Beyond the XSD this module enforces: quarter Q1-Q4, ISO 3166-1 alpha-2 country codes (two uppercase letters), CN
codes of exactly 8 digits, positive net mass, non-negative SEE, and decimals rounded half-up to the fractionDigits
of their XSD type (NetMass dec16-6: 6 decimals; SpecificEmbeddedEmissions dec16-7: 7), refusing values whose
totalDigits would overflow. Anything the XSD still refuses raises `CbamError` naming the line, element path and
rule; nothing is written then.

The v23.00 schema has no report- or good-level totals: per good it takes the imported net mass (MeasureImported,
and per customs procedure) and one GoodsEmissions block with the produced mass and the specific direct and indirect
embedded emissions (tCO2e/t). The registry code-list values the XSD leaves free are in `CODES` below.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import MISSING, dataclass, field, fields
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

from lxml import etree

from lca_models.errors import unknown_field

from ..safe_xml import XmlInputError, parse_xml
from .codes import cn_code_problem, country_problem, normalise
from .errors import CbamError
from .goods_input import Row, read_rows

NS = "http://xmlns.ec.eu/BusinessObjects/CBAM/Types/V1"
XSD_NAME = "QReport_ver23.00.xsd"
XS = "{http://www.w3.org/2001/XMLSchema}"

# Registry code-list values (the XSD only constrains their length). Assumed from the transitional registry's code
# lists; check them against the current registry documentation before a real submission.
CODES = {
    "declarant_role": "01",            # Declarant/Role: the reporting declarant (importer)
    "requested_procedure": "40",       # customs procedure: release for free circulation
    "import_area": "EU",
    "procedure_indicator": "0",        # MeasureProcedureImported/Indicator
    "mass_unit": "01",                 # tonnes
    "emissions_unit": "EMU1",          # tCO2e per tonne
    "methodology": "TOM01",            # ApplicableReportingTypeMethodology: the EU (Commission) rules
    "determination": {"actual": "01", "default": "02"},   # DeterminationType: actual data / default values
    "electricity_source": "01",        # IndirectEmissions/ElectricitySource
}
QUARTERS = ("Q1", "Q2", "Q3", "Q4")
GOODS_COLUMNS = ("cn_code", "origin_country", "net_mass_t", "installation_id", "installation_name",
                 "installation_country", "see_direct", "see_indirect", "value_type")
OPTIONAL_GOODS_COLUMNS = ("installation_city",)


@dataclass(frozen=True)
class Declarant:
    """Who reports, for which quarter. `country` is checked (ISO alpha-2) but v23.00's declarant address has no
    country element: the registry takes it from the EORI (identification number)."""
    year: int
    quarter: str                        # Q1..Q4
    identification_number: str          # EORI, up to 17 characters
    name: str
    country: str
    city: str
    signatory: str                      # Signatures/ReportConfirmation/Signature
    signatory_position: str             # .../PositionOfPersonSending
    street: str | None = None
    number: str | None = None
    postcode: str | None = None
    subdivision: str | None = None
    signature_place: str | None = None  # defaults to the city
    report_id: str | None = None
    role: str = CODES["declarant_role"]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "Declarant":
        """From a YAML/JSON mapping with these field names; unknown or missing keys are a `CbamError`."""
        if not isinstance(data, Mapping):
            raise CbamError("declarant: expected a mapping of fields (year, quarter, identification_number, ...)")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(map(str, data)) - set(known))
        if unknown:
            raise CbamError("\n".join(f"declarant: {name}: {unknown_field(name, known)}" for name in unknown))
        required = [n for n, f in known.items() if f.default is MISSING and f.default_factory is MISSING]
        missing = [n for n in required if data.get(n) in (None, "")]
        if missing:
            raise CbamError(f"declarant: missing field(s) {', '.join(missing)}")
        values = {k: (v if k == "year" else (None if v is None else str(v))) for k, v in data.items()}
        try:
            values["year"] = int(values["year"])
        except (TypeError, ValueError):
            raise CbamError(f"declarant: year {data['year']!r} is not a year") from None
        return cls(**values)


@dataclass(frozen=True)
class ImportedGood:
    cn_code: str                        # exactly 8 digits
    origin_country: str
    net_mass_t: Decimal                 # tonnes
    installation_id: str
    installation_name: str
    installation_country: str
    see_direct: Decimal | None          # tCO2e per tonne (None: a default line whose value is looked up)
    see_indirect: Decimal | None        # tCO2e per tonne
    value_type: str                     # "actual" or "default"
    installation_city: str | None = None  # InstallationAddress needs a city; without one no Installation element
    description: str | None = field(default=None, compare=False)


# --- precision from the XSD -----------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _decimal_facets() -> dict[str, tuple[int, int]]:
    """simpleType name -> (totalDigits, fractionDigits), read from the bundled stypes.xsd."""
    tree = etree.parse(str(_schema_dir() / "stypes.xsd"))
    facets: dict[str, tuple[int, int]] = {}
    for simple in tree.iter(f"{XS}simpleType"):
        total = simple.find(f"{XS}restriction/{XS}totalDigits")
        fraction = simple.find(f"{XS}restriction/{XS}fractionDigits")
        if total is not None and fraction is not None:
            facets[simple.get("name")] = (int(total.get("value")), int(fraction.get("value")))
    return facets


def _fixed(value: Decimal, xsd_type: str, what: str) -> str:
    """`value` rounded half-up to the type's fractionDigits, as text; CbamError if totalDigits overflow."""
    total, fraction = _decimal_facets()[xsd_type]
    rounded = value.quantize(Decimal(1).scaleb(-fraction), rounding=ROUND_HALF_UP)
    digits = len(rounded.as_tuple().digits)
    if digits > total:
        raise CbamError(f"{what}: {value} has more than {total} digits ({xsd_type}: totalDigits {total}, "
                        f"fractionDigits {fraction})")
    return format(rounded, "f")


# --- checks the XSD leaves to us -------------------------------------------------------------------------------

def _check_country(value: str, what: str) -> str:
    problem = country_problem(value) if isinstance(value, str) else f"{value!r} is not an ISO 3166-1 alpha-2 code"
    if problem:
        raise CbamError(f"{what}: {problem}")
    return value


def _check_declarant(d: Declarant) -> None:
    if d.quarter not in QUARTERS:
        raise CbamError(f"declarant quarter: {d.quarter!r} is not one of Q1, Q2, Q3, Q4")
    if not isinstance(d.year, int) or not 2023 <= d.year <= 9999:
        raise CbamError(f"declarant year: {d.year!r} is not a reporting year (2023 or later)")
    _check_country(d.country, "declarant country")


def _check_good(good: ImportedGood, item: int) -> None:
    where = f"good {item} (CN {good.cn_code})"
    problem = cn_code_problem(good.cn_code) if isinstance(good.cn_code, str) else "not a CN code"
    if problem or good.cn_code != normalise(good.cn_code):
        raise CbamError(f"good {item} cn_code: {problem or 'give the 8 digits without spaces'}")
    _check_country(good.origin_country, f"{where} origin_country")
    _check_country(good.installation_country, f"{where} installation_country")
    for name in ("net_mass_t", "see_direct", "see_indirect"):
        value = getattr(good, name)
        if not isinstance(value, Decimal) or not value.is_finite():
            raise CbamError(f"{where} {name}: {value!r} is not a decimal number")
    if good.net_mass_t <= 0:
        raise CbamError(f"{where} net_mass_t: {good.net_mass_t} must be positive")
    if good.see_direct < 0 or good.see_indirect < 0:
        raise CbamError(f"{where}: specific embedded emissions must not be negative")
    if good.value_type not in CODES["determination"]:
        raise CbamError(f"{where} value_type: {good.value_type!r} is not 'actual' or 'default'")


# --- building ----------------------------------------------------------------------------------------------------

def _el(parent: etree._Element, tag: str, text: object | None = None) -> etree._Element:
    child = etree.SubElement(parent, f"{{{NS}}}{tag}")
    if text is not None:
        child.text = str(text)
    return child


def _opt(parent: etree._Element, tag: str, text: str | None) -> None:
    if text not in (None, ""):
        _el(parent, tag, text)


def _good(root: etree._Element, good: ImportedGood, item: int) -> None:
    where = f"good {item} (CN {good.cn_code})"
    mass = _fixed(good.net_mass_t, "dec16-6", f"{where} net_mass_t")
    node = _el(root, "ImportedGood")
    _el(node, "ItemNumber", item)
    commodity = _el(node, "CommodityCode")
    _el(commodity, "HsCode", good.cn_code[:6])
    _el(commodity, "CnCode", good.cn_code)
    details = _el(commodity, "CommodityDetails")
    _opt(details, "Description", good.description)
    _el(_el(node, "OriginCountry"), "Country", good.origin_country)
    quantity = _el(node, "ImportedQuantity")
    _el(quantity, "SequenceNumber", 1)
    _el(_el(quantity, "Procedure"), "RequestedProc", CODES["requested_procedure"])
    _el(_el(quantity, "ImportArea"), "ImportArea", CODES["import_area"])
    per_procedure = _el(quantity, "MeasureProcedureImported")
    _el(per_procedure, "Indicator", CODES["procedure_indicator"])
    _el(per_procedure, "NetMass", mass)
    _el(per_procedure, "MeasurementUnit", CODES["mass_unit"])
    measure = _el(node, "MeasureImported")
    _el(measure, "NetMass", mass)
    _el(measure, "MeasurementUnit", CODES["mass_unit"])

    emissions = _el(node, "GoodsEmissions")
    _el(emissions, "SequenceNumber", 1)
    _el(emissions, "ProductionCountry", good.installation_country)
    if good.installation_city:
        installation = _el(emissions, "Installation")
        _el(installation, "InstallationId", good.installation_id)
        _el(installation, "InstallationName", good.installation_name)
        address = _el(installation, "Address")
        _el(address, "EstablishmentCountry", good.installation_country)
        _el(address, "City", good.installation_city)
    produced = _el(emissions, "ProducedMeasure")
    _el(produced, "NetMass", mass)
    _el(produced, "MeasurementUnit", CODES["mass_unit"])
    determination = CODES["determination"][good.value_type]
    direct = _el(emissions, "DirectEmissions")
    _el(direct, "DeterminationType", determination)
    _el(direct, "ApplicableReportingTypeMethodology", CODES["methodology"])
    _el(direct, "SpecificEmbeddedEmissions", _fixed(good.see_direct, "dec16-7", f"{where} see_direct"))
    _el(direct, "MeasurementUnit", CODES["emissions_unit"])
    indirect = _el(emissions, "IndirectEmissions")
    _el(indirect, "DeterminationType", determination)
    _el(indirect, "SpecificEmbeddedEmissions", _fixed(good.see_indirect, "dec16-7", f"{where} see_indirect"))
    _el(indirect, "MeasurementUnit", CODES["emissions_unit"])
    _el(indirect, "ElectricitySource", CODES["electricity_source"])
    if not good.installation_city:
        remark = _el(emissions, "RemarksEmissions")
        _el(remark, "SequenceNumber", 1)
        _el(remark, "AdditionalInformation",
            f"Installation {good.installation_id}: {good.installation_name} ({good.installation_country})")


def _build(declarant: Declarant, goods: Sequence[ImportedGood]) -> bytes:
    _check_declarant(declarant)
    if not goods:
        raise CbamError("a QReport needs at least one imported good")
    for item, good in enumerate(goods, start=1):
        _check_good(good, item)
    root = etree.Element(f"{{{NS}}}QReport", nsmap={None: NS})
    _opt(root, "ReportId", declarant.report_id)
    _el(root, "ReportingPeriod", declarant.quarter)
    _el(root, "Year", declarant.year)
    who = _el(root, "Declarant")
    _el(who, "IdentificationNumber", declarant.identification_number)
    _el(who, "Name", declarant.name)
    _el(who, "Role", declarant.role)
    address = _el(who, "ActorAddress")
    _opt(address, "SubDivision", declarant.subdivision)
    _el(address, "City", declarant.city)
    _opt(address, "Street", declarant.street)
    _opt(address, "Number", declarant.number)
    _opt(address, "Postcode", declarant.postcode)
    confirmation = _el(_el(root, "Signatures"), "ReportConfirmation")
    _el(confirmation, "GlobalDataConfirmation", "true")
    _el(confirmation, "UseOfDataConfirmation", "true")
    _el(confirmation, "SignaturePlace", declarant.signature_place or declarant.city)
    _el(confirmation, "Signature", declarant.signatory)
    _el(confirmation, "PositionOfPersonSending", declarant.signatory_position)
    for item, good in enumerate(goods, start=1):
        _good(root, good, item)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --- validation ----------------------------------------------------------------------------------------------------

def _schema_dir() -> Path:
    return Path(str(resources.files("exchange.cbam").joinpath("schema")))


@lru_cache(maxsize=4)
def _schema(path: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(path))  # the relative include of stypes.xsd resolves next to the file


def validate_qreport(xml: bytes, xsd: str | os.PathLike[str] | None = None) -> None:
    """CbamError naming line, element path and XSD rule for every violation; `xsd` defaults to the bundled one."""
    schema = _schema(str(Path(xsd) if xsd else _schema_dir() / XSD_NAME))
    try:
        document = parse_xml(xml, "QReport")  # hardened: no DTD, entities or network (docs/security.md)
    except XmlInputError as exc:
        raise CbamError(str(exc)) from None
    if schema.validate(document):
        return
    problems = [f"line {e.line}, {_readable_path(document, e.path)}: {e.message.replace('{' + NS + '}', '')}"
                for e in schema.error_log]
    raise CbamError(f"QReport does not validate against {XSD_NAME}: " + "; ".join(problems))


def _readable_path(document: etree._Element, path: str | None) -> str:
    """lxml's "/*/*[3]/*[2]" (default namespace) as "/QReport/Declarant/Name"."""
    try:
        found = document.getroottree().xpath(path) if path else []
    except etree.XPathError:
        found = []
    if not found or not isinstance(found[0], etree._Element):
        return path or "?"
    parts = [etree.QName(node).localname for node in (*reversed(list(found[0].iterancestors())), found[0])]
    return "/" + "/".join(parts)


def qreport_xml(declarant: Declarant, goods: Sequence[ImportedGood]) -> bytes:
    """The QReport as UTF-8 XML bytes, validated against the bundled XSD."""
    xml = _build(declarant, list(goods))
    validate_qreport(xml)
    return xml


def write_qreport(declarant: Declarant, goods: Sequence[ImportedGood], path: str | os.PathLike[str]) -> Path:
    """Validate, then write atomically (a temporary file renamed into place); nothing is written on error."""
    xml = qreport_xml(declarant, goods)
    target = Path(path)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(xml)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


# --- goods list (CSV or Excel) -------------------------------------------------------------------------------------

def decimal_cell(text: str, where: str, column: str) -> Decimal:
    """The cell as a finite Decimal; CbamError naming row and column otherwise."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise CbamError(f"{where}, column {column}: {text!r} is not a number") from None
    if not value.is_finite():
        raise CbamError(f"{where}, column {column}: {text!r} is not a finite number")
    return value


def parse_good(row: Row, default_see_optional: bool = False) -> ImportedGood:
    """One goods-list row as an ImportedGood, with the checks of `_check_good` phrased per row and column.

    With `default_see_optional` (the declaration), a `default` line may leave see_direct and see_indirect empty:
    they are None then, and the declaration looks them up (IR 2025/2621)."""
    cell, where = row.cells, row.where
    value_type = cell["value_type"].lower()
    see_optional = default_see_optional and value_type == "default"
    for column in GOODS_COLUMNS:
        if not cell[column] and not (see_optional and column in ("see_direct", "see_indirect")):
            raise CbamError(f"{where}, column {column}: empty")
    problem = cn_code_problem(cell["cn_code"])
    if problem:
        raise CbamError(f"{where}, column cn_code: {problem}")
    for column in ("origin_country", "installation_country"):
        problem = country_problem(cell[column])
        if problem:
            raise CbamError(f"{where}, column {column}: {problem}")
    if value_type not in CODES["determination"]:
        raise CbamError(f"{where}, column value_type: {cell['value_type']!r} is not 'actual' or 'default'")
    mass = decimal_cell(cell["net_mass_t"], where, "net_mass_t")
    if mass <= 0:
        raise CbamError(f"{where}, column net_mass_t: {cell['net_mass_t']} must be positive")
    see: dict[str, Decimal | None] = {}
    for column in ("see_direct", "see_indirect"):
        if not cell[column]:
            see[column] = None
            continue
        value = see[column] = decimal_cell(cell[column], where, column)
        if value < 0:
            raise CbamError(f"{where}, column {column}: {cell[column]} must not be negative")
    if see_optional and (see["see_direct"] is None) != (see["see_indirect"] is None):
        raise CbamError(f"{where}: give both see_direct and see_indirect, or neither (the default value is then "
                        "looked up)")
    return ImportedGood(
        cn_code=normalise(cell["cn_code"]), origin_country=cell["origin_country"], net_mass_t=mass,
        installation_id=cell["installation_id"], installation_name=cell["installation_name"],
        installation_country=cell["installation_country"], see_direct=see["see_direct"],
        see_indirect=see["see_indirect"], value_type=value_type,
        installation_city=cell.get("installation_city") or None,
    )


def read_goods(path: str | os.PathLike[str]) -> list[ImportedGood]:
    """Imported goods from a CSV or an .xlsx (first sheet) with the header cn_code,origin_country,net_mass_t,
    installation_id,installation_name,installation_country,see_direct,see_indirect,value_type (optional
    installation_city), columns in any order. Errors name the file, the sheet for Excel, the row (header = 1)
    and the column."""
    return [parse_good(row) for row in read_rows(path, GOODS_COLUMNS, OPTIONAL_GOODS_COLUMNS)]


read_goods_csv = read_goods  # the name from before Excel support (tests and callers); both read by suffix

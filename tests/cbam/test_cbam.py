"""CBAM: Annex I default values (IR 2025/2621), the QReport v23.00 XML and `pcf cbam`."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from exchange.cbam import (
    CbamError,
    Declarant,
    ImportedGood,
    default_value,
    qreport_xml,
    read_goods_csv,
    validate_qreport,
    write_qreport,
)
from pcf.cli.cbam import cbam

OFFICIAL = Path(__file__).resolve().parents[1] / "fixtures" / "cbam"
XLSX = OFFICIAL / "default_values_IR2025-2621.xlsx"
SHARED_XSD = OFFICIAL / "QReport_ver23.00.xsd"
NS = {"q": "http://xmlns.ec.eu/BusinessObjects/CBAM/Types/V1"}


@pytest.fixture(scope="module")
def workbook():
    import openpyxl

    return openpyxl.load_workbook(XLSX, read_only=True, data_only=True)


def cell(workbook, sheet: str, ref: str) -> Decimal:
    value = workbook[sheet][ref].value
    assert isinstance(value, (int, float)), (sheet, ref, value)
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


# --- default values ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("country, cn, sheet, row", [
    ("CN", "72083900", "China", 101),                       # 4-digit row 7208 (flat-rolled, hot-rolled)
    ("CN", "72021120", "China", 72),                        # 6-digit row 7202 11 (ferro-manganese)
    ("DZ", "28141000", "Algeria", 14),                      # 8-digit row (anhydrous ammonia), indirect given
    ("AL", "28080000", "Albania", 13),                      # nitric acid
])
def test_default_value_equals_the_sheet(workbook, country, cn, sheet, row):
    value = default_value(country, cn, 2026)
    assert value.direct == cell(workbook, sheet, f"C{row}")
    assert value.total == cell(workbook, sheet, f"E{row}")
    indirect = workbook[sheet][f"D{row}"].value
    assert value.indirect == (None if indirect == "N/A" else cell(workbook, sheet, f"D{row}"))
    assert f"sheet '{sheet}' row {row}" in value.source and "2025/2621" in value.source
    assert value.table == country
    # the sheet's own 2026 value including the mark-up agrees (to its float noise)
    assert abs(value.total_with_markup - cell(workbook, sheet, f"F{row}")) < Decimal("1e-9")


def test_most_specific_prefix_wins():
    assert default_value("CN", "72021120", 2026).cn_code_matched == "720211"     # 6 digits listed
    assert default_value("CN", "72026000", 2026).cn_code_matched == "72026000"   # 8 digits listed
    assert default_value("CN", "72083900", 2026).cn_code_matched == "7208"       # only the heading is listed
    assert default_value("CN", "7208 39 00", 2026) == default_value("cn", "72083900", 2026)


def test_other_countries_fallback(workbook):
    # not listed at all
    unlisted = default_value("XK", "28141000", 2026)
    assert unlisted.table == "OTHER"
    assert unlisted.total == cell(workbook, "_Other Countries and Territorie", "E14")
    # listed, but the field shows '–' (Albania, anhydrous ammonia): Annex I sends to the other-countries table
    dash = default_value("AL", "28141000", 2026)
    assert workbook["Albania"]["C14"].value == "–"
    assert dash.table == "OTHER" and dash.total == unlisted.total
    assert dash.country == "AL"


def test_white_and_grey_clinker_need_a_variant(workbook):
    with pytest.raises(CbamError, match="variant"):
        default_value("AL", "25231000", 2026)
    grey = default_value("AL", "25231000", 2026, variant="grey")
    assert grey.description == "Grey clinker" and grey.total == cell(workbook, "Albania", "E6")


@pytest.mark.parametrize("args, message", [
    (("CN", "99999999", 2026), "not a CBAM good"),            # under no entry of Reg 2023/956 Annex I
    (("CN", "72022100", 2026), "not a CBAM good"),            # ferro-silicon: excepted from Annex I
    (("CN", "31021010", 2026), "no value"),                   # CN 2024 urea: only the 'see below' heading matches
    (("CHN", "72083900", 2026), "ISO 3166"),
    (("XX", "72083900", 2026), "not an ISO 3166-1 alpha-2 country code"),
    (("CN", "72x8", 2026), "exactly 8 digits"),
    (("CN", "7208390", 2026), r"has 7 digit\(s\).*did you mean 72083900"),
    (("CN", "7208", 2026), "exactly 8 digits"),               # a heading is not the code of a good
    (("CN", "72083900", 2025), "from 2026"),
])
def test_unknown_country_or_code_is_an_error(args, message):
    with pytest.raises(CbamError, match=message):
        default_value(*args)


def test_markup_per_year(workbook):
    per_year = {year: default_value("CN", "72083900", year) for year in (2026, 2027, 2028, 2034)}
    assert [v.markup_percent for v in per_year.values()] == [10, 20, 30, 30]
    total = per_year[2026].total
    for year, value in per_year.items():
        assert value.total == total
        assert value.total_with_markup == total * (1 + value.markup_percent / 100)
    for year, column in ((2026, "F"), (2027, "G"), (2028, "H")):
        assert abs(per_year[year].total_with_markup - cell(workbook, "China", f"{column}101")) < Decimal("1e-9")
    fertiliser = default_value("DZ", "28141000", 2027)   # fertilisers: 1 % every year
    assert fertiliser.markup_percent == 1 and fertiliser.total_with_markup == Decimal("2.08") * Decimal("1.01")


# --- QReport ------------------------------------------------------------------------------------------------------

def declarant(**changes) -> Declarant:
    fields = dict(year=2026, quarter="Q1", identification_number="DE123456789012345", name="Muster Import GmbH",
                  country="DE", city="Hamburg", street="Hafenstrasse", number="1", postcode="20457",
                  signatory="Erika Mustermann", signatory_position="Head of Compliance")
    fields.update(changes)
    return Declarant(**fields)


def goods() -> list[ImportedGood]:
    return [
        ImportedGood("72083900", "CN", Decimal("120.5"), "CN-HB-0001", "Hebei Iron & Steel, Tangshan works", "CN",
                     Decimal("2.1234567890"), Decimal("0.3"), "actual", installation_city="Tangshan"),
        ImportedGood("76061130", "CN", Decimal("10.1234565"), "CN-GD-0042", "Guangdong Aluminium Extrusion", "CN",
                     Decimal("8.5"), Decimal("6.25"), "actual"),
        ImportedGood("25232900", "TR", Decimal("300"), "TR-0007", "Anatolia Cement", "TR",
                     Decimal("0.73"), Decimal("0.05"), "default"),
    ]


def test_qreport_for_three_goods_validates_against_both_xsds():
    xml = qreport_xml(declarant(), goods())
    validate_qreport(xml)                      # the bundled copy
    validate_qreport(xml, SHARED_XSD)          # the reference file itself
    root = etree.fromstring(xml)
    assert root.findtext("q:ReportingPeriod", namespaces=NS) == "Q1"
    items = root.findall("q:ImportedGood", NS)
    assert [i.findtext("q:CommodityCode/q:CnCode", namespaces=NS) for i in items] == ["72083900", "76061130",
                                                                                      "25232900"]
    first, second, third = items
    # decimals rounded half-up to the XSD's fractionDigits (NetMass dec16-6, SEE dec16-7)
    assert first.findtext("q:GoodsEmissions/q:DirectEmissions/q:SpecificEmbeddedEmissions",
                          namespaces=NS) == "2.1234568"
    assert second.findtext("q:MeasureImported/q:NetMass", namespaces=NS) == "10.123457"
    assert first.findtext("q:GoodsEmissions/q:Installation/q:InstallationId", namespaces=NS) == "CN-HB-0001"
    assert third.findtext("q:GoodsEmissions/q:DirectEmissions/q:DeterminationType", namespaces=NS) == "02"


@pytest.mark.parametrize("bad_declarant, bad_good, message", [
    ({}, {"cn_code": "7208390"}, "exactly 8 digits"),
    ({}, {"origin_country": "cn"}, "ISO 3166"),
    ({"quarter": "Q5"}, {}, "Q1, Q2, Q3, Q4"),
    ({"country": "de"}, {}, "ISO 3166"),
])
def test_invalid_report_is_refused_and_not_written(tmp_path, bad_declarant, bad_good, message):
    items = goods()
    items[1] = ImportedGood(**{**items[1].__dict__, **bad_good})
    target = tmp_path / "report.xml"
    with pytest.raises(CbamError, match=message):
        write_qreport(declarant(**bad_declarant), items, target)
    assert list(tmp_path.iterdir()) == []


def test_xsd_failure_names_the_element(tmp_path):
    target = tmp_path / "report.xml"
    with pytest.raises(CbamError) as error:
        write_qreport(declarant(name="N" * 71), goods(), target)   # an..70
    message = str(error.value)
    assert "/Declarant/" in message and "Name" in message and "maxLength" in message and "line " in message
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_read_goods_csv_and_row_column_errors(tmp_path):
    header = ("cn_code,origin_country,net_mass_t,installation_id,installation_name,installation_country,"
              "see_direct,see_indirect,value_type\n")
    good = tmp_path / "goods.csv"
    good.write_text(header + "72083900,CN,120.5,CN-1,Mill,CN,2.1,0.3,actual\n"
                             "25232900,TR,300,TR-7,Cement,TR,0.73,0.05,DEFAULT\n")
    read = read_goods_csv(good)
    assert [g.value_type for g in read] == ["actual", "default"] and read[0].net_mass_t == Decimal("120.5")
    for row, message in [("72083900,CN,abc,CN-1,Mill,CN,2.1,0.3,actual", "row 3, column net_mass_t"),
                         ("7208390,CN,1,CN-1,Mill,CN,2.1,0.3,actual", "row 3, column cn_code"),
                         ("72083900,CN,1,CN-1,Mill,cn,2.1,0.3,actual", "row 3, column installation_country"),
                         ("72083900,CN,1,CN-1,Mill,CN,2.1,0.3,estimated", "row 3, column value_type")]:
        bad = tmp_path / "bad.csv"
        bad.write_text(header + "25232900,TR,300,TR-7,Cement,TR,0.73,0.05,default\n" + row + "\n")
        with pytest.raises(CbamError, match=message):
            read_goods_csv(bad)
    (tmp_path / "nohead.csv").write_text("cn_code,origin_country\n72083900,CN\n")
    with pytest.raises(CbamError, match="missing column"):
        read_goods_csv(tmp_path / "nohead.csv")


# --- CLI -------------------------------------------------------------------------------------------------------------

def test_cli_default_prints_json():
    result = CliRunner().invoke(cbam, ["default", "--country", "CN", "--cn-code", "72083900", "--year", "2026"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["cn_code_matched"] == "7208" and data["markup_percent"] == "10"
    assert Decimal(data["total_with_markup"]) == Decimal(data["total"]) * Decimal("1.1")


def test_cli_qreport_happy_and_error_paths(tmp_path):
    goods_csv = tmp_path / "goods.csv"
    goods_csv.write_text("cn_code,origin_country,net_mass_t,installation_id,installation_name,installation_country,"
                         "see_direct,see_indirect,value_type\n72083900,CN,120.5,CN-1,Mill,CN,2.1,0.3,actual\n")
    declarant_yaml = tmp_path / "declarant.yaml"
    declarant_yaml.write_text("year: 2026\nquarter: Q2\nidentification_number: DE123456789012345\n"
                              "name: Muster Import GmbH\ncountry: DE\ncity: Hamburg\nsignatory: Erika Mustermann\n"
                              "signatory_position: Head of Compliance\n")
    out = tmp_path / "report.xml"
    runner = CliRunner()
    result = runner.invoke(cbam, ["qreport", str(goods_csv), "--declarant", str(declarant_yaml), "-o", str(out)])
    assert result.exit_code == 0, result.output
    validate_qreport(out.read_bytes())

    declarant_yaml.write_text(declarant_yaml.read_text().replace("Q2", "Q5"))
    bad_out = tmp_path / "bad.xml"
    result = runner.invoke(cbam, ["qreport", str(goods_csv), "--declarant", str(declarant_yaml), "-o", str(bad_out)])
    assert result.exit_code == 1
    assert "error:" in result.output and "Q5" in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not bad_out.exists()

    result = runner.invoke(cbam, ["default", "--country", "CN", "--cn-code", "99999999", "--year", "2026"])
    assert result.exit_code == 1 and "error:" in result.output

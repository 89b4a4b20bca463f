"""CBAM definitive-period declaration summary, the goods list from Excel, and bounded .xlsx reading."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from exchange.cbam import CbamError, DeclarationDeclarant, declaration, read_declaration_goods, read_goods, validate_qreport
from exchange.cbam.declaration import indirect_emissions_count
from exchange.cbam.goods_input import read_rows
from exchange.cbam.qreport import GOODS_COLUMNS
from exchange.xlsx_limits import XlsxLimits
from pcf.cli.cbam import cbam

HEADER = [*GOODS_COLUMNS, "carbon_price_paid_eur_per_t", "free_allocation_t_per_t"]
# cn_code, origin, net mass t, installation id, name, country, SEE direct, SEE indirect (tCO2e/t), value type,
# carbon price paid EUR per t of good, free-allocation adjustment tCO2e per t of good (invented example values)
ROWS = [
    ["72083900", "CN", "40", "CN-1", "Hebei mill", "CN", "2.1", "0.3", "actual", "10", "0.5"],
    ["72083900", "CN", "10", "CN-2", "Tangshan mill", "CN", "1.9", "0.2", "default", "", ""],
    ["25232900", "TR", "20", "TR-7", "Anatolia Cement", "TR", "0.73", "0.05", "default", "", ""],
    ["31021019", "IN", "2", "IN-3", "Urea works", "IN", "4.0", "1.5", "actual", "", ""],
    ["76061130", "CN", "1.5", "CN-4", "Guangdong Aluminium", "CN", "8.5", "6.25", "actual", "", ""],
]
DECLARANT = DeclarationDeclarant("DE123456789012345", "Muster Import GmbH", "DE")
QREPORT_DECLARANT = ("year: 2026\nquarter: Q4\nidentification_number: DE123456789012345\n"
                     "name: Muster Import GmbH\ncountry: DE\ncity: Hamburg\nsignatory: Erika Mustermann\n"
                     "signatory_position: Head of Compliance\n")


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[str]], header: list[str] = HEADER, sheet: str = "Goods") -> Path:
    """The same table typed as a person would in Excel: numbers as numbers (the CN code too), empty cells empty."""
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    worksheet.append(header)
    for row in rows:
        worksheet.append([None if v == "" else (float(v) if re.fullmatch(r"[\d.]+", v) and "." in v
                                                else int(v) if v.isdigit() else v) for v in row])
    workbook.save(path)
    return path


# --- totals ----------------------------------------------------------------------------------------------------

def test_hand_checked_totals(tmp_path):
    goods = read_declaration_goods(write_csv(tmp_path / "goods.csv", ROWS))
    result = declaration(DECLARANT, 2026, goods, certificate_price_eur=Decimal(80))
    first, second, cement, urea, aluminium = result.lines

    # steel (Annex II: direct only): 40 t x 2.1 = 84 direct; 40 x 0.3 = 12 indirect, not counted
    assert (first.direct_t, first.indirect_t, first.indirect_counted, first.embedded_t) == (84, 12, False, 84)
    # Art. 31 input: 40 t x 0.5 = 20 t; Art. 9: 40 t x 10 EUR = 400 EUR / 80 EUR per certificate = 5 t
    assert (first.free_allocation_t, first.carbon_price_paid_eur, first.carbon_price_deduction_t) == (20, 400, 5)
    assert first.due_t == 84 - 20 - 5 == 59
    assert second.due_t == 10 * Decimal("1.9") == 19                      # default values, nothing deducted
    # cement is not in Annex II: 20 x 0.73 + 20 x 0.05 = 14.6 + 1.0
    assert cement.indirect_counted and cement.embedded_t == Decimal("15.6")
    # urea (3102 10 19, fertilisers) is not in Annex II: 2 x 4.0 + 2 x 1.5 = 11
    assert urea.indirect_counted and urea.embedded_t == 11
    # aluminium (7606) is in Annex II: 1.5 x 8.5 = 12.75 only
    assert not aluminium.indirect_counted and aluminium.embedded_t == Decimal("12.75")

    # 40 + 10 + 20 + 2 + 1.5 = 73.5 t > 50 t: every good is due
    assert result.de_minimis.counted_mass_t == Decimal("73.5") and not result.de_minimis.exempt
    assert result.embedded_t == 84 + 19 + Decimal("15.6") + 11 + Decimal("12.75")   # 142.35
    assert result.due_t == 59 + 19 + Decimal("15.6") + 11 + Decimal("12.75")        # 117.35
    assert result.certificates_to_surrender == 118                                 # rounded up
    assert result.estimated_cost_eur == 118 * 80
    steel = next(t for t in result.per_cn_code if t.cn_code == "72083900")
    assert (steel.lines, steel.net_mass_t, steel.direct_t, steel.due_t) == (2, 50, 84 + 19, 59 + 19)
    assert [t.cn_code for t in result.per_cn_code] == ["25232900", "31021019", "72083900", "76061130"]
    assert str(result.submission_deadline) == "2027-09-30"


def test_annex_ii_prefixes():
    assert not indirect_emissions_count("72081000")   # flat-rolled steel
    assert not indirect_emissions_count("72021100")   # ferro-manganese: not among the Annex II exceptions
    assert indirect_emissions_count("72023000")       # ferro-silico-manganese: excepted
    assert not indirect_emissions_count("73181500")   # screws (7318)
    assert not indirect_emissions_count("28041000")   # hydrogen
    assert indirect_emissions_count("31021010")       # fertilisers
    assert indirect_emissions_count("26011200")       # agglomerated iron ore: Annex I, not Annex II


# --- de minimis (Reg 2025/2083 Art. 2a, Annex VII: 50 t) --------------------------------------------------------

def steel(mass: str, origin: str = "CN", cn: str = "72083900") -> list[str]:
    return [cn, origin, mass, "X-1", "Works", origin, "2", "0.5", "default", "", ""]


@pytest.mark.parametrize("masses, exempt", [
    (["30", "20"], True),              # 50 t does not exceed the threshold
    (["30", "20.000001"], False),      # just above
])
def test_de_minimis_below_and_above(tmp_path, masses, exempt):
    goods = read_declaration_goods(write_csv(tmp_path / "goods.csv", [steel(m) for m in masses]))
    result = declaration(DECLARANT, 2026, goods)
    assert result.de_minimis.exempt is exempt
    mass = sum(Decimal(m) for m in masses)
    assert result.net_mass_t == mass and result.embedded_t == mass * 2     # reported either way (Art. 6(2)(a))
    if exempt:
        assert result.certificates_to_surrender == 0
        assert {line.status for line in result.lines} == {"de_minimis_exempt"}
    else:
        assert result.certificates_to_surrender == 101                       # 100.000002 rounded up


def test_hydrogen_and_annex_iii_origins_do_not_count(tmp_path):
    rows = [steel("45"),
            ["28041000", "SA", "10", "H-1", "Hydrogen plant", "SA", "9", "1", "actual", "", ""],
            steel("30", origin="CH")]
    result = declaration(DECLARANT, 2026, read_declaration_goods(write_csv(tmp_path / "goods.csv", rows)))
    assert result.de_minimis.counted_mass_t == 45 and result.de_minimis.exempt
    assert result.de_minimis.excluded_items == (2, 3)
    assert [line.status for line in result.lines] == ["de_minimis_exempt", "due", "out_of_scope"]
    # hydrogen is always due (Art. 2a(4)), direct only (Annex II): 10 t x 9 = 90
    assert result.due_t == 90 and result.certificates_to_surrender == 90
    assert result.net_mass_t == 55                                          # Swiss steel is outside the Regulation


# --- Excel ------------------------------------------------------------------------------------------------------

def test_excel_input_equals_csv_input(tmp_path):
    from_csv = read_declaration_goods(write_csv(tmp_path / "goods.csv", ROWS))
    shuffled = [HEADER[i] for i in (2, 0, 1, *range(3, len(HEADER)))]          # columns found by name
    from_xlsx = read_declaration_goods(write_xlsx(tmp_path / "goods.xlsx", [[r[HEADER.index(h)] for h in shuffled]
                                                                            for r in ROWS], shuffled))
    assert [(g.good, g.carbon_price_paid_eur, g.free_allocation_t_per_t) for g in from_xlsx] == \
        [(g.good, g.carbon_price_paid_eur, g.free_allocation_t_per_t) for g in from_csv]
    assert from_xlsx[2].where.endswith("goods.xlsx: sheet 'Goods', row 4")
    assert read_goods(tmp_path / "goods.xlsx") == read_goods(tmp_path / "goods.csv")


def test_excel_errors_name_sheet_row_and_column(tmp_path):
    rows = [ROWS[0], [*ROWS[1][:2], "ten", *ROWS[1][3:]]]
    with pytest.raises(CbamError, match=r"goods\.xlsx: sheet 'Goods', row 3, column net_mass_t: 'ten' is not a"):
        read_declaration_goods(write_xlsx(tmp_path / "goods.xlsx", rows))
    with pytest.raises(CbamError, match=r"sheet 'Goods', row 1 \(header\): missing column see_indirect"):
        read_goods(write_xlsx(tmp_path / "nohead.xlsx", [], [c for c in HEADER if c != "see_indirect"]))


def declared_rows(path: Path, rows: int | None, name: str = "forged.xlsx") -> Path:
    """`path` with its sheet's <dimension> rewritten to claim `rows` rows, or removed for None (same data)."""
    forged = path.with_name(name)
    dimension = b"" if rows is None else f'<dimension ref="A1:K{rows}"/>'.encode()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(forged, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, count = re.subn(rb'<dimension ref="[^"]*"\s*/>', dimension, data)
                assert count == 1
            target.writestr(item, data)
    return forged


def test_oversized_or_broken_excel_is_refused_and_nothing_written(tmp_path):
    declarant = tmp_path / "declarant.yaml"
    declarant.write_text(QREPORT_DECLARANT)
    good = write_xlsx(tmp_path / "goods.xlsx", ROWS)
    oversized = declared_rows(good, 200_001)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(good.read_bytes()[:2000])                              # truncated zip
    text = tmp_path / "text.xlsx"
    text.write_text("cn_code,origin_country\n")
    runner = CliRunner()
    for source, message in [(oversized, "200001 rows, more than the limit of 200000"),
                            (broken, "not a readable .xlsx"), (text, "not a readable .xlsx")]:
        out = tmp_path / "out" / "declaration.json"
        out.parent.mkdir(exist_ok=True)
        for command in (["declaration", str(source), "--declarant", str(declarant), "--year", "2026",
                         "-o", str(out), "--csv", str(out.with_suffix(".csv"))],
                        ["qreport", str(source), "--declarant", str(declarant), "-o", str(out)]):
            result = runner.invoke(cbam, command)
            assert result.exit_code == 1, result.output
            assert f"error: {source}" in result.output and message in result.output, result.output
            assert "Traceback" not in result.output
            assert list(out.parent.iterdir()) == []
    # a sheet that declares no size is still stopped by the row counter
    unsized = declared_rows(good, None, "unsized.xlsx")
    with pytest.raises(CbamError, match=r"unsized\.xlsx: sheet 'Goods' has more than 3 rows"):
        read_rows(unsized, GOODS_COLUMNS, limits=XlsxLimits(max_rows=3))
    assert len(read_rows(unsized, GOODS_COLUMNS)) == len(ROWS)


# --- CLI ---------------------------------------------------------------------------------------------------------

def test_cli_declaration_writes_json_and_csv(tmp_path):
    goods = write_xlsx(tmp_path / "goods.xlsx", ROWS)
    declarant = tmp_path / "declarant.yaml"                                   # the QReport declarant file
    declarant.write_text(QREPORT_DECLARANT)
    out, out_csv = tmp_path / "declaration.json", tmp_path / "declaration.csv"
    runner = CliRunner()
    result = runner.invoke(cbam, ["declaration", str(goods), "--declarant", str(declarant), "--year", "2026",
                                  "--certificate-price", "80", "-o", str(out), "--csv", str(out_csv)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["certificates_to_surrender"] == 118 and Decimal(data["due_t"]) == Decimal("117.35")
    assert data["de_minimis"]["exempt"] is False and len(data["lines"]) == 5
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["level"] for r in rows] == ["line"] * 5 + ["cn_code"] * 4 + ["total"]
    assert Decimal(rows[-1]["due_t"]) == sum(Decimal(r["due_t"]) for r in rows if r["level"] == "line")
    assert rows[-1]["certificates_to_surrender"] == "118"
    assert {p.name for p in tmp_path.iterdir()} == {"declaration.csv", "declaration.json", "declarant.yaml",
                                                    "goods.xlsx"}                 # no temporary file left

    # a carbon price paid cannot be converted without a certificate price; a year before 2026 is no declaration
    for extra, message in [([], "needs a certificate price"), (["--certificate-price", "0"], "positive"),
                           (["--certificate-price", "abc"], "not a number")]:
        bad = tmp_path / "bad.json"
        result = runner.invoke(cbam, ["declaration", str(goods), "--declarant", str(declarant), "--year", "2026",
                                      "-o", str(bad), *extra])
        assert result.exit_code == 1 and message in result.output and not bad.exists(), result.output
    result = runner.invoke(cbam, ["declaration", str(goods), "--declarant", str(declarant), "--year", "2025",
                                  "--certificate-price", "80", "-o", str(tmp_path / "bad.json")])
    assert result.exit_code == 1 and "differs from the declaration year" in result.output


def test_cli_qreport_reads_excel(tmp_path):
    goods = write_xlsx(tmp_path / "goods.xlsx", ROWS)
    declarant = tmp_path / "declarant.yaml"
    declarant.write_text(QREPORT_DECLARANT)
    out = tmp_path / "report.xml"
    result = CliRunner().invoke(cbam, ["qreport", str(goods), "--declarant", str(declarant), "-o", str(out)])
    assert result.exit_code == 0, result.output
    validate_qreport(out.read_bytes())
    assert out.read_bytes().count(b"<ImportedGood>") == len(ROWS)


def test_declaration_input_errors(tmp_path):
    both = [[*ROWS[0][:9], "10", "0"]]
    header = [*GOODS_COLUMNS, "carbon_price_paid_eur_per_t", "carbon_price_paid_eur"]
    with pytest.raises(CbamError, match=r"row 2: give carbon_price_paid_eur_per_t or carbon_price_paid_eur, not"):
        read_declaration_goods(write_csv(tmp_path / "both.csv", both, header))
    with pytest.raises(CbamError, match=r"row 2, column free_allocation_t_per_t: -1 must not be negative"):
        read_declaration_goods(write_csv(tmp_path / "neg.csv", [[*ROWS[0][:10], "-1"]]))
    with pytest.raises(CbamError, match=r"row 2, column cn_code: electricity"):
        read_declaration_goods(write_csv(tmp_path / "el.csv", [steel("5", cn="27160000")]))
    with pytest.raises(CbamError, match="starts with 2026"):
        declaration(DECLARANT, 2025, read_declaration_goods(write_csv(tmp_path / "ok.csv", ROWS[1:])))


# --- value_type default: IR 2025/2621 Annex I with the year's mark-up -------------------------------------------

DEFAULT_VALUES_XLSX = Path(__file__).resolve().parents[1] / "fixtures" / "cbam" / "default_values_IR2025-2621.xlsx"


@pytest.fixture(scope="module")
def annex_i():
    """The Commission's default-value workbook (IR 2025/2621 Annex I), read here independently of the toolkit."""
    book = openpyxl.load_workbook(DEFAULT_VALUES_XLSX, read_only=True, data_only=True)
    yield book
    book.close()


def printed(book, sheet: str, ref: str) -> Decimal:
    value = book[sheet][ref].value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


@pytest.mark.parametrize("year, factor", [(2026, Decimal("1.1")), (2027, Decimal("1.2")), (2030, Decimal("1.3"))])
def test_default_lines_without_see_take_the_table_value_with_the_mark_up(tmp_path, annex_i, year, factor):
    """Hot-rolled coil from China (sheet 'China' row 101, CN 7208) and grey Portland cement from Türkiye (its sheet
    shows '–': the 'Other countries and territories' table applies): the printed direct and indirect values times
    (1 + mark-up) (10/20/30 % for 2026/2027/2028+, the sector rows)."""
    rows = [["72083900", "CN", "100", "CN-9", "Mill", "CN", "", "", "default", "", ""],
            ["25232900", "TR", "50", "TR-9", "Cement", "TR", "", "", "DEFAULT", "", ""]]
    result = declaration(DECLARANT, year, read_declaration_goods(write_csv(tmp_path / "goods.csv", rows)))
    coil, cement = result.lines
    direct = printed(annex_i, "China", "C101")
    assert coil.see_direct == direct * factor and coil.default_value.looked_up
    assert coil.default_value.markup_percent == (factor - 1) * 100 and "sheet 'China' row 101" in \
        coil.default_value.source
    assert coil.direct_t == 100 * direct * factor and not coil.indirect_counted            # Annex II: direct only
    turkey = next(r for r in annex_i["Türkiye"].iter_rows(values_only=True) if r[1] == "Grey Portland cement")
    other = next(r for r in annex_i["_Other Countries and Territorie"].iter_rows(values_only=True)
                 if r[1] == "Grey Portland cement")
    assert turkey[2] == "–" and cement.default_value.table == "OTHER"
    assert cement.see_direct == Decimal(repr(other[2])) * factor
    assert cement.see_indirect == Decimal(repr(other[3])) * factor
    assert cement.embedded_t == 50 * (Decimal(repr(other[2])) + Decimal(repr(other[3]))) * factor
    assert result.warnings == ()


def test_given_default_values_are_compared_with_the_table(tmp_path, annex_i):
    direct = printed(annex_i, "China", "C101")
    rows = [["72083900", "CN", "10", "CN-1", "Mill", "CN", str(direct * Decimal("1.1")), "0", "default", "", ""],
            ["72083900", "CN", "10", "CN-2", "Mill", "CN", str(direct), "0", "default", "", ""]]   # without mark-up
    result = declaration(DECLARANT, 2026, read_declaration_goods(write_csv(tmp_path / "goods.csv", rows)))
    matching, lower = result.lines
    assert not matching.default_value.looked_up and lower.see_direct == direct       # the line's own values stand
    [warning] = result.warnings
    assert "row 3: value_type default, but see_direct" in warning and "differ from IR 2025/2621 Annex I" in warning
    declarant = tmp_path / "declarant.yaml"
    declarant.write_text(QREPORT_DECLARANT)
    out, out_csv = tmp_path / "d.json", tmp_path / "d.csv"
    cli = CliRunner().invoke(cbam, ["declaration", str(tmp_path / "goods.csv"), "--declarant", str(declarant),
                                    "--year", "2026", "-o", str(out), "--csv", str(out_csv)])
    assert cli.exit_code == 0 and "warning: " in cli.output and "differ from IR 2025/2621" in cli.output
    lines = json.loads(out.read_text())["lines"]
    assert lines[0]["default_value"]["markup_percent"] == "10" and lines[0]["value_type"] == "default"
    flagged = [r for r in csv.DictReader(out_csv.open()) if r["level"] == "line"]
    assert [(r["default_looked_up"], r["default_markup_percent"]) for r in flagged] == [("false", "10")] * 2
    assert "sheet 'China' row 101" in flagged[0]["default_source"]


def test_default_lines_the_table_cannot_resolve_are_refused(tmp_path):
    rows = [["25231000", "CN", "10", "CN-1", "Kiln", "CN", "", "", "default", "", ""]]   # white or grey clinker?
    goods = read_declaration_goods(write_csv(tmp_path / "goods.csv", rows))
    with pytest.raises(CbamError, match=r"row 2: value_type default: .*several goods under this code"):
        declaration(DECLARANT, 2026, goods)
    grey = read_declaration_goods(write_csv(tmp_path / "grey.csv", [[*rows[0], "grey"]],
                                            [*HEADER, "default_variant"]))
    assert declaration(DECLARANT, 2026, grey).lines[0].default_value.looked_up
    for see in (["1.0", ""], ["", "0.1"]):
        half = [[*rows[0][:6], *see, "default", "", ""]]
        with pytest.raises(CbamError, match="give both see_direct and see_indirect, or neither"):
            read_declaration_goods(write_csv(tmp_path / "half.csv", half))
    actual = [[*rows[0][:8], "actual", "", ""]]
    with pytest.raises(CbamError, match="column see_direct: empty"):                 # actual values are required
        read_declaration_goods(write_csv(tmp_path / "actual.csv", actual))


@pytest.mark.parametrize("cell, value, message", [
    (0, "7208390", "column cn_code: CN code '7208390' has 7 digit(s): a CN code has exactly 8 digits (did you mean "
                   "72083900"),
    (0, "73181590", "column cn_code: CN code 73181590 falls under Annex I 7318 (Screws, bolts"),
    (0, "72022100", "column cn_code: CN code 72022100 is not a CBAM good: Reg (EU) 2023/956 Annex I excepts 7202 2 "
                    "(Ferro-silicon) from 72"),
    (1, "XX", "column origin_country: country 'XX' is not an ISO 3166-1 alpha-2 country code"),
    (5, "China", "column installation_country: country 'China': give its ISO 3166-1 alpha-2 code (did you mean CN?)"),
])
def test_goods_list_codes_are_checked(tmp_path, cell, value, message):
    row = list(ROWS[0])
    row[cell] = value
    for reader in (read_declaration_goods, read_goods):
        with pytest.raises(CbamError, match=re.escape(f"goods.csv: row 2, {message}")):
            reader(write_csv(tmp_path / "goods.csv", [row]))

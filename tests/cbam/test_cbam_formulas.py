"""Operator inputs given as formulas over any cell, the template's computed cells included, evaluated as Excel does.

Golden figures are the Commission's: the cached results Excel stored in its four example workbooks (SEE per product in
Summary_Products, every other formula cell), read here with openpyxl `data_only=True`. The copies the tests import
are written by openpyxl, which stores no result for any formula: nothing can be read from a cache.
"""

from __future__ import annotations

import io
import math
import re
import shutil
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.cbam import CbamError
from exchange.cbam.formula_engine import EngineError, FormulaEngine, engine_copy
from exchange.cbam.template_export import write_template
from exchange.cbam.template_import import import_template
from lca_models.cbam_installation import installation_document, parse_installation
from pcf.cbam.see import compute_see

from .test_cbam_template import CHAIN, SCREWS, _examples, assert_reproduces, chain_by_hand, patch_cell

BLANK = Path(__file__).resolve().parents[2] / "exchange" / "cbam" / "data" / "communication_template_v2.1.1.xlsx"
pytestmark = pytest.mark.filterwarnings("ignore:.*(extension|Extension).*:UserWarning")
INPUT_SHEETS = ("A_InstData", "B_EmInst", "C_Emissions&Energy", "D_Processes", "E_PurchPrec", "Summary_Products")
TOTAL_DIRECT = "'C_Emissions&Energy'!$L$27"  # the template's total direct emissions of the installation (2(a) iii.)
# Where formualizer still differs from Excel (docs/decisions.md): TEXT(n, "0#") in the version file names, and
# COUNTIF(range, NA()) in A_InstData's completeness flags (and the cells showing them). No input depends on them.
KNOWN_DIFFERENCES = re.compile(r"^(VersionDocumentation!|a_Contents!H60$|A_InstData!(N|AG)(8[3-9]|9[0-2]|10[2-9]|11"
                               r"[0-9]|12[01])$)")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cbam-formula-data")


def _load(path: Path, **options) -> openpyxl.Workbook:
    with warnings.catch_warnings():  # the template's conditional-format extensions
        warnings.simplefilter("ignore", UserWarning)
        return openpyxl.load_workbook(path, **options)


@pytest.mark.parametrize("path", _examples())
def test_the_engine_computes_every_formula_as_excel_did(path: Path) -> None:
    """All ~52,600 formula cells of each example (and the array results Excel stored) against Excel's own results."""
    engine = FormulaEngine(path)
    formulas, cached = _load(path, read_only=True), _load(path, read_only=True, data_only=True)
    compared, differing = 0, []
    try:
        for sheet in formulas.worksheets:
            for row_f, row_v in zip(sheet.iter_rows(), cached[sheet.title].iter_rows()):
                for cell, stored in zip(row_f, row_v):
                    if not hasattr(cell, "column"):
                        continue
                    formula = getattr(cell.value, "text", cell.value)
                    ours = engine.value(sheet.title, cell.row, cell.column)
                    if not (isinstance(formula, str) and formula.startswith("=")) and \
                            not (stored.value is not None and ours is None):
                        continue
                    compared += 1
                    if not _same(ours, stored.value):
                        differing.append(f"{sheet.title}!{cell.coordinate}")
    finally:
        formulas.close()
        cached.close()
    assert compared > 52_000
    assert [c for c in differing if not KNOWN_DIFFERENCES.match(c)] == []
    assert len(differing) <= 13


def _same(ours: object, excel: object) -> bool:
    if isinstance(ours, EngineError):
        return str(excel) == ours.text
    ours = "" if ours is None else ours
    excel = "" if excel is None else excel
    if isinstance(ours, bool) or isinstance(excel, bool):
        return ours == excel
    if isinstance(ours, (int, float)) and isinstance(excel, (int, float)):
        return math.isclose(ours, excel, rel_tol=1e-9, abs_tol=1e-12)
    return str(ours) == str(excel) or str(excel) == f"{ours} 00:00:00"  # a date Excel stored with its time


# --- the Commission's examples with their operator inputs rewritten as formulas ---------------------------------

def operator_inputs(path: Path) -> list[tuple[str, str, object]]:
    """(sheet, cell, value) of every constant the operator typed: a number or text in a cell the blank template
    leaves empty (found by comparing with the blank, not with the importer's layout)."""
    blank, filled = _load(BLANK, read_only=True), _load(path, read_only=True)
    inputs = []
    try:
        for sheet in INPUT_SHEETS:
            empty = {(c.row, c.column) for row in blank[sheet].iter_rows() for c in row
                     if hasattr(c, "column") and c.value is None}
            for row in filled[sheet].iter_rows():
                for cell in row:
                    value = getattr(cell, "value", None)
                    if (getattr(cell, "row", 0), getattr(cell, "column", 0)) not in empty or isinstance(value, bool):
                        continue
                    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip()
                                                           and not value.startswith("=")):
                        inputs.append((sheet, cell.coordinate, value))
    finally:
        blank.close()
        filled.close()
    return inputs


def rewrite_as_formulas(source: Path, target: Path) -> dict[str, int]:
    """Every operator input replaced by a formula giving the same value:
    - numbers of D_Processes and E_PurchPrec (every other one): `=<total direct emissions> * factor`, a cell the
      template computes from the source streams (the factor from Excel's result for that cell in the original);
    - every other input: a reference to a cell of a new sheet 'Workings' holding the value (text included).
    Written with openpyxl: no formula of the copy has a stored result."""
    cached = _load(source, read_only=True, data_only=True)
    total = cached["C_Emissions&Energy"]["L27"].value
    cached.close()
    inputs = operator_inputs(source)
    book = _load(source)
    workings = book.create_sheet("Workings")
    counts = {"computed": 0, "reference": 0}
    amounts = 0
    for n, (sheet, coordinate, value) in enumerate(inputs):
        amounts += sheet in ("D_Processes", "E_PurchPrec") and isinstance(value, (int, float))
        if sheet in ("D_Processes", "E_PurchPrec") and isinstance(value, (int, float)) and total and amounts % 2:
            book[sheet][coordinate] = f"={TOTAL_DIRECT}*{value / total!r}"
            counts["computed"] += 1
        else:
            workings.cell(row=n + 1, column=1, value=value)
            book[sheet][coordinate] = f"=Workings!$A${n + 1}"
            counts["reference"] += 1
    book.save(target)
    return counts


@pytest.mark.parametrize("path", _examples())
def test_examples_rewritten_as_formulas_reproduce_the_commissions_see(path: Path, tmp_path: Path,
                                                                      data_dir: Path) -> None:
    rewritten = tmp_path / "rewritten.xlsx"
    counts = rewrite_as_formulas(path, rewritten)
    assert counts["computed"] >= 2 and counts["reference"] >= 30, counts
    check = _load(rewritten, read_only=True, data_only=True)
    try:  # really no results stored: the Commission's SEE cells and the rewritten inputs read as empty
        assert check["Summary_Products"]["I10"].value is None
        assert check["D_Processes"]["L16"].value is None
    finally:
        check.close()
    installation = import_template(rewritten)
    assert_reproduces(path, installation, data_dir)
    assert _close(installation_document(installation), installation_document(import_template(path)))


def _close(ours: object, theirs: object) -> bool:
    """Equal, numbers to 1e-12 (a formula and its rewritten form may differ in the last bit)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return ours.keys() == theirs.keys() and all(_close(ours[k], theirs[k]) for k in ours)
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) and all(_close(a, b) for a, b in zip(ours, theirs))
    if isinstance(ours, float) and isinstance(theirs, (int, float)):
        return math.isclose(ours, theirs, rel_tol=1e-12, abs_tol=1e-12)
    return ours == theirs


# --- a workbook the toolkit writes, its inputs then given as formulas over the template's computed cells ---------

def test_a_written_template_with_inputs_as_formulas_over_computed_cells(tmp_path: Path, data_dir: Path) -> None:
    """The general installation (three chained processes, routes, heat, waste gas, exported electricity, purchased
    precursors) written to the template; its precursor amounts then entered as the operator of the issue does, as
    formulas over the totals the template computes (D_Processes (a) 'Total production', L24 of a block), and other
    inputs as formulas over each other; the SEE is the hand calculation's."""
    written = write_template(parse_installation(CHAIN), tmp_path / "chain.xlsx")
    book = _load(written)
    sheet = book["D_Processes"]
    total = re.compile(r'=IF\(G\d+="","",SUM\(L\d+:L\d+\)\)')  # "Total production within installation"
    rows = [r for r in range(1, sheet.max_row + 1) if total.fullmatch(str(sheet.cell(row=r, column=12).value))]
    assert len(rows) == 10  # one per process block; blocks 1-3 are Sinter, Iron, Steel
    rows = rows[:3]
    consumed = {}
    for row in range(1, sheet.max_row + 1):
        value = sheet.cell(row=row, column=12).value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            consumed[row] = value
    sinter, iron, steel = rows
    # (c) of Sinter: 900 t consumed in Iron = 90 % of its production (the computed L24 of its block)
    sinter_to_iron = next(r for r, v in consumed.items() if sinter < r < iron and v == 900.0)
    sheet.cell(row=sinter_to_iron, column=12, value=f"=L{sinter}*0.9")
    # (c) of Iron: 800 t consumed in Steel = all of its production (700 + 100, computed)
    iron_to_steel = next(r for r, v in consumed.items() if iron < r < steel and v == 800.0)
    sheet.cell(row=iron_to_steel, column=12, value=f"=L{iron}")
    # (b) i. of Steel, produced for the market: all of its 750 t, computed
    steel_market = next(r for r, v in consumed.items() if r > steel and v == 750.0 and r - steel < 6)
    sheet.cell(row=steel_market, column=12, value=f"=L{steel}")
    # DirEm* of Iron (1200) over a cell of another sheet, and its electricity (40 MWh) as arithmetic over a cell
    direct = next(r for r, v in consumed.items() if iron < r < steel and v == 1200.0)
    electricity = next(r for r, v in consumed.items() if iron < r < steel and v == 40.0)
    book.create_sheet("Workings")["B2"] = 600
    sheet.cell(row=direct, column=12, value="=Workings!B2*2")
    sheet.cell(row=electricity, column=12, value=f"=L{iron}/20")
    rewritten = tmp_path / "formulas.xlsx"
    book.save(rewritten)
    installation = import_template(rewritten)
    result = compute_see(installation, data_dir)
    for name, (see_direct, see_indirect, _) in chain_by_hand().items():
        assert result.process(name).see_direct == pytest.approx(see_direct, rel=1e-6)
        assert result.process(name).see_indirect == pytest.approx(see_indirect, rel=1e-6)
    iron_process = next(p for p in installation.processes if p.name == "Iron")
    assert (iron_process.direct_emissions, iron_process.electricity_consumed) == (1200.0, 40.0)


# --- what cannot be evaluated is refused, naming the cell and why; caches are never read ---------------------------

@pytest.mark.parametrize(("cell", "formula", "message"), [
    ("L16", "=L24", "D_Processes!L16: the formula '=L24' cannot be evaluated: a circular reference: "
                    "D_Processes!L16 -> D_Processes!L24 -> D_Processes!L16"),
    ("L16", "=Summary_Products!I10", "D_Processes!L16: the formula '=Summary_Products!I10' cannot be evaluated: "
                                     "a circular reference"),
    ("L81", "=NOSUCHFUNCTION(2)", "D_Processes!L81: the formula '=NOSUCHFUNCTION(2)' cannot be evaluated: an unknown "
                                  "function or name in its formula"),
    ("L81", "=B_EmInst!L17/0", "D_Processes!L81: the formula '=B_EmInst!L17/0' cannot be evaluated: #DIV/0! in its "
                               "formula"),
    ("L81", "=Workings!A1", "D_Processes!L81: the formula '=Workings!A1' cannot be evaluated"),
])
def test_formulas_that_cannot_be_evaluated_are_refused(tmp_path: Path, cell: str, formula: str, message: str) -> None:
    broken = tmp_path / "broken.xlsx"
    patch_cell(SCREWS, broken, "D_Processes", cell, formula)
    with pytest.raises(CbamError) as caught:
        import_template(broken)
    assert f"{broken}: {message}" in str(caught.value)


def test_an_error_is_traced_to_the_cell_it_comes_from(tmp_path: Path) -> None:
    """Process 2's production given over a source stream's activity data, which is a division by zero: the message
    names the cell the error comes from (the template's own formulas mask errors with IFERROR; a reference does not)."""
    broken, worse = tmp_path / "broken.xlsx", tmp_path / "worse.xlsx"
    patch_cell(SCREWS, broken, "D_Processes", "L81", "=B_EmInst!F17*2")
    patch_cell(broken, worse, "B_EmInst", "F17", "=1/0")
    with pytest.raises(CbamError) as caught:
        import_template(worse)
    text = str(caught.value)
    assert "D_Processes!L81: the formula '=B_EmInst!F17*2' cannot be evaluated: #DIV/0!, from B_EmInst!F17 (=1 / 0)" \
        in text
    assert "B_EmInst!F17: the formula '=1/0' cannot be evaluated: #DIV/0! in its formula" in text


def test_stored_results_are_never_read(tmp_path: Path) -> None:
    """Falsify every number Excel stored as a formula's result: the import is unchanged, and the copy the engine is
    given holds none of them."""
    forged = tmp_path / "forged.xlsx"
    with zipfile.ZipFile(SCREWS) as source, zipfile.ZipFile(forged, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data = re.sub(rb'(<c r="[A-Z]+\d+"(?: s="\d+")?>(?:<f>[^<]*</f>|<f [^>]*/>|<f [^>]*>[^<]*</f>))'
                              rb"<v>-?[\d.E+-]+</v>", rb"\1<v>123456.789</v>", data)  # numeric results only
            target.writestr(item, data)
    check = _load(forged, read_only=True, data_only=True)
    try:
        assert check["Summary_Products"]["I10"].value == check["C_Emissions&Energy"]["L27"].value == 123456.789
    finally:
        check.close()
    assert import_template(forged) == import_template(SCREWS)
    with zipfile.ZipFile(io.BytesIO(engine_copy(forged))) as copy:
        sheets = b"".join(copy.read(name) for name in copy.namelist() if name.startswith("xl/worksheets/"))
    assert b"<v>123456.789</v>" not in sheets


def test_workbooks_are_bounded_before_the_engine_loads_them(tmp_path: Path) -> None:
    from exchange.xlsx_limits import XlsxLimits

    with pytest.raises(CbamError, match="more than the limit of 10"):
        FormulaEngine(SCREWS, XlsxLimits(max_members=10))
    bomb = tmp_path / "bomb.xlsx"
    shutil.copy(SCREWS, bomb)
    with zipfile.ZipFile(bomb, "a") as archive:
        archive.writestr("xl/worksheets/sheet99.xml", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x/>")
    with pytest.raises(CbamError, match="DOCTYPE"):
        FormulaEngine(bomb)


@settings(max_examples=6, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_damaged_workbook_with_input_formulas_fails_only_with_a_cbam_error(tmp_path: Path, data) -> None:
    """The screws example (its inputs hold formulas, so the engine loads it) with one of its XML parts damaged."""
    with zipfile.ZipFile(SCREWS) as source:
        names = [n for n in source.namelist() if n.startswith("xl/worksheets/sheet")]
        damaged_part = data.draw(st.sampled_from(names))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
            for name in source.namelist():
                content = source.read(name)
                if name == damaged_part:
                    cut = data.draw(st.integers(0, len(content) - 1))
                    content = content[:cut] + data.draw(st.binary(min_size=1, max_size=20)) + content[cut + 1:]
                target.writestr(name, content)
    path = tmp_path / "damaged.xlsx"
    path.write_bytes(buffer.getvalue())
    try:
        import_template(path)
    except CbamError as error:
        assert str(error)

"""Evaluate a filled communication template's formulas as Excel would, never reading their cached results.

Operators fill the template their own way: an input cell may hold a formula over any cell, the template's own
computed cells included (a share entered as `=L24` pointing at a computed total, DirEm* as
`='C_Emissions&Energy'!H32`). `FormulaEngine` loads the whole workbook into formualizer (a spreadsheet engine in
Rust, MIT; the choice and its measurements are in docs/decisions.md), evaluates every formula once and answers
any cell's value. What it is given is a copy of the workbook made for it (`engine_copy`):
- every formula's cached result (`<v>`) is removed, and so are the cells of a legacy array formula's range other
  than its anchor (Excel stores the array's results there): the engine computes all of it, nothing is taken from
  the last program that saved the file;
- `ROWS(range)` and `COLUMNS(range)` of a literal range are replaced by the number they always give (the template
  writes `COLUMNS($G74:G74)` in G74 to number its lists; formualizer takes that range for a circular reference,
  Excel does not read it). Shared formulas holding one are expanded first (openpyxl's Translator), so each cell
  gets its own count.
Three functions the template uses are supplied here, checked against Excel's own results on the Commission's
examples (tests/cbam/test_cbam_formulas.py): MMULT and MINVERSE (formualizer 0.13 has neither; the template's
InputOutput sheet inverts the precursor matrix with them), and ADDRESS with a sheet name (formualizer answers
#VALUE!). Two differences from Excel remain, both outside any number the importer reads: TEXT(n, "0#") drops the
leading zero (VersionDocumentation's file names), and COUNTIF with NA() as criterion gives #N/A (A_InstData's
completeness flags).

The workbook is bounded before it is read (exchange.xlsx_limits, the same limits as every other reader, also
passed to formualizer's own loader), and evaluation is bounded in time (`EVAL_TIME_MS`). A value that is an Excel
error (a circular reference, an unknown function, #DIV/0! ...) is explained by `explain`: which cell it comes from
and why.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from lxml import etree
from openpyxl.formula.translate import Translator
from openpyxl.utils.cell import get_column_letter, range_boundaries

from ..xlsx_limits import DEFAULT_LIMITS, XlsxLimitError, XlsxLimits, check_xlsx
from .errors import CbamError

EVAL_TIME_MS = 120_000  # the four Commission examples evaluate in 2-4 s here; a hostile workbook is stopped
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_C, _F, _V = f"{{{_MAIN}}}c", f"{{{_MAIN}}}f", f"{{{_MAIN}}}v"
_REF = r"\$?[A-Z]{1,3}\$?\d+(?::\$?[A-Z]{1,3}\$?\d+)?"
_DIMENSION = re.compile(rf"\b(ROWS|COLUMNS)\(\s*((?:(?:'(?:[^']|'')+'|[A-Za-z_][\w.]*)!)?{_REF})\s*\)", re.IGNORECASE)
_ERRORS = {"Div": "#DIV/0!", "Na": "#N/A", "Value": "#VALUE!", "Ref": "#REF!", "Name": "#NAME?", "Num": "#NUM!",
           "Null": "#NULL!", "Circ": "a circular reference", "Spill": "#SPILL!", "Calc": "#CALC!"}


@dataclass(frozen=True)
class EngineError:
    """A cell whose value is an Excel error: `kind` as formualizer names it (Div, Na, Name, Circ, ...)."""

    kind: str

    @property
    def text(self) -> str:
        return _ERRORS.get(self.kind, f"#{self.kind.upper()}")


class FormulaEngine:
    """Every formula of one workbook, evaluated once; `value(sheet, row, column)` answers any cell."""

    def __init__(self, path: Path, limits: XlsxLimits = DEFAULT_LIMITS) -> None:
        import formualizer

        try:
            check_xlsx(path, limits)
            data = engine_copy(path)
        except XlsxLimitError as exc:
            raise CbamError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - zip, XML and formula-translation faults of a damaged workbook
            raise CbamError(f"{path}: the workbook cannot be prepared for formula evaluation "
                            f"({type(exc).__name__}: {' '.join(str(exc).split())[:300]})") from None
        config = formualizer.EvaluationConfig()
        config.max_eval_time_ms = EVAL_TIME_MS
        load_limits = {"max_input_bytes": limits.max_file_bytes + limits.max_total_bytes,
                       "max_entries": limits.max_members, "max_expanded_bytes": limits.max_total_bytes,
                       "max_part_bytes": limits.max_member_bytes}
        try:
            self._book = formualizer.Workbook.from_bytes(
                data, config=formualizer.WorkbookConfig(eval_config=config), load_limits=load_limits)
            self._book.register_function("MMULT", _mmult, min_args=2, max_args=2)
            self._book.register_function("MINVERSE", _minverse, min_args=1, max_args=1)
            self._book.register_function("ADDRESS", _address, min_args=2, max_args=5, allow_override_builtin=True)
            self._book.evaluate_all()
        except BaseException as exc:  # noqa: BLE001 - the engine's own errors, and a Rust panic (a BaseException)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise CbamError(f"{path}: the workbook's formulas cannot be evaluated ({type(exc).__name__}: "
                            f"{' '.join(str(exc).split())[:300]})") from None
        self.path = path

    def value(self, sheet: str, row: int, column: int) -> Any:
        """The cell's value: number, text, bool, date, None (empty), or an EngineError."""
        try:
            found = self._book.get_value(sheet, row, column)
        except BaseException as exc:  # noqa: BLE001 - a sheet the engine does not hold, or a panic
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            return EngineError("Ref")
        if isinstance(found, dict) and found.get("type") == "Error":
            return EngineError(str(found.get("kind")))
        return found

    def formula(self, sheet: str, row: int, column: int) -> str:
        """The cell's formula as the engine holds it ('' for a constant)."""
        try:
            return self._book.get_formula(sheet, row, column) or ""
        except BaseException as exc:  # noqa: BLE001 - a cell the engine does not hold has no formula (or a panic)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            return ""

    def explain(self, sheet: str, row: int, column: int) -> str:
        """Why a cell's value is an error: the cell the error comes from (following the references that carry
        it), with its formula; for a circular reference, the loop."""
        error = self.value(sheet, row, column)
        if not isinstance(error, EngineError):
            return ""
        start = (sheet, row, column)
        if error.kind == "Circ":
            loop = self._loop(start)
            if loop:
                return "a circular reference: " + " -> ".join(_name(c) for c in (*loop, loop[0]))
        origin = self._origin(start, error.kind)
        if origin == start:
            detail = {"Name": "an unknown function or name", "Circ": "a circular reference"}.get(error.kind, error.text)
            return f"{detail} in its formula"
        formula = self.formula(*origin)
        what = {"Name": "an unknown function or name"}.get(error.kind, error.text)
        return f"{what}, from {_name(origin)}" + (f" ({formula})" if formula else "")

    def _precedent_cells(self, cell: tuple[str, int, int], budget: int = 20_000) -> list[tuple[str, int, int]]:
        """The cells a formula refers to (ranges expanded up to `budget` cells)."""
        try:
            report = self._book.precedents(_name(cell), max_links=512).to_dict()
        except BaseException as exc:  # noqa: BLE001 - a constant or a cell the engine cannot inspect has none
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            return []
        out: list[tuple[str, int, int]] = []
        for link in report.get("precedents", []):
            reference = link.get("reference") or {}
            address = reference.get("address") or reference.get("resolved") or ""
            if "!" not in address:
                continue
            target, _, ref = address.rpartition("!")
            target = target.strip("'").replace("''", "'")
            try:
                low_col, low_row, high_col, high_row = range_boundaries(ref.replace("$", ""))
            except ValueError:
                continue
            if low_col is None or low_row is None:
                continue
            for r in range(low_row, (high_row or low_row) + 1):
                for c in range(low_col, (high_col or low_col) + 1):
                    if len(out) >= budget:
                        return out
                    out.append((target, r, c))
        return out

    def _origin(self, cell: tuple[str, int, int], kind: str) -> tuple[str, int, int]:
        """Follow the references that carry the same error to the first cell that makes it."""
        seen = {cell}
        while True:
            carrier = next((p for p in self._precedent_cells(cell) if p not in seen
                            and isinstance(v := self.value(*p), EngineError) and v.kind == kind), None)
            if carrier is None:
                return cell
            seen.add(carrier)
            cell = carrier

    def _loop(self, start: tuple[str, int, int], limit: int = 5_000) -> list[tuple[str, int, int]]:
        """A path of references from `start` back to itself, through cells that are circular too."""
        parents: dict[tuple[str, int, int], tuple[str, int, int] | None] = {start: None}
        queue = [start]
        while queue and len(parents) < limit:
            cell = queue.pop(0)
            for precedent in self._precedent_cells(cell):
                if precedent == start:
                    path = [cell]
                    while parents[path[-1]] is not None:
                        path.append(parents[path[-1]])
                    return list(reversed(path))
                value = self.value(*precedent)
                if precedent not in parents and isinstance(value, EngineError) and value.kind == "Circ":
                    parents[precedent] = cell
                    queue.append(precedent)
        return []


def engine_copy(path: Path) -> bytes:
    """The workbook as the engine gets it: no cached formula results, array ranges reduced to their anchor,
    ROWS/COLUMNS of literal ranges counted (see the module's docstring)."""
    out = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        sheets = _worksheet_parts(source)
        for item in source.infolist():
            if item.filename == "xl/calcChain.xml":
                continue  # Excel's evaluation order: the engine makes its own
            data = source.read(item.filename)
            if item.filename in sheets:
                data = _worksheet_copy(data)
            target.writestr(item, data)
    return out.getvalue()


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False)


def _worksheet_parts(archive: zipfile.ZipFile) -> set[str]:
    """The zip names of the worksheets, from the workbook's relationships."""
    rels = etree.fromstring(archive.read("xl/_rels/workbook.xml.rels"), _parser())
    parts = set()
    for rel in rels.iter(f"{{{_PKG_REL}}}Relationship"):
        if rel.get("Type", "").endswith("/worksheet"):
            target = rel.get("Target", "")
            parts.add(target.lstrip("/") if target.startswith("/") else f"xl/{target}")
    return parts


def _worksheet_copy(xml: bytes) -> bytes:
    root = etree.fromstring(xml, _parser())
    cells = list(root.iter(_C))
    arrays: list[tuple[tuple[int, int, int, int], str]] = []
    shared: dict[str, tuple[str, str]] = {}  # si -> (origin cell, master formula)
    for cell in cells:
        formula = cell.find(_F)
        if formula is None:
            continue
        if formula.get("t") == "array" and formula.get("ref"):
            arrays.append((range_boundaries(formula.get("ref")), cell.get("r")))
        elif formula.get("t") == "shared" and formula.get("ref") and formula.text:
            shared[formula.get("si")] = (cell.get("r"), formula.text)
    for cell in cells:
        reference = cell.get("r", "")
        formula = cell.find(_F)
        if formula is None:
            if arrays and _inside(reference, arrays):
                cell.getparent().remove(cell)  # a result Excel stored in an array formula's range
            continue
        for cached in cell.findall(_V):
            cell.remove(cached)
        cell.attrib.pop("t", None)  # the type of the removed cached result
        text = formula.text or ""
        if formula.get("t") == "shared":
            origin, master = shared.get(formula.get("si"), ("", ""))
            if master and _DIMENSION.search(master):
                text = master if reference == origin else \
                    Translator(f"={master}", origin=origin).translate_formula(reference)[1:]
                for key in ("t", "si", "ref"):
                    formula.attrib.pop(key, None)
        if _DIMENSION.search(text):
            formula.text = _DIMENSION.sub(_count, text)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _inside(reference: str, arrays: list[tuple[tuple[int, int, int, int], str]]) -> bool:
    match = re.fullmatch(r"([A-Z]{1,3})(\d+)", reference)
    if not match:
        return False
    column = sum((ord(ch) - 64) * 26 ** i for i, ch in enumerate(reversed(match.group(1))))
    row = int(match.group(2))
    return any(low_c <= column <= high_c and low_r <= row <= high_r and reference != anchor
               for (low_c, low_r, high_c, high_r), anchor in arrays)


def _count(match: re.Match) -> str:
    """ROWS(range) or COLUMNS(range) of a literal range: the number it always gives."""
    ref = match.group(2).rpartition("!")[2].replace("$", "")
    low_col, low_row, high_col, high_row = range_boundaries(ref if ":" in ref else f"{ref}:{ref}")
    if match.group(1).upper() == "ROWS":
        return str(1048576 if low_row is None else high_row - low_row + 1)
    return str(16384 if low_col is None else high_col - low_col + 1)


# --- functions supplied to the engine (Excel's definitions)

def _matrix(values: Any) -> list[list[float]]:
    rows = values if isinstance(values, list) else [[values]]
    rows = [r if isinstance(r, list) else [r] for r in rows]
    out = []
    for row in rows:
        line = []
        for value in row:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError("#VALUE!: MMULT and MINVERSE take numbers only")  # Excel: empty or text -> #VALUE!
            line.append(float(value))
        out.append(line)
    return out


def _mmult(left: Any, right: Any) -> list[list[float]]:
    """MMULT: the matrix product; #VALUE! when the inner dimensions differ."""
    import numpy

    a, b = numpy.array(_matrix(left)), numpy.array(_matrix(right))
    if a.shape[1] != b.shape[0]:
        raise ValueError("#VALUE!: MMULT needs as many columns in the first array as rows in the second")
    return (a @ b).tolist()


def _minverse(values: Any) -> list[list[float]]:
    """MINVERSE: the inverse of a square matrix; an error for a singular one (Excel: #NUM!)."""
    import numpy

    matrix = numpy.array(_matrix(values))
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError("#VALUE!: MINVERSE needs a square array")
    try:
        return numpy.linalg.inv(matrix).tolist()
    except numpy.linalg.LinAlgError:
        raise ValueError("#NUM!: the matrix is singular") from None


def _address(row: Any, column: Any, abs_num: Any = None, a1: Any = None, sheet: Any = None) -> str:
    """ADDRESS(row, column, [abs_num], [a1], [sheet_text]) as Excel writes it. formualizer passes an empty argument
    (the template writes `ADDRESS(2,3,,,sheet)`) as the number 0, where Excel takes the default: abs_num 1, A1
    style; so 0 means "omitted" here (an explicit 0, an error or R1C1 in Excel, does not occur in the template)."""
    row, column = int(row), int(column)
    kind = 1 if abs_num in (None, "", 0) else int(abs_num)
    if not (1 <= row <= 1048576 and 1 <= column <= 16384 and 1 <= kind <= 4):
        raise ValueError("#VALUE!: ADDRESS out of range")
    absolute_row, absolute_column = kind in (1, 2), kind in (1, 3)
    if a1 is None or a1 == "" or (not isinstance(a1, bool) and a1 == 0) or bool(a1):
        text = f"{'$' if absolute_column else ''}{get_column_letter(column)}{'$' if absolute_row else ''}{row}"
    else:
        text = (f"R{row}" if absolute_row else f"R[{row}]") + (f"C{column}" if absolute_column else f"C[{column}]")
    if sheet not in (None, "", 0):
        name = str(sheet)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
            name = "'" + name.replace("'", "''") + "'"
        text = f"{name}!{text}"
    return text


def _name(cell: tuple[str, int, int]) -> str:
    sheet, row, column = cell
    quoted = sheet if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", sheet) else "'" + sheet.replace("'", "''") + "'"
    return f"{quoted}!{get_column_letter(column)}{row}"


def as_date(value: Any) -> date | None:
    """A date from an engine value: a date/datetime, or an Excel serial number (1900 date system)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 1 <= value < 2958466:
        from openpyxl.utils.datetime import from_excel

        return from_excel(value).date()
    return None

"""Reading the Commission's communication template: cell values, the operator's formulas, code lists.

The template computes everything with formulas; an importer that trusted their cached results would get
nothing from a workbook saved by a tool that does not evaluate formulas. So `TemplateWorkbook` reads
cells with `data_only=False` and gives back what the operator *entered*:
- numbers as they are; text where a number belongs is an error (sheet!cell: reason);
- an input cell holding a formula (operators type `=1255000/0.95`, `=L16*0.085+81575`, or refer to a cell the
  template computes, `='C_Emissions&Energy'!H32`) is evaluated by the formula engine over the whole workbook,
  exactly as Excel would, the template's own formulas included (`formula_engine`, loaded on the first formula
  met); what cannot be evaluated (a circular reference, an unknown function, an error value) is refused with
  the cell, the formula and the reason;
- labels that are formulas pointing into the template's `Translations` sheet are resolved to the English
  text (column C there), so code lists (countries, CN codes) can be read without cached values or the engine.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from openpyxl.utils.cell import column_index_from_string, get_column_letter

from ..xlsx_limits import XlsxLimitError, open_bounded_workbook
from .errors import CbamError
from .formula_engine import EngineError, FormulaEngine, as_date

BLANK_TEMPLATE = Path(__file__).parent / "data" / "communication_template_v2.1.1.xlsx"
INPUT_SHEETS = ("A_InstData", "B_EmInst", "C_Emissions&Energy", "D_Processes", "E_PurchPrec", "Summary_Products")
CODE_SHEETS = ("c_CodeLists", "Parameters_CNCodes", "Translations")
# The part of each sheet that holds inputs, labels or code lists: (last row or None, last column).
_AREA = {"A_InstData": (None, 14), "B_EmInst": (None, 46), "C_Emissions&Energy": (None, 14),
         "D_Processes": (None, 14), "E_PurchPrec": (None, 14), "Summary_Products": (111, 37),
         "c_CodeLists": (None, 7), "Parameters_CNCodes": (None, 5), "Translations": (None, 3)}
_MAX_ROWS = 5000  # the template's longest sheet (Translations) has 2,124 rows

@dataclass
class TemplateWorkbook:
    """The cells of one filled (or blank) template, read once; values by sheet and (row, column)."""

    path: Path
    cells: dict[str, dict[tuple[int, int], Any]]
    errors: list[str] = field(default_factory=list)
    _engine: FormulaEngine | None = field(default=None, repr=False)

    @classmethod
    def open(cls, path: str | Path, code_lists: bool = True) -> "TemplateWorkbook":
        """Read the input sheets (read-only, formulas as written, no cached results), and the code lists if asked."""
        path = Path(path)
        if not path.is_file():
            raise CbamError(f"{path}: no such file")
        try:
            with warnings.catch_warnings():  # the template's conditional-format extensions are not needed here
                warnings.simplefilter("ignore", UserWarning)
                book = open_bounded_workbook(path, read_only=True, data_only=False)
        except XlsxLimitError as exc:
            raise CbamError(str(exc)) from None
        try:
            return cls.from_workbook(book, path, code_lists)
        finally:
            book.close()

    @classmethod
    def from_workbook(cls, book: Any, path: Path, code_lists: bool = True) -> "TemplateWorkbook":
        """The cells of an openpyxl workbook already open (read-only or not) that is a communication template."""
        missing = [s for s in INPUT_SHEETS if s not in book.sheetnames]
        if missing:
            raise CbamError(f"{path}: not a CBAM communication template (sheet(s) {', '.join(missing)} missing)")
        cells: dict[str, dict[tuple[int, int], Any]] = {}
        for name in INPUT_SHEETS + (CODE_SHEETS if code_lists else ()):
            if name not in book.sheetnames:
                continue
            sheet = {}
            last_row, last_column = _AREA[name]
            last_row = last_row or _MAX_ROWS
            try:
                if getattr(book, "read_only", False):
                    for row in book[name].iter_rows(max_row=last_row, max_col=last_column):
                        for cell in row:
                            value = getattr(cell, "value", None)
                            if value is not None:
                                sheet[(cell.row, cell.column)] = value
                else:  # iter_rows would create every empty cell of a writable sheet; read the existing ones only
                    for (row_number, column), cell in book[name]._cells.items():
                        if cell.value is not None and row_number <= last_row and column <= last_column:
                            sheet[(row_number, column)] = cell.value
            except Exception as exc:  # noqa: BLE001 - read-only sheets are parsed here; any XML fault lands here
                raise CbamError(f"{path}: sheet {name} cannot be read ({exc.__class__.__name__}: {exc})") from None
            cells[name] = sheet
        return cls(path, cells)

    # --- raw access

    def raw(self, sheet: str, row: int, column: int | str) -> Any:
        col = column_index_from_string(column) if isinstance(column, str) else column
        value = self.cells.get(sheet, {}).get((row, col))
        if hasattr(value, "text"):  # array formulas: only their text matters here
            value = value.text
        return value

    def where(self, sheet: str, row: int, column: int | str) -> str:
        col = column if isinstance(column, str) else get_column_letter(column)
        return f"{self.path}: {sheet}!{col}{row}"

    def fail(self, sheet: str, row: int, column: int | str, reason: str) -> None:
        self.errors.append(f"{self.where(sheet, row, column)}: {reason}")

    def rows(self, sheet: str) -> list[int]:
        return sorted({r for r, _ in self.cells.get(sheet, {})})

    # --- values the operator entered

    def engine(self) -> FormulaEngine:
        """The whole workbook evaluated (once, when the first formula is met)."""
        if self._engine is None:
            self._engine = FormulaEngine(self.path)
        return self._engine

    def value(self, sheet: str, row: int, column: int | str) -> Any:
        """A cell's value: as entered, or a formula's value as Excel computes it (None when empty, or when the
        formula gives the empty text ""). _Refused when the formula gives an Excel error."""
        value = self.raw(sheet, row, column)
        if not (isinstance(value, str) and value.startswith("=")):
            return None if isinstance(value, str) and not value.strip() else value
        col = column_index_from_string(column) if isinstance(column, str) else column
        engine = self.engine()
        found = engine.value(sheet, row, col)
        if isinstance(found, EngineError):
            raise _Refused(f"the formula {value!r} cannot be evaluated: {engine.explain(sheet, row, col)}")
        return None if isinstance(found, str) and not found.strip() else found

    def number(self, sheet: str, row: int, column: int | str, required: str = "") -> float | None:
        """The number in a cell (a formula evaluated); None when empty. `required` names it when missing."""
        try:
            value = self.value(sheet, row, column)
            if value is None:
                if required:
                    self.fail(sheet, row, column, f"missing {required}")
                return None
            if isinstance(value, bool):
                raise _Refused(f"expected a number, found {str(value).upper()}")
            if isinstance(value, (int, float)):
                return float(value)
            raise _Refused(f"expected a number, found {_shown(self.raw(sheet, row, column), value)}")
        except _Refused as exc:
            self.fail(sheet, row, column, str(exc))
            return None

    def numbers(self, sheet: str, row: int, columns: dict[str, str]) -> dict[str, float]:
        """`{key: number}` for the optional cells named by `columns` (key -> column) that hold a value."""
        found = {key: self.number(sheet, row, column) for key, column in columns.items()}
        return {key: value for key, value in found.items() if value is not None}

    def text(self, sheet: str, row: int, column: int | str, evaluate: bool = True) -> str:
        """Text of a cell ('' when empty). A formula that is a chain of references ending in the template's
        Translations sheet gives the English text (a label); any other formula is evaluated (with `evaluate`;
        without, it reads as '': the code lists are read that way, from the bundled template, without the engine)."""
        value = self.raw(sheet, row, column)
        if isinstance(value, str) and value.startswith("="):
            label = self._label(sheet, value, depth=0)
            if label is not None or not evaluate:
                return "" if label is None else str(label).strip()
            try:
                value = self.value(sheet, row, column)
            except _Refused as exc:
                self.fail(sheet, row, column, str(exc))
                return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a code typed (or computed) as a number
        return "" if value is None else str(value).strip()

    def _label(self, sheet: str, value: Any, depth: int) -> Any:
        """The English text a reference chain into Translations ends at; None for any other formula."""
        if not (isinstance(value, str) and value.startswith("=")):
            return value
        match = re.fullmatch(r"=(?:(?:'((?:[^']|'')+)'|([A-Za-z_][\w.]*))!)?\$?([A-Z]{1,3})\$?(\d+)", value.strip())
        if not match or depth > 10:
            return None
        target = (match.group(1) or match.group(2) or sheet).replace("''", "'")
        column, row = match.group(3), int(match.group(4))
        if target == "Translations":
            return self.raw(target, row, "C")  # column B shows the selected language; C is always the English
        return self._label(target, self.raw(target, row, column), depth + 1)

    def date(self, sheet: str, row: int, column: str) -> date | None:
        try:
            value = self.value(sheet, row, column)
        except _Refused as exc:
            self.fail(sheet, row, column, str(exc))
            return None
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        found = as_date(value)
        if found is None:
            self.fail(sheet, row, column, f"expected a date, found {value!r}")
        return found

    def raise_errors(self) -> None:
        if self.errors:
            raise CbamError("\n".join(dict.fromkeys(self.errors)))

    # --- code lists (read from the workbook itself, resolved through Translations)

    def countries(self) -> dict[str, str]:
        """Country name (English) -> ISO code, from c_CodeLists F/G."""
        out = {}
        for row in self.rows("c_CodeLists"):
            code, name = self.raw("c_CodeLists", row, "F"), self.text("c_CodeLists", row, "G", evaluate=False)
            if isinstance(code, str) and re.fullmatch(r"[A-Z]{2}", code) and name:
                out[name] = code
        return out

    def cn_codes(self) -> dict[str, str]:
        """8-digit CN code -> aggregated goods category, from Parameters_CNCodes B/E."""
        out = {}
        for row in self.rows("Parameters_CNCodes"):
            code = self.raw("Parameters_CNCodes", row, "B")
            if isinstance(code, str) and re.fullmatch(r"\d{4}( ?\d{2}){0,2}", code.strip()):
                out[code.replace(" ", "")] = self.text("Parameters_CNCodes", row, "E", evaluate=False)
        return out


@lru_cache(maxsize=1)
def blank_template() -> TemplateWorkbook:
    """The bundled blank template's cells (input sheets and code lists), read once."""
    return TemplateWorkbook.open(BLANK_TEMPLATE)


@lru_cache(maxsize=1)
def code_lists() -> tuple[dict[str, str], dict[str, str]]:
    """(country name -> ISO code, CN code -> goods category) of the bundled blank template, read once."""
    blank = blank_template()
    return blank.countries(), blank.cn_codes()


class _Refused(Exception):
    """A cell value the importer will not turn into a number; the message says why."""


def _shown(raw: Any, value: Any) -> str:
    """How a wrong value is named: the text, or the formula and what it gave."""
    if isinstance(raw, str) and raw.startswith("="):
        return f"text: the formula {raw!r} gives {value!r}"
    return f"text {value!r}"

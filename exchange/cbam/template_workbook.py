"""Reading the Commission's communication template: cell values, the operator's simple formulas, code lists.

The template computes everything with formulas; an importer that trusted their cached results would get
nothing from a workbook saved by a tool that does not evaluate formulas. So `TemplateWorkbook` reads
cells with `data_only=False` and gives back what the operator *entered*:
- numbers as they are; text where a number belongs is an error (sheet!cell: reason);
- an input cell holding a formula (operators often type `=1255000/0.95` or `=L16`) is evaluated when it is
  plain arithmetic (+ - * / ^, parentheses, numbers, references to other cells, of this or another sheet);
  a reference to one of the template's own computed cells is answered from `computed` (the importer fills
  it with figures it computed itself, e.g. the installation's calculation-based emissions) or refused;
  any function call is refused, with the cell and the formula in the message;
- labels that are formulas pointing into the template's `Translations` sheet are resolved to the English
  text (column C there), so code lists (countries, CN codes) can be read without cached values.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, get_column_letter

from ..xlsx_limits import XlsxLimitError, open_bounded_workbook
from .errors import CbamError

BLANK_TEMPLATE = Path(__file__).parent / "data" / "communication_template_v2.1.1.xlsx"
INPUT_SHEETS = ("A_InstData", "B_EmInst", "C_Emissions&Energy", "D_Processes", "E_PurchPrec", "Summary_Products")
CODE_SHEETS = ("c_CodeLists", "Parameters_CNCodes", "Translations")
# The part of each sheet that holds inputs, labels or code lists: (last row or None, last column).
_AREA = {"A_InstData": (None, 14), "B_EmInst": (None, 46), "C_Emissions&Energy": (None, 14),
         "D_Processes": (None, 14), "E_PurchPrec": (None, 14), "Summary_Products": (111, 37),
         "c_CodeLists": (None, 7), "Parameters_CNCodes": (None, 5), "Translations": (None, 3)}
_MAX_ROWS = 5000  # the template's longest sheet (Translations) has 2,124 rows

_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<ref>(?:(?:'(?:[^']|'')+'|[A-Za-z_][\w.]*)!)?\$?[A-Z]{1,3}\$?\d+(?![\w(:]))"
    r"|(?P<op>[-+*/^()]))"
)


class FormulaError(ValueError):
    """A formula that is not plain arithmetic over numbers and cell references."""


def _tokens(formula: str) -> list[tuple[str, str]]:
    text, pos, out = formula.lstrip("="), 0, []
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise FormulaError(f"not plain arithmetic at {text[pos:pos + 20]!r}")
        kind = match.lastgroup
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def evaluate(formula: str, resolve: Callable[[str | None, str], float]) -> float:
    """Value of `=...` plain arithmetic; `resolve(sheet or None, "A1")` gives a referenced cell's number."""
    tokens = _tokens(formula)
    position = 0

    def peek() -> tuple[str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal position
        if position >= len(tokens):
            raise FormulaError("the formula ends too early")
        position += 1
        return tokens[position - 1]

    def expression() -> float:
        value = term()
        while (tok := peek()) and tok[1] in "+-" and tok[0] == "op":
            take()
            value = value + term() if tok[1] == "+" else value - term()
        return value

    def term() -> float:
        value = power()
        while (tok := peek()) and tok[0] == "op" and tok[1] in "*/":
            take()
            right = power()
            if tok[1] == "/" and right == 0:
                raise FormulaError("division by zero")
            value = value * right if tok[1] == "*" else value / right
        return value

    def power() -> float:
        value = unary()
        if (tok := peek()) and tok == ("op", "^"):
            take()
            return value ** power()
        return value

    def unary() -> float:
        tok = peek()
        if tok and tok[0] == "op" and tok[1] in "+-":
            take()
            return -unary() if tok[1] == "-" else unary()
        return primary()

    def primary() -> float:
        kind, text = take()
        if kind == "num":
            return float(text)
        if kind == "ref":
            sheet, _, cell = text.rpartition("!")
            return resolve(sheet.strip("'").replace("''", "'") or None, cell.replace("$", ""))
        if text == "(":
            value = expression()
            if take() != ("op", ")"):
                raise FormulaError("unbalanced parentheses")
            return value
        raise FormulaError(f"unexpected {text!r}")

    value = expression()
    if position != len(tokens):
        raise FormulaError(f"unexpected {tokens[position][1]!r}")
    return value


@dataclass
class TemplateWorkbook:
    """The cells of one filled (or blank) template, read once; values by sheet and (row, column)."""

    path: Path
    cells: dict[str, dict[tuple[int, int], Any]]
    computed: dict[tuple[str, str], float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

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

    def number(self, sheet: str, row: int, column: int | str, required: str = "") -> float | None:
        """The number in a cell (evaluating simple formulas); None when empty. `required` names it when missing."""
        value = self.raw(sheet, row, column)
        if isinstance(value, str) and value.strip() == "":
            value = None
        if value is None:
            if required:
                self.fail(sheet, row, column, f"missing {required}")
            return None
        try:
            return self._number(sheet, row, column, value, depth=0)
        except (FormulaError, _Refused) as exc:
            self.fail(sheet, row, column, str(exc))
            return None

    def numbers(self, sheet: str, row: int, columns: dict[str, str]) -> dict[str, float]:
        """`{key: number}` for the optional cells named by `columns` (key -> column) that hold a value."""
        found = {key: self.number(sheet, row, column) for key, column in columns.items()}
        return {key: value for key, value in found.items() if value is not None}

    def _number(self, sheet: str, row: int, column: int | str, value: Any, depth: int) -> float:
        if isinstance(value, bool):
            raise _Refused(f"expected a number, found {value}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str) and value.startswith("="):
            if depth > 20:
                raise _Refused("formula references go too deep (circular?)")
            try:
                return evaluate(value, lambda s, ref: self._reference(s or sheet, ref, depth + 1))
            except FormulaError as exc:
                raise _Refused(f"the formula {value!r} cannot be evaluated ({exc}); enter its value instead") from None
        raise _Refused(f"expected a number, found text {value!r}")

    def _reference(self, sheet: str, ref: str, depth: int) -> float:
        if (sheet, ref) in self.computed:
            return self.computed[(sheet, ref)]
        column, row = coordinate_from_string(ref)
        value = self.raw(sheet, row, column)
        if value is None or (isinstance(value, str) and value.strip() == ""):
            return 0.0  # an empty cell counts as 0 in arithmetic, as in Excel
        if isinstance(value, str) and value.startswith("=") and not _is_arithmetic(value):
            raise FormulaError(f"it refers to {sheet}!{ref}, a cell the template computes, which the importer does "
                               "not evaluate")
        try:
            return self._number(sheet, row, column, value, depth)
        except _Refused as exc:
            raise FormulaError(f"{sheet}!{ref}: {exc}") from None

    def text(self, sheet: str, row: int, column: int | str) -> str:
        """Text of a cell ('' when empty); a formula only when it is a reference chain to text (labels)."""
        value = self.raw(sheet, row, column)
        resolved = self._text(sheet, value, depth=0)
        return "" if resolved is None else str(resolved).strip()

    def _text(self, sheet: str, value: Any, depth: int) -> Any:
        if isinstance(value, (datetime, date)):
            return value
        if not (isinstance(value, str) and value.startswith("=")):
            return value
        match = re.fullmatch(r"=(?:(?:'((?:[^']|'')+)'|([A-Za-z_][\w.]*))!)?\$?([A-Z]{1,3})\$?(\d+)", value.strip())
        if not match or depth > 10:
            return None
        target = (match.group(1) or match.group(2) or sheet).replace("''", "'")
        column, row = match.group(3), int(match.group(4))
        if target == "Translations" and column == "B":
            column = "C"  # column B shows the selected language; C is always the English original
        return self._text(target, self.raw(target, row, column), depth + 1)

    def date(self, sheet: str, row: int, column: str) -> date | None:
        value = self.raw(sheet, row, column)
        if value is None or value == "":
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(sheet, row, column, f"expected a date, found {value!r}")
            return None

    def raise_errors(self) -> None:
        if self.errors:
            raise CbamError("\n".join(dict.fromkeys(self.errors)))

    # --- code lists (read from the workbook itself, resolved through Translations)

    def countries(self) -> dict[str, str]:
        """Country name (English) -> ISO code, from c_CodeLists F/G."""
        out = {}
        for row in self.rows("c_CodeLists"):
            code, name = self.raw("c_CodeLists", row, "F"), self.text("c_CodeLists", row, "G")
            if isinstance(code, str) and re.fullmatch(r"[A-Z]{2}", code) and name:
                out[name] = code
        return out

    def cn_codes(self) -> dict[str, str]:
        """8-digit CN code -> aggregated goods category, from Parameters_CNCodes B/E."""
        out = {}
        for row in self.rows("Parameters_CNCodes"):
            code = self.raw("Parameters_CNCodes", row, "B")
            if isinstance(code, str) and re.fullmatch(r"\d{4}( ?\d{2}){0,2}", code.strip()):
                out[code.replace(" ", "")] = self.text("Parameters_CNCodes", row, "E")
        return out


@lru_cache(maxsize=1)
def code_lists() -> tuple[dict[str, str], dict[str, str]]:
    """(country name -> ISO code, CN code -> goods category) of the bundled blank template, read once."""
    blank = TemplateWorkbook.open(BLANK_TEMPLATE)
    return blank.countries(), blank.cn_codes()


class _Refused(Exception):
    """A cell value the importer will not turn into a number; the message says why."""


def _is_arithmetic(formula: str) -> bool:
    try:
        _tokens(formula)
    except FormulaError:
        return False
    return True

"""Cells written from user text cannot become live formulas when the file is opened in a spreadsheet (OWASP CSV
injection): every CSV and XLSX writer of the toolkit goes through this module.

Text that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is what Excel and LibreOffice Calc read as a
formula (`=HYPERLINK(...)`, `=cmd|' /C calc'!A0`, `@SUM(...)`). Numbers stay numbers: a number value is untouched,
and text that is exactly a decimal number (how the CBAM declaration CSV writes its Decimals, "-1.5" included) is
left as it is, so a spreadsheet still reads a number.

- CSV (`safe_cell`, `safe_row`): such text gets a leading `'`, which makes it plain text.
- XLSX (`append_safe_row`, `set_safe_cell`): such text is stored as a string cell (never a formula) with Excel's
  quote prefix, the cell flag Excel sets when someone types a leading `'`: the cell shows and re-imports the text
  exactly (a telephone number "+86 ..." stays itself), and stays text when edited in Excel.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def formula_like(value: Any) -> bool:
    """True for text a spreadsheet would read as a formula (and that is not simply a number)."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value)


def safe_cell(value: Any) -> Any:
    """A CSV cell: `value`, with a leading `'` when it is text a spreadsheet would read as a formula."""
    return "'" + value if formula_like(value) else value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """Each value of a CSV row through `safe_cell`."""
    return [safe_cell(value) for value in values]


def set_safe_cell(cell: Any, value: Any) -> None:
    """Put `value` into an openpyxl cell; formula-like text becomes a quote-prefixed string cell."""
    cell.value = value
    if formula_like(value):
        cell.data_type = "s"
        cell.quotePrefix = True


def append_safe_row(sheet: Any, values: Iterable[Any]) -> None:
    """`sheet.append(values)` (openpyxl) with each formula-like text cell made a quote-prefixed string cell."""
    values = list(values)
    sheet.append(values)
    for cell, value in zip(sheet[sheet.max_row], values):
        if formula_like(value):
            cell.data_type = "s"
            cell.quotePrefix = True

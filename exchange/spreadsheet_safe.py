"""Cells written from user text cannot become live formulas when the file is opened in a spreadsheet (OWASP CSV
injection): every CSV and XLSX writer of the toolkit passes its cells through `safe_cell`.

Text that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is what Excel and LibreOffice Calc read as a
formula (`=HYPERLINK(...)`, `=cmd|' /C calc'!A0`, `@SUM(...)`); such text gets a leading `'`, which makes it plain
text. Numbers stay numbers: a number value is untouched, and text that is exactly a decimal number (how the CBAM
declaration CSV writes its Decimals, "-1.5" included) stays as it is, so a spreadsheet still reads a number.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """`value`, with a leading `'` when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """Each value of a row through `safe_cell`."""
    return [safe_cell(value) for value in values]

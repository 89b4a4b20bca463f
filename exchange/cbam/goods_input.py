"""Tabular input for CBAM goods lists: CSV or Excel (.xlsx), columns found by header name.

    read_rows(path, required, optional) -> list[Row]

The QReport and the annual declaration read the same list; this module only turns a file into rows of text cells
keyed by column name, each with its location (`goods.csv: row 3`, `goods.xlsx: sheet 'Goods', row 3`) so that the
parsers can name file, sheet, row and column in their errors. Excel files go through `exchange.xlsx_limits`
(zip-bomb and size checks, the sheet's declared dimension refused above 200,000 rows before any row is read, and a
row counter for sheets that declare none). Only the first worksheet is read; its first row is the header.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from lca_models.errors import did_you_mean

from ..xlsx_limits import DEFAULT_LIMITS, XlsxLimitError, XlsxLimits, bounded_rows, open_bounded_workbook
from .errors import CbamError

EXCEL_SUFFIXES = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class Row:
    """One non-empty data row: `where` locates it for error messages, `cells` maps column name -> stripped text."""
    where: str
    cells: Mapping[str, str]


def read_rows(path: str | os.PathLike[str], required: Sequence[str], optional: Sequence[str] = (),
              limits: XlsxLimits = DEFAULT_LIMITS) -> list[Row]:
    """Rows of a .csv or .xlsx/.xlsm goods list (by suffix; anything else is read as CSV, as before Excel support).
    The header must hold every `required` column; other columns are ignored. Empty rows are skipped; a file with
    no data row is an error."""
    source = Path(path)
    suffix = source.suffix.lower()
    if suffix == ".xls":
        raise CbamError(f"{source}: the old binary .xls format is not read; save the sheet as .xlsx or .csv")
    table = _excel(source, limits) if suffix in EXCEL_SUFFIXES else _csv(source)
    wanted = (*required, *optional)
    missing = [c for c in required if c not in table.header]
    if missing:
        strangers = [h for h in table.header if h and h not in wanted]  # a misspelt column is among these
        raise CbamError("\n".join(f"{table.header_where} (header): missing column {c}"
                                  + did_you_mean(c, strangers, cutoff=0.6) for c in missing))
    rows = [Row(where, {c: cells.get(c, "") for c in wanted}) for where, cells in table.records
            if any(cells.get(c) for c in wanted)]
    if not rows:
        raise CbamError(f"{source}: no goods (only a header)")
    return rows


@dataclass(frozen=True)
class _Table:
    header: list[str]
    header_where: str                               # "goods.csv: row 1" / "goods.xlsx: sheet 'Goods', row 1"
    records: list[tuple[str, dict[str, str]]]       # (where, column name -> text) per data row


def _csv(source: Path) -> _Table:
    try:
        text = source.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CbamError(f"{source}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise CbamError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start}); an Excel file needs the "
                        f".xlsx suffix") from None
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip() for h in next(reader, [])]
        records = [(f"{source}: row {reader.line_num}", _cells(header, values)) for values in reader]
    except csv.Error as exc:
        raise CbamError(f"{source}: row {reader.line_num}: not valid CSV ({exc})") from None
    return _Table(header, f"{source}: row 1", records)


def _excel(source: Path, limits: XlsxLimits) -> _Table:
    try:
        workbook = open_bounded_workbook(source, limits)
    except XlsxLimitError as exc:
        raise CbamError(str(exc)) from None
    try:
        if not workbook.worksheets:
            raise CbamError(f"{source}: the workbook has no worksheet")
        sheet = workbook.worksheets[0]
        where = f"{source}: sheet {sheet.title!r}, row"
        header: list[str] = []
        records: list[tuple[str, dict[str, str]]] = []
        for number, values in enumerate(bounded_rows(sheet, limits, file=str(source)), start=1):
            if number == 1:
                header = [_text(v).strip() for v in values]
            else:
                records.append((f"{where} {number}", _cells(header, map(_text, values))))
    except XlsxLimitError as exc:
        raise CbamError(str(exc)) from None
    except CbamError:
        raise
    except Exception as exc:  # openpyxl fails on damaged parts while streaming rows, with many exception types
        raise CbamError(f"{source}: not a readable .xlsx workbook ({type(exc).__name__}: {exc})") from None
    finally:
        workbook.close()
    return _Table(header, f"{where} 1", records)


def _cells(header: Sequence[str], values: Iterable[str]) -> dict[str, str]:
    cells: dict[str, str] = {}
    for name, value in zip(header, values):
        if name and name not in cells:
            cells[name] = value.strip()
    return cells


def _text(value: object) -> str:
    """An Excel cell as the text a CSV would hold: integral numbers without '.0' (CN codes typed as numbers),
    other floats by their shortest round-trip repr (0.1 stays '0.1'), dates in ISO form, empty cells as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)

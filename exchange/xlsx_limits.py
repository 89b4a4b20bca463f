"""Bounded opening of .xlsx files: refuse zip bombs and oversized sheets before openpyxl reads them.

An .xlsx is a zip of XML parts. openpyxl trusts the zip: a 1 MB upload can inflate to gigabytes, and a sheet
can declare (or really hold) millions of rows. Every reader of user-supplied workbooks (CBAM template and goods
list import, scope 3 purchases) calls `open_bounded_workbook` (or `check_xlsx` first) so the limits live in one
place. The checks use only the zip's central directory and the first bytes of each worksheet part, so refusing
a bomb costs milliseconds. Python's zipfile stops a member at its declared size (and fails its CRC beyond), so
the declared sizes checked here also bound what openpyxl can inflate later. XML inside the parts is parsed by
openpyxl with lxml (entities not resolved) and, for worksheets, defusedxml (a project dependency), which refuses
entity declarations: see docs/security.md.
"""

from __future__ import annotations

import os
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]*\bref=\"([A-Za-z]{1,3})?(\d+)?(?::([A-Za-z]{1,3})(\d+))?\"")
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_HEAD_BYTES = 64 * 1024  # the <dimension> element comes right after <sheetPr>, well within this


class XlsxLimitError(ValueError):
    """A workbook refused before (or while) reading it: `file` is the path, `reason` says which limit and why."""

    def __init__(self, file: str, reason: str) -> None:
        self.file = file
        self.reason = reason
        super().__init__(f"{file}: {reason}")


@dataclass(frozen=True)
class XlsxLimits:
    """Upper bounds for one workbook. The defaults are ~10x the largest official CBAM workbook (10 MB inflated,
    2,125 rows), and the 200,000-row sheet limit the CBAM goods-list issue asks for."""

    max_file_bytes: int = 50 * 1024 * 1024
    max_members: int = 10_000
    max_member_bytes: int = 128 * 1024 * 1024
    max_total_bytes: int = 256 * 1024 * 1024
    max_ratio: float = 200.0  # inflated/compressed, checked on members above 1 MiB (small parts compress freely)
    max_rows: int = 200_000
    max_columns: int = 16_384  # Excel's own limit (XFD)


DEFAULT_LIMITS = XlsxLimits()


def check_xlsx(path: str | os.PathLike[str], limits: XlsxLimits = DEFAULT_LIMITS) -> None:
    """Raise XlsxLimitError if `path` is not a zip within `limits` or declares a sheet larger than allowed."""
    name = os.fspath(path)
    try:
        size = os.path.getsize(name)
    except OSError as exc:
        raise XlsxLimitError(name, f"cannot read the file ({exc.strerror or exc})") from None
    if size > limits.max_file_bytes:
        raise XlsxLimitError(name, f"file is {size} bytes, more than the limit of {limits.max_file_bytes}")
    try:
        with zipfile.ZipFile(name) as archive:
            _check_members(name, archive, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error) as exc:
        raise XlsxLimitError(name, f"not a readable .xlsx (zip) file: {exc}") from None


def open_bounded_workbook(
    path: str | os.PathLike[str],
    limits: XlsxLimits = DEFAULT_LIMITS,
    *,
    read_only: bool = True,
    data_only: bool = True,
) -> Any:
    """check_xlsx, then openpyxl.load_workbook; openpyxl's own failures become XlsxLimitError with the path.

    Returns an openpyxl Workbook (typed Any: openpyxl ships no type information). Iterate its sheets with
    `bounded_rows` so a sheet without (or with a lying) <dimension> still stops at `limits.max_rows`."""
    import openpyxl  # imported here: most of the package never reads Excel

    check_xlsx(path, limits)
    name = os.fspath(path)
    try:
        return openpyxl.load_workbook(name, read_only=read_only, data_only=data_only)
    except Exception as exc:  # openpyxl raises KeyError, ValueError, TypeError, lxml and zip errors for bad parts
        raise XlsxLimitError(name, f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}") from None


def bounded_rows(worksheet: Any, limits: XlsxLimits = DEFAULT_LIMITS, *, file: str = "") -> Iterator[tuple]:
    """worksheet.iter_rows(values_only=True), raising XlsxLimitError after `limits.max_rows` rows, or when the
    sheet's XML cannot be read (read-only workbooks parse each sheet only while it is iterated)."""
    where = file or str(worksheet.title)
    rows = worksheet.iter_rows(values_only=True)
    count = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # lxml/defusedxml/zip errors of a damaged or hostile sheet part
            raise XlsxLimitError(where, f"sheet {worksheet.title!r} cannot be read: {type(exc).__name__}: {exc}") from None
        count += 1
        if count > limits.max_rows:
            raise XlsxLimitError(where, f"sheet {worksheet.title!r} has more than {limits.max_rows} rows")
        yield row


def _check_members(name: str, archive: zipfile.ZipFile, limits: XlsxLimits) -> None:
    members = archive.infolist()
    if len(members) > limits.max_members:
        raise XlsxLimitError(name, f"{len(members)} parts in the zip, more than the limit of {limits.max_members}")
    total = 0
    for member in members:
        total += member.file_size
        if member.file_size > limits.max_member_bytes:
            raise XlsxLimitError(name, f"part {member.filename} inflates to {member.file_size} bytes, more than "
                                 f"the limit of {limits.max_member_bytes}")
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > 1024 * 1024 and ratio > limits.max_ratio:
            raise XlsxLimitError(name, f"part {member.filename} has compression ratio {ratio:.0f}:1, more than "
                                 f"{limits.max_ratio:.0f}:1 (zip bomb?)")
    if total > limits.max_total_bytes:
        raise XlsxLimitError(name, f"parts inflate to {total} bytes, more than the limit of {limits.max_total_bytes}")
    for member in members:
        if member.filename.endswith((".xml", ".rels", ".vml")):
            _check_head(name, archive, member, limits)


def _check_head(name: str, archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: XlsxLimits) -> None:
    """No part of a real workbook declares a DTD (the entity bombs and XXE live there); sheets declare a size."""
    with archive.open(member) as part:
        head = part.read(_HEAD_BYTES)
    if _DOCTYPE.search(head):
        raise XlsxLimitError(name, f"part {member.filename} declares a DOCTYPE/entities, which workbooks never need")
    if member.filename.startswith("xl/worksheets/") and member.filename.endswith(".xml"):
        _check_dimension(name, member, head, limits)


def _check_dimension(name: str, member: zipfile.ZipInfo, head: bytes, limits: XlsxLimits) -> None:
    found = _DIMENSION.search(head)
    if not found:
        return  # no declared dimension: bounded_rows still stops the reader at max_rows
    first_col, first_row, last_col, last_row = found.groups()
    rows = int(last_row or first_row or 1)
    columns = _column_number(last_col or first_col or "A")
    sheet = member.filename.rsplit("/", 1)[-1]
    if rows > limits.max_rows:
        raise XlsxLimitError(name, f"{sheet} declares {rows} rows, more than the limit of {limits.max_rows}")
    if columns > limits.max_columns:
        raise XlsxLimitError(name, f"{sheet} declares {columns} columns, more than the limit of "
                             f"{limits.max_columns}")


def _column_number(letters: bytes | str) -> int:
    text = letters.decode("ascii") if isinstance(letters, bytes) else letters
    number = 0
    for char in text.upper():
        number = number * 26 + ord(char) - ord("A") + 1
    return number

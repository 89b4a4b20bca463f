"""Retired carbon credits recorded against a reporting period: disclosed beside the inventory, never netted.

A credit can be used once. Within a model the schema refuses a repeated serial range; across models and
periods the registry file refuses any range that overlaps one already recorded (same scheme, same serial
prefix, overlapping numbers), unless it is the very same lot recorded again for the same company and
period (re-running a report is not double use). The registry is a JSON file written atomically: a refused
batch leaves it untouched.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

from lca_models.errors import ModelError
from lca_models.footprint import Offset
from lca_models.strict_json import loads as strict_loads

# "CCER-EX-2025-0000001-0050000": prefix "CCER-EX-2025", numbers 1..50000 (the last two digit groups)
_RANGE = re.compile(r"^(?P<prefix>.*?)[-_ ]?(?P<first>\d+)\s*[-–]\s*(?P<last>\d+)$")
_SINGLE = re.compile(r"^(?P<prefix>.*?)[-_ ]?(?P<first>\d+)$")


@dataclass(frozen=True)
class SerialRange:
    """A block of credit serial numbers: a prefix and an inclusive numeric range (or the raw text)."""

    scheme: str
    prefix: str
    first: int | None
    last: int | None

    def overlaps(self, other: SerialRange) -> bool:
        if (self.scheme, self.prefix) != (other.scheme, other.prefix):
            return False
        if None in (self.first, self.last, other.first, other.last):
            return True  # same unparsed text
        return self.first <= other.last and other.first <= self.last


def serial_range(offset: Offset) -> SerialRange:
    """Parse `offset.serial_range`; text without trailing numbers is compared as a whole."""
    text = offset.serial_range.strip()
    match = _RANGE.match(text)
    if match and int(match["first"]) <= int(match["last"]):
        return SerialRange(offset.scheme, match["prefix"], int(match["first"]), int(match["last"]))
    match = _SINGLE.match(text)
    if match:
        return SerialRange(offset.scheme, match["prefix"], int(match["first"]), int(match["first"]))
    return SerialRange(offset.scheme, text, None, None)


def overlapping(offsets: tuple[Offset, ...] | list[Offset]) -> list[tuple[Offset, Offset]]:
    """Pairs of lots in one list whose serial ranges overlap: each pair is a credit used twice."""
    ranges = [serial_range(o) for o in offsets]
    return [(offsets[i], offsets[j]) for i in range(len(offsets)) for j in range(i + 1, len(offsets))
            if ranges[i].overlaps(ranges[j])]


@dataclass(frozen=True)
class Retirement:
    """One lot in the registry: the credit and the company and period it was used for."""

    company: str
    period: str  # "2025-01-01/2025-12-31"
    scheme: str
    serial_range: str
    vintage: int
    tonnes_co2e: str
    retired_on: str

    def offset(self) -> Offset:
        return Offset(self.scheme, self.serial_range, self.vintage, Decimal(self.tonnes_co2e), self.retired_on)


class OffsetRegistry:
    """A JSON file of every lot used so far; `record` refuses a second use of any serial number."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> list[Retirement]:
        if not self.path.exists():
            return []
        try:
            document = strict_loads(self.path.read_bytes())
            return [Retirement(**entry) for entry in document["retirements"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"not a readable offsets registry: {exc}", file=str(self.path)) from None

    def record(self, company: str, period: str, offsets: tuple[Offset, ...]) -> list[Retirement]:
        """Add the lots used by `company` for `period`; ModelError naming each double use, nothing written."""
        entries = self.entries()
        problems = [f"{a.scheme} {a.serial_range} overlaps {b.serial_range} in the same batch" for a, b in overlapping(offsets)]
        new = []
        for offset in offsets:
            lot = Retirement(company, period, offset.scheme, offset.serial_range, offset.vintage,
                             str(offset.tonnes_co2e), offset.retired_on)
            if lot in entries:
                continue  # the same lot recorded again for the same company and period
            for entry in entries:
                if serial_range(entry.offset()).overlaps(serial_range(offset)):
                    problems.append(f"{offset.scheme} {offset.serial_range} overlaps {entry.serial_range}, "
                                    f"already used by {entry.company} for {entry.period}")
            new.append(lot)
        if problems:
            raise ModelError("double use of carbon credits refused: " + "; ".join(problems), file=str(self.path))
        if new:
            self._write(entries + new)
        return new

    def _write(self, entries: list[Retirement]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"retirements": [asdict(e) for e in entries]}, indent=2, ensure_ascii=False) + "\n"
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

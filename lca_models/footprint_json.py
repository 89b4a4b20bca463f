"""The canonical `Footprint` as plain JSON (the `pcf compute --json` output), exactly as computed.

This is the toolkit's own view, with every computed detail; the exchange formats (PACT, CBAM) are
translations in `exchange/`. Decimals are written as strings so no float ever rounds them.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from .footprint import Footprint


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def footprint_to_dict(footprint: Footprint) -> dict[str, Any]:
    """Every field of the footprint, decimals as strings, date-times in RFC 3339 UTC."""
    return _plain(dataclasses.asdict(footprint))


def footprints_to_json(footprints: list[Footprint]) -> str:
    """A JSON array of footprints, indented for people and diffs."""
    return json.dumps([footprint_to_dict(f) for f in footprints], indent=2, ensure_ascii=False) + "\n"

"""Strict JSON: the one parser for every document the toolkit reads (files, API bodies, events, verify, responses).

Why: Python's `json` keeps the last of duplicated keys and accepts NaN, Infinity and -Infinity. A signed document
with `"pcf"` twice would be checked on one value and shown with another by a different parser, and NaN breaks
canonical JSON (RFC 8785) and every comparison. RFC 8259 leaves duplicates to the implementation; I-JSON
(RFC 7493) forbids them, and it is what PACT documents are. So both are refused here, with the JSON Pointer of
where they are (a number too large for a float, such as 1e999, counts as Infinity).

    loads(text) -> Any                 # StrictJsonError(pointer, message) for anything refused
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["StrictJsonError", "loads"]


class StrictJsonError(ValueError):
    """A document refused: `pointer` (RFC 6901, "" for the whole document) says where, `message` what."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(f"{pointer or '/'}: {message}" if pointer else message)
        self.pointer, self.message = pointer, message


class _Duplicated(dict):
    """An object in which a key appeared more than once (which key: `duplicate`)."""

    duplicate: str = ""


class _NonFinite:
    """Where a NaN, Infinity or out-of-range number stood."""

    def __init__(self, spelling: str) -> None:
        self.spelling = spelling


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _first_problem(value: Any, path: str) -> StrictJsonError | None:
    """The first refused item in document order, walking iteratively (deep documents must not recurse)."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, _NonFinite):
            return StrictJsonError(where, f"{item.spelling} is not a JSON number (NaN and Infinity are refused)")
        if isinstance(item, _Duplicated):
            return StrictJsonError(f"{where}/{_escape(item.duplicate)}", f"duplicate key {item.duplicate!r}")
        if isinstance(item, dict):
            stack.extend(reversed([(v, f"{where}/{_escape(k)}") for k, v in item.items()]))
        elif isinstance(item, list):
            stack.extend(reversed([(v, f"{where}/{i}") for i, v in enumerate(item)]))
    return None


def loads(text: str | bytes) -> Any:
    """Parse JSON text, refusing duplicate keys and NaN/Infinity with a pointer (StrictJsonError).

    Syntax errors stay `json.JSONDecodeError` (a ValueError carrying line and column); bytes must be UTF-8
    (UnicodeDecodeError otherwise, also a ValueError).
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")
    marked = []  # set by the hooks: the (rare) walk for the pointer only runs when something was refused

    def as_object(pairs: list[tuple[str, Any]]) -> dict:
        result: dict = {}
        for key, value in pairs:
            if key in result:
                duplicated = _Duplicated(result)
                duplicated.duplicate = key
                marked.append(key)
                return duplicated
            result[key] = value
        return result

    def non_finite(spelling: str) -> _NonFinite:
        marked.append(spelling)
        return _NonFinite(spelling)

    def as_float(spelling: str) -> Any:
        value = float(spelling)
        return value if math.isfinite(value) else non_finite(spelling)

    value = json.loads(text, object_pairs_hook=as_object, parse_constant=non_finite, parse_float=as_float)
    problem = _first_problem(value, "") if marked else None
    if problem is not None:
        raise problem
    return value

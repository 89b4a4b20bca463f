"""PACT marshalling: the canonical `Footprint` to and from PACT v3.0.3 and v2.3.3 JSON.

    to_v3(footprint) / to_v2(footprint)            -> a validated ProductFootprint dict
    from_v3(doc) / from_v2(doc) / load_footprint(doc) -> LoadedFootprint(footprint, version, warnings)

Every failure is a `PactValidationError` whose `issues` carry a JSON Pointer and a message, or a
`PactMappingError` where the target version cannot express the footprint. Mapping notes: docs/pact-mapping.md.
"""

from __future__ import annotations

import json
from typing import Any

from lca_models.strict_json import StrictJsonError
from lca_models.strict_json import loads as strict_loads

from .errors import PactIssue, PactMappingError, PactValidationError, pointer
from .json_depth import MAX_JSON_DEPTH, json_depth
from .v2 import from_v2, to_v2
from .v3 import LoadedFootprint, from_v3, to_v3

__all__ = [
    "LoadedFootprint", "PactIssue", "PactMappingError", "PactValidationError", "detect_version", "from_v2",
    "from_v3", "load_footprint", "MAX_JSON_DEPTH", "parse_json", "footprints_in", "to_v2", "to_v3",
]

_V2_MARKERS = ("pCfExcludingBiogenic", "declaredUnit", "unitaryProductAmount", "crossSectoralStandardsUsed",
               "characterizationFactors")
_V3_MARKERS = ("pcfExcludingBiogenicUptake", "declaredUnitOfMeasurement", "declaredUnitAmount")


def detect_version(document: Any) -> str:
    """"v2" or "v3", from the pcf's property names, else the specVersion; v3 when nothing tells."""
    if not isinstance(document, dict):
        return "v3"
    pcf = document.get("pcf")
    if isinstance(pcf, dict):
        if any(name in pcf for name in _V2_MARKERS):
            return "v2"
        if any(name in pcf for name in _V3_MARKERS):
            return "v3"
    spec = document.get("specVersion")
    if isinstance(spec, str) and spec.startswith("2."):
        return "v2"
    if "productCategoryCpc" in document or "version" in document:
        return "v2"
    return "v3"


def load_footprint(document: Any, strict: bool = False, version: str | None = None) -> LoadedFootprint:
    """Read a ProductFootprint of either version (auto-detected unless `version` is given)."""
    version = version or detect_version(document)
    return from_v2(document, strict) if version == "v2" else from_v3(document, strict)


def parse_json(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON text -> Python data (strict: duplicate keys and NaN/Infinity refused), with a PactValidationError
    carrying the pointer instead of a parser traceback; text nested deeper than `max_depth` is refused before it is
    parsed."""
    if json_depth(text) > max_depth:
        raise PactValidationError([PactIssue("", f"JSON nested deeper than {max_depth} levels")])
    try:
        return strict_loads(text)
    except StrictJsonError as exc:
        raise PactValidationError([PactIssue(exc.pointer, exc.message)]) from None
    except UnicodeDecodeError:
        raise PactValidationError([PactIssue("", "not UTF-8 text")]) from None
    except json.JSONDecodeError as exc:
        raise PactValidationError([PactIssue("", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]) from None
    except RecursionError:
        raise PactValidationError([PactIssue("", "not JSON this toolkit accepts: nested too deeply")]) from None


def footprints_in(document: Any) -> list[tuple[str, Any]]:
    """The ProductFootprints in a document: itself, or a `{"data": ...}` response, or an event's `data.pfs`.

    Returns (pointer prefix, footprint) pairs so that errors point into the whole document.
    """
    if isinstance(document, dict) and "pcf" not in document:
        data = document.get("data")
        if isinstance(data, dict) and isinstance(data.get("pfs"), list):
            return [(pointer("data", "pfs", i), item) for i, item in enumerate(data["pfs"])]
        if isinstance(data, list):
            return [(pointer("data", i), item) for i, item in enumerate(data)]
        if isinstance(data, dict):
            return [(pointer("data"), data)]
    return [("", document)]

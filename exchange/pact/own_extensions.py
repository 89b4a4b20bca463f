"""The toolkit's own PACT `DataModelExtension`s: what PACT has no field for, carried without loss.

- `computed`: the engine's details (gas breakdown, contributions, electricity, offsets, provenance), disclosed
  only at the `full` level (`disclosure.py`).
- `breakdown`: totals by gas, category and stage, no line items: what the `breakdown` level discloses.
- `unknown-fields`: fields a peer sent that its spec version does not define (lenient receiving), keyed
  by JSON Pointer, written back in place when the footprint is dumped in that same version.
- `pact-v2-original`: v2 fields v3 cannot hold, and v2 values a mapping changes (DQR 1-3 vs 1-5,
  assurance vs verification), so v2 -> v3 -> v2 returns the document it started from.
Their `dataSchema` is a URN of ours (the OpenAPI asks for a URI; a URN is one); docs/pact-mapping.md
documents them.
"""

from __future__ import annotations

from typing import Any

from lca_models.footprint import Extension

EXTENSION_SPEC_VERSION = "2.0.0"  # DataModelExtension.specVersion: version of the extension mechanism
COMPUTED = "urn:carbon-exchange:extension:computed-details:1.0.0"
UNKNOWN_FIELDS = "urn:carbon-exchange:extension:unknown-fields:1.0.0"
V2_ORIGINAL = "urn:carbon-exchange:extension:pact-v2-original:1.0.0"
BREAKDOWN = "urn:carbon-exchange:extension:breakdown:1.0.0"
OWN = (COMPUTED, UNKNOWN_FIELDS, V2_ORIGINAL, BREAKDOWN)


def make(schema: str, data: dict[str, Any]) -> Extension:
    return Extension(spec_version=EXTENSION_SPEC_VERSION, data_schema=schema, data=data)


def find(extensions: tuple[Extension, ...], schema: str) -> Extension | None:
    return next((e for e in extensions if e.data_schema == schema), None)


def without(extensions: tuple[Extension, ...], *schemas: str) -> tuple[Extension, ...]:
    return tuple(e for e in extensions if e.data_schema not in schemas)


def _parse_pointer(text: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in text.split("/")[1:]]


def restore_unknown(document: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """Put unknown fields back at their pointers; returns the ones whose parent no longer exists."""
    left: dict[str, Any] = {}
    for where, value in fields.items():
        parts = _parse_pointer(where)
        parent: Any = document
        try:
            for part in parts[:-1]:
                parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        except (KeyError, IndexError, ValueError, TypeError):
            left[where] = value
            continue
        if isinstance(parent, dict) and parts and parts[-1] not in parent:
            parent[parts[-1]] = value
        else:
            left[where] = value
    return left


def unknown_extension(version: str, fields: dict[str, Any]) -> Extension:
    return make(UNKNOWN_FIELDS, {"specVersion": version, "fields": fields})

"""Disclosure levels: how much of a computed footprint leaves for one recipient.

Why: the engine's details (each input's kgCO2e, supplier names, upstream ids) are the supplier's bill of materials
and cost structure. What a recipient gets is the PACT footprint plus only what its owner chose for that recipient:

- `summary` (the default): the PACT fields and the extensions that are not the engine's details (signature,
  provenance digests of the upstream footprints, unknown fields kept from a peer). No line items, no supplier or
  upstream names, no model digest.
- `breakdown`: summary plus totals by gas, by category (fossil, biogenic non-CO2, land-use change) and by life-cycle
  stage, in the `breakdown` extension: enough for a buyer to recharacterise with another GWP set, no line items.
- `full`: today's computed-details extension, every line item included.

The level is applied to the canonical footprint before it is marshalled and signed, so each variant is a document of
its own with its own signature (docs/tiers.md, docs/decisions.md).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lca_models.footprint import Footprint

from . import own_extensions as own

SUMMARY, BREAKDOWN, FULL = "summary", "breakdown", "full"
LEVELS = (SUMMARY, BREAKDOWN, FULL)  # in increasing order of what they disclose
DEFAULT_LEVEL = SUMMARY


def check_level(level: str) -> str:
    """`level` if it is one of LEVELS; ValueError naming the known ones otherwise."""
    if level not in LEVELS:
        raise ValueError(f"unknown disclosure level {level!r}: one of {', '.join(LEVELS)}")
    return level


def widest(levels: list[str]) -> str:
    """The level that discloses most among `levels` (SUMMARY for none)."""
    return max(levels, key=LEVELS.index, default=SUMMARY)


def breakdown_data(footprint: Footprint) -> dict[str, Any] | None:
    """The totals the `breakdown` level discloses, as extension data; None without computed details."""
    computed = footprint.computed
    if computed is None:
        return None
    text = lambda value: format(value, "f")  # noqa: E731 - decimals as exact JSON strings, as computed details
    return {"gwpSet": computed.provenance.gwp_set,
            "byGas": {gas: text(v) for gas, v in computed.by_gas.items()},
            "byCategory": {category: text(v) for category, v in computed.by_category.items()},
            "byStage": {stage: text(v) for stage, v in computed.by_stage.items()}}


def disclosed(footprint: Footprint, level: str) -> Footprint:
    """The footprint as it may leave at `level`: the engine's details removed or reduced to totals."""
    check_level(level)
    if level == FULL:
        return footprint
    extensions = footprint.extensions
    data = breakdown_data(footprint) if level == BREAKDOWN else None
    if level == SUMMARY or data is not None:  # a breakdown read from a document stays at BREAKDOWN
        extensions = own.without(extensions, own.BREAKDOWN)
    if data is not None:
        extensions += (own.make(own.BREAKDOWN, data),)
    return dataclasses.replace(footprint, computed=None, extensions=extensions)


def level_of(footprint: Footprint) -> str:
    """The level a footprint (e.g. one read from a PACT document) carries."""
    if footprint.computed is not None:
        return FULL
    return BREAKDOWN if own.find(footprint.extensions, own.BREAKDOWN) is not None else SUMMARY

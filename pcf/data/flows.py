"""Elementary flows of imported databases mapped onto the project's GHG flows (`lca_models/data/flow_mapping.csv`).

One table for every format: an exchange maps when its name (case-insensitive) and top-level compartment are a
row of the table and its unit is kilogram. Names follow the nomenclature of the database (ecoinvent 3 for
EcoSpold2 and most openLCA exports, SimaPro's own after bw2io's renaming, EF 3.x); the table cites where each
comes from. An unmapped flow whose name looks like a greenhouse gas is reported, never dropped as "not a GHG".
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from lca_models.errors import DataError
from lca_models.gwp import elementary_flows

MAPPING_FILE = "flow_mapping.csv"
KILOGRAM = ("kilogram", "kg")

# Names that are greenhouse gases whatever the table says: an unmapped one fails the import unless allowed.
GHG_LOOKALIKE = re.compile(
    r"\bcarbon dioxide\b|\bmethane\b|\bdinitrogen monoxide\b|\bnitrous oxide\b|hexafluoride|\bnitrogen (tri)?fluoride\b"
    r"|\b(?:hfc|pfc|cfc|hcfc|halon)s?\b|fluoro|\bsf6\b|\bn2o\b|\bch4\b|\bco2\b|\bnf3\b",
    re.IGNORECASE,
)

# Top-level compartments as the formats spell them -> the table's words.
_COMPARTMENTS = {
    "air": "air", "emissions to air": "air", "emission to air": "air",
    "water": "water", "emissions to water": "water", "emission to water": "water",
    "soil": "soil", "emissions to soil": "soil", "emission to soil": "soil",
    "natural resource": "natural resource", "resource": "natural resource", "resources": "natural resource",
    "raw": "natural resource", "raw materials": "natural resource",
}
_SKIPPED_LEVELS = ("", "elementary flows")


@dataclass(frozen=True)
class FlowRule:
    """One row of the mapping table."""

    name: str
    compartment: str
    flow: str
    nomenclature: str
    source: str


@cache
def mapping() -> dict[tuple[str, str], FlowRule]:
    """(folded name, compartment) -> rule; every target is a flow of gwp100.csv."""
    text = resources.files("lca_models").joinpath(f"data/{MAPPING_FILE}").read_text(encoding="utf-8")
    known = elementary_flows()
    rules: dict[tuple[str, str], FlowRule] = {}
    for line, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        rule = FlowRule(row["name"].strip(), row["compartment"].strip(), row["flow"].strip(),
                        row["nomenclature"].strip(), row["source"].strip())
        if rule.flow not in known:
            raise DataError(f"{MAPPING_FILE} line {line}: unknown flow {rule.flow!r}")
        key = (fold(rule.name), rule.compartment)
        if key in rules:
            raise DataError(f"{MAPPING_FILE} line {line}: {rule.name!r} ({rule.compartment}) mapped twice")
        rules[key] = rule
    return rules


@cache
def mapping_digest() -> str:
    """sha256 of the table, part of every import's digest: a changed mapping is a different import."""
    text = resources.files("lca_models").joinpath(f"data/{MAPPING_FILE}").read_text(encoding="utf-8")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def fold(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def top_compartment(categories: Iterable[str] | str | None) -> str | None:
    """('Elementary flows', 'Emission to air', 'unspecified') / ('Emissions to air',) / ('air', 'urban') -> 'air'."""
    if isinstance(categories, str):
        categories = categories.split("/")
    for part in categories or ():
        key = fold(part)
        if key in _SKIPPED_LEVELS:
            continue
        return _COMPARTMENTS.get(key, key)
    return None


def flow_for(name: str | None, categories: Iterable[str] | str | None, unit: str | None) -> str | None:
    """The project flow an elementary exchange maps onto, or None."""
    rule = mapping().get((fold(name), top_compartment(categories) or ""))
    if rule is None or fold(unit) not in KILOGRAM:
        return None
    return rule.flow


def looks_like_ghg(name: str | None) -> bool:
    return bool(GHG_LOOKALIKE.search(name or ""))

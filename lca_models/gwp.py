"""GWP100 sets (IPCC AR5, AR6) and the elementary flows they characterise, from `data/gwp100.csv`."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources

from .errors import DataError

GWP_SETS = ("AR6", "AR5")
DEFAULT_GWP = "AR6"


@dataclass(frozen=True)
class ElementaryFlow:
    """An emission (or removal) the engine tracks, with its GWP100 in each IPCC set."""

    id: str
    name: str
    gas: str
    category: str  # fossil | biogenic_non_co2 | land_use_change | biogenic_uptake | biogenic_co2_emissions
    counts_in_pcf: bool
    gwp: dict[str, Decimal]
    source: str


@cache
def elementary_flows() -> dict[str, ElementaryFlow]:
    """All flows by id, read once from the bundled, cited table."""
    flows: dict[str, ElementaryFlow] = {}
    text = resources.files("lca_models").joinpath("data/gwp100.csv").read_text(encoding="utf-8")
    for line, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            flows[row["flow"]] = ElementaryFlow(
                id=row["flow"],
                name=row["name"],
                gas=row["gas"],
                category=row["category"],
                counts_in_pcf=row["counts_in_pcf"] == "true",
                gwp={"AR5": Decimal(row["ar5"]), "AR6": Decimal(row["ar6"])},
                source=row["source"],
            )
        except (KeyError, ArithmeticError) as exc:
            raise DataError(f"gwp100.csv line {line}: {exc}") from exc
    return flows


def normalise_gwp_set(name: str) -> str:
    """'ar6' -> 'AR6'; ValueError for sets we do not ship."""
    upper = name.strip().upper()
    if upper not in GWP_SETS:
        raise ValueError(f"unknown GWP set {name!r}: use one of {', '.join(GWP_SETS)}")
    return upper

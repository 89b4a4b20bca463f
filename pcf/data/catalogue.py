"""Every dataset a model can use, in one list: bundled background data, imported databases, user factor libraries.

For `pcf data list|show|search`: each entry with its unit, kgCO2e per unit by gas (under a GWP set) and source,
computed from what the engine itself uses: the bundled rows, an imported activity's cumulative inventory, a
library row. Values are per one unit of the dataset, cradle to gate, flows that count in a PCF only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from lca_models import background
from lca_models.factor_library import load_library
from lca_models.gwp import elementary_flows

from ..engine.imported import ImportedDatabase, read_registry


@dataclass(frozen=True)
class Entry:
    """One dataset as a model names it (`ref`), with its per-unit footprint by gas."""

    origin: str  # "bundled", "imported <database>", "library <file>"
    ref: str  # what a model writes: a dataset id, "<database>/<activity name>", a factor id
    name: str
    unit: str
    location: str
    by_gas: dict[str, Decimal]
    source: str
    detail: str = ""  # reference product of an imported activity

    @property
    def kgco2e(self) -> Decimal:
        return sum(self.by_gas.values(), Decimal(0))

    def to_json(self) -> dict:
        return {"origin": self.origin, "ref": self.ref, "name": self.name, "reference_product": self.detail or None,
                "unit": self.unit, "location": self.location, "kgco2e": str(self.kgco2e),
                "by_gas": {gas: str(value) for gas, value in self.by_gas.items()}, "source": self.source}


def by_gas(flows: Iterable[tuple[str, Decimal]], gwp: str) -> dict[str, Decimal]:
    """kgCO2e per gas of (flow, kg) pairs, flows that count in a PCF only, gases in a stable order."""
    table = elementary_flows()
    totals: dict[str, Decimal] = {}
    for flow, amount in flows:
        if table[flow].counts_in_pcf and amount:
            gas = table[flow].gas
            totals[gas] = totals.get(gas, Decimal(0)) + amount * table[flow].gwp[gwp]
    return dict(sorted(totals.items()))


def bundled(gwp: str) -> Iterator[Entry]:
    for dataset in background.catalogue().values():
        yield Entry("bundled", dataset.id, dataset.name, dataset.unit, dataset.location,
                    by_gas(dataset.exchanges, gwp), f"{dataset.source} ({dataset.year})")


def imported_entries(database: ImportedDatabase, gwp: str) -> Iterator[Entry]:
    source = f"{database.format} import of {database.source} ({database.imported_at})"
    for activity in database.activities:
        yield Entry(f"imported {database.name}", f"{database.name}/{activity.name}", activity.name, activity.unit,
                    activity.location, by_gas(database.inventory(activity), gwp), source, activity.reference_product)


def library(path: Path, gwp: str) -> Iterator[Entry]:
    for factor in load_library(path).values():
        yield Entry(f"library {path.name}", factor.id, factor.name, factor.unit, factor.geography or "",
                    by_gas(factor.flows, gwp), f"{factor.source} ({factor.year})")


def entries(data_dir: Path, gwp: str, libraries: Iterable[Path] = (), database: str | None = None) -> Iterator[Entry]:
    """Bundled datasets, then every imported database (or only `database`), then the libraries given."""
    if database is None:
        yield from bundled(gwp)
    for name, entry in read_registry(data_dir).items():
        if database is None or name == database:
            yield from imported_entries(entry, gwp)
    if database is None:
        for path in libraries:
            yield from library(path, gwp)


def search(items: Iterable[Entry], words: str) -> list[Entry]:
    """Entries whose ref, name, reference product or location contain every word (case-insensitive)."""
    terms = words.casefold().split()
    return [e for e in items if all(t in f"{e.ref} {e.name} {e.detail} {e.location}".casefold() for t in terms)]

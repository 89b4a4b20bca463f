"""Databases imported into the project (`pcf data import`): the registry beside them and what the engine reads.

An imported database is written into the Brightway project like any other; beside it, under
`<data dir>/imports/`, the registry (`registry.json`: name, format, source digest, time, counts, the import
report) and, per database, the index of its activities (name, reference product, location, unit) and the
per-unit cumulative inventory of every product over the project's elementary flows, computed once at import
by the batch path (`pcf.engine.batch`). A model input naming an imported activity becomes an aggregated
activity of the model's foreground carrying that inventory: exact by linearity (the background never consumes
the foreground), and the model's matrix stays the size of the model, whatever the size of the database.

A re-import of the same name writes new files and a new Brightway database under a new digest first and
switches the registry (one atomic `os.replace`) last, so a failed import leaves the previous one intact.
"""

from __future__ import annotations

import difflib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path

import numpy as np

from lca_models.errors import ModelError
from lca_models.model import ActivityRef
from lca_models.strict_json import loads as strict_loads

REGISTRY_FILE = "registry.json"
ACTIVITIES_FILE = "activities.json"
INVENTORY_FILE = "inventory.npz"
SIGNIFICANT_DIGITS = 7  # Brightway's single precision (docs/decisions.md "Precision")


def imports_dir(data_dir: Path) -> Path:
    """Where imported databases keep their registry, indexes and inventories."""
    return data_dir / "imports"


@dataclass(frozen=True)
class ImportedActivity:
    """An activity a model can name: what it is called and the node whose product is demanded."""

    code: str  # the process node's code
    product_code: str  # the node a demand or an input points at (the same node, except openLCA imports)
    name: str
    reference_product: str
    location: str
    unit: str  # a Brightway unit name ("kilogram", "kilowatt hour", ...)
    row: int  # row of `inventory`

    def describe(self) -> str:
        return f"{self.name!r} | {self.reference_product or '-'} | {self.location or '-'} | {self.unit or '-'}"


@dataclass(frozen=True)
class ImportedDatabase:
    """One registry entry: a database imported with `pcf data import`, and where its files are."""

    name: str
    format: str
    source: str  # the file or folder imported, as given
    source_digest: str  # sha256 of the source bytes (and the import options)
    digest: str  # identifies this import: source digest, options, mapping and biosphere version
    imported_at: str
    brightway_database: str
    biosphere: str  # the project's biosphere the elementary flows were mapped onto
    counts: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    directory: Path | None = field(default=None, compare=False)

    @cached_property
    def activities(self) -> tuple[ImportedActivity, ...]:
        rows = strict_loads((self.directory / ACTIVITIES_FILE).read_bytes())
        return tuple(ImportedActivity(**row) for row in rows)

    @cached_property
    def _inventory(self) -> tuple[tuple[str, ...], np.ndarray]:
        with np.load(self.directory / INVENTORY_FILE, allow_pickle=False) as stored:
            return tuple(str(flow) for flow in stored["flows"]), stored["lci"]

    @property
    def flows(self) -> tuple[str, ...]:
        return self._inventory[0]

    def inventory(self, activity: ImportedActivity) -> tuple[tuple[str, Decimal], ...]:
        """kg of each project flow per unit of the activity's product, cradle to gate (non-zero flows only)."""
        flows, lci = self._inventory
        return tuple((flow, to_decimal(value)) for flow, value in zip(flows, lci[activity.row]) if value != 0)

    def find(self, name: str, reference_product: str | None = None, location: str | None = None,
             unit: str | None = None) -> ImportedActivity:
        """The one activity with this name (and product, location, unit where given); ModelError with the
        closest matches when there is none, or with the candidates when several match."""
        wanted = _fold(name)
        named = [a for a in self.activities if _fold(a.name) == wanted]
        matches = [a for a in named
                   if (reference_product is None or _fold(a.reference_product) == _fold(reference_product))
                   and (location is None or _fold(a.location) == _fold(location))
                   and (unit is None or _fold(a.unit) == _fold(unit))]
        if len(matches) == 1:
            return matches[0]
        if matches:
            listed = "; ".join(a.describe() for a in matches[:5])
            raise ModelError(f"{len(matches)} activities of {self.name!r} match: give reference_product, "
                             f"location or unit to choose one ({listed})")
        candidates = named or self._closest(name)
        hint = f" (did you mean {'; '.join(a.describe() for a in candidates[:3])}?)" if candidates else ""
        raise ModelError(f"no activity {_describe_query(name, reference_product, location, unit)} in imported "
                         f"database {self.name!r}{hint}")

    def _closest(self, name: str) -> list[ImportedActivity]:
        by_name: dict[str, list[ImportedActivity]] = {}
        for activity in self.activities:
            by_name.setdefault(_fold(activity.name), []).append(activity)
        close = difflib.get_close_matches(_fold(name), list(by_name), n=3, cutoff=0.5)
        return [a for key in close for a in by_name[key]]

    def search(self, words: str) -> list[ImportedActivity]:
        """Activities whose name, product or location contain every word (case-insensitive)."""
        terms = _fold(words).split()
        return [a for a in self.activities
                if all(term in _fold(f"{a.name} {a.reference_product} {a.location}") for term in terms)]


def _fold(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def _describe_query(name: str, product: str | None, location: str | None, unit: str | None) -> str:
    extra = [f"{label} {value!r}" for label, value in (("product", product), ("location", location), ("unit", unit))
             if value is not None]
    return f"{name!r}" + (f" ({', '.join(extra)})" if extra else "")


def to_decimal(value: float, digits: int = SIGNIFICANT_DIGITS) -> Decimal:
    """A float computed from Brightway's matrices as a Decimal with the precision those matrices have."""
    if value == 0 or not np.isfinite(value):
        return Decimal(0)
    return Decimal(f"{value:.{digits}g}").normalize() + Decimal(0)


def read_registry(data_dir: Path) -> dict[str, ImportedDatabase]:
    """Every imported database of the data dir by name (empty when nothing was imported)."""
    directory = imports_dir(data_dir)
    path = directory / REGISTRY_FILE
    if not path.is_file():
        return {}
    try:
        entries = strict_loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ModelError(f"the registry of imported databases cannot be read: {exc}", file=str(path)) from None
    return {name: ImportedDatabase(**entry, directory=directory / entry["brightway_database"])
            for name, entry in entries.items()}


def imported_database(data_dir: Path, name: str) -> ImportedDatabase:
    """The imported database `name`; ModelError naming the imported ones (closest first) when unknown."""
    registry = read_registry(data_dir)
    if name in registry:
        return registry[name]
    close = difflib.get_close_matches(name, list(registry), n=3, cutoff=0.5)
    known = ", ".join(repr(n) for n in close or sorted(registry)) or "none: run `pcf data import` first"
    raise ModelError(f"no imported database {name!r} in {imports_dir(data_dir)} "
                     f"({'did you mean' if close else 'imported'}: {known})")


def write_files(data_dir: Path, brightway_database: str, activities: list[ImportedActivity],
                flows: list[str], lci: np.ndarray) -> Path:
    """The index and inventory of one import, in its own folder (written before the registry points at it)."""
    folder = imports_dir(data_dir) / brightway_database
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_write(folder / ACTIVITIES_FILE, json.dumps([asdict(a) for a in activities], ensure_ascii=False).encode())
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".npz", delete=False) as handle:
        np.savez(handle, flows=np.array(flows, dtype=str), lci=lci)
    os.replace(handle.name, folder / INVENTORY_FILE)
    return folder


def record(data_dir: Path, entry: ImportedDatabase) -> ImportedDatabase | None:
    """Point the registry at `entry` (one atomic replace); returns the entry it replaced, if any."""
    registry = read_registry(data_dir)
    previous = registry.get(entry.name)
    registry[entry.name] = entry
    _write_registry(data_dir, registry)
    return previous


def forget(data_dir: Path, name: str) -> ImportedDatabase | None:
    """Remove `name` from the registry; returns its entry so the caller can delete its database and files."""
    registry = read_registry(data_dir)
    previous = registry.pop(name, None)
    if previous is not None:
        _write_registry(data_dir, registry)
    return previous


def _write_registry(data_dir: Path, registry: dict[str, ImportedDatabase]) -> None:
    entries = {}
    for name, entry in sorted(registry.items()):
        data = asdict(entry)
        data.pop("directory")
        entries[name] = data
    imports_dir(data_dir).mkdir(parents=True, exist_ok=True)
    _atomic_write(imports_dir(data_dir) / REGISTRY_FILE, json.dumps(entries, indent=2, ensure_ascii=False).encode())


def _atomic_write(path: Path, content: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, path)


class ImportedCatalogue:
    """The imported databases of one data dir, read once on first use: what a model's `activity:` inputs name."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._registry: dict[str, ImportedDatabase] | None = None

    def database(self, name: str) -> ImportedDatabase:
        """The imported database `name`; ModelError with the closest names when there is none."""
        if self._registry is None:
            self._registry = read_registry(self.data_dir)
        if name not in self._registry:
            imported_database(self.data_dir, name)  # raises, naming the imported ones
        return self._registry[name]

    def resolve(self, ref: ActivityRef) -> tuple[ImportedDatabase, ImportedActivity]:
        """The database and activity `ref` names; ModelError (at `ref.path`) with a did-you-mean on a miss."""
        try:
            database = self.database(ref.database)
            return database, database.find(ref.name, ref.reference_product, ref.location, ref.unit)
        except ModelError as exc:
            raise ModelError(exc.reason, ref.path) from None

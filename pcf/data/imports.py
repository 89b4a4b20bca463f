"""`pcf data import`: EcoSpold2, SimaPro CSV and openLCA JSON-LD databases through bw2io into the project.

bw2io reads and links each format; what it does silently is refused or reported here (docs/data.md):
EcoSpold2 deletes technosphere inputs it cannot link (those strategies are dropped, so the inputs are reported
as unlinked); a SimaPro multi-output process with a zero or missing allocation share would get no burden at all
(refused); the JSON-LD importer reads no zip and mixes olca-schema v1 and v2 keys (the zip is unpacked within
limits and the keys are filled in both ways); no importer links onto the project's own biosphere, so every
format goes through one mapping table (`pcf.data.flows`). Then, per import:

* unlinked technosphere exchanges are listed and fail the import unless `allow_unlinked` (then they are left
  out, and the registry records that they were);
* elementary flows are mapped onto the project's GHG flows; unmapped flows that look like a GHG fail the import
  unless `allow_unmapped`; other elementary flows (not GHGs) are dropped and counted;
* the database is written under a new Brightway name, its per-unit cumulative inventory is computed by the batch
  path, and the registry switches to it last (`pcf.engine.imported`): a failure leaves the previous import.

bw2io is imported only after `open_project()` (importing it creates a cache folder in Brightway's data dir).
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import math
import re
import shutil
import tempfile
import uuid
import warnings
import zipfile
from collections import Counter
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

import numpy as np

from exchange.xlsx_limits import XlsxLimitError, XlsxLimits, check_xlsx
from lca_models.errors import ModelError

from ..engine import imported
from ..engine.batch import load
from ..engine.project import ensure_shared_databases, gases, open_project
from . import flows

FORMATS = ("ecospold2", "simapro", "olca-jsonld")
FORMAT_NAMES = {"ecospold2": "EcoSpold2", "simapro": "SimaPro CSV", "olca-jsonld": "openLCA JSON-LD"}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
TECHNOSPHERE_KINDS = ("technosphere", "production", "substitution", "generic consumption")
# An openLCA export of a whole database is large; these bound a hostile zip, not a real export.
OLCA_ZIP_LIMITS = XlsxLimits(max_file_bytes=4 * 1024**3, max_members=2_000_000, max_member_bytes=256 * 1024**2,
                             max_total_bytes=16 * 1024**3, max_ratio=200.0)
SIMAPRO_SEPARATORS = {"semicolon": ";", "comma": ",", "tab": "\t"}
_SAMPLE = 5  # activities named per reported exchange


class DataImportError(ModelError):
    """An import refused: `file` is the source, `reason` what to do; `report` holds the full findings when read."""

    def __init__(self, reason: str, file: str, report: ImportReport | None = None) -> None:
        super().__init__(reason, file=file)
        self.report = report


@dataclass(frozen=True)
class Finding:
    """Exchanges of one kind that share name, unit and compartment/location, and where they occur."""

    kind: str
    name: str
    unit: str
    where: str  # compartment of an elementary flow, or location of a product
    count: int
    activities: tuple[str, ...]

    def line(self) -> str:
        place = f" [{self.where}]" if self.where else ""
        seen = ", ".join(self.activities) + (" ..." if self.count > len(self.activities) else "")
        return f"{self.kind} {self.name!r} ({self.unit or 'no unit'}){place} x{self.count} in: {seen}"


@dataclass
class ImportReport:
    """What an import found and did, kept in the registry and printed by the CLI."""

    name: str
    format: str
    source: str
    activities: int = 0
    exchanges: int = 0
    mapped: dict[str, int] = field(default_factory=dict)  # project flow -> exchanges mapped onto it
    unlinked: list[Finding] = field(default_factory=list)
    unmapped_ghg: list[Finding] = field(default_factory=list)
    dropped_non_ghg: int = 0  # exchanges of elementary flows that are not GHGs
    dropped_non_ghg_flows: int = 0  # distinct flows among them
    allowed_unlinked: bool = False
    allowed_unmapped: bool = False

    def problems(self) -> list[str]:
        """One line per refused finding (empty when the import may proceed)."""
        lines = []
        if self.unlinked and not self.allowed_unlinked:
            lines += [f"unlinked {f.line()}" for f in self.unlinked]
            lines.append(f"{len(self.unlinked)} unlinked exchange(s): fix the source, or pass --allow-unlinked to "
                         "import without them (recorded in the registry; their burdens are then missing)")
        if self.unmapped_ghg and not self.allowed_unmapped:
            lines += [f"unmapped GHG {f.line()}" for f in self.unmapped_ghg]
            lines.append(f"{len(self.unmapped_ghg)} greenhouse-gas flow(s) not in lca_models/data/flow_mapping.csv: "
                         "add them there, or pass --allow-unmapped to import without them (recorded)")
        return lines

    def to_json(self) -> dict:
        def findings(items: list[Finding]) -> list[dict]:
            return [{"kind": f.kind, "name": f.name, "unit": f.unit, "where": f.where, "count": f.count,
                     "activities": list(f.activities)} for f in items]

        return {"activities": self.activities, "exchanges": self.exchanges, "mapped": dict(sorted(self.mapped.items())),
                "unlinked": findings(self.unlinked), "unmapped_ghg": findings(self.unmapped_ghg),
                "dropped_non_ghg": self.dropped_non_ghg, "dropped_non_ghg_flows": self.dropped_non_ghg_flows,
                "allowed_unlinked": self.allowed_unlinked, "allowed_unmapped": self.allowed_unmapped}


def import_database(fmt: str, source: Path, name: str, data_dir: Path, *, allow_unlinked: bool = False,
                    allow_unmapped: bool = False, clock=None) -> tuple[imported.ImportedDatabase, ImportReport]:
    """Import `source` as database `name` of the project in `data_dir`, replacing an earlier import of that name.

    Raises DataImportError (naming the source) for an unreadable file, a refused structure, unlinked exchanges
    or unmapped GHG flows; nothing is changed then.
    """
    if fmt not in FORMATS:
        raise DataImportError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})", str(source))
    if not NAME.match(name):
        raise DataImportError(f"database name {name!r}: use 1-64 letters, digits, '_', '-' or '.'", str(source))
    source_digest = _source_digest(fmt, source)
    bw = open_project(data_dir)
    shared = ensure_shared_databases(bw)
    options = f"allow_unlinked={allow_unlinked};allow_unmapped={allow_unmapped}"
    digest = hashlib.sha256(";".join((fmt, source_digest, options, flows.mapping_digest(), shared.biosphere))
                            .encode()).hexdigest()
    bw_name = f"pcf-import-{name}-{uuid.uuid4().hex[:8]}"
    report = ImportReport(name, fmt, str(source), allowed_unlinked=allow_unlinked, allowed_unmapped=allow_unmapped)
    bio = _bw2io()
    with _quiet():
        importer = READERS[fmt](bio, source, bw_name, shared.biosphere)
    data = importer.data
    _check_amounts(data, source)
    _classify(data, shared.biosphere, report)
    problems = report.problems()
    if problems:
        raise DataImportError("\n".join(problems), str(source), report)
    _drop_refused(data, shared.biosphere)
    report.exchanges = sum(len(ds.get("exchanges", ())) for ds in data)
    try:
        with _quiet():
            importer.write_database()
    except Exception:
        _discard(bw, bw_name, None)
        raise
    entry = register(data_dir, name, bw_name, fmt=fmt, source=str(source), source_digest=source_digest,
                     digest=digest[:16], report=report, clock=clock)
    return entry, report


def register(data_dir: Path, name: str, bw_name: str, *, fmt: str, source: str, source_digest: str, digest: str,
             report: ImportReport, clock=None) -> imported.ImportedDatabase:
    """Make a database written into the project (`bw_name`) the import `name`: its activity index and per-unit
    cumulative inventory (the batch path), then the registry entry, replacing and deleting an earlier `name`.

    The database is deleted again if this fails, so nothing half-registered stays behind.
    """
    bw = open_project(data_dir)
    shared = ensure_shared_databases(bw)
    folder = None
    try:
        activities, flow_ids, lci = _inventory(bw, bw_name, shared)
        report.activities = len(activities)
        folder = imported.write_files(data_dir, bw_name, activities, flow_ids, lci)
        now = (clock or (lambda: datetime.now(timezone.utc)))().replace(microsecond=0).isoformat()
        entry = imported.ImportedDatabase(
            name=name, format=fmt, source=source, source_digest=source_digest, digest=digest, imported_at=now,
            brightway_database=bw_name, biosphere=shared.biosphere,
            counts={"activities": len(activities), "exchanges": report.exchanges},
            report=report.to_json(), directory=folder)
        previous = imported.record(data_dir, entry)
    except Exception:
        _discard(bw, bw_name, folder)
        raise
    if previous is not None and previous.brightway_database != bw_name:
        _discard(bw, previous.brightway_database, previous.directory)
    return entry


def remove_database(name: str, data_dir: Path) -> imported.ImportedDatabase:
    """Forget an imported database and delete its Brightway database and files; ModelError when unknown."""
    imported.imported_database(data_dir, name)  # the error names the imported ones
    bw = open_project(data_dir)
    entry = imported.forget(data_dir, name)
    _discard(bw, entry.brightway_database, entry.directory)
    return entry


def _discard(bw: ModuleType, bw_name: str, folder: Path | None) -> None:
    if bw_name in bw.databases:
        del bw.databases[bw_name]
    if folder is not None and folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)


def _bw2io() -> ModuleType:
    """bw2io, quietly: it warns at import about an optional extra we do not install."""
    logging.getLogger("bw2io").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import bw2io
    return bw2io


@contextmanager
def _quiet():
    """bw2io prints progress and warns about ecoinvent migrations we do not use; keep the CLI's output clean."""
    with redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --- sources

def _source_digest(fmt: str, source: Path) -> str:
    digest = hashlib.sha256(fmt.encode())
    if fmt == "ecospold2":
        if not source.is_dir():
            raise DataImportError("not a folder (give the folder holding the .spold files)", str(source))
        files = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() == ".spold")
        if not files:
            raise DataImportError("no .spold files in this folder", str(source))
        for path in files:
            digest.update(path.name.encode())
            digest.update(_read_bytes(path))
    else:
        if not source.is_file():
            raise DataImportError("file not found", str(source))
        digest.update(_read_bytes(source))
    return digest.hexdigest()


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataImportError(f"cannot read: {exc.strerror or exc}", str(path)) from None


def _strategy_name(strategy) -> str:
    return getattr(strategy, "__name__", None) or getattr(getattr(strategy, "func", None), "__name__", "")


def _apply(importer, strategies: list) -> None:
    """bw2io's `apply_strategy` prints a StrategyError and goes on; here any failure stops the import."""
    for strategy in strategies:
        importer.data = strategy(importer.data)


# --- EcoSpold2

def _es2_extractor(bio: ModuleType):
    from bw2io.extractors.ecospold2 import Ecospold2DataExtractor

    class WithCompartments(Ecospold2DataExtractor):
        """bw2io's extractor drops an elementary exchange's compartment, which the mapping table needs."""

        @classmethod
        def extract_exchange(cls, exc):
            data = super().extract_exchange(exc)
            if data["type"] == "biosphere" and hasattr(exc, "compartment"):
                parts = (getattr(exc.compartment, "compartment", None), getattr(exc.compartment, "subcompartment", None))
                data["categories"] = tuple(p.text for p in parts if p is not None and p.text)
            return data

    return WithCompartments


# bw2io deletes the technosphere inputs it cannot link (and only logs it), links elementary flows by ecoinvent
# UUID (never ours) and applies an ecoinvent 3.4 migration: these are replaced by our own checks and mapping.
_ES2_SKIPPED = {"delete_exchanges_missing_activity", "delete_ghost_exchanges", "fix_ecoinvent_flows_pre35",
                "link_biosphere_by_flow_uuid", "update_social_flows_in_older_consequential"}


def _read_ecospold2(bio: ModuleType, source: Path, bw_name: str, biosphere: str):
    try:
        # use_mp=False: the multiprocessing path calls the base extractor by name and loses the compartments
        importer = bio.SingleOutputEcospold2Importer(str(source), bw_name, biosphere_database_name=biosphere,
                                                     extractor=_es2_extractor(bio), use_mp=False,
                                                     add_product_information=False)
    except Exception as exc:  # lxml and bw2io raise many kinds for a malformed dataset
        raise DataImportError(f"not readable as EcoSpold2: {type(exc).__name__}: {exc}", str(source)) from None
    several = sorted(ds.get("filename", ds.get("name", "?")) for ds in importer.data
                     if sum(1 for e in ds["exchanges"] if e["type"] == "production" and e["amount"]) != 1)
    if several:
        raise DataImportError(
            "EcoSpold2 datasets must have exactly one product with a non-zero amount (export allocated, "
            f"single-output datasets, as ecoinvent's system models ship them): {', '.join(several[:_SAMPLE])}",
            str(source))
    strategies = [s for s in importer.strategies if _strategy_name(s) not in _ES2_SKIPPED]
    strategies.append(functools.partial(_link_flows, biosphere=biosphere))
    try:
        _apply(importer, strategies)
    except Exception as exc:
        raise DataImportError(f"EcoSpold2 datasets could not be linked: {type(exc).__name__}: {exc}", str(source)) from None
    return importer


# --- SimaPro CSV

def _simapro_format(raw: bytes, source: Path) -> tuple[str, str]:
    """(encoding, separator). SimaPro writes Windows-1252; a file re-saved as UTF-8 would be read as mojibake
    under bw2io's latin-1 default without any error, so UTF-8 is tried first."""
    try:
        text, encoding = raw.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError:
        text, encoding = raw.decode("cp1252", errors="replace"), "cp1252"
    head = text[:4096]
    if "simapro" not in head.splitlines()[0].lower() if head else True:
        raise DataImportError("not a SimaPro CSV export (its first line names SimaPro)", str(source))
    found = re.search(r"\{CSV separator:\s*(\w+)\}", head, re.IGNORECASE)
    separator = SIMAPRO_SEPARATORS.get(found.group(1).lower(), ";") if found else ";"
    decimal = re.search(r"\{Decimal separator:\s*(.)\}", head)
    if decimal and decimal.group(1) == "," and re.search(r"\d\.\d{3},\d", text):
        raise DataImportError("numbers with thousands separators (e.g. 1.000,5) cannot be read: export without "
                              "digit grouping", str(source))
    return encoding, separator


def _check_simapro_allocation(data: list[dict], source: Path) -> None:
    """bw2io gives a co-product with a zero or missing allocation share no inputs and no emissions at all
    (`fix_zero_allocation_products`): every share must be > 0 and the shares of a process must sum to 100 %."""
    bad = []
    for ds in data:
        products = [e for e in ds["exchanges"] if e["type"] == "production"]
        if len(products) < 2:
            continue
        shares = [p.get("allocation") for p in products]
        if not all(isinstance(s, (int, float)) and s > 0 for s in shares) or abs(sum(shares) - 100) > 1e-6:
            name = ds.get("simapro metadata", {}).get("Process name") or ds.get("name")
            bad.append(f"{name!r} {shares}")
    if bad:
        raise DataImportError("multi-output processes need an allocation share > 0 % for every product, summing "
                              "to 100 % (a zero share would silently give the product no burden): "
                              + "; ".join(bad[:_SAMPLE]), str(source))


def _ensure_simapro_migrations(bio: ModuleType) -> None:
    """The two bw2io migrations SimaPro's strategies need, from tables bundled in bw2io (no download; the full
    `create_core_migrations()` would take 16 s and write 164 MB into the project)."""
    from bw2io.migrations import Migration, get_default_units_migration_data, get_simapro_water_migration_data

    if "default-units" not in bio.migrations:
        Migration("default-units").write(get_default_units_migration_data(), "Convert to default units")
    if "simapro-water" not in bio.migrations:
        Migration("simapro-water").write(get_simapro_water_migration_data(), "SimaPro water flows")


def _read_simapro(bio: ModuleType, source: Path, bw_name: str, biosphere: str):
    encoding, separator = _simapro_format(_read_bytes(source), source)
    _ensure_simapro_migrations(bio)
    try:
        importer = bio.SimaProCSVImporter(str(source), bw_name, delimiter=separator, encoding=encoding,
                                          biosphere_db=biosphere)
    except Exception as exc:
        raise DataImportError(f"not readable as SimaPro CSV: {type(exc).__name__}: {exc}", str(source)) from None
    _check_simapro_allocation(importer.data, source)
    strategies = [s for s in importer.strategies if _strategy_name(s) != "link_iterable_by_fields"]
    strategies.append(functools.partial(_link_flows, biosphere=biosphere))
    try:
        _apply(importer, strategies)
    except Exception as exc:
        raise DataImportError(f"SimaPro processes could not be linked: {type(exc).__name__}: {exc}", str(source)) from None
    return importer


# --- openLCA JSON-LD

def _unzip(source: Path, target: Path) -> Path:
    """Unpack an openLCA export within limits (bw2io reads folders only); returns the folder with processes/."""
    if not zipfile.is_zipfile(source):
        raise DataImportError("not a zip file (export the database from openLCA as JSON-LD zip)", str(source))
    try:
        check_xlsx(source, OLCA_ZIP_LIMITS)  # the repository's zip-bomb limits, sized for database exports
    except XlsxLimitError as exc:
        raise DataImportError(exc.reason, str(source)) from None
    with zipfile.ZipFile(source) as archive:
        for member in archive.infolist():
            parts = Path(member.filename).parts
            if member.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise DataImportError(f"unsafe path in the zip: {member.filename!r}", str(source))
            if (member.external_attr >> 16) & 0o170000 == 0o120000:
                raise DataImportError(f"symbolic link in the zip: {member.filename!r}", str(source))
        archive.extractall(target)
    root = target
    if not (root / "processes").is_dir():
        folders = [p for p in target.iterdir() if p.is_dir()]
        if len(folders) == 1 and (folders[0] / "processes").is_dir():
            root = folders[0]
    missing = [f for f in ("processes", "flows", "unit_groups", "locations") if not (root / f).is_dir()]
    if missing:
        raise DataImportError(f"not an openLCA JSON-LD export: no {', '.join(m + '/' for m in missing)} folder",
                              str(source))
    return root


def _olca_keys(data: dict) -> dict:
    """olca-schema v2 (openLCA 2) -> the mix of v1 and v2 keys bw2io 0.9.17 reads: it labels exchanges by
    `isInput` (v2) but allocates by `input` and `avoidedProduct` (v1), and splits a flow's `category` as a
    '/'-joined string (v2; v1 has a Ref object there)."""
    for process in data.get("processes", {}).values():
        for exc in process.get("exchanges", []):
            if "input" not in exc and "isInput" in exc:
                exc["input"] = exc["isInput"]
            if "isInput" not in exc and "input" in exc:
                exc["isInput"] = exc["input"]
            exc.setdefault("avoidedProduct", exc.get("isAvoidedProduct", False))
            if "quantitativeReference" not in exc and "isQuantitativeReference" in exc:
                exc["quantitativeReference"] = exc["isQuantitativeReference"]
    for flow in data.get("flows", {}).values():
        category = flow.get("category")
        if isinstance(category, dict):
            flow["category"] = "/".join([*category.get("categoryPath", []), category.get("name", "")])
    return data


def _read_olca(bio: ModuleType, source: Path, bw_name: str, biosphere: str):
    from bw2io.extractors.json_ld import JSONLDExtractor
    from bw2io.importers.json_ld import JSONLDImporter

    class Extractor(JSONLDExtractor):
        @classmethod
        def extract(cls, filepath, add_filename=True, **kwargs):
            return _olca_keys(super().extract(filepath, add_filename, **kwargs))

    class Importer(JSONLDImporter):
        extractor = Extractor

    with tempfile.TemporaryDirectory(prefix="pcf-olca-") as folder:
        root = _unzip(source, Path(folder))
        try:
            importer = Importer(root, bw_name)
        except Exception as exc:
            raise DataImportError(f"not readable as openLCA JSON-LD: {type(exc).__name__}: {exc}", str(source)) from None
    categories = {flow["code"]: flow.get("categories") for flow in importer.biosphere_database}
    strategies = list(importer.strategies)
    strategies.append(functools.partial(_link_flows, biosphere=biosphere, categories_of=categories.get,
                                        relink=True))
    try:
        _apply(importer, strategies)
    except Exception as exc:
        raise DataImportError(f"openLCA processes could not be linked or allocated: {type(exc).__name__}: {exc}",
                              str(source)) from None
    producers: dict[tuple, list[str]] = {}
    for ds in importer.data:
        for exc in ds.get("exchanges", []):
            if exc.get("type") == "production" and exc.get("input"):
                producers.setdefault(tuple(exc["input"]), []).append(ds.get("name", "?"))
    shared = [f"{names[0]!r} and {len(names) - 1} more make {key[1]!r}" for key, names in producers.items()
              if len(names) > 1]
    if shared:  # bw2io links inputs by product flow, ignoring defaultProvider: the matrix would not be square
        raise DataImportError("product flows made by more than one process cannot be linked (bw2io links by flow, "
                              "not by default provider): " + "; ".join(shared[:_SAMPLE]), str(source))
    importer.biosphere_database = []  # mapped onto the project's biosphere instead
    return importer


READERS = {"ecospold2": _read_ecospold2, "simapro": _read_simapro, "olca-jsonld": _read_olca}


# --- linking, checks, inventory

def _link_flows(data: list[dict], biosphere: str, categories_of=None, relink: bool = False) -> list[dict]:
    """bw2io strategy: link elementary exchanges onto the project's flows through the mapping table."""
    for ds in data:
        for exc in ds.get("exchanges", []):
            if exc.get("type") != "biosphere":
                continue
            categories = exc.get("categories") or exc.get("context")
            if not categories and categories_of is not None:
                categories = categories_of(exc.get("code"))
            exc["categories"] = tuple(categories or ())
            flow = flows.flow_for(exc.get("name"), categories, exc.get("unit"))
            if flow is not None:
                exc["input"] = (biosphere, flow)
            elif relink or (exc.get("input") and exc["input"][0] != biosphere):
                exc.pop("input", None)
    return data


def _check_amounts(data: list[dict], source: Path) -> None:
    """Formulas bw2io could not evaluate stay strings; an amount must be a finite number."""
    bad = [f"{ds.get('name')!r}: {exc.get('name')!r} = {exc.get('amount')!r}" for ds in data
           for exc in ds.get("exchanges", [])
           if not isinstance(exc.get("amount"), (int, float)) or not math.isfinite(exc["amount"])]
    if bad:
        raise DataImportError(f"{len(bad)} exchange amount(s) are not numbers: " + "; ".join(bad[:_SAMPLE]), str(source))


def _classify(data: list[dict], biosphere: str, report: ImportReport) -> None:
    unlinked: dict[tuple, list[str]] = {}
    unmapped: dict[tuple, list[str]] = {}
    dropped: Counter = Counter()
    mapped: Counter = Counter()
    for ds in data:
        activity = ds.get("name", "?")
        for exc in ds.get("exchanges", []):
            kind = exc.get("type")
            if kind == "biosphere":
                linked = exc.get("input")
                if linked and linked[0] == biosphere:
                    mapped[linked[1]] += 1
                    continue
                key = (kind, exc.get("name") or "", exc.get("unit") or "", "/".join(exc.get("categories") or ()))
                if flows.looks_like_ghg(exc.get("name")):
                    unmapped.setdefault(key, []).append(activity)
                else:
                    dropped[key] += 1
            elif not exc.get("input"):
                key = (kind, exc.get("name") or "", exc.get("unit") or "", exc.get("location") or "")
                unlinked.setdefault(key, []).append(activity)
    report.mapped = dict(mapped)
    report.unlinked = [_finding(key, names) for key, names in sorted(unlinked.items())]
    report.unmapped_ghg = [_finding(key, names) for key, names in sorted(unmapped.items())]
    report.dropped_non_ghg = sum(dropped.values())
    report.dropped_non_ghg_flows = len(dropped)


def _finding(key: tuple, activities: list[str]) -> Finding:
    kind, name, unit, where = key
    return Finding(kind, name, unit, where, len(activities), tuple(dict.fromkeys(activities))[:_SAMPLE])


def _drop_refused(data: list[dict], biosphere: str) -> None:
    """Leave out what the report lists as dropped (non-GHG flows) or allowed (unlinked, unmapped)."""
    for ds in data:
        ds["exchanges"] = [exc for exc in ds.get("exchanges", [])
                           if exc.get("input") and (exc.get("type") != "biosphere" or exc["input"][0] == biosphere)]


def _inventory(bw: ModuleType, bw_name: str, shared) -> tuple[list[imported.ImportedActivity], list[str], np.ndarray]:
    """The activity index and every product's per-unit cumulative inventory (kg of each project flow)."""
    methods = {gas: shared.gas_method("AR6", gas) for gas in gases()}
    data_objs = [bw.Database(bw_name).datapackage()] + [bw.Method(m).datapackage() for m in methods.values()]
    system = load(methods, data_objs)
    lci = system.per_unit_inventory()  # products x biosphere rows
    flow_ids = [""] * lci.shape[1]
    for node_id, row in system.biosphere_row.items():
        flow_ids[row] = bw.get_node(id=node_id)["code"]
    from bw2data.backends import ActivityDataset, ExchangeDataset  # one query each, not one per node

    nodes = {code: (node_id, name, product, location, kind, data.get("unit") or "")
             for node_id, code, name, product, location, kind, data in ActivityDataset.select(
                 ActivityDataset.id, ActivityDataset.code, ActivityDataset.name, ActivityDataset.product,
                 ActivityDataset.location, ActivityDataset.type, ActivityDataset.data)
             .where(ActivityDataset.database == bw_name).tuples()}
    produces: dict[str, list[str]] = {}
    for process, product in (ExchangeDataset.select(ExchangeDataset.output_code, ExchangeDataset.input_code)
                             .where((ExchangeDataset.output_database == bw_name) & (ExchangeDataset.type == "production")
                                    & (ExchangeDataset.input_database == bw_name)).tuples()):
        produces.setdefault(process, []).append(product)
    activities = []
    for code, (node_id, name, reference, location, kind, unit) in nodes.items():
        products = produces.get(code, [])
        if kind == "product" or len(products) != 1 or products[0] not in nodes:
            continue
        product_id, product_name, _, _, _, product_unit = nodes[products[0]]
        activities.append(imported.ImportedActivity(
            code=code, product_code=products[0], name=name or "",
            reference_product=reference or (product_name if product_id != node_id else "") or "",
            location=location or "", unit=unit or product_unit, row=int(system.product_row[product_id])))
    activities.sort(key=lambda a: (a.name.casefold(), a.reference_product.casefold(), a.location, a.code))
    return activities, flow_ids, lci

"""The Brightway project the engine computes in: where it lives, and the shared databases in it.

Brightway state lives under the data dir (`PCF_DATA_DIR`, default `./.pcf-data`), never in the user's
home by surprise. Set-up is offline and idempotent: the biosphere (the elementary flows of
`lca_models/data/gwp100.csv`), the IPCC GWP100 methods (one total and one per gas, for each IPCC set)
and the bundled background datasets are written once, under names carrying the digest of the data
they were built from, so a changed data file gives new databases and an unchanged one is reused.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from lca_models import background
from lca_models.gwp import GWP_SETS, elementary_flows
from lca_models.model import DEFAULT_DQR, Quality

from .uncertainty import basic_for_flow, exchange_uncertainty

PROJECT = "carbon-exchange"
METHOD_ROOT = "carbon-exchange GWP100"
DATA_DIR_ENV = "PCF_DATA_DIR"
LAYOUT = "2"  # how the engine writes databases (2: exchanges carry distributions); part of every database name
# the bundled data carry no distributions of their own: their factors take the pedigree of secondary data
BACKGROUND_QUALITY = Quality("secondary", DEFAULT_DQR["secondary"])


def default_data_dir() -> Path:
    """`PCF_DATA_DIR` if set, else `.pcf-data` in the working directory."""
    return Path(os.environ.get(DATA_DIR_ENV) or ".pcf-data").resolve()


def current_data_dir() -> Path:
    """The data dir of the Brightway project this process has open (`open_project`), else the default one.

    Imported databases (`pcf data import`) live beside the Brightway project they were written into: a model
    computed in that project resolves its `activity:` inputs there.
    """
    bw2data = sys.modules.get("bw2data")
    if bw2data is not None:
        base = Path(bw2data.projects._base_data_dir)
        if base.name == "brightway":
            return base.parent
    return default_data_dir()


def open_project(data_dir: Path | None = None) -> ModuleType:
    """Point Brightway at `data_dir/brightway` and select the toolkit's project; returns `bw2data`.

    `BRIGHTWAY2_DIR` is read by bw2data at import time, so it is set before the first import;
    when bw2data is already loaded (tests switch data dirs) the base directory is changed in place.
    """
    bw_dir = (data_dir or default_data_dir()) / "brightway"
    bw_dir.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the data dir also holds the node's database
    bw_dir.mkdir(exist_ok=True)
    if "bw2data" not in sys.modules:
        os.environ["BRIGHTWAY2_DIR"] = str(bw_dir)
        # Brightway's progress bars and set-up chatter would drown the CLI's own output.
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("BRIGHTWAY_NO_STRUCTLOG", "1")
    logging.disable(logging.INFO)  # bw2data announces its data directory while importing
    try:
        import bw2data
    finally:
        logging.disable(logging.NOTSET)

    with warnings.catch_warnings():  # bw2calc advertises pypardiso on import; it is optional here
        warnings.simplefilter("ignore", UserWarning)
        import bw2calc  # noqa: F401

    logging.getLogger("brightway-stdout-feedback").setLevel(logging.ERROR)

    if Path(bw2data.projects._base_data_dir).resolve() != bw_dir.resolve():
        logs = bw_dir / "logs"
        logs.mkdir(exist_ok=True)
        bw2data.projects.change_base_directories(bw_dir, logs, project_name=PROJECT, update=False)
    if bw2data.projects.current != PROJECT:
        bw2data.projects.set_current(PROJECT, update=False)
    return bw2data


@dataclass(frozen=True)
class SharedDatabases:
    """Names of the databases every model links to, for one version of the bundled data."""

    biosphere: str
    background: str
    data_digest: str

    def total_method(self, gwp: str) -> tuple[str, ...]:
        return (METHOD_ROOT, gwp, "total", self.data_digest)

    def gas_method(self, gwp: str, gas: str) -> tuple[str, ...]:
        return (METHOD_ROOT, gwp, f"gas {gas}", self.data_digest)

    def pcf_method(self, gwp: str) -> tuple[str, ...]:
        """The PCF excluding biogenic CO2 uptake (PACT v3 `pcfExcludingBiogenicUptake`, ISO 14067 7.3): uptake apart."""
        return (METHOD_ROOT, gwp, "pcf excluding biogenic uptake", self.data_digest)


def _data_digest() -> str:
    versions = background.data_versions()
    joined = f"layout={LAYOUT};" + ";".join(f"{name}={digest}" for name, digest in sorted(versions.items()))
    return hashlib.sha256(joined.encode()).hexdigest()[:12]


def gases() -> list[str]:
    """Every gas the bundled flows carry, in a stable order (the per-gas breakdown's keys)."""
    return sorted({flow.gas for flow in elementary_flows().values()})


def shared_databases() -> SharedDatabases:
    """The names the shared databases have for this version of the bundled data (nothing is written)."""
    digest = _data_digest()
    return SharedDatabases(f"pcf-biosphere-{digest}", f"pcf-background-{digest}", digest)


def ensure_shared_databases(bw2data: ModuleType) -> SharedDatabases:
    """Write the biosphere, GWP100 methods and background once per data version; reuse otherwise."""
    shared = shared_databases()
    if shared.biosphere not in bw2data.databases:
        _write_biosphere(bw2data, shared.biosphere)
    for gwp in GWP_SETS:
        if shared.pcf_method(gwp) not in bw2data.methods:
            _write_methods(bw2data, shared, gwp)
    if shared.background not in bw2data.databases:
        _write_background(bw2data, shared)
    return shared


def _write_biosphere(bw2data: ModuleType, name: str) -> None:
    data = {
        (name, flow.id): {
            "name": flow.name,
            "unit": "kilogram",
            "type": "emission",
            "categories": ("air",),
            "exchanges": [],
            "gas": flow.gas,
            "ghg_category": flow.category,
        }
        for flow in elementary_flows().values()
    }
    bw2data.Database(name).write(data, process=True)


def _write_methods(bw2data: ModuleType, shared: SharedDatabases, gwp: str) -> None:
    """A total GWP100 method, the PCF method without biogenic uptake, and one method per gas (the adjoint batch
    path scores one per gas).

    Flows that are not counted in the PCF (biogenic CO2 emissions, carbon-neutral by convention,
    PACT Methodology v3 Sec. 3.3.2.4) get no factor; their mass is reported from the inventory.
    """
    counted = [f for f in elementary_flows().values() if f.counts_in_pcf]
    total = bw2data.Method(shared.total_method(gwp))
    total.register(unit="kg CO2-Eq", description=f"IPCC {gwp} GWP100, factors from lca_models/data/gwp100.csv")
    total.write([((shared.biosphere, f.id), float(f.gwp[gwp])) for f in counted])
    pcf = bw2data.Method(shared.pcf_method(gwp))
    pcf.register(unit="kg CO2-Eq", description=f"IPCC {gwp} GWP100 without biogenic CO2 uptake (reported apart)")
    pcf.write([((shared.biosphere, f.id), float(f.gwp[gwp])) for f in counted if f.category != "biogenic_uptake"])
    for gas in gases():
        method = bw2data.Method(shared.gas_method(gwp, gas))
        method.register(unit="kg CO2-Eq", description=f"IPCC {gwp} GWP100, {gas} only")
        method.write([((shared.biosphere, f.id), float(f.gwp[gwp])) for f in counted if f.gas == gas])


def _write_background(bw2data: ModuleType, shared: SharedDatabases) -> None:
    data = {}
    for dataset in background.catalogue().values():
        key = (shared.background, dataset.id)
        exchanges = [{"input": key, "amount": 1.0, "type": "production"}]
        exchanges += [
            {"input": (shared.biosphere, flow), "amount": float(amount), "type": "biosphere",
             **exchange_uncertainty(float(amount), BACKGROUND_QUALITY, basic_for_flow(flow))}
            for flow, amount in dataset.exchanges
        ]
        data[key] = {
            "name": dataset.name,
            "unit": dataset.unit,
            "location": dataset.location,
            "type": "process",
            "exchanges": exchanges,
            "source": dataset.source,
            "year": dataset.year,
        }
    bw2data.Database(shared.background).write(data, process=True)

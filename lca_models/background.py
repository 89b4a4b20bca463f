"""Bundled background datasets: grid electricity, fuel combustion, materials, transport, waste.

Read from the cited CSV files in `lca_models/data/` (see its README for every source). Each dataset
becomes one aggregated activity in the engine's Brightway background: `amount` kg of each elementary
flow per unit of the dataset. Dataset ids are namespaced: `grid:CN-NORTH`, `fuel:natural_gas`,
`material:steel_bf_bof`, `transport:truck`, `waste:landfill_inert`.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources

from .errors import DataError
from .gwp import elementary_flows

GRID_FILE = "grid_electricity.csv"
FUELS_FILE = "fuels.csv"
BACKGROUND_FILE = "background.csv"
RENEWABLE_CERTIFICATE = "grid:RENEWABLE-CERT"
_TJ_PER_GJ = Decimal("0.001")


@dataclass(frozen=True)
class Dataset:
    """An aggregated background activity: elementary flows (kg, or kgCO2e for co2e_*) per `unit`."""

    id: str
    name: str
    category: str  # electricity | fuel | material | transport | waste | packaging
    unit: str
    location: str
    exchanges: tuple[tuple[str, Decimal], ...]
    source: str
    year: str


@dataclass(frozen=True)
class FuelProperties:
    """What turns a fuel quantity into GJ (net calorific value), per IPCC 2006 Vol. 2 Ch. 1 Table 1.2."""

    id: str
    ncv_gj_per_t: Decimal | None
    density_kg_per_m3: Decimal | None


def _data_text(name: str) -> str:
    return resources.files("lca_models").joinpath(f"data/{name}").read_text(encoding="utf-8")


def _rows(name: str) -> list[tuple[int, dict[str, str]]]:
    try:
        text = _data_text(name)
    except FileNotFoundError:
        return []
    return list(enumerate(csv.DictReader(text.splitlines()), start=2))


def _decimal(value: str | None, where: str) -> Decimal | None:
    if value is None or value.strip() == "":
        return None
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        raise DataError(f"{where}: {value!r} is not a number") from None


def _grid_datasets() -> list[Dataset]:
    datasets = []
    for line, row in _rows(GRID_FILE):
        where = f"{GRID_FILE} line {line}"
        factor = _decimal(row["kgco2e_per_kwh"], where)
        flow = "co2_fossil" if row["basis"].strip() == "CO2" else "co2e_fossil"
        datasets.append(
            Dataset(
                id=f"grid:{row['region'].strip()}",
                name=row["name"],
                category="electricity",
                unit="kWh",
                location=row.get("country") or row["region"],
                exchanges=((flow, factor),) if factor else (),
                source=row["source"],
                year=row["year"],
            )
        )
    return datasets


def _fuel_datasets() -> tuple[list[Dataset], dict[str, FuelProperties]]:
    datasets, properties = [], {}
    for line, row in _rows(FUELS_FILE):
        where = f"{FUELS_FILE} line {line}"
        fuel_id = row["fuel"].strip()
        biogenic = row["biogenic"].strip().lower() == "true"
        exchanges = []
        for column, fossil_flow, biogenic_flow in (
            ("co2_kg_per_tj", "co2_fossil", "co2_biogenic"),
            ("ch4_kg_per_tj", "ch4_fossil", "ch4_biogenic"),
            ("n2o_kg_per_tj", "n2o", "n2o"),
        ):
            per_tj = _decimal(row.get(column), f"{where} {column}")
            if per_tj:
                exchanges.append((biogenic_flow if biogenic else fossil_flow, per_tj * _TJ_PER_GJ))
        upstream = _decimal(row.get("upstream_kgco2e_per_gj"), f"{where} upstream_kgco2e_per_gj")
        source = row["source"]
        if upstream:
            exchanges.append(("co2e_fossil", upstream))
            source = f"{source}; upstream: {row.get('upstream_source', '')}"
        datasets.append(
            Dataset(
                id=f"fuel:{fuel_id}",
                name=f"{row['name']}, combusted (per GJ NCV)",
                category="fuel",
                unit="GJ",
                location="GLO",
                exchanges=tuple(exchanges),
                source=source,
                year=row["year"],
            )
        )
        properties[fuel_id] = FuelProperties(
            id=fuel_id,
            ncv_gj_per_t=_decimal(row.get("ncv_gj_per_t"), f"{where} ncv_gj_per_t"),
            density_kg_per_m3=_decimal(row.get("density_kg_per_m3"), f"{where} density_kg_per_m3"),
        )
    return datasets, properties


def _table_datasets() -> list[Dataset]:
    grouped: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, row in _rows(BACKGROUND_FILE):
        grouped.setdefault(row["dataset"].strip(), []).append((line, row))
    known_flows = elementary_flows()
    datasets = []
    for dataset_id, rows in grouped.items():
        exchanges = []
        for line, row in rows:
            flow = row["flow"].strip()
            if flow not in known_flows:
                raise DataError(f"{BACKGROUND_FILE} line {line}: unknown flow {flow!r}")
            exchanges.append((flow, _decimal(row["amount"], f"{BACKGROUND_FILE} line {line}")))
        first = rows[0][1]
        datasets.append(
            Dataset(
                id=dataset_id,
                name=first["name"],
                category=first["category"],
                unit=first["unit"],
                location=first["location"],
                exchanges=tuple(exchanges),
                source="; ".join(sorted({r["source"] for _, r in rows})),
                year=first["year"],
            )
        )
    return datasets


@cache
def catalogue() -> dict[str, Dataset]:
    """Every bundled dataset by id."""
    fuel_sets, _ = _fuel_datasets()
    datasets = _grid_datasets() + fuel_sets + _table_datasets()
    result: dict[str, Dataset] = {}
    for dataset in datasets:
        if dataset.id in result:
            raise DataError(f"dataset id {dataset.id!r} defined twice in the bundled data")
        result[dataset.id] = dataset
    return result


@cache
def fuel_properties() -> dict[str, FuelProperties]:
    """NCV and density per fuel id, for converting tonnes or Nm3 of fuel into GJ."""
    return _fuel_datasets()[1]


@cache
def data_versions() -> dict[str, str]:
    """sha256 of each bundled data file: part of every footprint's provenance."""
    versions = {}
    for name in ("gwp100.csv", GRID_FILE, FUELS_FILE, BACKGROUND_FILE):
        try:
            versions[name] = hashlib.sha256(_data_text(name).encode("utf-8")).hexdigest()[:16]
        except FileNotFoundError:
            continue
    return versions

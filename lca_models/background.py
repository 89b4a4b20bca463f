"""Bundled background datasets: grid electricity, fuel combustion, materials, transport, waste.

Read from the cited CSV files in `lca_models/data/` (see its README for every source). Each dataset
becomes one aggregated activity in the engine's Brightway background: `amount` kg of each elementary
flow per unit of the dataset. Dataset ids are namespaced: `grid:CN-NORTH`, `fuel:natural_gas`,
`material:steel_bf_bof`, `transport:truck`, `waste:landfill_inert`.

Energy supply has datasets of its own, so it can be reported (and switched off) as a stage: the combustion
of a fuel (`fuel:<fuel>`, stationary; `fuel_mobile:<fuel>` with IPCC 2006 road-transport CH4/N2O) is apart
from its well-to-tank upstream (`fuel_upstream:<fuel>`), the generation of grid electricity (`grid:<region>`)
apart from the upstream of generation and the T&D losses (`grid_upstream:<region>`, per kWh consumed), and
the residual mix a market-based figure applies to uncovered consumption (`residual:<region>`) apart from the
grid average.
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
UPSTREAM_FILE = "electricity_upstream.csv"
RESIDUAL_FILE = "residual_mix.csv"
RENEWABLE_CERTIFICATE = "grid:RENEWABLE-CERT"
_TJ_PER_GJ = Decimal("0.001")
_PERCENT = Decimal(100)


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
    co2_kg_per_gj: Decimal  # IPCC 2006 Table 1.4 default, full oxidation
    biogenic: bool = False
    mobile: bool = False  # IPCC 2006 Table 3.2.2 has road-transport CH4/N2O factors for it (`fuel_mobile:<fuel>`)

    @property
    def carbon_kg_per_gj(self) -> Decimal:
        """The carbon content the default CO2 factor implies at full oxidation (IPCC 2006 Vol. 2 Ch. 1: EF = carbon content x 44/12)."""
        return self.co2_kg_per_gj * 12 / 44


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


def _grid_factor(row: dict[str, str], where: str) -> tuple[tuple[str, Decimal], ...]:
    """`basis` CO2: the factor counts CO2 only (`co2_fossil`); CO2e: every GHG, already weighted (`co2e_fossil`)."""
    factor = _decimal(row["kgco2e_per_kwh"], where)
    flow = "co2_fossil" if row["basis"].strip() == "CO2" else "co2e_fossil"
    return ((flow, factor),) if factor else ()


def _grid_datasets() -> list[Dataset]:
    datasets = []
    for line, row in _rows(GRID_FILE):
        datasets.append(
            Dataset(
                id=f"grid:{row['region'].strip()}",
                name=row["name"],
                category="electricity",
                unit="kWh",
                location=row.get("country") or row["region"],
                exchanges=_grid_factor(row, f"{GRID_FILE} line {line}"),
                source=row["source"],
                year=row["year"],
            )
        )
    return datasets


def _residual_datasets() -> list[Dataset]:
    """Residual mixes for uncovered consumption under the market-based method (GHG Protocol Scope 2 Guidance, Ch. 6)."""
    return [
        Dataset(
            id=f"residual:{row['region'].strip()}",
            name=f"Residual mix {row['region'].strip()} (market-based, uncovered consumption)",
            category="electricity",
            unit="kWh",
            location=row["region"].strip().split("-")[0],
            exchanges=_grid_factor(row, f"{RESIDUAL_FILE} line {line}"),
            source=row["source"],
            year=row["year"],
        )
        for line, row in _rows(RESIDUAL_FILE)
    ]


def _grid_upstream_datasets(grids: dict[str, Dataset]) -> list[Dataset]:
    """Upstream of grid electricity per kWh consumed: the fuel supply of generation and the T&D losses.

    With loss rate l (share of the electricity entering the grid), one kWh consumed needs 1/(1 - l) kWh generated:
    upstream = generation upstream / (1 - l) + grid factor x l / (1 - l). The losses are generated at the grid's own
    factor and carry its gases (GHG Protocol Scope 3 Technical Guidance, category 3 (b) and (c)).
    """
    datasets = []
    for line, row in _rows(UPSTREAM_FILE):
        where = f"{UPSTREAM_FILE} line {line}"
        region = row["region"].strip()
        grid = grids.get(f"grid:{region}")
        if grid is None:
            raise DataError(f"{where}: no grid region {region!r} in {GRID_FILE}")
        loss = (_decimal(row["td_loss_percent"], where) or Decimal(0)) / _PERCENT
        if not 0 <= loss < 1:
            raise DataError(f"{where}: td_loss_percent must be at least 0 and below 100")
        delivered = 1 / (1 - loss)
        exchanges = [(flow, amount * loss * delivered) for flow, amount in grid.exchanges if amount * loss]
        generation = _decimal(row["generation_upstream_kgco2e_per_kwh"], where)
        if generation:
            exchanges.append(("co2e_fossil", generation * delivered))
        datasets.append(
            Dataset(
                id=f"grid_upstream:{region}",
                name=f"Upstream of grid electricity {region}: fuel supply of generation and T&D losses, per kWh consumed",
                category="energy_upstream",
                unit="kWh",
                location=grid.location,
                exchanges=tuple(exchanges),
                source=row["source"],
                year=row["year"],
            )
        )
    return datasets


def combustion_exchanges(co2: Decimal, ch4: Decimal | None, n2o: Decimal | None,
                         biogenic: bool) -> tuple[tuple[str, Decimal], ...]:
    """kg per GJ of each gas of a fuel's combustion (factors in kg/TJ); biogenic CO2 and CH4 on their own flows."""
    exchanges = []
    for per_tj, fossil_flow, biogenic_flow in ((co2, "co2_fossil", "co2_biogenic"), (ch4, "ch4_fossil", "ch4_biogenic"),
                                               (n2o, "n2o", "n2o")):
        if per_tj:
            exchanges.append((biogenic_flow if biogenic else fossil_flow, per_tj * _TJ_PER_GJ))
    return tuple(exchanges)


def _fuel_datasets() -> tuple[list[Dataset], dict[str, FuelProperties]]:
    datasets, properties = [], {}
    for line, row in _rows(FUELS_FILE):
        where = f"{FUELS_FILE} line {line}"
        fuel_id = row["fuel"].strip()
        biogenic = row["biogenic"].strip().lower() == "true"
        co2 = _decimal(row.get("co2_kg_per_tj"), f"{where} co2_kg_per_tj") or Decimal(0)

        def dataset(prefix: str, name: str, exchanges: tuple, source: str) -> Dataset:
            return Dataset(id=f"{prefix}:{fuel_id}", name=f"{row['name']}, {name} (per GJ NCV)",
                           category="energy_upstream" if prefix == "fuel_upstream" else "fuel", unit="GJ",
                           location="GLO", exchanges=exchanges, source=source, year=row["year"])

        datasets.append(dataset("fuel", "combusted, stationary", combustion_exchanges(
            co2, _decimal(row.get("ch4_kg_per_tj"), f"{where} ch4_kg_per_tj"),
            _decimal(row.get("n2o_kg_per_tj"), f"{where} n2o_kg_per_tj"), biogenic), row["source"]))
        mobile_ch4 = _decimal(row.get("mobile_ch4_kg_per_tj"), f"{where} mobile_ch4_kg_per_tj")
        mobile_n2o = _decimal(row.get("mobile_n2o_kg_per_tj"), f"{where} mobile_n2o_kg_per_tj")
        if mobile_ch4 is not None or mobile_n2o is not None:
            datasets.append(dataset("fuel_mobile", "combusted in road vehicles",
                                    combustion_exchanges(co2, mobile_ch4, mobile_n2o, biogenic), row["mobile_source"]))
        upstream = _decimal(row.get("upstream_kgco2e_per_gj"), f"{where} upstream_kgco2e_per_gj")
        if upstream is None:
            raise DataError(f"{where}: upstream_kgco2e_per_gj is empty: every fuel needs its cited well-to-tank factor")
        datasets.append(dataset("fuel_upstream", "well-to-tank supply", (("co2e_fossil", upstream),) if upstream else (),
                                row["upstream_source"]))
        properties[fuel_id] = FuelProperties(
            id=fuel_id,
            ncv_gj_per_t=_decimal(row.get("ncv_gj_per_t"), f"{where} ncv_gj_per_t"),
            density_kg_per_m3=_decimal(row.get("density_kg_per_m3"), f"{where} density_kg_per_m3"),
            co2_kg_per_gj=co2 * _TJ_PER_GJ,
            biogenic=biogenic,
            mobile=mobile_ch4 is not None or mobile_n2o is not None,
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
    grids = _grid_datasets()
    upstream = _grid_upstream_datasets({grid.id: grid for grid in grids})
    datasets = grids + _residual_datasets() + upstream + fuel_sets + _table_datasets()
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
    for name in ("gwp100.csv", GRID_FILE, RESIDUAL_FILE, UPSTREAM_FILE, FUELS_FILE, BACKGROUND_FILE):
        try:
            versions[name] = hashlib.sha256(_data_text(name).encode("utf-8")).hexdigest()[:16]
        except FileNotFoundError:
            continue
    return versions

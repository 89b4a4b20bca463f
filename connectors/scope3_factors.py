"""Spend-based emission factors for Scope 3 lines without supplier data: the bundled US EPA table, or your own.

    table = bundled_spend_factors()          # US EPA Supply Chain GHG Emission Factors v1.3.0, 1,016 NAICS-6 codes
    table = read_spend_factors(path)         # a CSV in the same layout, or EPA's own CSV as published

The bundled table (lca_models/data/spend_factors.csv, made by scripts/extract_epa_spend_factors.py) holds EPA's
"Supply Chain Emission Factors with Margins": kg CO2e per 2022 USD at purchaser price (cradle to the point of sale),
US production, IPCC AR5. They estimate; they are not a supplier's footprint, and spend in other years or bought
outside the US economy is not adjusted. Any table with the documented columns replaces it (`--spend-factors`):
`naics` (the code purchases name in their `naics` column), `kgco2e_per_currency_unit`, `currency`, `price_year`,
`source`, and optionally `title` and `price_basis`; EPA's own CSV layout (`2017 NAICS Code`, ..., `Unit`,
`Supply Chain Emission Factors with Margins`) is read as published, so a newer EPA release drops in. Every problem
in a table is reported with its row, all at once, before any supplier node is called.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .scope3_inputs import Scope3InputError

COLUMNS = ("naics", "kgco2e_per_currency_unit", "currency", "price_year", "source")
EPA_COLUMNS = ("2017 NAICS Code", "2017 NAICS Title", "Unit", "Supply Chain Emission Factors with Margins")
_EPA_UNIT = re.compile(r"kg CO2e/(\d{4}) ([A-Z]{3}), (\w+) price")
BUNDLED = "spend_factors.csv"


@dataclass(frozen=True)
class SpendFactor:
    """kgCO2e per unit of `currency` spent (money of `price_year`), for one industry code."""

    naics: str
    title: str
    kgco2e_per_currency_unit: Decimal
    currency: str
    price_year: str
    price_basis: str
    source: str

    def describe(self) -> str:
        """The factor as a line of the output's `estimate_source` column."""
        basis = f" {self.price_basis}" if self.price_basis else ""
        code = f"NAICS {self.naics}" + (f" {self.title}" if self.title else "")
        return f"{self.kgco2e_per_currency_unit} kgCO2e/{self.currency} ({self.price_year}{basis} price), {code}: {self.source}"


@dataclass(frozen=True)
class SpendFactorTable:
    """Factors by code, and where they come from (said on the command's output)."""

    factors: dict[str, SpendFactor]
    origin: str

    def currencies(self) -> set[str]:
        return {factor.currency for factor in self.factors.values()}


def _factor(record: dict[str, str], row: int, epa: bool, problems: list[str]) -> SpendFactor | None:
    if epa:
        unit = _EPA_UNIT.fullmatch((record.get("Unit") or "").strip())
        if unit is None:
            problems.append(f"row {row}: Unit: {record.get('Unit')!r} is not 'kg CO2e/<year> <currency>, <basis> price'")
            return None
        code, title = (record.get("2017 NAICS Code") or "").strip(), (record.get("2017 NAICS Title") or "").strip()
        value_text, (year, currency, basis) = record.get(EPA_COLUMNS[3]), unit.groups()
        source = "US EPA Supply Chain GHG Emission Factors, with margins"
    else:
        code, title = (record.get("naics") or "").strip(), (record.get("title") or "").strip()
        value_text, currency = record.get("kgco2e_per_currency_unit"), (record.get("currency") or "").strip().upper()
        year, basis = (record.get("price_year") or "").strip(), (record.get("price_basis") or "").strip()
        source = (record.get("source") or "").strip()
    found = []
    if not code:
        found.append(f"row {row}: naics: empty")
    try:
        value = Decimal(str(value_text).strip())
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value < 0:
        found.append(f"row {row}: kgco2e_per_currency_unit: {value_text!r} is not a number >= 0")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        found.append(f"row {row}: currency: {currency!r} is not an ISO 4217 code such as USD")
    if not re.fullmatch(r"\d{4}", year):
        found.append(f"row {row}: price_year: {year!r} is not a year (factors are per money of one year)")
    if not source:
        found.append(f"row {row}: source: empty (every factor names where it comes from)")
    problems += found
    return None if found else SpendFactor(code, title, value, currency, year, basis, source)


def parse_spend_factors(text: str, origin: str) -> SpendFactorTable:
    """A factor table from CSV text (the documented layout or EPA's); Scope3InputError listing every problem."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    epa = all(name in header for name in EPA_COLUMNS)
    missing = [] if epa else [name for name in COLUMNS if name not in header]
    if missing:
        raise Scope3InputError(origin, [f"missing column(s): {', '.join(missing)} (or EPA's own layout: "
                                        f"{', '.join(EPA_COLUMNS)})"])
    factors: dict[str, SpendFactor] = {}
    problems: list[str] = []
    for row, record in enumerate(reader, start=2):
        record = {(k or "").strip(): v for k, v in record.items()}
        factor = _factor(record, row, epa, problems)
        if factor is None:
            continue
        if factor.naics in factors:
            problems.append(f"row {row}: naics: {factor.naics} given twice")
            continue
        factors[factor.naics] = factor
    if not factors and not problems:
        problems.append("no factors")
    if problems:
        raise Scope3InputError(origin, problems)
    return SpendFactorTable(factors, origin)


def read_spend_factors(path: Path) -> SpendFactorTable:
    """Your own factor table (CSV, UTF-8)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise Scope3InputError(str(path), ["not UTF-8 text"]) from None
    except OSError as exc:
        raise Scope3InputError(str(path), [f"cannot read: {exc.strerror or exc}"]) from None
    return parse_spend_factors(text, str(path))


@lru_cache(maxsize=1)
def bundled_spend_factors() -> SpendFactorTable:
    """The bundled US EPA v1.3.0 table (lca_models/data/spend_factors.csv)."""
    text = resources.files("lca_models").joinpath("data", BUNDLED).read_text(encoding="utf-8")
    table = parse_spend_factors(text, f"lca_models/data/{BUNDLED}")
    return SpendFactorTable(table.factors, "US EPA Supply Chain GHG Emission Factors v1.3.0 (kg CO2e per 2022 USD, "
                                           "purchaser price, with margins; bundled)")

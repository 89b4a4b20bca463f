"""CBAM default values: Implementing Regulation (EU) 2025/2621, Annex I (definitive period, from 2026).

    default_value("CN", "72083900", 2026) -> DefaultValue(...)

The bundled table (data/default_values.csv, generated from the Commission's workbook by
scripts/extract_cbam_defaults.py) has one row per country x CN code as printed: 8-, 6- or 4-digit codes, some with
no value ("–", "see below"). The lookup takes the most specific CN prefix the country's table lists (8 -> 6 -> 4
digits). Per Annex I, a country that is not listed, or whose matching row shows no value, takes the value of the
"Other countries and territories" table. The mark-up (10/20/30 % for 2026/2027/2028 onwards; fertilisers 1 %) is
applied to the total default value: total x (1 + mark-up / 100).
Values are tCO2e per tonne of good, as `Decimal`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources

from .codes import check_cn_code, check_country
from .errors import CbamError

OTHER = "OTHER"
FIRST_YEAR = 2026


@dataclass(frozen=True)
class DefaultValue:
    country: str                 # the country asked for (ISO 3166-1 alpha-2)
    cn_code_matched: str         # the CN code of the row used (8, 6 or 4 digits)
    direct: Decimal
    indirect: Decimal | None     # None where Annex I shows "N/A" (indirect emissions not counted for the good)
    total: Decimal
    markup_percent: Decimal
    total_with_markup: Decimal
    source: str                  # regulation, sheet and row
    description: str = ""
    table: str = ""              # the table used: the country's ISO code, or "OTHER" (Other countries and territories)

    def as_json(self) -> dict[str, object]:
        """Plain JSON types; decimals as strings so nothing is rounded on the way."""
        out: dict[str, object] = {}
        for key, value in self.__dict__.items():
            out[key] = str(value) if isinstance(value, Decimal) else value
        return out


@dataclass(frozen=True)
class _Row:
    country: str
    cn_code: str
    description: str
    direct: Decimal | None
    indirect: Decimal | None
    total: Decimal | None
    markups: tuple[Decimal, Decimal, Decimal]
    source: str

    @property
    def has_value(self) -> bool:
        return self.direct is not None and self.total is not None


def _dec(text: str) -> Decimal | None:
    return Decimal(text) if text.strip() else None


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, list[_Row]]]:
    """country -> cn_code -> rows (several where Annex I splits a code, e.g. white / grey clinker)."""
    text = resources.files("exchange.cbam").joinpath("data/default_values.csv").read_text(encoding="utf-8")
    table: dict[str, dict[str, list[_Row]]] = {}
    for record in csv.DictReader(io.StringIO(text)):
        row = _Row(
            country=record["country"], cn_code=record["cn_code"], description=record["description"],
            direct=_dec(record["direct"]), indirect=_dec(record["indirect"]), total=_dec(record["total"]),
            markups=(Decimal(record["markup_2026"]), Decimal(record["markup_2027"]), Decimal(record["markup_2028"])),
            source=record["source"],
        )
        table.setdefault(row.country, {}).setdefault(row.cn_code, []).append(row)
    return table


def _match(rows_by_code: dict[str, list[_Row]], code: str, variant: str | None) -> list[_Row] | None:
    """The rows of the most specific listed prefix of `code` (8 -> 6 -> 4 digits), None when none is listed."""
    for length in (8, 6, 4):
        if len(code) < length:
            continue
        rows = rows_by_code.get(code[:length])
        if rows:
            if variant is not None:
                wanted = variant.strip().lower()
                chosen = [r for r in rows if wanted in r.description.lower()]
                if not chosen:
                    options = "; ".join(r.description for r in rows)
                    raise CbamError(f"CN {code[:length]}: no row matches variant {variant!r} (rows: {options})")
                rows = chosen
            return rows
    return None


def default_value(country: str, cn_code: str, year: int, *, variant: str | None = None) -> DefaultValue:
    """The Annex I default value for goods of `cn_code` (8 digits) produced in `country` (ISO 3166-1 alpha-2),
    with the mark-up of `year`.

    `variant` picks one row where Annex I lists a CN code twice (2523 10 00 white / grey clinker, 2523 90 00
    white / grey hydraulic cements): a case-insensitive part of the description, e.g. "grey".
    """
    iso = check_country(str(country).strip().upper())
    code = check_cn_code(cn_code).code  # 8 digits, a CBAM good (Annex I, the template's list), or did-you-mean
    if not isinstance(year, int) or year < FIRST_YEAR:
        raise CbamError(f"year {year!r}: Annex I default values (IR 2025/2621) apply from {FIRST_YEAR}")
    table = _table()

    rows = None
    used = iso
    if iso in table:
        rows = _match(table[iso], code, variant)
    if rows is None or not any(r.has_value for r in rows):
        used = OTHER  # not listed, or listed with "–" / no value: Other countries and territories
        rows = _match(table[OTHER], code, variant)
    if rows is None:
        raise CbamError(f"CN {code}: no default value in IR 2025/2621 Annex I for {iso} nor for other countries "
                        f"(not a CBAM good, or a code Annex I does not list)")
    if len(rows) > 1:
        options = "; ".join(f"{r.description!r}" for r in rows)
        raise CbamError(f"CN {rows[0].cn_code}: Annex I lists several goods under this code ({options}); "
                        f"pass variant= with part of the description, e.g. 'grey'")
    row = rows[0]
    if not row.has_value:
        raise CbamError(f"CN {code}: IR 2025/2621 Annex I gives no value for {iso} nor for other countries "
                        f"({row.cn_code} {row.description!r}: {row.source}); a more specific CN code may have one")
    assert row.direct is not None and row.total is not None
    percent = row.markups[min(year, 2028) - FIRST_YEAR]
    return DefaultValue(
        country=iso, cn_code_matched=row.cn_code, direct=row.direct, indirect=row.indirect, total=row.total,
        markup_percent=percent, total_with_markup=row.total * (1 + percent / 100), source=row.source,
        description=row.description, table=used,
    )

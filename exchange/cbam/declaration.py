"""A summary of the definitive-period annual CBAM declaration (Reg (EU) 2023/956 Art. 6, as amended by
Reg (EU) 2025/2083), computed from the same goods list as the QReport.

    read_declaration_goods(path) -> list[DeclarationGood]     .csv or .xlsx goods list plus optional columns
    declaration(declarant, year, goods, certificate_price_eur=None) -> Declaration
    write_declaration(d, json_path, csv_path=None)    temporary files, renamed once both are written

No official XML schema for the annual declaration is public (Art. 6(6) leaves its format to an implementing act),
so this is a summary with the totals Art. 6(2) asks for, NOT a registry format:
- quantity per good line and per CN code (t), embedded emissions = net mass x SEE, direct and indirect apart;
  indirect emissions count only for goods NOT listed in Annex II (Art. 7(1); IR 2025/2547 Art. 3(2)): so for
  cement, fertilisers, agglomerated iron ore and the ferro-alloys excepted in Annex II, not for other iron and
  steel, aluminium or hydrogen;
- lines with value_type `default` (Art. 7(2)(b)) are resolved from IR 2025/2621 Annex I by CN code, country of
  origin and year: a line without see_direct/see_indirect takes the table's value with the year's mark-up; a line
  that gives them is kept and compared with the table (a warning where they differ). The Annex prints the mark-up
  on the total only ("Default Value (including mark-up)" = total x (1 + p/100); p = 10/20/30 % for 2026/2027/
  2028 onwards, 1 % for fertilisers: IR 2025/2621 Annex I sector rows, recitals 4-6); the same factor is applied
  to the direct and the indirect part, so that they add up to the printed total and an Annex II good (direct
  emissions only) carries the mark-up on what counts. Every such line is flagged in the JSON and CSV;
- the Art. 9 reduction for a carbon price paid in the country of origin, converted into certificates at the
  given certificate price (the conversion rules of Art. 9(5) are not adopted in our sources: paid EUR / price);
- the Art. 31 free-allocation adjustment, as an input per tonne of good (column free_allocation_t_per_t,
  default 0): its benchmark values are in an implementing act not bundled here;
- certificates: one certificate = one tonne CO2e (Art. 3(24)); the total is rounded UP to a whole certificate
  (no rounding rule in Reg 2023/956 or 2025/2083: rounding down would leave emissions uncovered, Art. 22(1));
- the de-minimis exemption of Art. 2a (inserted by Reg 2025/2083): an importer whose goods' net mass in the
  calendar year, all CN codes together, does not exceed 50 t (Annex VII point 1) is exempt; electricity and
  hydrogen never count and are never exempt (Art. 2a(4)); goods originating in Annex III point 1 countries
  (IS, LI, NO, CH) are outside the Regulation (Art. 2(4)) and count for nothing. Above 50 t, every good is due
  (Art. 2a(2)).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile
from dataclasses import asdict, dataclass, fields
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping, Sequence

from exchange.spreadsheet_safe import safe_cell
from lca_models.errors import unknown_field

from .defaults import default_value
from .errors import CbamError
from .goods_input import read_rows
from .qreport import GOODS_COLUMNS, OPTIONAL_GOODS_COLUMNS, Declarant, ImportedGood, decimal_cell, parse_good

DE_MINIMIS_THRESHOLD_T = Decimal(50)      # Reg 2023/956 Annex VII point 1, inserted by Reg 2025/2083 Annex II
FIRST_DEFINITIVE_YEAR = 2026              # Art. 6(1) as amended: first declaration in 2027 for 2026
HYDROGEN = "28041000"                     # Art. 2a(4): outside the de-minimis exemption
ELECTRICITY = "27160000"                  # declared in MWh (Art. 6(2)(a)): not a goods-list line here
ANNEX_III_POINT_1 = {"IS": "Iceland", "LI": "Liechtenstein", "NO": "Norway", "CH": "Switzerland"}
PRICE_COLUMNS = ("carbon_price_paid_eur_per_t", "carbon_price_paid_eur")
DECLARATION_COLUMNS = (*PRICE_COLUMNS, "free_allocation_t_per_t")
VARIANT_COLUMN = "default_variant"        # white/grey clinker and cements share CN codes in IR 2025/2621 Annex I
DEFAULT_TOLERANCE = Decimal("0.0005")     # half a unit of the third decimal Annex I prints

# Annex II of Reg 2023/956: goods for which only direct emissions count (Art. 7(1)), as CN prefixes.
_DIRECT_ONLY = ("72", "7301", "7302", "730300", "7304", "7305", "7306", "7307", "7308", "730900", "7310", "731100",
                "7318", "7326", "7601", "7603", "7604", "7605", "7606", "7607", "7608", "76090000", "7610",
                "76110000", "7612", "76130000", "7614", "7616", HYDROGEN)
# ... except, under "72 - Iron and steel": ferro-silicon (7202 2), the ferro-alloys 7202 30 00 to 7202 99 80 below,
# and 7204 (ferrous waste and scrap): for these indirect emissions count.
_DIRECT_ONLY_EXCEPT = ("72022", "72023000", "72025000", "72027000", "72028000", "720291", "720292", "720293",
                       "720299", "7204")


def indirect_emissions_count(cn_code: str) -> bool:
    """True unless the good is listed in Annex II of Reg 2023/956 (only direct emissions count for those)."""
    listed = cn_code.startswith(_DIRECT_ONLY) and not cn_code.startswith(_DIRECT_ONLY_EXCEPT)
    return not listed


@dataclass(frozen=True)
class DeclarationGood:
    """One goods-list line with what the declaration needs beyond the QReport columns."""
    good: ImportedGood
    where: str                                  # source file and row, for messages
    carbon_price_paid_eur: Decimal = Decimal(0)  # total for the line, effectively paid in the country of origin
    free_allocation_t_per_t: Decimal = Decimal(0)
    default_variant: str = ""                   # part of the Annex I description where a CN code has two rows


@dataclass(frozen=True)
class DefaultApplied:
    """The IR 2025/2621 Annex I value of a `default` line, with the declaration year's mark-up (tCO2e per t)."""
    looked_up: bool                             # True: the line gave no SEE and takes these; False: compared only
    cn_code_matched: str
    table: str                                  # the country's table, or OTHER (other countries and territories)
    direct: Decimal                             # as printed, without mark-up
    indirect: Decimal
    markup_percent: Decimal
    direct_with_markup: Decimal
    indirect_with_markup: Decimal
    source: str


@dataclass(frozen=True)
class DeclarationDeclarant:
    """Who declares. Reads the QReport declarant YAML too: its reporting-period and signature fields are ignored,
    but a `year` there must match the declaration year."""
    identification_number: str                  # EORI / CBAM account number
    name: str
    country: str

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], year: int) -> "DeclarationDeclarant":
        if not isinstance(data, Mapping):
            raise CbamError("declarant: expected a mapping of fields (identification_number, name, country)")
        ours = {f.name for f in fields(cls)}
        allowed = ours | {f.name for f in fields(Declarant)}
        unknown = sorted(set(map(str, data)) - allowed)
        if unknown:
            raise CbamError("\n".join(f"declarant: {name}: {unknown_field(name, allowed)}" for name in unknown))
        missing = [n for n in sorted(ours) if data.get(n) in (None, "")]
        if missing:
            raise CbamError(f"declarant: missing field(s) {', '.join(missing)}")
        if data.get("year") not in (None, "") and str(data["year"]) != str(year):
            raise CbamError(f"declarant: year {data['year']} in the file differs from the declaration year {year}")
        country = str(data["country"])
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise CbamError(f"declarant country: {country!r} is not an ISO 3166-1 alpha-2 code (e.g. DE)")
        return cls(str(data["identification_number"]), str(data["name"]), country)


@dataclass(frozen=True)
class DeclarationLine:
    """One good line: tonnes of good, tonnes CO2e, EUR. `due_t` is what it adds to the certificates."""
    item: int
    source: str
    cn_code: str
    origin_country: str
    installation_id: str
    value_type: str
    see_direct: Decimal                     # tCO2e per t as used: given, or the default value with mark-up
    see_indirect: Decimal
    default_value: DefaultApplied | None    # for value_type default: the table's value (taken or compared)
    net_mass_t: Decimal
    direct_t: Decimal
    indirect_t: Decimal
    indirect_counted: bool                  # Art. 7(1) / Annex II
    embedded_t: Decimal                     # direct_t + indirect_t where counted
    free_allocation_t: Decimal              # Art. 31 adjustment (input)
    carbon_price_paid_eur: Decimal
    carbon_price_deduction_t: Decimal       # Art. 9: paid EUR / certificate price
    net_t: Decimal                          # embedded - adjustment - deduction, not below 0 for the line
    status: str                             # "due", "de_minimis_exempt" or "out_of_scope"
    due_t: Decimal                          # net_t when due, else 0


@dataclass(frozen=True)
class CnTotal:
    """Art. 6(2)(a)-(c) per type of goods (CN code), over the lines in scope."""
    cn_code: str
    lines: int
    net_mass_t: Decimal
    direct_t: Decimal
    indirect_t: Decimal
    embedded_t: Decimal
    free_allocation_t: Decimal
    carbon_price_paid_eur: Decimal
    carbon_price_deduction_t: Decimal
    due_t: Decimal


@dataclass(frozen=True)
class DeMinimis:
    threshold_t: Decimal
    counted_mass_t: Decimal                 # goods counting towards Art. 2a (not H2/electricity, not Annex III)
    exempt: bool                            # counted mass does not exceed the threshold (Art. 2a(1))
    excluded_items: tuple[int, ...]         # hydrogen (Art. 2a(4)) and Annex III origins (Art. 2(4))
    basis: str


@dataclass(frozen=True)
class Declaration:
    declarant: DeclarationDeclarant
    year: int
    submission_deadline: date               # 30 September of the following year (Art. 6(1), 22(1) as amended)
    certificate_price_eur: Decimal | None
    lines: tuple[DeclarationLine, ...]
    per_cn_code: tuple[CnTotal, ...]
    de_minimis: DeMinimis
    net_mass_t: Decimal                     # totals over the lines in scope (exempt ones included)
    direct_t: Decimal
    indirect_t: Decimal
    embedded_t: Decimal
    free_allocation_t: Decimal
    carbon_price_paid_eur: Decimal
    carbon_price_deduction_t: Decimal
    due_t: Decimal                          # exact, before rounding
    certificates_to_surrender: int          # due_t rounded up to whole certificates
    estimated_cost_eur: Decimal | None      # certificates x price, when a price is given
    notes: tuple[str, ...]
    warnings: tuple[str, ...] = ()          # e.g. a default line whose given SEE differs from IR 2025/2621

    def as_json(self) -> dict[str, Any]:
        """Plain JSON types; decimals as strings so no digit is lost (the project's convention)."""
        return _plain(asdict(self))


# --- reading ----------------------------------------------------------------------------------------------------

def read_declaration_goods(path: str | os.PathLike[str]) -> list[DeclarationGood]:
    """The QReport goods list (.csv or .xlsx) plus optional columns carbon_price_paid_eur_per_t (EUR per tonne of
    good) or carbon_price_paid_eur (EUR for the line), not both on one row, and free_allocation_t_per_t."""
    rows = read_rows(path, GOODS_COLUMNS, (*OPTIONAL_GOODS_COLUMNS, *DECLARATION_COLUMNS, VARIANT_COLUMN))
    goods = []
    for row in rows:
        good = parse_good(row, default_see_optional=True)
        if good.cn_code == ELECTRICITY:
            raise CbamError(f"{row.where}, column cn_code: electricity (2716 00 00) is declared in MWh and is not "
                            f"supported in a goods list in tonnes")
        extra = {c: _non_negative(row.cells[c], row.where, c) for c in DECLARATION_COLUMNS if row.cells[c]}
        if all(c in extra for c in PRICE_COLUMNS):
            raise CbamError(f"{row.where}: give carbon_price_paid_eur_per_t or carbon_price_paid_eur, not both")
        if "carbon_price_paid_eur_per_t" in extra:
            paid = extra["carbon_price_paid_eur_per_t"] * good.net_mass_t
        else:
            paid = extra.get("carbon_price_paid_eur", Decimal(0))
        goods.append(DeclarationGood(good, row.where, paid, extra.get("free_allocation_t_per_t", Decimal(0)),
                                     row.cells[VARIANT_COLUMN]))
    return goods


def _non_negative(text: str, where: str, column: str) -> Decimal:
    value = decimal_cell(text, where, column)
    if value < 0:
        raise CbamError(f"{where}, column {column}: {text} must not be negative")
    return value


# --- computing --------------------------------------------------------------------------------------------------

def declaration(declarant: DeclarationDeclarant, year: int, goods: Sequence[DeclarationGood],
                certificate_price_eur: Decimal | None = None) -> Declaration:
    """The declaration summary for `year`; CbamError for a year before 2026, no goods, a non-positive price, or a
    carbon price paid without a certificate price to convert it."""
    if not isinstance(year, int) or not FIRST_DEFINITIVE_YEAR <= year <= 9999:
        raise CbamError(f"year {year!r}: the annual declaration starts with {FIRST_DEFINITIVE_YEAR} (definitive "
                        f"period, Reg 2023/956 Art. 6(1) as amended by Reg 2025/2083)")
    if not goods:
        raise CbamError("a declaration needs at least one imported good")
    if certificate_price_eur is not None and not (certificate_price_eur.is_finite() and certificate_price_eur > 0):
        raise CbamError(f"certificate price {certificate_price_eur}: must be a positive number of EUR")
    for g in goods:
        if g.carbon_price_paid_eur and certificate_price_eur is None:
            raise CbamError(f"{g.where}: a carbon price paid needs a certificate price (--certificate-price) to "
                            f"convert it into certificates (Art. 9)")

    def in_scope(g: DeclarationGood) -> bool:
        return g.good.origin_country not in ANNEX_III_POINT_1

    counted = {i for i, g in enumerate(goods, start=1) if in_scope(g) and g.good.cn_code != HYDROGEN}
    counted_mass = sum((goods[i - 1].good.net_mass_t for i in counted), Decimal(0))
    exempt = counted_mass <= DE_MINIMIS_THRESHOLD_T
    de_minimis = DeMinimis(
        DE_MINIMIS_THRESHOLD_T, counted_mass, exempt,
        tuple(i for i in range(1, len(goods) + 1) if i not in counted),
        "Reg 2023/956 Art. 2a and Annex VII point 1 (inserted by Reg 2025/2083): exempt when the net mass of all "
        "goods imported in the calendar year does not cumulatively exceed 50 t; electricity and hydrogen excluded "
        "(Art. 2a(4)); goods from Annex III point 1 countries are outside the Regulation (Art. 2(4)).")

    lines, warnings = [], []
    for item, g in enumerate(goods, start=1):
        status = "out_of_scope" if not in_scope(g) else \
            "de_minimis_exempt" if exempt and item in counted else "due"
        applied, warning = _default(g, year) if status != "out_of_scope" else (None, None)
        lines.append(_line(item, g, certificate_price_eur, status, applied))
        if warning:
            warnings.append(warning)
    declared = [line for line in lines if line.status != "out_of_scope"]  # totals: Art. 6(2)(a) incl. exempt
    due = _sum(declared, "due_t")
    certificates = math.ceil(due)
    return Declaration(
        declarant=declarant, year=year, submission_deadline=date(year + 1, 9, 30),
        certificate_price_eur=certificate_price_eur, lines=tuple(lines), per_cn_code=_per_cn(declared),
        de_minimis=de_minimis, **{name: _sum(declared, name) for name in _TOTALS}, due_t=due,
        certificates_to_surrender=certificates,
        estimated_cost_eur=None if certificate_price_eur is None else certificates * certificate_price_eur,
        notes=_notes(year), warnings=tuple(warnings),
    )


def _default(g: DeclarationGood, year: int) -> tuple[DefaultApplied | None, str | None]:
    """For a `default` line: IR 2025/2621 Annex I's value with `year`'s mark-up, and a warning where the line's own
    SEE differ from it. CbamError (naming the line) when the table has no value for the good and country."""
    good = g.good
    if good.value_type != "default":
        return None, None
    try:
        value = default_value(good.origin_country, good.cn_code, year, variant=g.default_variant or None)
    except CbamError as exc:
        raise CbamError(f"{g.where}: value_type default: {exc}") from None
    factor = 1 + value.markup_percent / 100
    indirect = value.indirect or Decimal(0)
    applied = DefaultApplied(
        looked_up=good.see_direct is None, cn_code_matched=value.cn_code_matched, table=value.table,
        direct=value.direct, indirect=indirect, markup_percent=value.markup_percent,
        direct_with_markup=value.direct * factor, indirect_with_markup=indirect * factor, source=value.source)
    if applied.looked_up:
        return applied, None
    differ = [f"{name} {given} (table {expected})" for name, given, expected in (
        ("see_direct", good.see_direct, applied.direct_with_markup),
        ("see_indirect", good.see_indirect, applied.indirect_with_markup))
        if abs(given - expected) > DEFAULT_TOLERANCE]
    if not differ:
        return applied, None
    return applied, (f"{g.where}: value_type default, but {' and '.join(differ)} differ from IR 2025/2621 Annex I for "
                     f"CN {good.cn_code} from {good.origin_country} in {year} (printed {value.direct} direct + "
                     f"{indirect} indirect, {value.markup_percent} % mark-up; {value.source}); the line's values "
                     "are used")


def _line(item: int, g: DeclarationGood, price: Decimal | None, status: str,
          applied: DefaultApplied | None) -> DeclarationLine:
    good = g.good
    if applied is not None and applied.looked_up:
        see_direct, see_indirect = applied.direct_with_markup, applied.indirect_with_markup
    else:
        see_direct, see_indirect = good.see_direct or Decimal(0), good.see_indirect or Decimal(0)
    direct = good.net_mass_t * see_direct
    indirect = good.net_mass_t * see_indirect
    counted = indirect_emissions_count(good.cn_code)
    embedded = direct + (indirect if counted else Decimal(0))
    free_allocation = good.net_mass_t * g.free_allocation_t_per_t
    deduction = g.carbon_price_paid_eur / price if g.carbon_price_paid_eur else Decimal(0)
    net = max(Decimal(0), embedded - free_allocation - deduction)
    return DeclarationLine(
        item=item, source=g.where, cn_code=good.cn_code, origin_country=good.origin_country,
        installation_id=good.installation_id, value_type=good.value_type, see_direct=see_direct,
        see_indirect=see_indirect, default_value=applied, net_mass_t=good.net_mass_t,
        direct_t=direct, indirect_t=indirect, indirect_counted=counted, embedded_t=embedded,
        free_allocation_t=free_allocation, carbon_price_paid_eur=g.carbon_price_paid_eur,
        carbon_price_deduction_t=deduction, net_t=net, status=status,
        due_t=net if status == "due" else Decimal(0),
    )


_TOTALS = ("net_mass_t", "direct_t", "indirect_t", "embedded_t", "free_allocation_t", "carbon_price_paid_eur",
           "carbon_price_deduction_t")


def _sum(items: Sequence[Any], name: str) -> Decimal:
    return sum((getattr(i, name) for i in items), Decimal(0))


def _per_cn(lines: Sequence[DeclarationLine]) -> tuple[CnTotal, ...]:
    totals = []
    groups: dict[str, list[DeclarationLine]] = {}
    for line in lines:
        groups.setdefault(line.cn_code, []).append(line)
    for cn, group in sorted(groups.items()):
        totals.append(CnTotal(cn, len(group), *(_sum(group, f.name) for f in fields(CnTotal)[2:])))
    return tuple(totals)


def _notes(year: int) -> tuple[str, ...]:
    notes = [
        "Summary of the annual CBAM declaration (Reg 2023/956 Art. 6(2)); not an official registry format.",
        "Indirect emissions count only for goods not listed in Annex II (Art. 7(1)); both are reported.",
        "Free-allocation adjustment (Art. 31) is the input column free_allocation_t_per_t (default 0).",
        "Carbon price paid (Art. 9) converted at the given certificate price; for default values only a yearly "
        "default carbon price may be claimed (Art. 9(4)).",
        "Certificates (1 per tCO2e, Art. 3(24)) rounded up to a whole certificate: no rounding rule in the Regulation.",
        "The de-minimis check sees only this list: imports declared by an indirect customs representative count "
        "too (Art. 2a(1), recital 7 of Reg 2025/2083).",
    ]
    if year == FIRST_DEFINITIVE_YEAR:
        notes.append("For 2026 the certificate price is the quarterly average of the quarter of import (Art. 21(1a)); "
                     "one price for the whole year makes the cost an estimate.")
    return tuple(notes)


# --- writing ----------------------------------------------------------------------------------------------------

CSV_COLUMNS = ("level", "item", "cn_code", "origin_country", "installation_id", "value_type", "status",
               "see_direct", "see_indirect", "default_looked_up", "default_markup_percent", "default_source",
               "net_mass_t", "direct_t", "indirect_t", "indirect_counted", "embedded_t", "free_allocation_t",
               "carbon_price_paid_eur", "carbon_price_deduction_t", "due_t", "certificates_to_surrender")


class _SafeDictWriter(csv.DictWriter):
    """Every cell through safe_cell: item names and installation ids are the declarant's text."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({name: safe_cell(value) for name, value in rowdict.items()})


def declaration_csv(d: Declaration) -> str:
    """One row per good line (level=line), per CN code (level=cn_code) and the total (level=total)."""
    out = io.StringIO()
    writer = _SafeDictWriter(out, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for line in d.lines:
        applied = line.default_value
        flags = {} if applied is None else {"default_looked_up": str(applied.looked_up).lower(),
                                            "default_markup_percent": str(applied.markup_percent),
                                            "default_source": applied.source}
        writer.writerow({"level": "line", **_plain(asdict(line)), **flags})
    for total in d.per_cn_code:
        writer.writerow({"level": "cn_code", **_plain(asdict(total))})
    writer.writerow({"level": "total", **{name: str(getattr(d, name)) for name in (*_TOTALS, "due_t")},
                     "certificates_to_surrender": d.certificates_to_surrender,
                     "status": "de_minimis_exempt" if d.de_minimis.exempt else "due"})
    return out.getvalue()


def write_declaration(d: Declaration, json_path: str | os.PathLike[str],
                      csv_path: str | os.PathLike[str] | None = None) -> list[Path]:
    """The JSON (and the CSV): both written to temporary files first, renamed into place only once both are."""
    texts = {Path(json_path): json.dumps(d.as_json(), indent=2, ensure_ascii=False) + "\n"}
    if csv_path is not None:
        texts[Path(csv_path)] = declaration_csv(d)
    return _write_atomically(texts)


def _write_atomically(texts: Mapping[Path, str]) -> list[Path]:
    """Temporary files in the target directories renamed into place: readers never see half a file, and a write
    error leaves none of the targets changed."""
    temporaries: list[str] = []
    try:
        for target, text in texts.items():
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            temporaries.append(temporary)
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                out.write(text)
        for temporary, target in zip(temporaries, texts):
            os.replace(temporary, target)
    except BaseException:
        for temporary in temporaries:
            Path(temporary).unlink(missing_ok=True)
        raise
    return list(texts)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (Decimal, date)):
        return str(value)
    return value

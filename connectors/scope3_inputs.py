"""The inputs of a Scope 3 pull: the purchases file (CSV or .xlsx) and the suppliers file (YAML).

Both are read completely and checked before any node is called: every problem is reported with its file and
row (or key), all at once, so a buyer fixes the file in one pass and no half-computed output is ever written.
Credentials are never in these files: the suppliers file names the environment variables that hold them.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from lca_models.errors import UnitError, did_you_mean, unknown_field
from lca_models.strict_json import loads as strict_loads
from lca_models.units import unit

PURCHASE_COLUMNS = ("supplier", "product_id", "quantity", "unit", "spend", "currency")
OPTIONAL_COLUMNS = ("category", "naics", "cn_code", "origin_country", "description", "kg_per_unit",
                    "declared_units_per_unit")
DEFAULT_CATEGORY = "uncategorised"
SUPPLIERS_FILE_KEYS = ("suppliers", "fx_to_usd", "fx_source")
SUPPLIER_KEYS = ("name", "url", "client_id_env", "client_secret_env", "ca_bundle", "jwks", "portal", "org")


class Scope3InputError(ValueError):
    """An input file that cannot be used: `file` and one line per problem (`row N: column: reason`)."""

    def __init__(self, file: str, problems: list[str]) -> None:
        self.file, self.problems = file, problems
        super().__init__("\n".join(f"{file}: {problem}" for problem in problems))


@dataclass(frozen=True)
class Purchase:
    """One purchases line: what was bought from whom, how much, for how much."""

    row: int  # line in the file (header = 1), so every output line points back to its source
    supplier: str
    product_id: str
    quantity: Decimal
    unit: str
    spend: Decimal
    currency: str
    category: str = DEFAULT_CATEGORY
    naics: str | None = None
    cn_code: str | None = None
    origin_country: str | None = None
    description: str | None = None
    # conversions the buyer knows, for a footprint whose declared unit the purchase unit cannot reach by itself:
    kg_per_unit: Decimal | None = None  # kilograms in one purchase unit (e.g. 0.028 for a 28 g screw bought by piece)
    declared_units_per_unit: Decimal | None = None  # the footprint's declaredUnitOfMeasurement in one purchase unit


@dataclass(frozen=True)
class PortalSupplier:
    """A supplier without a node that answers through this buyer's supplier portal (`pcf node invite`): its
    footprints are read from the buyer's node database, as the supplier declared them."""

    name: str
    org: str  # the organisation named in the invitation (`pcf node invite --org`); default: the name
    jwks: dict | None = None  # keys to check an uploaded file's signature with, if it carries one


@dataclass(frozen=True)
class SupplierNode:
    """A supplier's PACT node and where its credentials are (environment variable names, never values)."""

    name: str
    url: str
    client_id_env: str
    client_secret_env: str
    ca_bundle: str | None = None
    jwks: dict | None = None  # the keys trusted for this supplier's signatures (from the `jwks` file)

    def credentials(self) -> tuple[str, str]:
        """(client id, secret) from the environment; Scope3InputError naming the variable when one is unset."""
        missing = [name for name in (self.client_id_env, self.client_secret_env) if not os.environ.get(name)]
        if missing:
            raise Scope3InputError("suppliers file", [f"supplier {self.name}: environment variable(s) "
                                                      f"{', '.join(missing)} not set"])
        return os.environ[self.client_id_env], os.environ[self.client_secret_env]


@dataclass(frozen=True)
class Scope3Config:
    """Supplier nodes by supplier name, and the exchange rates (USD per unit of currency) the buyer configured."""

    suppliers: dict[str, SupplierNode] = field(default_factory=dict)
    usd_per_unit: dict[str, Decimal] = field(default_factory=lambda: {"USD": Decimal(1)})
    fx_source: str = ""
    portal: dict[str, PortalSupplier] = field(default_factory=dict)  # suppliers answering through the portal


def _decimal(text: Any) -> Decimal | None:
    if isinstance(text, bool):
        return None
    try:
        # no separator guessing: "1,500" could be 1500 or 1.5 depending on the locale, so it is refused
        value = Decimal(str(text).strip()) if text is not None and str(text).strip() else None
    except InvalidOperation:
        return None
    return value if value is not None and value.is_finite() else None


def _cell(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    return "" if value is None else str(value).strip()


def _records_csv(path: Path) -> list[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            return [{(k or "").strip().lower(): v for k, v in row.items()} for row in reader]
    except UnicodeDecodeError:
        raise Scope3InputError(str(path), ["not UTF-8 text"]) from None
    except csv.Error as exc:
        raise Scope3InputError(str(path), [f"not readable CSV: {exc}"]) from None


def _records_xlsx(path: Path) -> list[dict[str, Any]]:
    from exchange.xlsx_limits import XlsxLimitError, bounded_rows, open_bounded_workbook

    try:
        workbook = open_bounded_workbook(path)
        try:
            rows = list(bounded_rows(workbook.worksheets[0], file=str(path)))
        finally:
            workbook.close()
    except XlsxLimitError as error:
        raise Scope3InputError(str(path), [error.reason]) from None
    if not rows:
        return []
    header = [str(name or "").strip().lower() for name in rows[0]]
    return [dict(zip(header, row)) for row in rows[1:] if any(cell not in (None, "") for cell in row)]


def read_purchases(path: Path, config: Scope3Config) -> list[Purchase]:
    """The purchases in `path` (.csv or .xlsx, first sheet; header row with the PURCHASE_COLUMNS).

    Refuses (Scope3InputError listing every problem) missing columns, non-numeric or negative amounts, unknown
    units, and any currency without a configured rate: a spend we cannot convert is an error, not a guess.
    """
    if not path.is_file():
        raise Scope3InputError(str(path), ["file not found"])
    records = _records_xlsx(path) if path.suffix.lower() == ".xlsx" else _records_csv(path)
    if not records:
        raise Scope3InputError(str(path), ["no purchase lines"])
    missing = [c for c in PURCHASE_COLUMNS if c not in records[0]]
    if missing:
        strangers = [h for h in records[0] if h and h not in (*PURCHASE_COLUMNS, *OPTIONAL_COLUMNS)]
        raise Scope3InputError(str(path), [f"missing column {c}" + did_you_mean(c, strangers, cutoff=0.6)
                                           for c in missing])
    purchases, problems = [], []
    for row, record in enumerate(records, start=2):
        found = []
        for name in ("supplier", "product_id", "unit", "currency"):
            if not _cell(record, name):
                found.append(f"row {row}: {name}: empty")
        quantity, spend = _decimal(record.get("quantity")), _decimal(record.get("spend"))
        if quantity is None or quantity < 0:
            found.append(f"row {row}: quantity: {record.get('quantity')!r} is not a number >= 0")
        if spend is None or spend < 0:
            found.append(f"row {row}: spend: {record.get('spend')!r} is not a number >= 0")
        factors = {}
        for name in ("kg_per_unit", "declared_units_per_unit"):
            if _cell(record, name):
                factors[name] = _decimal(record.get(name))
                if factors[name] is None or factors[name] <= 0:
                    found.append(f"row {row}: {name}: {record.get(name)!r} is not a number > 0")
        if _cell(record, "unit"):
            try:
                unit(_cell(record, "unit"))
            except UnitError as error:
                found.append(f"row {row}: unit: {error}")
        currency = _cell(record, "currency").upper()
        if currency and currency not in config.usd_per_unit:
            found.append(f"row {row}: currency: no exchange rate for {currency} (configure fx_to_usd in the "
                         "suppliers file; rates are never guessed)")
        if found:
            problems += found
            continue
        purchases.append(Purchase(
            row=row, supplier=_cell(record, "supplier"), product_id=_cell(record, "product_id"), quantity=quantity,
            unit=_cell(record, "unit"), spend=spend, currency=currency,
            category=_cell(record, "category") or DEFAULT_CATEGORY, naics=_cell(record, "naics") or None,
            cn_code=_cell(record, "cn_code").replace(" ", "") or None,
            origin_country=_cell(record, "origin_country").upper() or None,
            description=_cell(record, "description") or None, kg_per_unit=factors.get("kg_per_unit"),
            declared_units_per_unit=factors.get("declared_units_per_unit")))
    if problems:
        raise Scope3InputError(str(path), problems)
    return purchases


def _jwks_file(path: Path, base: Path, name: str) -> dict:
    resolved = path if path.is_absolute() else base / path
    try:
        document = strict_loads(resolved.read_bytes())
    except (OSError, ValueError) as exc:
        raise Scope3InputError(str(resolved), [f"supplier {name}: jwks: cannot read a JSON Web Key Set: {exc}"]) from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise Scope3InputError(str(resolved), [f"supplier {name}: jwks: not a JWK Set (no keys list)"])
    return document


def read_suppliers(path: Path | None) -> Scope3Config:
    """The suppliers file: `suppliers: [{name, url, client_id_env, client_secret_env, ca_bundle?, jwks?}]` (a node),
    or `{name, portal: true, org?, jwks?}` (answers through this buyer's supplier portal), and
    `fx_to_usd: {EUR: "1.08", ...}` with `fx_source`. No file: no nodes (every line is estimated), USD only.

    A key named like a secret (`client_secret`, `password`, ...) is refused: credentials belong in the environment.
    """
    if path is None:
        return Scope3Config()
    file = str(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise Scope3InputError(file, [f"cannot read: {exc.strerror or exc}"]) from None
    except yaml.YAMLError as exc:
        raise Scope3InputError(file, [f"not YAML: {exc}"]) from None
    if not isinstance(document, dict):
        raise Scope3InputError(file, ["expected a mapping with `suppliers` (and optionally `fx_to_usd`)"])
    problems: list[str] = [f"{key}: {unknown_field(str(key), SUPPLIERS_FILE_KEYS)}" for key in document
                           if key not in SUPPLIERS_FILE_KEYS]
    rates = {"USD": Decimal(1)}
    for currency, rate in (document.get("fx_to_usd") or {}).items():
        value = _decimal(rate)
        if value is None or value <= 0:
            problems.append(f"fx_to_usd.{currency}: {rate!r} is not a positive number")
        else:
            rates[str(currency).upper()] = value
    suppliers: dict[str, SupplierNode] = {}
    portal: dict[str, PortalSupplier] = {}
    entries = document.get("suppliers") or []
    if not isinstance(entries, list):
        problems.append("suppliers: expected a list")
        entries = []
    for index, entry in enumerate(entries):
        where = f"suppliers[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a mapping")
            continue
        secret_like = [k for k in entry if k in ("client_secret", "secret", "password", "client_id", "token")]
        if secret_like:
            problems.append(f"{where}: {', '.join(secret_like)}: credentials must not be in the file; name "
                            "environment variables with client_id_env / client_secret_env")
        problems += [f"{where}.{key}: {unknown_field(str(key), SUPPLIER_KEYS)}" for key in entry
                     if key not in SUPPLIER_KEYS and key not in secret_like]
        through_portal = entry.get("portal", False)
        if not isinstance(through_portal, bool):
            problems.append(f"{where}: portal: {through_portal!r} is not true or false")
            continue
        required = ("name",) if through_portal else ("name", "url", "client_id_env", "client_secret_env")
        absent = [k for k in required if not entry.get(k)]
        if absent:
            problems.append(f"{where}: missing {', '.join(absent)}")
        node_keys = [k for k in ("url", "client_id_env", "client_secret_env", "ca_bundle") if through_portal and k in entry]
        if node_keys:
            problems.append(f"{where}: {', '.join(node_keys)}: a supplier answering through the portal has no node "
                            "(drop these keys, or drop `portal: true` to pull from its node)")
        if secret_like or absent or node_keys:
            continue
        name = str(entry["name"])
        if name in suppliers or name in portal:
            problems.append(f"{where}: supplier {name} listed twice")
            continue
        try:
            trusted = _jwks_file(Path(entry["jwks"]), path.parent, name) if entry.get("jwks") else None
        except Scope3InputError as error:
            problems += error.problems
            continue
        if through_portal:
            portal[name] = PortalSupplier(name, str(entry.get("org") or name), trusted)
            continue
        ca = entry.get("ca_bundle")
        suppliers[name] = SupplierNode(name, str(entry["url"]).rstrip("/"), str(entry["client_id_env"]),
                                       str(entry["client_secret_env"]),
                                       str(ca if Path(ca).is_absolute() else path.parent / ca) if ca else None, trusted)
    if problems:
        raise Scope3InputError(file, problems)
    return Scope3Config(suppliers, rates, str(document.get("fx_source") or ""), portal)

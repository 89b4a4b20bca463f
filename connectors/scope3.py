"""Scope 3 category 1 (purchased goods) from supplier footprints, with estimates flagged where there are none.

    pull_footprints(config, purchases, on_done) -> {supplier: Pulled}
    read_declared(store, config, purchases) -> {supplier: Pulled}     # suppliers answering through the portal
    assess(purchases, pulled, config, factors=...) -> Scope3Result

Every supplier node is asked concurrently (a bounded thread pool, one `PactClient` per supplier: a client is
not shared between threads) for the footprints of the products bought from it. A footprint is used as primary
data only if it is valid PACT, Active, and its signature verifies where the buyer configured the supplier's keys.
Suppliers without a node answer through the buyer's supplier portal (`pcf node invite`): their footprints are read
from the buyer's node database and used as supplier-specific data, flagged "supplier-declared, unsigned" on every
line and totalled apart (`declared_kgco2e`), never passed off as verified.

Each quantity is converted to the footprint's declared unit (`_declared_units`): directly within a dimension (t to
kg); through the purchases file's `declared_units_per_unit` (how much of the footprint's unit one purchase unit is);
through mass, with the purchases file's `kg_per_unit` and/or the footprint's `productMassPerDeclaredUnit`. A line
whose footprint's unit cannot be reached is *unresolved*: it is not dropped, it gets the documented estimate and is
counted as unresolved. Without a usable footprint, the line gets a documented estimate: the CBAM default value
(IR 2025/2621) for a CBAM good bought by mass, else the spend-based factor for its NAICS code (scope3_factors.py: US
EPA's table, or the buyer's own). Estimates are flagged per line and totalled apart from primary data, never mixed
into it silently; a line without even an estimate is listed and counted. An unreachable supplier is a problem in the
report; the other suppliers are still computed. Emissions are the footprint's `pcfExcludingBiogenicUptake` (GHG
Protocol Scope 3: biogenic removals are reported separately, not netted).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from exchange.cbam.defaults import FIRST_YEAR, default_value
from exchange.cbam.errors import CbamError
from exchange.node.storage import NodeStore
from exchange.pact import PactMappingError, PactValidationError, load_footprint
from exchange.pact.signing import SIGNATURE_SCHEMA, verify
from lca_models.errors import UnitError
from lca_models.footprint import Footprint
from lca_models.units import PACT_DECLARED_UNITS, convert, dimension

from .pact_client import PactClient, PactClientError
from .scope3_factors import SpendFactorTable, bundled_spend_factors
from .scope3_inputs import PortalSupplier, Purchase, Scope3Config, SupplierNode

__all__ = ["Line", "Problem", "Pulled", "Scope3Result", "Total", "assess", "pull_footprints", "read_declared"]

PRIMARY = "supplier footprint"
DECLARED = "supplier-declared (portal)"
CBAM_ESTIMATE = "estimate: CBAM default value"
SPEND_ESTIMATE = "estimate: spend-based"
NO_ESTIMATE = "none: no footprint and no estimate"
DECLARED_FLAG = "supplier-declared, unsigned"
PRODUCTS_PER_QUERY = 50  # productId values per list request: keeps the query string well under URL length limits


@dataclass(frozen=True)
class Found:
    """A supplier footprint as received, and what its signature check said."""

    document: dict
    footprint: Footprint
    signature: str  # "verified (kid ...)", "signed, not checked: ...", "unsigned", or "FAILED: ..."
    usable: bool
    declared: bool = False  # typed or uploaded by the supplier through the buyer's portal


@dataclass(frozen=True)
class Pulled:
    """What one supplier's node gave: footprints by lower-cased product id, or why nothing came."""

    supplier: str
    found: dict[str, Found]
    error: str | None = None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Problem:
    where: str  # "supplier X" or "row N"
    message: str


@dataclass(frozen=True)
class Line:
    """One purchase with its emissions, how they were obtained, and their data quality."""

    purchase: Purchase
    method: str  # PRIMARY, DECLARED, CBAM_ESTIMATE, SPEND_ESTIMATE or NO_ESTIMATE
    kgco2e: Decimal | None
    spend_usd: Decimal
    flag: str = ""  # why this line is not verified primary data ("" for primary lines)
    footprint_id: str | None = None
    declared_units: Decimal | None = None  # purchase expressed in the footprint's declared units
    pcf_per_declared_unit: Decimal | None = None
    primary_data_share: Decimal | None = None  # percent: the footprint's own, 0 for estimates
    dqr: tuple[Decimal, Decimal, Decimal] | None = None  # technological, geographical, temporal
    signature: str = ""
    estimate_source: str = ""
    conversion: str = ""  # how the purchased quantity became declared units
    unresolved: bool = False  # the supplier's footprint was there, but its declared unit could not be reached

    @property
    def primary(self) -> bool:
        """Supplier-specific data: a supplier's footprint, pulled from its node or declared through the portal."""
        return self.method in (PRIMARY, DECLARED)


@dataclass(frozen=True)
class Total:
    """A group of lines: its emissions, how much of them is primary data, and its weighted data quality."""

    key: str
    kgco2e: Decimal
    primary_kgco2e: Decimal
    estimated_kgco2e: Decimal
    unresolved_lines: int  # lines whose supplier footprint could not be applied (unit): estimated or without figure
    spend_usd: Decimal
    primary_data_share: Decimal | None  # emission-weighted percent over lines with a known share
    dqr: Decimal | None  # emission-weighted mean DQR over primary lines with DQI (1 best .. 5 worst)
    declared_kgco2e: Decimal = Decimal(0)  # of primary_kgco2e: supplier-declared through the portal, unsigned
    lines_without_estimate: int = 0  # lines with no figure at all: not in kgco2e, listed under problems

    @property
    def primary_share_percent(self) -> Decimal | None:
        return (self.primary_kgco2e / self.kgco2e * 100) if self.kgco2e else None


@dataclass(frozen=True)
class Scope3Result:
    lines: list[Line]
    problems: list[Problem]
    overall: Total
    by_supplier: list[Total]
    by_product: list[Total]
    by_category: list[Total]


# --- pulling


def _signature_status(document: dict, supplier: SupplierNode | PortalSupplier) -> tuple[str, bool]:
    extensions = document.get("extensions")
    signed = isinstance(extensions, list) and any(
        isinstance(e, dict) and e.get("dataSchema") == SIGNATURE_SCHEMA for e in extensions)
    if not signed:
        return "unsigned", True
    if supplier.jwks is None:
        return "signed, not checked: no jwks configured for this supplier", True
    check = next(c for c in verify(document, supplier.jwks) if c.name == "signature")
    return (f"verified: {check.detail}", True) if check.ok else (f"FAILED: {check.detail}", False)


def _newest(candidates: list[Found]) -> Found:
    return max(candidates, key=lambda f: (f.usable, f.footprint.status == "Active", f.footprint.created))


def _pull_one(supplier: SupplierNode, product_ids: list[str], retries: int, timeout: float) -> Pulled:
    client_id, secret = supplier.credentials()
    problems, by_product = [], defaultdict(list)
    try:
        with PactClient(supplier.url, client_id, secret, ca_bundle=supplier.ca_bundle, max_retries=retries,
                        timeout=timeout) as client:
            documents = [document for start in range(0, len(product_ids), PRODUCTS_PER_QUERY)
                         for document in client.list_footprints(productId=product_ids[start:start + PRODUCTS_PER_QUERY])]
    except PactClientError as error:
        reason = "unreachable" if error.status is None else "refused the request"
        return Pulled(supplier.name, {}, f"{reason}: {error}")
    wanted = {p.lower() for p in product_ids}
    for document in documents:
        try:
            footprint = load_footprint(document).footprint
        except (PactValidationError, PactMappingError) as error:
            problems.append(f"footprint {document.get('id') if isinstance(document, dict) else '?'} ignored: {error}")
            continue
        signature, usable = _signature_status(document, supplier)
        if not usable:
            problems.append(f"footprint {footprint.id}: signature {signature}: not used")
        for product in footprint.product_ids:
            if product.lower() in wanted:
                by_product[product.lower()].append(Found(document, footprint, signature, usable))
    return Pulled(supplier.name, {p: _newest(c) for p, c in by_product.items()}, None, tuple(problems))


def pull_footprints(config: Scope3Config, purchases: Iterable[Purchase],
                    on_done: Callable[[Pulled], None] = lambda pulled: None, max_workers: int = 8,
                    retries: int = 2, timeout: float = 10.0) -> dict[str, Pulled]:
    """Ask every configured supplier node (concurrently, at most `max_workers` at once) for its purchased products.

    `on_done` is called as each supplier finishes (a progress bar). Credentials are read from the environment
    first, for every supplier, so a missing variable stops everything before any node is called.
    """
    wanted: dict[str, set[str]] = defaultdict(set)
    for purchase in purchases:
        if purchase.supplier in config.suppliers:
            wanted[purchase.supplier].add(purchase.product_id)
    for name in wanted:
        config.suppliers[name].credentials()
    results: dict[str, Pulled] = {}
    if not wanted:
        return results
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(wanted))), thread_name_prefix="scope3") as pool:
        futures = {pool.submit(_pull_one, config.suppliers[name], sorted(ids), retries, timeout): name
                   for name, ids in wanted.items()}
        for future in as_completed(futures):
            pulled = future.result()
            results[futures[future]] = pulled
            on_done(pulled)
    return results


def read_declared(store: NodeStore, config: Scope3Config, purchases: Iterable[Purchase]) -> dict[str, Pulled]:
    """The footprints the portal suppliers of `purchases` declared through this buyer's portal (its node database),
    as one `Pulled` per supplier: the newest Active one per product, flagged supplier-declared."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for purchase in purchases:
        if purchase.supplier in config.portal:
            wanted[purchase.supplier].add(purchase.product_id.lower())
    results = {}
    for name, products in wanted.items():
        supplier = config.portal[name]
        by_product, problems = defaultdict(list), []
        for item in store.declared_through_portal(supplier.org):
            try:
                document = json.loads(item.document or "")
                footprint = load_footprint(document).footprint
            except (ValueError, PactValidationError, PactMappingError) as error:
                problems.append(f"footprint {item.footprint_id} (portal) ignored: {error}")
                continue
            signature, usable = _signature_status(document, supplier)
            if signature == "unsigned":
                signature = f"unsigned: supplier-declared through the portal (invitation {item.invite_id})"
            for product in footprint.product_ids:
                if product.lower() in products:
                    by_product[product.lower()].append(Found(document, footprint, signature, usable, declared=True))
        results[name] = Pulled(name, {p: _newest(c) for p, c in by_product.items()}, None, tuple(problems))
    return results


# --- computing


def _declared_units(purchase: Purchase, footprint: Footprint) -> tuple[Decimal, str]:
    """The purchased quantity in the footprint's declared units, and how it was converted (UnitError when the
    footprint's unit cannot be reached from the purchase's: the line is then unresolved).

    In order: within the dimension of the declared unit (t -> kg); the line's `declared_units_per_unit`; through
    mass (the purchase in mass, or made mass by the line's `kg_per_unit`) into a mass declared unit, or into any
    declared unit through the footprint's `productMassPerDeclaredUnit` (the mass of one declared unit)."""
    symbol = PACT_DECLARED_UNITS.get(footprint.declared_unit_of_measurement)
    if symbol is None:
        raise UnitError(f"unknown declared unit {footprint.declared_unit_of_measurement!r}")
    amount = footprint.declared_unit_amount
    declared = f"{amount.normalize():f} {footprint.declared_unit_of_measurement}"
    if dimension(purchase.unit) == dimension(symbol):
        return convert(purchase.quantity, purchase.unit, symbol) / amount, f"{purchase.unit} -> {symbol}"
    if purchase.declared_units_per_unit is not None:
        return (purchase.quantity * purchase.declared_units_per_unit / amount,
                f"declared_units_per_unit {purchase.declared_units_per_unit} {symbol} per {purchase.unit} "
                "(purchases file)")
    kilograms, how = None, ""
    if dimension(purchase.unit) == "mass":
        kilograms, how = convert(purchase.quantity, purchase.unit, "kg"), f"{purchase.unit} -> kg"
    elif purchase.kg_per_unit is not None:
        kilograms, how = purchase.quantity * purchase.kg_per_unit, f"kg_per_unit {purchase.kg_per_unit} (purchases file)"
    if kilograms is not None and dimension(symbol) == "mass":
        return convert(kilograms, "kg", symbol) / amount, f"{how}, kg -> {symbol}"
    if kilograms is not None and footprint.product_mass_per_declared_unit > 0:
        return (kilograms / footprint.product_mass_per_declared_unit,
                f"{how}, productMassPerDeclaredUnit {footprint.product_mass_per_declared_unit} kg per {declared}")
    hint = ("the footprint gives no productMassPerDeclaredUnit: give declared_units_per_unit"
            if kilograms is not None else "give kg_per_unit or declared_units_per_unit in the purchases file")
    raise UnitError(f"{purchase.unit} cannot be converted to the footprint's declared unit {declared} ({hint})")


def _estimate(purchase: Purchase, spend_usd: Decimal, flag: str, year: int, factors: SpendFactorTable,
              usd_per_unit: dict[str, Decimal], unresolved: bool = False) -> Line:
    """The documented fallback: the CBAM default value for a CBAM good bought by mass, else spend-based."""
    if purchase.cn_code and purchase.origin_country and dimension(purchase.unit) == "mass":
        try:
            value = default_value(purchase.origin_country, purchase.cn_code, year)
        except CbamError:
            value = None
        if value is not None:
            tonnes = convert(purchase.quantity, purchase.unit, "t")
            return Line(purchase, CBAM_ESTIMATE, tonnes * value.total * 1000, spend_usd, flag,
                        primary_data_share=Decimal(0), unresolved=unresolved,
                        estimate_source=f"{value.total} tCO2e/t (CN {value.cn_code_matched}, table {value.table}, "
                                        f"without mark-up): {value.source}")
    factor = factors.factors.get(purchase.naics or "")
    if factor is not None:
        spend = spend_usd / usd_per_unit[factor.currency]  # the spend in the factor's currency
        return Line(purchase, SPEND_ESTIMATE, spend * factor.kgco2e_per_currency_unit, spend_usd, flag,
                    primary_data_share=Decimal(0), estimate_source=factor.describe(), unresolved=unresolved)
    reason = (f"no factor for NAICS {purchase.naics} in {factors.origin}" if purchase.naics
              else "give a naics code, or cn_code and origin_country for a CBAM good bought by mass")
    return Line(purchase, NO_ESTIMATE, None, spend_usd, f"{flag}; no estimate possible ({reason})", unresolved=unresolved)


def _line(purchase: Purchase, pulled: dict[str, Pulled], config: Scope3Config, year: int,
          factors: SpendFactorTable) -> Line:
    spend_usd = purchase.spend * config.usd_per_unit[purchase.currency]

    def estimate(flag: str, unresolved: bool = False) -> Line:
        return _estimate(purchase, spend_usd, flag, year, factors, config.usd_per_unit, unresolved)

    portal = purchase.supplier in config.portal
    if purchase.supplier not in config.suppliers and not portal:
        return estimate("no node configured for this supplier")
    result = pulled.get(purchase.supplier)
    if result is None or result.error:
        return estimate(f"supplier node {result.error if result else 'not asked'}")
    found = result.found.get(purchase.product_id.lower())
    if found is None:
        return estimate("no footprint declared for this product through the portal" if portal
                        else "no footprint for this product on the supplier's node")
    if not found.usable:
        return estimate(f"footprint {found.footprint.id}: signature {found.signature}")
    if found.footprint.status != "Active":  # PACT: a Deprecated footprint has been superseded, not to be used
        return estimate(f"footprint {found.footprint.id} is {found.footprint.status}")
    footprint = found.footprint
    try:
        units, conversion = _declared_units(purchase, footprint)
    except UnitError as error:
        return estimate(f"unresolved: footprint {footprint.id} not applied: {error}", unresolved=True)
    dqi = footprint.dqi
    return Line(purchase, DECLARED if found.declared else PRIMARY, units * footprint.pcf_excluding_biogenic_uptake,
                spend_usd, DECLARED_FLAG if found.declared else "", footprint.id, units,
                footprint.pcf_excluding_biogenic_uptake, footprint.primary_data_share,
                (dqi.technological_dqr, dqi.geographical_dqr, dqi.temporal_dqr) if dqi else None, found.signature,
                conversion=conversion)


def _total(key: str, lines: list[Line]) -> Total:
    resolved = [line for line in lines if line.kgco2e is not None]
    kg = sum((line.kgco2e for line in resolved), Decimal(0))
    primary = sum((line.kgco2e for line in resolved if line.primary), Decimal(0))
    shared = [line for line in resolved if line.primary_data_share is not None]
    shared_kg = sum((line.kgco2e for line in shared), Decimal(0))
    rated = [line for line in resolved if line.primary and line.dqr is not None]
    rated_kg = sum((line.kgco2e for line in rated), Decimal(0))
    return Total(
        key=key, kgco2e=kg, primary_kgco2e=primary, estimated_kgco2e=kg - primary,
        unresolved_lines=sum(1 for line in lines if line.unresolved),
        spend_usd=sum((line.spend_usd for line in lines), Decimal(0)),
        primary_data_share=(sum((line.kgco2e * line.primary_data_share for line in shared), Decimal(0)) / shared_kg
                            if shared_kg else None),
        dqr=(sum((line.kgco2e * sum(line.dqr) / 3 for line in rated), Decimal(0)) / rated_kg if rated_kg else None),
        declared_kgco2e=sum((line.kgco2e for line in resolved if line.method == DECLARED), Decimal(0)),
        lines_without_estimate=len(lines) - len(resolved))


def _grouped(lines: list[Line], key: Callable[[Line], str]) -> list[Total]:
    groups: dict[str, list[Line]] = defaultdict(list)
    for line in lines:
        groups[key(line)].append(line)
    return sorted((_total(name, members) for name, members in groups.items()), key=lambda t: (-t.kgco2e, t.key))


def assess(purchases: list[Purchase], pulled: dict[str, Pulled], config: Scope3Config,
           year: int | None = None, factors: SpendFactorTable | None = None) -> Scope3Result:
    """Emissions per purchase line, flagged where estimated, and totals by supplier, product and category.

    `pulled` holds what supplier nodes gave and what portal suppliers declared (`read_declared`). `factors` are the
    spend-based factors (default: the bundled US EPA table); every currency they are in needs a rate in `config`.
    `year` selects the CBAM default-value table year (default: this year, at least the first definitive year);
    the mark-up is not applied: it is a CBAM pricing penalty, not an emission.
    """
    year = max(year or datetime.now(timezone.utc).year, FIRST_YEAR)
    factors = factors or bundled_spend_factors()
    lines = [_line(purchase, pulled, config, year, factors) for purchase in purchases]
    problems = []
    for name, result in sorted(pulled.items()):
        if result.error:
            problems.append(Problem(f"supplier {name}", result.error))
        problems += [Problem(f"supplier {name}", message) for message in result.problems]
    unconfigured = sorted({p.supplier for p in purchases
                           if p.supplier not in config.suppliers and p.supplier not in config.portal})
    problems += [Problem(f"supplier {name}", "no node configured: all its lines are estimates") for name in unconfigured]
    problems += [Problem(f"row {line.purchase.row}", line.flag) for line in lines
                 if line.unresolved or line.method == NO_ESTIMATE]
    return Scope3Result(
        lines=lines, problems=problems, overall=_total("all purchases", lines),
        by_supplier=_grouped(lines, lambda line: line.purchase.supplier),
        by_product=_grouped(lines, lambda line: f"{line.purchase.supplier} | {line.purchase.product_id}"),
        by_category=_grouped(lines, lambda line: line.purchase.category))

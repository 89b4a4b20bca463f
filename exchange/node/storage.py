"""The node's storage: one repository interface on SQLAlchemy Core, SQLite by default, PostgreSQL by URL.

Footprints are stored as their validated PACT JSON (v3 always, v2 where v2 can express them), so serving a
list is string assembly, not re-marshalling. Filterable values (product, company, classification ids and
geographies, lower-cased) sit in a key table; validity bounds are integers (microseconds since the epoch, UTC)
so comparisons behave the same on both databases. Footprints are immutable (spec v3.0.3 Sec. 7.2); setting
`status` to Deprecated, the one change the spec allows, happens when a recomputation of the same product is
published (`versions.py`). Each footprint is kept at every disclosure level it has (summary in `footprints`, the
others in `footprint_disclosures`); a share names the level its organisation is served (`_served`). What each
audience may list, by filter key, is derived into `footprint_listing`, rebuilt by every write that changes it
(`refresh_listing`), so a page is an index range. Every write is one transaction: nothing is ever half-written.
The schema carries a version number in `meta` so a later release can migrate an existing database. The node also
keeps the requests its operator sent to suppliers (`sent_requests`); the answer event closes one in its own transaction;
and the footprints other nodes announced with a Published event, fetched from them (`received_footprints`), beside
those suppliers without a node typed or uploaded through the supplier portal (`channel` portal, with their invite,
`portal_invites`; `exchange/node/invites.py`). `trusted_keys` holds the peers' public keys the operator trusts, which
the dashboard checks received footprints against.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from typing import Iterable, Sequence

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    case,
    create_engine,
    false,
    event,
    func,
    insert,
    inspect,
    literal,
    true,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.schema import CreateIndex

from exchange.pact.disclosure import FULL, SUMMARY, widest
from exchange.pact.own_extensions import COMPUTED
from webhooks import outbox as webhook_outbox

from .addresses import peer_origin
from .events import REQUEST_FULFILLED, REQUEST_REJECTED, kind_of, type_names
from .private_files import create_private_sqlite
from .validity_ranges import ValidityRanges

# 2: sent_requests; 3: received_footprints; 6: the supplier portal (portal_invites, portal_hits, received_footprints.channel
# and .invite_id) and trusted_keys (each created on an existing older database by `pcf node init`: _upgrade_to_6);
# 7: revocation and event quotas (dashboard_sessions, clients.tokens_after_us, ix_events_org_received), indexes for
# the status and validity filters and the outbox's due scan, disclosure levels (footprint_disclosures,
# shares.level), signing_keys (the node's keys, rotation and revocation) (_upgrade_to_7); 8: the listing's indexes
# (ix_footprints_public_seq, partial, and ix_footprints_seq_filters); 9: footprint_listing, which replaces those
# two indexes (_upgrade_to_9)
SCHEMA_VERSION = 9
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

metadata = MetaData()
meta = Table("meta", metadata, Column("key", String(64), primary_key=True), Column("value", Text, nullable=False))
clients = Table(
    "clients", metadata,
    Column("client_id", String(255), primary_key=True),
    Column("secret_hash", String(512), nullable=False),
    Column("org", String(255), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    # tokens issued before this moment are refused (`pcf node revoke-tokens`); None: every unexpired token counts
    Column("tokens_after_us", BigInteger, nullable=True),
)
footprints = Table(
    "footprints", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("validity_start_us", BigInteger, nullable=False),
    Column("validity_end_us", BigInteger, nullable=False),
    Column("public", Boolean, nullable=False, default=False),
    Column("v3_json", Text, nullable=False),
    Column("v2_json", Text, nullable=True),
)
# Schema 9: what each audience may list, by filter key (docs/node.md, plans at a million footprints). One row per
# (audience, key, footprint): the audience is an organisation the footprint is shared with, or every caller (`public`,
# with org '': a flag rather than a NULL org or a reserved name, because no organisation name is reserved and
# PostgreSQL reads an index range in order only after equalities, not IS NULL); the key is one of its
# footprint_keys, or ('', '') for the row every footprint has (the pages without a key criterion); status
# (lower-cased) and validity are copied so the other filters are checked in the index. A page of a filter is then
# one range of this index per audience, read in publication order until the page is full: no probe of the shares or
# of the footprints rows per candidate. Derived data only: `refresh_listing` rebuilds a footprint's rows from
# footprints, footprint_keys and shares after every write that touches them.
footprint_listing = Table(
    "footprint_listing", metadata,
    Column("public", Boolean, nullable=False),  # True: the row of a public footprint, listed to every caller
    Column("org", String(255), nullable=False),  # the organisation the footprint is shared with ('' in public rows)
    Column("kind", String(16), nullable=False),  # '' (with value ''): the row of the pages without a key criterion
    Column("value", String(512), nullable=False),
    Column("seq", Integer, ForeignKey("footprints.seq"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("validity_start_us", BigInteger, nullable=False),
    Column("validity_end_us", BigInteger, nullable=False),
    # the share's disclosure level (shares.level), '' in public rows: which document the page serves, without a probe
    # of the shares per row ('' sorts before every level, so max() prefers a share when a footprint is also public)
    Column("level", String(16), nullable=False),
    Index("ix_footprint_listing", "public", "org", "kind", "value", "seq", "status", "validity_start_us",
          "validity_end_us", "level"),
    Index("ix_footprint_listing_seq", "seq"),
)
# Schema 7: the status and validity filters start from an index at a million footprints (docs/node.md, plans).
# Status compares lower-cased, so the index is on lower(status); seq second keeps a filtered page in seq order.
FOOTPRINT_INDEXES = (
    Index("ix_footprints_status_seq", func.lower(footprints.c.status), footprints.c.seq),
    Index("ix_footprints_validity_start", footprints.c.validity_start_us),
    Index("ix_footprints_validity_end", footprints.c.validity_end_us),
)
footprint_keys = Table(
    "footprint_keys", metadata,
    Column("seq", Integer, ForeignKey("footprints.seq"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", String(512), nullable=False),
    Index("ix_footprint_keys_kind_value", "kind", "value", "seq"),
    Index("ix_footprint_keys_seq", "seq"),
)
shares = Table(
    "shares", metadata,
    Column("seq", Integer, ForeignKey("footprints.seq"), nullable=False),
    Column("org", String(255), nullable=False),
    # what this organisation is served (exchange/pact/disclosure.py): summary (the footprints row), breakdown or full
    Column("level", String(16), nullable=False, server_default=SUMMARY),
    UniqueConstraint("seq", "org"),
    Index("ix_shares_org_seq", "org", "seq"),
)
# The signed documents of a footprint at the levels above summary (footprints.v3_json/v2_json hold the summary one,
# what public callers and summary shares get); a footprint without computed details has no rows here.
footprint_disclosures = Table(
    "footprint_disclosures", metadata,
    Column("seq", Integer, ForeignKey("footprints.seq"), nullable=False),
    Column("level", String(16), nullable=False),
    Column("v3_json", Text, nullable=False),
    Column("v2_json", Text, nullable=True),
    UniqueConstraint("seq", "level"),
)
events = Table(
    "events", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(255), nullable=False),
    Column("source", String(1024), nullable=False),
    Column("type", String(255), nullable=False),
    Column("org", String(255), nullable=False),
    Column("received_us", BigInteger, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(32), nullable=False, default="received"),  # requests: see RECEIVED ... WAITING
    UniqueConstraint("source", "event_id"),
    Index("ix_events_org_received", "org", "received_us"),  # the per-organisation quota and retention
)
# A received request is `received` (waiting for the operator), `fulfilled` or `rejected` once answered, or
# `waiting-for-credentials` while this node has no credentials for the requester's host (it is kept, and
# triaged when `pcf node add-peer` adds them).
RECEIVED, WAITING_FOR_CREDENTIALS = "received", "waiting-for-credentials"

peers = Table(
    "peers", metadata,
    Column("origin", String(1024), primary_key=True),  # scheme://host[:port] of another node
    Column("client_id", String(255), nullable=False),
    Column("client_secret", Text, nullable=False),  # needed in clear to authenticate to that node
    Column("ca_bundle", Text, nullable=True),
)
catalogue = Table("catalogue", metadata, Column("product_id", String(512), primary_key=True))
subscriptions = Table(  # non-PACT subscribers (e.g. an ERP) notified by Standard Webhooks when footprints are published
    "subscriptions", metadata,
    Column("url", String(2048), primary_key=True),
    Column("secret", Text, nullable=False),
)

sent_requests = Table(  # footprint requests this node's operator sent to suppliers (`pcf request`), and their answers
    "sent_requests", metadata,
    Column("event_id", String(255), primary_key=True),  # the RequestCreated CloudEvent id: answers quote it
    Column("target", String(2048), nullable=False),  # the supplier's node URL it was POSTed to
    Column("criteria", Text, nullable=False),  # JSON: the request's data without the comment
    Column("comment", Text, nullable=True),
    Column("created_us", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # sent | fulfilled | rejected | failed-to-send
    Column("answered_us", BigInteger, nullable=True),
    Column("answer", Text, nullable=True),  # JSON: {"pfIds": [...]}, {"code", "message"} or {"reason"} (send failed)
)

received_footprints = Table(  # footprints another node announced (PublishedEvent) and this node fetched from it
    "received_footprints", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("peer", String(1024), nullable=False),  # scheme://host[:port] they were fetched from
    Column("footprint_id", String(255), nullable=False),  # as the event named it
    Column("org", String(255), nullable=False),  # the organisation whose client sent the event
    Column("event_pk", Integer, ForeignKey("events.pk"), nullable=False),  # the (latest) PublishedEvent naming it
    Column("version", String(2), nullable=False),  # "v3" or "v2": the API it is fetched from
    Column("status", String(16), nullable=False),  # pending | fetched | invalid | failed
    Column("document", Text, nullable=True),  # the footprint as the peer sent it (the response's `data`)
    Column("received_us", BigInteger, nullable=True),  # when the document arrived
    Column("error", Text, nullable=True),  # why it is invalid, failed, or (pending) why the last attempt failed
    # how it came: "pact" (fetched from a peer after its Published event) or "portal" (typed or uploaded by a supplier
    # without a node: supplier-declared, unsigned); a portal row's peer is PORTAL and its event the submission
    Column("channel", String(16), nullable=False, server_default="pact"),
    Column("invite_id", String(36), nullable=True),  # the portal invitation it answered
    UniqueConstraint("peer", "footprint_id"),
)

portal_invites = Table(  # single-use, expiring links for suppliers without a node (`pcf node invite`)
    "portal_invites", metadata,
    Column("id", String(36), primary_key=True),  # a UUID: the handle the operator sees; also the sent request's id
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 (hex) of the link's token, never the token
    Column("org", String(255), nullable=False),  # the supplier organisation invited: the footprints' companyName
    Column("company_ids", Text, nullable=False),  # JSON list of the supplier's company URNs (may be empty)
    Column("products", Text, nullable=False),  # JSON list of the product URNs asked for
    Column("requester", String(255), nullable=True),  # who asks, as the supplier sees it on the page
    Column("email", String(320), nullable=True),  # the supplier's contact, for the operator (no mail is sent)
    Column("message", Text, nullable=True),  # shown to the supplier above the form
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Column("used_us", BigInteger, nullable=True),  # set by the accepted submission, in its transaction
)
portal_hits = Table(  # requests per key in the current window: every rate limit of the node (request_limit.py)
    "portal_hits", metadata,
    Column("key", String(255), primary_key=True),
    Column("window_start_us", BigInteger, nullable=False),
    Column("hits", Integer, nullable=False),
)
trusted_keys = Table(  # the public keys (a JWKS per peer) the operator trusts for footprints received from peers
    "trusted_keys", metadata,
    Column("origin", String(1024), primary_key=True),  # scheme://host[:port] of the peer whose keys these are
    Column("jwks", Text, nullable=False),
    Column("added_us", BigInteger, nullable=False),
)
dashboard_sessions = Table(  # logged-in dashboard sessions: the cookie carries only the id, so deleting a row logs out
    "dashboard_sessions", metadata,
    Column("id_hash", String(64), primary_key=True),  # SHA-256 (hex) of the session id in the signed cookie
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
)
signing_keys = Table(  # this node's own Ed25519 signing keys: the active one signs, all stay published for verifiers
    "signing_keys", metadata,
    Column("kid", String(64), primary_key=True),  # RFC 7638 thumbprint
    Column("private_pem", Text, nullable=False),  # PKCS#8 PEM; never served (the JWKS carries public halves only)
    Column("created_us", BigInteger, nullable=True),  # unknown (NULL) for the key a schema-6 node made
    Column("revoked_us", BigInteger, nullable=True),  # from this time on its signatures do not count
)
ACTIVE_KEY = "active-signing-kid"  # meta key: the kid that signs now (one row: a primary key, so one winner)
LEGACY_KEY = "secret:signing-key-pem"  # where schema 6 kept the one signing key
PORTAL = "portal"  # received_footprints.peer and .channel of footprints submitted through the supplier portal

KEY_KINDS = ("product", "company", "classification", "geography")  # Filters' key criteria, in the order tried
MAX_KEY_RANGES = 32  # values of one key criterion read as a range each (_listing_sql); more walk the ('', '') rows
SENT, FULFILLED, REJECTED, FAILED_TO_SEND = "sent", "fulfilled", "rejected", "failed-to-send"
PENDING, FETCHED, INVALID, FAILED = "pending", "fetched", "invalid", "failed"  # received_footprints.status
SUBMITTED = "submitted"  # received_footprints.status of a footprint a supplier submitted through the portal
_ANSWER_TYPES = type_names(REQUEST_FULFILLED) + type_names(REQUEST_REJECTED)


def micros(moment: datetime) -> int:
    """UTC datetime -> integer microseconds since the epoch (how the store compares times)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


class StoreError(Exception):
    """A storage request that cannot be honoured (duplicate id, unknown schema version, ...)."""


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    secret_hash: str
    org: str


@dataclass(frozen=True)
class FootprintRecord:
    """What the store keeps of one footprint: its documents and the values filters look at."""

    id: str
    status: str
    created: datetime
    validity_start: datetime
    validity_end: datetime
    v3_json: str  # the summary-level documents (exchange/pact/disclosure.py)
    v2_json: str | None
    keys: dict[str, tuple[str, ...]]  # kind -> values (any case; stored lower-cased)
    variants: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # level above summary -> (v3, v2)


@dataclass(frozen=True)
class Filters:
    """PACT v3 ListFootprints criteria: OR within a criterion, AND across (OpenAPI /3/footprints)."""

    product: tuple[str, ...] = ()
    company: tuple[str, ...] = ()
    classification: tuple[str, ...] = ()
    geography: tuple[str, ...] = ()
    valid_on: datetime | None = None
    valid_after: datetime | None = None
    valid_before: datetime | None = None
    status: str | None = None


@dataclass(frozen=True)
class StoredFootprint:
    seq: int
    id: str
    status: str
    public: bool
    v3_json: str  # the documents at the caller's level (`get(id, org)`), else the summary ones
    v2_json: str | None
    shared_with: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class ReceivedFootprint:
    """A footprint another node announced, and what became of fetching it."""

    peer: str
    footprint_id: str
    org: str
    version: str
    status: str  # PENDING | FETCHED | INVALID | FAILED, or SUBMITTED through the portal
    document: str | None
    received: datetime | None
    error: str | None
    pk: int = 0
    channel: str = "pact"  # "pact" (fetched from a peer) or PORTAL (supplier-declared, unsigned)
    invite_id: str | None = None


@dataclass(frozen=True)
class SentRequest:
    """A request this node sent, and what became of it."""

    event_id: str
    target: str
    criteria: dict
    comment: str | None
    created: datetime
    status: str  # SENT | FULFILLED | REJECTED | FAILED_TO_SEND
    answered: datetime | None = None
    answer: dict | None = None  # {"pfIds": [...]}, {"code": ..., "message": ...} or {"reason": ...}


def answer_of(event_type: str, data: dict) -> tuple[str, dict]:
    """(status, answer details) of a validated RequestFulfilled / RequestRejected event's data (either version)."""
    if kind_of(event_type) == REQUEST_FULFILLED:
        return FULFILLED, {"pfIds": [pf.get("id") for pf in data.get("pfs", []) if isinstance(pf, dict)]}
    error = data.get("error", {})
    return REJECTED, {"code": error.get("code"), "message": error.get("message")}


def _when(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def _upgrade_to_6(connection: Connection) -> None:
    """Schema version 6 on a database an older release made: the channel and invite columns of received_footprints
    (what was there was fetched from peers). Idempotent, so `pcf node init` may run again; the new tables come from
    `create_all`."""
    present = {column["name"] for column in inspect(connection).get_columns("received_footprints")}
    for column, ddl in (("channel", "VARCHAR(16) NOT NULL DEFAULT 'pact'"), ("invite_id", "VARCHAR(36)")):
        if column not in present:
            connection.exec_driver_sql(f"ALTER TABLE received_footprints ADD COLUMN {column} {ddl}")


def _upgrade_to_7(connection: Connection) -> None:
    """Schema version 7 on a version 6 database. Idempotent (each column or index is added only when missing), so
    `pcf node init` may run again; new tables (`dashboard_sessions`) come from `create_all`.

    - revocation and event quotas: the `clients.tokens_after_us` column (NULL: no token revoked) and the
      `ix_events_org_received` index on events (org, received_us) for the event quota and retention;
    - the indexes a million footprints need (docs/node.md, plans): ix_footprints_status_seq (lower(status), seq),
      ix_footprints_validity_start, ix_footprints_validity_end on `footprints`, and ix_outbox_due
      (status, next_attempt_us) on `outbox`;
    - disclosure levels (_disclosures_to_7);
    - the node's signing keys (_signing_keys_to_7), after the disclosures (they re-sign with the schema-6 key)."""
    present = {column["name"] for column in inspect(connection).get_columns("clients")}
    if "tokens_after_us" not in present:
        connection.exec_driver_sql("ALTER TABLE clients ADD COLUMN tokens_after_us BIGINT")
    connection.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_events_org_received ON events (org, received_us)")
    for index in (*FOOTPRINT_INDEXES, *webhook_outbox.INDEXES):
        connection.execute(CreateIndex(index, if_not_exists=True))
    _disclosures_to_7(connection)
    _signing_keys_to_7(connection)


def _disclosures_to_7(connection: Connection) -> None:
    """Schema version 7 (disclosure levels) on a database an older release made: adds `shares.level` (default
    summary); the table `footprint_disclosures` comes from `create_all`. A footprint stored before with the engine's
    computed details in its documents keeps those documents as its `full` variant and its existing shares stay `full`
    (what they were served already); its footprints row gets the summary documents, signed with the node's key, so
    public callers and new shares no longer see line items. Idempotent: a footprint with variants is left alone."""
    from .records import stored_key, summary_documents  # records builds on this module

    if "level" not in {column["name"] for column in inspect(connection).get_columns("shares")}:
        connection.exec_driver_sql(f"ALTER TABLE shares ADD COLUMN level VARCHAR(16) NOT NULL DEFAULT '{SUMMARY}'")
    rows = connection.execute(select(footprints.c.seq, footprints.c.v3_json, footprints.c.v2_json).where(
        footprints.c.v3_json.contains(COMPUTED, autoescape=True),
        footprints.c.seq.not_in(select(footprint_disclosures.c.seq)))).all()
    if not rows:
        return
    key, now = stored_key(connection), datetime.now(timezone.utc)
    for seq, v3_json, v2_json in rows:
        summary_v3, summary_v2 = summary_documents(v3_json, key, now)
        connection.execute(insert(footprint_disclosures).values(seq=seq, level=FULL, v3_json=v3_json, v2_json=v2_json))
        connection.execute(update(footprints).where(footprints.c.seq == seq).values(v3_json=summary_v3,
                                                                                     v2_json=summary_v2))
        connection.execute(update(shares).where(shares.c.seq == seq).values(level=FULL))


def _upgrade_to_9(connection: Connection) -> None:
    """Schema version 9: the documents compressed with lz4 on PostgreSQL (`_documents_in_lz4`); the listing table
    (`footprint_listing`, from `create_all`) filled from what a version 8 (or older) database holds; the schema-8
    listing indexes, which nothing reads any more, dropped. Idempotent: a database at version 9 is left alone, and
    the rebuild replaces whatever rows were there."""
    _documents_in_lz4(connection)
    if connection.dialect.name == "postgresql":
        for ddl in (*VALIDITY_INDEXES, AUDIENCE_STATISTICS):
            connection.exec_driver_sql(ddl)
    found = connection.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    if found is None or int(found) >= 9:
        return
    refresh_listing(connection)
    for name in ("ix_footprints_public_seq", "ix_footprints_seq_filters"):
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")


# A validity bound that few footprints meet (validAfter a recent day, validBefore an early one) would walk every row
# of the audience in publication order to find none or a few: these ranges start at the bound instead, and the
# node picks the walk or the range per request from the bound's selectivity (validity_ranges.py, from the columns'
# statistics). PostgreSQL only: SQLite has no statistics to choose with, and a node on SQLite is small.
VALIDITY_INDEXES = tuple(
    f"CREATE INDEX IF NOT EXISTS ix_footprint_listing_{name} ON footprint_listing (public, org, {column}) "
    f"INCLUDE (seq, {other}, status, level) WHERE kind = '' AND value = ''"
    for name, column, other in (("starts", "validity_start_us", "validity_end_us"),
                                ("ends", "validity_end_us", "validity_start_us")))
# The range columns are correlated (a public row's org is always ''; the ('', '') rows are the ones the validity
# indexes hold): estimated as independent, the public range looked ~50 rows long instead of 20,000 at 1M, and the
# planner sorted every public row starting after a bound, or of a status, rather than walk a few dozen (2.5-7 ms
# against 0.2-0.5). Statistics on their most common combinations fix the estimates.
AUDIENCE_STATISTICS = ("CREATE STATISTICS IF NOT EXISTS st_footprint_listing_audience (mcv) ON public, org, kind, "
                       "value FROM footprint_listing")
DOCUMENT_COLUMNS = (("footprints", "v3_json"), ("footprints", "v2_json"),
                    ("footprint_disclosures", "v3_json"), ("footprint_disclosures", "v2_json"))


def _documents_in_lz4(connection: Connection) -> None:
    """PostgreSQL compresses a row's documents once it passes 2 kB (a footprint's v3 and v2 JSON together do), with
    pglz by default: reading a page back then costs ~10 µs of decompression per document, half a millisecond per
    page of 51, more than the page's index work (measured at a million footprints, docs/node.md). lz4 decompresses
    an order of magnitude faster. Documents written from now on use it; those stored before keep pglz (both are
    read transparently). Skipped where the server was built without lz4. Idempotent."""
    if connection.dialect.name != "postgresql":
        return
    methods = connection.exec_driver_sql(
        "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'").scalar() or []
    if "lz4" not in methods:
        return
    for table, column in DOCUMENT_COLUMNS:  # ALTER TABLE locks the table: only where it is not set yet
        current = connection.exec_driver_sql(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = %(table)s::regclass AND attname = %(column)s",
            {"table": table, "column": column}).scalar()
        if current != "l":
            connection.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")


def refresh_listing(connection: Connection, seqs: Iterable[int] | None = None) -> None:
    """Rebuild the `footprint_listing` rows of these footprints (None: of every footprint) from their footprints row,
    keys and shares, in the caller's transaction. Called by every write that changes who sees a footprint, its keys,
    status or validity (publish, share, unshare, deprecate, carry_audience), so the listing never disagrees with
    what `visible_document` serves. The footprints rows are locked first (PostgreSQL): two transactions sharing one
    footprint at once rebuild its rows one after the other, the second from what the first committed."""
    if seqs is None:
        connection.execute(footprint_listing.delete())
        connection.execute(insert(footprint_listing).from_select(footprint_listing.c, _listing_rows(None)))
        return
    ordered = sorted(set(seqs))
    for start in range(0, len(ordered), 500):
        chunk = ordered[start:start + 500]
        connection.execute(select(footprints.c.seq).where(footprints.c.seq.in_(chunk))
                           .order_by(footprints.c.seq).with_for_update())
        connection.execute(footprint_listing.delete().where(footprint_listing.c.seq.in_(chunk)))
        connection.execute(insert(footprint_listing).from_select(footprint_listing.c, _listing_rows(chunk)))


def _listing_rows(chunk: Sequence[int] | None):
    """The listing rows of the footprints whose seq is in `chunk` (None: all), in footprint_listing's column order:
    each audience (the organisations of its shares, and every caller when it is public) times each key (its
    footprint_keys, and ('', ''))."""
    audiences = union_all(
        select(shares.c.seq, false().label("public"), shares.c.org, shares.c.level),
        select(footprints.c.seq, true().label("public"), literal("").label("org"), literal("").label("level"))
        .where(footprints.c.public.is_(True)),
    ).subquery("audience")
    keys = union_all(
        select(footprint_keys.c.seq, footprint_keys.c.kind, footprint_keys.c.value),
        select(footprints.c.seq, literal("").label("kind"), literal("").label("value")),
    ).subquery("key")
    rows = select(audiences.c.public, audiences.c.org, keys.c.kind, keys.c.value, footprints.c.seq,
                  func.lower(footprints.c.status), footprints.c.validity_start_us, footprints.c.validity_end_us,
                  audiences.c.level).select_from(
        footprints.join(audiences, audiences.c.seq == footprints.c.seq).join(keys, keys.c.seq == footprints.c.seq))
    return rows if chunk is None else rows.where(footprints.c.seq.in_(chunk))


# Who may see a footprint (alias f): published to everyone, or shared with the organisation bound as {org}.
_VISIBLE = "(f.public OR EXISTS (SELECT 1 FROM shares s WHERE s.seq = f.seq AND s.org = {org}))"


def served_json(version: str, placeholder, level: str | None = None) -> str:
    """The SQL expression (over footprints alias f) of the document the API serves to a caller, by list and get
    alike: the variant of the caller's share level when the footprint has one (footprint_disclosures), else the
    summary documents of the footprints row. `level` is the SQL of that level where the statement has it (a listing
    row's, '' for a public row); else it is looked up in the caller's share (the bound parameter `org`). The raw-SQL
    twin of `_served` (the operator's and the workflow's reads); tests/node/test_disclosure_and_versions.py checks
    what the API serves at each level, by get and by list."""
    column = "v3_json" if version == "v3" else "v2_json"
    if level is None:
        level = f"(SELECT s.level FROM shares s WHERE s.seq = f.seq AND s.org = {placeholder('org')})"
    return (f"CASE WHEN COALESCE({level}, '') IN ('', '{SUMMARY}') THEN f.{column} ELSE COALESCE((SELECT v.{column} "
            f"FROM footprint_disclosures v WHERE v.seq = f.seq AND v.level = {level}), f.{column}) END")


FAR_US = 2**62  # microseconds past (and, negated, before) any validity bound a footprint can have (year ~148,000)


def _listing_sql(placeholder, version: str, org: str, filters: Filters, after: int, limit: int,
                 sqlite: bool = False, range_on: str | None = None) -> tuple[str, dict]:
    """The statement of one ListFootprints page and its parameters (plans at a million footprints: docs/node.md).

    A page is the union of two streams of `footprint_listing`, the caller's organisation's rows and the public rows,
    each one range of its index read in publication order and cut at `limit`, so no statement reads a footprint the
    caller may not see or more candidates than its page needs. The key criterion with the fewest values (the first
    of those, in KEY_KINDS order) names the ranges: one per value and audience, so a buyer asking for several
    products reads each product's entries rather than walk every footprint it may see (up to MAX_KEY_RANGES values;
    more, or no key criterion, and the range is the ('', '') rows every footprint has). Status and validity are
    checked in the index entries; further key criteria are IN (subquery) conditions. A footprint both public and
    shared, or matching two of the values, comes once: SQLite's public streams skip the footprints shared with the
    caller and the streams are merged in order (UNION when several values may repeat a footprint; its GROUP BY would
    copy them into a temporary b-tree); PostgreSQL groups them. The documents are read for the page's rows only.

    `range_on` (PostgreSQL, validAfter/validBefore without a key range: validity_ranges.py): the validity column
    whose partial index (VALIDITY_INDEXES) each stream reads from the bound, its rows then sorted, instead of the
    walk in publication order. Both forms become prepared statements, each written to admit one plan: the walk's
    bounds cannot be an index range (`+ 0`), and the range's order cannot be the main index's. The range is closed
    on its far side by a bound no value reaches: PostgreSQL costs a prepared statement's generic plan with a third of
    the rows meeting a one-sided bound it cannot see, and 0.5 % meeting a two-sided one. Costed one-sided, the range
    looked dearer than the plans made for each request's bound, so PostgreSQL planned it anew every time (0.6 ms,
    more than the page); two-sided, it keeps the generic plan (15 of 20 prepared runs at 1M against 0 of 20: the
    counts `benchmarks/bench_scale.py` prints per query shape)."""
    # each key criterion's values, lower-cased, each once; the one with the fewest values names the ranges
    wanted_by_kind = {kind: list(dict.fromkeys(v.lower() for v in getattr(filters, kind))) for kind in KEY_KINDS}
    counts = {kind: len(wanted) for kind, wanted in wanted_by_kind.items() if wanted}
    ranged = min(counts, key=counts.get, default=None)  # the first of the fewest: KEY_KINDS order breaks ties
    if ranged is not None and counts[ranged] > MAX_KEY_RANGES:
        ranged = None
    range_on = range_on if ranged is None and not sqlite else None
    guard = "" if sqlite else " + 0"  # an expression no index orders: rules a plan out of a prepared statement
    org_, after_, limit_ = placeholder("org"), placeholder("after"), placeholder("limit")
    params: dict = {"org": org, "after": after, "limit": limit, "shared": False, "public": True, "nobody": ""}
    conditions: list[str] = []
    for kind, wanted in wanted_by_kind.items():
        if not wanted or kind == ranged:
            continue
        params[f"{kind}_kind"] = kind
        names = []
        for i, value in enumerate(wanted):
            params[f"{kind}{i}"] = value
            names.append(placeholder(f"{kind}{i}"))
        conditions.append(f"l.seq IN (SELECT k.seq FROM footprint_keys k WHERE k.kind = {placeholder(kind + '_kind')} "
                          f"AND k.value IN ({', '.join(names)}))")
    if filters.valid_on is not None:
        params["valid_on"] = micros(filters.valid_on)
        conditions += [f"l.validity_start_us <= {placeholder('valid_on')}",
                       f"l.validity_end_us >= {placeholder('valid_on')}"]
    if filters.valid_after is not None:
        params["valid_after"] = micros(filters.valid_after)
        if range_on == "validity_start_us":
            params["far"] = FAR_US
            conditions.append(f"l.validity_start_us > {placeholder('valid_after')} "
                              f"AND l.validity_start_us < {placeholder('far')}")
        else:
            conditions.append(f"l.validity_start_us{guard} > {placeholder('valid_after')}")
    if filters.valid_before is not None:
        params["valid_before"] = micros(filters.valid_before)
        if range_on == "validity_end_us":
            params["far"] = -FAR_US
            conditions.append(f"l.validity_end_us < {placeholder('valid_before')} "
                              f"AND l.validity_end_us > {placeholder('far')}")
        else:
            conditions.append(f"l.validity_end_us{guard} < {placeholder('valid_before')}")
    if filters.status is not None:
        params["status"] = filters.status.lower()
        conditions.append(f"l.status = {placeholder('status')}")
    source = "footprint_listing l"
    if version != "v3":  # v2: a footprint whose served document has no v2 form is skipped
        source += " JOIN footprints f ON f.seq = l.seq"
        conditions.append(f"{served_json(version, placeholder, 'l.level')} IS NOT NULL")
    if ranged is not None:
        params["kind"] = ranged
        params.update((f"value{i}", value) for i, value in enumerate(wanted_by_kind[ranged]))
        key_ranges = [[f"l.kind = {placeholder('kind')}", f"l.value = {placeholder(f'value{i}')}"]
                      for i in range(len(wanted_by_kind[ranged]))]
    else:  # the rows of every footprint, ('', ''), named literally: the validity indexes hold those rows only
        key_ranges = [["l.kind = ''", "l.value = ''"]]
    order = "l.seq" if range_on is None else f"l.seq{guard}"

    def streams(audience: str, *more: str) -> list[str]:
        """One stream of `audience` per key range."""
        return [f"SELECT l.seq, l.level FROM {source} WHERE "
                f"{' AND '.join([audience, *key_range, f'l.seq > {after_}', *conditions, *more])} "
                f"ORDER BY {order} LIMIT {limit_}" for key_range in key_ranges]

    def union(arms: list[str], operator: str = "UNION ALL") -> str:
        return f" {operator} ".join(f"SELECT s{i}.seq, s{i}.level FROM ({arm}) s{i}" for i, arm in enumerate(arms))

    shared = streams(f"l.public = {placeholder('shared')} AND l.org = {org_}")
    public = f"l.public = {placeholder('public')} AND l.org = {placeholder('nobody')}"
    # a footprint both shared and public comes once, at the share's level
    if sqlite:  # the public rows of footprints not shared with the caller, merged in order (no sort of the page)
        unshared = streams(public, f"NOT EXISTS (SELECT 1 FROM shares s WHERE s.seq = l.seq AND s.org = {org_})")
        # a footprint with two of the values is in two streams of an audience, with the same level: UNION drops one
        page = f"{union(shared + unshared, 'UNION' if len(key_ranges) > 1 else 'UNION ALL')} ORDER BY 1 LIMIT {limit_}"
    else:  # one row per footprint ('' sorts first, so max() is the share's level): PostgreSQL groups the two
        # streams' rows in memory, where a probe of the shares per public row could become a join of all of them
        page = (f"SELECT u.seq, max(u.level) AS level FROM ({union(shared + streams(public))}) u "
                f"GROUP BY u.seq ORDER BY u.seq LIMIT {limit_}")
    # in no order: the caller sorts the page by seq (SQLite would otherwise copy every document into a sort)
    sql = (f"SELECT f.seq, {served_json(version, placeholder, 'page.level')} FROM ({page}) page "
           f"JOIN footprints f ON f.seq = page.seq")
    return sql, params


def _served(org: str, level: str | None = None):
    """(from clause, {"v3": document column, "v2": ...}, visibility condition) serving each footprint to `org` at its
    share's level.

    The one place a disclosure level is chosen: the share of `org` names the level (`level` instead, for the
    operator's own views), its variant in footprint_disclosures is served when there is one, else the summary
    documents of the footprints row (public callers, summary shares, footprints without computed details)."""
    share = shares.alias("caller_share")
    variant = footprint_disclosures.alias("variant")
    joined = footprints.outerjoin(share, and_(share.c.seq == footprints.c.seq, share.c.org == org)).outerjoin(
        variant, and_(variant.c.seq == footprints.c.seq, variant.c.level == (level or share.c.level)))
    documents = {version: case((variant.c.seq.is_not(None), variant.c[f"{version}_json"]),
                               else_=footprints.c[f"{version}_json"]) for version in ("v3", "v2")}
    visible = or_(footprints.c.public.is_(True), share.c.org.is_not(None))
    return joined, documents, visible


def _signing_keys_to_7(connection: Connection) -> None:
    """Schema version 7: the node's signing keys move into `signing_keys` (kid, private_pem, created_us, revoked_us),
    the active one named by the `meta` row `active-signing-kid`. The one key a schema-6 node kept as the secret
    `signing-key-pem` becomes the active key (its creation time unknown) and leaves `meta`, so a private key lives in
    one place. Idempotent: a second run finds nothing left to move. The table itself comes from `create_all`."""
    from exchange.pact.signing import SigningKey

    legacy = connection.execute(select(meta.c.value).where(meta.c.key == LEGACY_KEY)).scalar()
    if legacy is None:
        return
    kid = SigningKey.from_pem(legacy).kid
    if not connection.execute(select(signing_keys.c.kid).where(signing_keys.c.kid == kid)).first():
        connection.execute(insert(signing_keys).values(kid=kid, private_pem=legacy, created_us=None, revoked_us=None))
    if connection.execute(select(meta.c.value).where(meta.c.key == ACTIVE_KEY)).scalar() is None:
        connection.execute(insert(meta).values(key=ACTIVE_KEY, value=kid))
    connection.execute(meta.delete().where(meta.c.key == LEGACY_KEY))


@dataclass(frozen=True)
class StoredKey:
    """One of the node's signing keys as stored (the private PEM stays inside the node)."""

    kid: str
    private_pem: str
    created: datetime | None
    revoked: datetime | None
    active: bool


@dataclass(frozen=True)
class Page:
    items: list[tuple[int, str]]  # (seq, json)
    has_more: bool
    token_floor: int | None = None  # client `floor_of`'s token floor read with the page (None: not asked or no client)


@dataclass(frozen=True)
class Served:
    """One footprint as GetFootprint serves it to a caller (`NodeStore.visible_document`)."""

    visible: bool  # False whether the id is unknown or hidden from the caller
    document: str | None  # None when visible but without a form in the version asked (v2)
    token_floor: int | None = None  # client `floor_of`'s token floor, read with it (None: not asked, or no client)


READ_ONLY = "pcf_read_only"  # execution option of the store's read engine: see _sqlite_begin
SQLITE_BUSY_TIMEOUT_MS = 10_000  # how long a SQLite transaction waits for another's write lock


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_MS)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    dbapi_connection.isolation_level = None  # SQLAlchemy, not the driver, decides how transactions begin


def _sqlite_begin(connection: Connection) -> None:
    """Write transactions take SQLite's write lock at BEGIN (IMMEDIATE), where busy_timeout waits for it.

    A deferred transaction that reads and then writes cannot wait: when another writer committed in between,
    SQLite answers "database is locked" at once (SQLITE_BUSY_SNAPSHOT), whatever the busy timeout. So every
    transaction is IMMEDIATE except on the store's read engine (execution option READ_ONLY), whose plain BEGIN
    lets readers run beside a writer under WAL. This is the one place SQLITE_BUSY is handled."""
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _driver_url(url: str) -> str:
    return "postgresql+psycopg://" + url[len("postgresql://"):] if url.startswith("postgresql://") else url


def create_db_engine(url: str) -> Engine:
    """An engine for `url`: SQLite gets WAL, a busy timeout and immediate write transactions, and a new database
    file is created 0600 (private_files.py); `postgresql://` uses psycopg 3."""
    url = _driver_url(url)
    create_private_sqlite(url)
    engine = create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


HOT_POOL_SIZE = 10  # connections kept for the API's hot reads: at least the server's threads per worker (8)


def create_hot_read_engine(url: str, engine: Engine) -> Engine:
    """The pool of the API's hot reads (`NodeStore._fetch`): on PostgreSQL, autocommit connections without a ping at
    checkout, so a read costs its one round trip rather than four (ping, BEGIN, statement, ROLLBACK: on 2 cores under
    16 clients the server's time went to those); a connection found dead is replaced and the read retried instead
    (`_fetch`). SQLite reads are already single statements in autocommit: the store's own engine serves them."""
    if engine.dialect.name == "sqlite":
        return engine
    hot = create_engine(_driver_url(url), future=True, isolation_level="AUTOCOMMIT", pool_size=HOT_POOL_SIZE,
                        max_overflow=HOT_POOL_SIZE)
    event.listen(hot, "connect", serial_plans)
    return hot


def active_key(connection: Connection) -> tuple[str, str] | None:
    """(kid, private PEM) of the node's active signing key, read in the caller's transaction; None when no key is
    active (none made yet, or the active one revoked)."""
    row = connection.execute(select(signing_keys.c.kid, signing_keys.c.private_pem).join(
        meta, and_(meta.c.key == ACTIVE_KEY, meta.c.value == signing_keys.c.kid))).first()
    return (row.kid, row.private_pem) if row else None


def serial_plans(dbapi_connection, _record=None) -> None:
    """No parallel workers for the hot reads: a page is a few milliseconds of index probes, and starting workers for
    it (PostgreSQL plans a Gather for a deep, filtered page) costs more than it saves when every core already serves
    a client.

    PostgreSQL's own choice between a prepared statement's generic plan and one made for its values is kept
    (plan_cache_mode auto, not force_generic_plan): it plans anew a statement whose generic plan is estimated dearer
    than the plans for its values, and a generic plan can be far off (`companyId` + `geography` at 1M: 8-16 ms for
    the generic plan, which hashes every footprint of the geography, 0.27 ms for the plan made for the values)."""
    dbapi_connection.autocommit = True  # the setting must outlive the pool's reset of the connection
    dbapi_connection.execute("SET max_parallel_workers_per_gather = 0")


class NodeStore:
    """The repository every part of the node goes through."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_db_engine(url)
        self.reader = self.engine.execution_options(**{READ_ONLY: True})  # same pool; for read-only work
        self.hot_reads = create_hot_read_engine(url, self.engine)
        # bound parameters in the driver's own style, for the raw statements of the API's hot path (_fetch)
        self._sqlite = self.engine.dialect.name == "sqlite"
        self._placeholder = (lambda name: f":{name}") if self._sqlite else (lambda name: f"%({name})s")
        # which form a validAfter/validBefore page is read in (PostgreSQL: SQLite has no statistics to choose with)
        self.validity_ranges = None if self._sqlite else ValidityRanges(self.hot_reads)
        # a client's token floor (0: no token revoked; no row, or NULL as a subquery, when there is no such client)
        self._floor_sql = (f"SELECT COALESCE(tokens_after_us, 0) FROM clients "
                           f"WHERE client_id = {self._placeholder('client')}")

    def dispose(self) -> None:
        """Close every pooled connection (before a fork, or before the database is dropped)."""
        self.engine.dispose()
        self.hot_reads.dispose()

    # --- schema

    def init_schema(self) -> None:
        """Create the tables (idempotent) and record the schema version."""
        metadata.create_all(self.engine)
        webhook_outbox.create_tables(self.engine)
        with self.engine.begin() as connection:
            _upgrade_to_6(connection)
            _upgrade_to_7(connection)
            _upgrade_to_9(connection)
            found = connection.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
            if found is None:
                connection.execute(insert(meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
            elif int(found) > SCHEMA_VERSION:
                raise StoreError(f"database schema version {found} is newer than this release ({SCHEMA_VERSION})")
            elif int(found) < SCHEMA_VERSION:  # the missing tables were created above: that is the whole migration
                connection.execute(update(meta).where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))

    def check_schema(self) -> None:
        """Refuse to serve a database that was never initialised or is from a newer release."""
        try:
            with self.reader.connect() as connection:
                found = connection.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
        except Exception as exc:  # noqa: BLE001 - any driver error here means "not a node database"
            raise StoreError(f"not an initialised node database ({self.url}): run `pcf node init` ({exc.__class__.__name__})") from None
        if found is None:
            raise StoreError(f"not an initialised node database ({self.url}): run `pcf node init`")
        if int(found) < SCHEMA_VERSION:
            raise StoreError(f"database schema version {found}, this release needs {SCHEMA_VERSION}: "
                             "run `pcf node init` to upgrade it")
        if int(found) != SCHEMA_VERSION:
            raise StoreError(f"database schema version {found}, this release needs {SCHEMA_VERSION}")

    def secret(self, name: str, factory) -> str:
        """A node secret (e.g. the token signing key), created once and shared by every worker."""
        key = f"secret:{name}"
        with self.engine.begin() as connection:
            found = connection.execute(select(meta.c.value).where(meta.c.key == key)).scalar()
            if found is not None:
                return found
            try:
                with connection.begin_nested():
                    connection.execute(insert(meta).values(key=key, value=factory()))
            except IntegrityError:
                pass  # another worker created it first
            return connection.execute(select(meta.c.value).where(meta.c.key == key)).scalar_one()

    # --- the node's own signing keys

    def signing_keys(self) -> list[StoredKey]:
        """Every signing key this node made, oldest first (unknown creation first), the active one marked."""
        with self.reader.connect() as connection:
            active = connection.execute(select(meta.c.value).where(meta.c.key == ACTIVE_KEY)).scalar()
            rows = connection.execute(select(signing_keys).order_by(
                func.coalesce(signing_keys.c.created_us, -1), signing_keys.c.kid)).all()
        return [StoredKey(r.kid, r.private_pem, _when(r.created_us), _when(r.revoked_us), r.kid == active) for r in rows]

    def active_signing_key(self, make, now: datetime) -> tuple[str, str]:
        """(kid, private PEM) of the key that signs now; `make()` -> (kid, pem) creates one when there is none
        (first use, or the active key was revoked), once across every worker: the `meta` row decides."""
        with self.engine.begin() as connection:
            found = active_key(connection)
            if found:
                return found
            kid, pem = make()
            try:
                with connection.begin_nested():
                    connection.execute(insert(meta).values(key=ACTIVE_KEY, value=kid))
                    connection.execute(insert(signing_keys).values(kid=kid, private_pem=pem, created_us=micros(now)))
            except IntegrityError:
                pass  # another worker made one first
            return active_key(connection)

    def rotate_signing_key(self, kid: str, pem: str, now: datetime) -> None:
        """Make (kid, pem) the active key; the previous ones stay (published, for verifying what they signed)."""
        with self.engine.begin() as connection:
            connection.execute(insert(signing_keys).values(kid=kid, private_pem=pem, created_us=micros(now)))
            connection.execute(meta.delete().where(meta.c.key == ACTIVE_KEY))
            connection.execute(insert(meta).values(key=ACTIVE_KEY, value=kid))

    def revoke_signing_key(self, kid: str, at: datetime) -> bool:
        """Mark a key revoked from `at` (an earlier time given later wins); when it was the active key, no key is
        active until the next `active_signing_key` makes one. False for an unknown kid."""
        with self.engine.begin() as connection:
            row = connection.execute(select(signing_keys.c.revoked_us).where(signing_keys.c.kid == kid)).first()
            if row is None:
                return False
            moment = micros(at) if row.revoked_us is None else min(row.revoked_us, micros(at))
            connection.execute(update(signing_keys).where(signing_keys.c.kid == kid).values(revoked_us=moment))
            connection.execute(meta.delete().where(meta.c.key == ACTIVE_KEY, meta.c.value == kid))
        return True

    def setting(self, name: str) -> str | None:
        with self.reader.connect() as connection:
            return connection.execute(select(meta.c.value).where(meta.c.key == f"setting:{name}")).scalar()

    def set_setting(self, name: str, value: str, connection: Connection | None = None) -> None:
        if connection is None:
            with self.engine.begin() as own:
                return self.set_setting(name, value, own)
        connection.execute(meta.delete().where(meta.c.key == f"setting:{name}"))
        connection.execute(insert(meta).values(key=f"setting:{name}", value=value))

    # --- clients

    def add_client(self, client_id: str, secret_hash: str, org: str, now: datetime) -> None:
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(clients).values(client_id=client_id, secret_hash=secret_hash, org=org,
                                                          created_us=micros(now)))
        except IntegrityError:
            raise StoreError(f"client {client_id!r} exists already") from None

    def get_client(self, client_id: str) -> ClientRecord | None:
        with self.reader.connect() as connection:
            row = connection.execute(select(clients).where(clients.c.client_id == client_id)).first()
        return ClientRecord(row.client_id, row.secret_hash, row.org) if row else None

    def token_floor(self, client_id: str) -> int | None:
        """When this client's valid tokens start (microseconds; 0: any unexpired one), or None when there is no such
        client: the one primary-key lookup a bearer token check costs, so a raw statement on the API's hot path (as
        `list_visible`): through the ORM/Core it cost more than the page it guarded."""
        rows = self._fetch(self._floor_sql, {"client": client_id})
        return None if not rows else int(rows[0][0])

    def remove_client(self, client_id: str) -> bool:
        """Delete a client (its tokens stop working with it); False when there is none."""
        with self.engine.begin() as connection:
            return connection.execute(clients.delete().where(clients.c.client_id == client_id)).rowcount == 1

    def revoke_tokens(self, client_id: str, now: datetime) -> bool:
        """Refuse every token of this client issued before `now`; False when there is no such client."""
        with self.engine.begin() as connection:
            return connection.execute(update(clients).where(clients.c.client_id == client_id)
                                      .values(tokens_after_us=micros(now))).rowcount == 1

    # --- footprints

    def transaction(self):
        """One database transaction for several writes (e.g. publish + outbox event + request status)."""
        return self.engine.begin()

    def publish(self, records: Sequence[FootprintRecord], share_with: Iterable[str] = (), public: bool = False,
                connection: Connection | None = None, level: str = SUMMARY) -> None:
        """Store footprints, all or none, with their disclosure variants, shared at `level`; StoreError if one id
        exists already (footprints are immutable)."""
        if connection is None:
            try:
                with self.engine.begin() as own:
                    self.publish(records, share_with, public, own, level)
            except IntegrityError:
                raise StoreError("a footprint with one of these ids exists already: footprints are immutable, "
                                 "publish a change under a new id with precedingPfIds") from None
            return
        ids = [record.id.lower() for record in records]
        taken = connection.execute(select(footprints.c.id).where(footprints.c.id.in_(ids))).scalars().all()
        if taken or len(set(ids)) != len(ids):
            raise StoreError(f"footprint(s) {', '.join(sorted(set(taken)) or ids)} exist already (or repeat in the batch): "
                             "footprints are immutable, publish a change under a new id with precedingPfIds")
        orgs = sorted(set(share_with))
        published = []
        for record in records:
            seq = connection.execute(insert(footprints).values(
                id=record.id.lower(), status=record.status, created_us=micros(record.created),
                validity_start_us=micros(record.validity_start), validity_end_us=micros(record.validity_end),
                public=public, v3_json=record.v3_json, v2_json=record.v2_json,
            )).inserted_primary_key[0]
            published.append(seq)
            keys = [{"seq": seq, "kind": kind, "value": value.lower()}
                    for kind, values in record.keys.items() for value in dict.fromkeys(v.lower() for v in values)]
            if keys:
                connection.execute(insert(footprint_keys), keys)
            variants = [{"seq": seq, "level": name, "v3_json": v3, "v2_json": v2}
                        for name, (v3, v2) in record.variants.items()]
            if variants:
                connection.execute(insert(footprint_disclosures), variants)
            if orgs:
                connection.execute(insert(shares), [{"seq": seq, "org": org, "level": level} for org in orgs])
        refresh_listing(connection, published)

    def share(self, footprint_id: str, orgs: Iterable[str], connection: Connection | None = None,
              level: str = SUMMARY) -> None:
        """Make a published footprint visible to more organisations, at `level` (an existing share takes it too:
        the operator's latest word on what that organisation sees)."""
        if connection is None:
            with self.engine.begin() as own:
                return self.share(footprint_id, orgs, own, level)
        seq = connection.execute(select(footprints.c.seq).where(footprints.c.id == footprint_id.lower())).scalar()
        if seq is None:
            raise StoreError(f"no footprint {footprint_id}")
        for org in set(orgs):
            changed = connection.execute(update(shares).where(shares.c.seq == seq, shares.c.org == org).values(level=level))
            if changed.rowcount == 0:
                connection.execute(insert(shares).values(seq=seq, org=org, level=level))
        refresh_listing(connection, [seq])

    def unshare(self, footprint_id: str, org: str) -> bool:
        """Stop sharing a footprint with an organisation; False when it was not shared with it, StoreError when no
        footprint has this id."""
        with self.engine.begin() as connection:
            seq = connection.execute(select(footprints.c.seq).where(footprints.c.id == footprint_id.lower())).scalar()
            if seq is None:
                raise StoreError(f"no footprint {footprint_id}")
            removed = connection.execute(shares.delete().where(shares.c.seq == seq, shares.c.org == org)).rowcount == 1
            refresh_listing(connection, [seq])
            return removed

    def shares_of(self, footprint_id: str, connection: Connection) -> dict[str, str]:
        """org -> disclosure level of every share of a footprint (empty for an unknown id)."""
        rows = connection.execute(select(shares.c.org, shares.c.level).join(footprints, footprints.c.seq == shares.c.seq)
                                  .where(footprints.c.id == footprint_id.lower()))
        return {row.org: row.level for row in rows}

    # --- versions (spec v3.0.3 Sec. 7.2: a change is a new footprint; the old one's status is the one change allowed)

    def active_versions(self, product_ids: Iterable[str], company_ids: Iterable[str],
                        connection: Connection | None = None) -> list[tuple[str, str]]:
        """(id, summary v3 document) of the Active footprints of exactly these products by exactly these companies
        (case-insensitive): the candidates a recomputation of that product replaces (`versions.py` decides)."""
        if connection is None:
            with self.reader.connect() as own:
                return self.active_versions(product_ids, company_ids, own)
        wanted = {"product": {p.lower() for p in product_ids}, "company": {c.lower() for c in company_ids}}
        candidates = connection.execute(select(footprints.c.seq, footprints.c.id, footprints.c.v3_json).where(
            footprints.c.status == "Active", footprints.c.seq.in_(select(footprint_keys.c.seq).where(
                footprint_keys.c.kind == "product", footprint_keys.c.value.in_(sorted(wanted["product"])))))
            .order_by(footprints.c.seq)).all()
        found = []
        for seq, footprint_id, document in candidates:
            keys: dict[str, set[str]] = {"product": set(), "company": set()}
            for kind, value in connection.execute(select(footprint_keys.c.kind, footprint_keys.c.value).where(
                    footprint_keys.c.seq == seq, footprint_keys.c.kind.in_(("product", "company")))):
                keys[kind].add(value)
            if keys == wanted:
                found.append((footprint_id, document))
        return found

    def documents_of(self, footprint_id: str, connection: Connection) -> dict[str, str]:
        """level -> stored v3 document of a footprint: SUMMARY (its footprints row) and each variant."""
        row = connection.execute(select(footprints.c.seq, footprints.c.v3_json)
                                 .where(footprints.c.id == footprint_id.lower())).first()
        if row is None:
            raise StoreError(f"no footprint {footprint_id}")
        found = {SUMMARY: row.v3_json}
        for level, document in connection.execute(select(footprint_disclosures.c.level, footprint_disclosures.c.v3_json)
                                                  .where(footprint_disclosures.c.seq == row.seq)):
            found[level] = document
        return found

    def deprecate(self, footprint_id: str, documents: dict[str, tuple[str, str | None]], connection: Connection) -> None:
        """Mark a footprint Deprecated with its re-signed documents (level -> (v3, v2), as `documents_of` keys)."""
        seq = connection.execute(select(footprints.c.seq).where(footprints.c.id == footprint_id.lower())).scalar_one()
        v3, v2 = documents[SUMMARY]
        connection.execute(update(footprints).where(footprints.c.seq == seq).values(status="Deprecated", v3_json=v3,
                                                                                     v2_json=v2))
        for level, (v3, v2) in documents.items():
            if level != SUMMARY:
                connection.execute(update(footprint_disclosures).where(
                    footprint_disclosures.c.seq == seq, footprint_disclosures.c.level == level).values(v3_json=v3, v2_json=v2))
        refresh_listing(connection, [seq])

    def carry_audience(self, old_id: str, new_id: str, connection: Connection) -> dict[str, str]:
        """Give the new version of a footprint the audience of the old one: public if it was, and each of its
        shares at the wider of the two levels. Returns org -> level of the old one's shares."""
        old = connection.execute(select(footprints.c.public).where(footprints.c.id == old_id.lower())).scalar_one()
        if old:
            connection.execute(update(footprints).where(footprints.c.id == new_id.lower()).values(public=True))
            refresh_listing(connection, connection.execute(
                select(footprints.c.seq).where(footprints.c.id == new_id.lower())).scalars())
        carried = self.shares_of(old_id, connection)
        present = self.shares_of(new_id, connection)
        for org, level in carried.items():
            self.share(new_id, [org], connection, widest([level, present.get(org, SUMMARY)]))
        return carried

    def get(self, footprint_id: str, org: str | None = None, level: str | None = None) -> StoredFootprint | None:
        """A footprint with its shares; with `org`, its documents are those served to that organisation (its share's
        level, `_served`); with `level` (the operator's views), those of that level; else the summary ones."""
        joined, documents, _ = _served(org or "", level)
        with self.reader.connect() as connection:
            row = connection.execute(select(footprints.c.seq, footprints.c.id, footprints.c.status, footprints.c.public,
                                            documents["v3"].label("v3_json"), documents["v2"].label("v2_json"))
                                     .select_from(joined)
                                     .where(footprints.c.id == footprint_id.lower())).first()
            # the shares query runs for a missing id too: the same work whether or not the id exists (timing)
            orgs = connection.execute(select(shares.c.org).where(shares.c.seq == (row.seq if row else -1))).scalars().all()
        if row is None:
            return None
        return StoredFootprint(row.seq, row.id, row.status, row.public, row.v3_json, row.v2_json, frozenset(orgs))

    def count(self) -> int:
        with self.reader.connect() as connection:
            return connection.execute(select(func.count()).select_from(footprints)).scalar_one()

    def list_visible(self, org: str, filters: Filters, after: int, limit: int, version: str = "v3",
                     floor_of: str | None = None) -> Page:
        """One page of the footprints `org` may see, in publication order, after position `after` (a seq); with the
        token floor of client `floor_of` (`token_floor`) read by the same statement when asked.

        The hot path of the API: one SQL statement on a raw driver connection from the pool (no ORM/Core statement
        building or result processing per request), whose rows are the stored documents as served. The caller's
        token check rides along (`auth.TokenService.current`), so a request costs one round trip, not two."""
        range_on = None
        if self.validity_ranges is not None and (filters.valid_after or filters.valid_before):
            after_us, before_us = (None if moment is None else micros(moment)
                                   for moment in (filters.valid_after, filters.valid_before))
            range_on = self.validity_ranges.range_for(after_us, before_us, limit + 1)
        sql, params = _listing_sql(self._placeholder, version, org, filters, after, limit + 1, self._sqlite, range_on)
        floor = None
        if floor_of is None:
            rows = self._fetch(sql, params)
        else:  # one more row, (NULL, the floor as text): taken out before the page is sorted
            params["client"] = floor_of
            rows = self._fetch(f"{sql} UNION ALL SELECT NULL, CAST(({self._floor_sql}) AS TEXT)", params)
            floor_row = next(row for row in rows if row[0] is None)
            rows.remove(floor_row)
            floor = None if floor_row[1] is None else int(floor_row[1])
        rows.sort(key=itemgetter(0))
        return Page(rows[:limit], len(rows) > limit, floor)

    def visible_document(self, org: str, footprint_id: str, version: str = "v3", floor_of: str | None = None) -> Served:
        """One footprint as served to `org`: not visible whether the id is unknown or hidden from `org` (one
        statement, the same work either way), no document if it has no `version` form (v2); with the token floor of
        client `floor_of` read by the same statement when asked (see `list_visible`)."""
        placeholder = self._placeholder
        served = served_json(version, placeholder)
        floor = f"({self._floor_sql})" if floor_of is not None else "NULL"
        sql = (f"SELECT CASE WHEN {_VISIBLE.format(org=placeholder('org'))} THEN 1 ELSE 0 END, "
               f"CASE WHEN {_VISIBLE.format(org=placeholder('org'))} THEN {served} END, {floor} "
               f"FROM footprints f WHERE f.id = {placeholder('id')}")
        rows = self._fetch(sql, {"org": org, "id": footprint_id.lower(), "client": floor_of})
        if not rows:
            return Served(False, None)
        visible, document, token_floor = rows[0]
        return Served(bool(visible), document if visible else None, None if token_floor is None else int(token_floor))

    def _fetch(self, sql: str, params: dict, retry: bool = True) -> list[tuple]:
        """Rows of one read-only statement on a raw driver connection of the hot-read pool; driver errors become
        SQLAlchemy's (so the app answers a database outage with 503 as for any other query). A connection that turns
        out dead (the database restarted since it was pooled) is discarded and the read retried once on a new one.
        psycopg prepares a statement run five times, and PostgreSQL may then keep one generic plan for all its values
        (`_listing_sql` writes the validity pages so that it does)."""
        engine = self.hot_reads
        dbapi_error = engine.dialect.loaded_dbapi.Error
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, params)
                return cursor.fetchall()
            finally:
                cursor.close()
        except dbapi_error as error:
            if engine.dialect.is_disconnect(error, connection.dbapi_connection, None):
                connection.invalidate(error)
                if retry:
                    return self._fetch(sql, params, retry=False)
            raise DBAPIError.instance(sql, params, error, dbapi_error) from error
        finally:
            connection.close()

    # --- events

    def record_event(self, event_id: str, source: str, event_type: str, org: str, body: str, now: datetime,
                     connection: Connection | None = None, status: str = RECEIVED) -> int | None:
        """Keep a received event; its key, or None (nothing written) if this source sent this id before."""
        if connection is None:
            try:
                with self.engine.begin() as own:
                    return self.record_event(event_id, source, event_type, org, body, now, own, status)
            except IntegrityError:
                return None
        if connection.execute(select(events.c.pk).where(events.c.source == source, events.c.event_id == event_id)).first():
            return None
        return connection.execute(insert(events).values(event_id=event_id, source=source, type=event_type, org=org,
                                                        received_us=micros(now), body=body, status=status)
                                  ).inserted_primary_key[0]

    def get_event(self, pk: int) -> dict | None:
        with self.reader.connect() as connection:
            row = connection.execute(select(events).where(events.c.pk == pk)).first()
        return dict(row._mapping) if row else None

    def set_event_status(self, pk: int, status: str, connection: Connection) -> None:
        connection.execute(update(events).where(events.c.pk == pk).values(status=status))

    def claim_event(self, pk: int, expected: str, status: str, connection: Connection) -> bool:
        """Change an event's status only if it still is `expected` (two processes triaging the same request: one
        wins); True when this call changed it."""
        changed = connection.execute(update(events).where(events.c.pk == pk, events.c.status == expected)
                                     .values(status=status))
        return changed.rowcount == 1

    # --- requests this node sent

    def record_sent_request(self, request: SentRequest) -> SentRequest:
        """Keep a request this node sent (or failed to send). An answer that arrived before it was recorded (a
        supplier that answers at once can be quicker than the requester's write) is applied in the same
        transaction. Returns the request as stored; StoreError if this event id was recorded before."""
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(sent_requests).values(
                    event_id=request.event_id, target=request.target, criteria=json.dumps(request.criteria),
                    comment=request.comment, created_us=micros(request.created), status=request.status,
                    answered_us=None if request.answered is None else micros(request.answered),
                    answer=None if request.answer is None else json.dumps(request.answer)))
                early = connection.execute(
                    select(events.c.type, events.c.body, events.c.received_us)
                    .where(events.c.type.in_(_ANSWER_TYPES), events.c.body.contains(request.event_id, autoescape=True))
                    .order_by(events.c.pk)).all()
                for row in early:
                    data = json.loads(row.body).get("data", {})
                    if isinstance(data, dict) and data.get("requestEventId") == request.event_id:
                        status, answer = answer_of(row.type, data)
                        self.mark_request_answered(request.event_id, status, answer, _when(row.received_us), connection)
                        break
        except IntegrityError:
            raise StoreError(f"request {request.event_id} was recorded already") from None
        return self.get_sent_request(request.event_id)

    def mark_request_answered(self, event_id: str, status: str, answer: dict, now: datetime,
                              connection: Connection) -> bool:
        """Close a sent request with its answer, inside the caller's transaction (the one storing the answer
        event). The first answer wins; True when this call changed a request, False for an unknown or
        already answered id."""
        changed = connection.execute(
            update(sent_requests)
            .where(sent_requests.c.event_id == event_id, sent_requests.c.answered_us.is_(None))
            .values(status=status, answered_us=micros(now), answer=json.dumps(answer)))
        return changed.rowcount == 1

    def get_sent_request(self, event_id: str) -> SentRequest | None:
        with self.reader.connect() as connection:
            row = connection.execute(select(sent_requests).where(sent_requests.c.event_id == event_id)).first()
        return _sent_request(row) if row else None

    def list_sent_requests(self, limit: int | None = None, connection: Connection | None = None) -> list[SentRequest]:
        """Requests this node sent, newest first."""
        if connection is None:
            with self.reader.connect() as own:
                return self.list_sent_requests(limit, own)
        query = select(sent_requests).order_by(sent_requests.c.created_us.desc(), sent_requests.c.event_id)
        return [_sent_request(row) for row in connection.execute(query.limit(limit) if limit else query)]

    # --- peers (other nodes this one sends events to) and the product catalogue

    def add_peer(self, url: str, client_id: str, client_secret: str, ca_bundle: str | None = None) -> str:
        """Keep (or replace) the credentials for the node at `url`, under its origin; returns that origin."""
        origin = peer_origin(url)
        with self.engine.begin() as connection:
            connection.execute(peers.delete().where(peers.c.origin == origin))
            connection.execute(insert(peers).values(origin=origin, client_id=client_id,
                                                    client_secret=client_secret, ca_bundle=ca_bundle))
        return origin

    def get_peer(self, url: str) -> dict | None:
        """The credentials kept for the origin of `url`, or None."""
        with self.reader.connect() as connection:
            row = connection.execute(select(peers).where(peers.c.origin == peer_origin(url))).first()
        return dict(row._mapping) if row else None

    def add_products(self, product_ids: Iterable[str]) -> None:
        with self.engine.begin() as connection:
            for product_id in {p.lower() for p in product_ids}:
                if not connection.execute(select(catalogue).where(catalogue.c.product_id == product_id)).first():
                    connection.execute(insert(catalogue).values(product_id=product_id))

    def product_known(self, product_ids: Iterable[str], org: str) -> bool:
        """Does the node make any of these products (its catalogue), or hold a footprint of one that `org` may see?
        Footprints shared with others do not count: whether a request waits or is rejected must not tell what
        other organisations were given (docs/security.md, isolation)."""
        wanted = [p.lower() for p in product_ids]
        joined, _, visible = _served(org)
        with self.reader.connect() as connection:
            in_catalogue = connection.execute(select(catalogue).where(catalogue.c.product_id.in_(wanted))).first()
            in_store = connection.execute(select(footprints.c.seq).select_from(joined).where(
                visible, footprints.c.seq.in_(select(footprint_keys.c.seq).where(
                    footprint_keys.c.kind == "product", footprint_keys.c.value.in_(wanted)))).limit(1)).first()
        return bool(in_catalogue or in_store)

    def add_subscription(self, url: str, secret: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(subscriptions.delete().where(subscriptions.c.url == url))
            connection.execute(insert(subscriptions).values(url=url, secret=secret))

    def subscriptions(self, connection: Connection | None = None) -> dict[str, str]:
        """url -> signing secret of every webhook subscriber."""
        if connection is None:
            with self.reader.connect() as own:
                return self.subscriptions(own)
        return {row.url: row.secret for row in connection.execute(select(subscriptions))}

    def list_events(self, kind: str | None = None, status: str | None = None) -> list[dict]:
        """Received events, oldest first; of one kind (either version's type name) and/or status."""
        with self.reader.connect() as connection:
            query = select(events).order_by(events.c.pk)
            if kind:
                query = query.where(events.c.type.in_(type_names(kind)))
            if status:
                query = query.where(events.c.status == status)
            return [dict(row._mapping) for row in connection.execute(query)]

    def recent_events(self, limit: int, before: int | None = None) -> list[dict]:
        """At most `limit` received events, newest first, with keys below `before` (a page: never every event)."""
        query = select(events).order_by(events.c.pk.desc()).limit(limit)
        if before is not None:
            query = query.where(events.c.pk < before)
        with self.reader.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    # --- footprints announced by other nodes (PublishedEvent) and fetched from them

    def expect_received(self, peer: str, org: str, footprint_ids: Iterable[str], event_pk: int, version: str,
                        connection: Connection) -> None:
        """Mark footprints to fetch from `peer`, in the caller's transaction (the one storing the event); an id
        announced again is fetched again (its status may have changed to Deprecated)."""
        for footprint_id in dict.fromkeys(footprint_ids):
            values = dict(org=org, event_pk=event_pk, version=version, status=PENDING, error=None)
            changed = connection.execute(update(received_footprints).where(
                received_footprints.c.peer == peer, received_footprints.c.footprint_id == footprint_id).values(**values))
            if changed.rowcount == 0:
                connection.execute(insert(received_footprints).values(peer=peer, footprint_id=footprint_id, **values))

    def pending_received(self, peer: str, footprint_ids: Iterable[str]) -> list[str]:
        """Which of these footprints from `peer` still wait to be fetched."""
        with self.reader.connect() as connection:
            return list(connection.execute(select(received_footprints.c.footprint_id).where(
                received_footprints.c.peer == peer, received_footprints.c.status == PENDING,
                received_footprints.c.footprint_id.in_(list(footprint_ids)))).scalars())

    def record_received(self, peer: str, footprint_id: str, status: str, document: str | None, error: str | None,
                        now: datetime) -> None:
        """What fetching one announced footprint gave: the document (FETCHED, or INVALID with why), a permanent
        failure (FAILED), or a transient one (stays PENDING with the error, for the next attempt)."""
        with self.engine.begin() as connection:
            connection.execute(update(received_footprints).where(
                received_footprints.c.peer == peer, received_footprints.c.footprint_id == footprint_id).values(
                status=status, error=None if error is None else error[:2000],
                **({} if document is None else {"document": document, "received_us": micros(now)})))

    def list_received(self, limit: int | None = None) -> list[ReceivedFootprint]:
        """Received footprints (announced by peers, or submitted through the portal), newest first."""
        with self.reader.connect() as connection:
            query = select(received_footprints).order_by(received_footprints.c.event_pk.desc(), received_footprints.c.pk)
            rows = connection.execute(query.limit(limit) if limit else query).all()
        return [_received(r) for r in rows]

    def get_received(self, pk: int) -> ReceivedFootprint | None:
        """One received footprint by its row key (the dashboard's link)."""
        with self.reader.connect() as connection:
            row = connection.execute(select(received_footprints).where(received_footprints.c.pk == pk)).first()
        return _received(row) if row else None

    def declared_through_portal(self, org: str) -> list[ReceivedFootprint]:
        """The footprints organisation `org` submitted through the supplier portal, newest first (Scope 3)."""
        with self.reader.connect() as connection:
            rows = connection.execute(select(received_footprints).where(
                received_footprints.c.channel == PORTAL, received_footprints.c.org == org,
                received_footprints.c.status == SUBMITTED).order_by(received_footprints.c.pk.desc())).all()
        return [_received(r) for r in rows]

    # --- public keys of peers the operator trusts (`pcf node trust`)

    def trust(self, url: str, jwks_document: dict, now: datetime) -> str:
        """Keep (or replace) the JWKS trusted for the peer at `url`, under its origin; returns that origin."""
        origin = peer_origin(url)
        with self.engine.begin() as connection:
            connection.execute(trusted_keys.delete().where(trusted_keys.c.origin == origin))
            connection.execute(insert(trusted_keys).values(origin=origin, jwks=json.dumps(jwks_document),
                                                           added_us=micros(now)))
        return origin

    def trusted(self) -> dict[str, dict]:
        """origin -> the JWKS trusted for it."""
        with self.reader.connect() as connection:
            return {row.origin: json.loads(row.jwks) for row in connection.execute(select(trusted_keys))}


def _received(row) -> ReceivedFootprint:
    return ReceivedFootprint(row.peer, row.footprint_id, row.org, row.version, row.status, row.document,
                             _when(row.received_us), row.error, row.pk, row.channel, row.invite_id)


def _sent_request(row) -> SentRequest:
    return SentRequest(row.event_id, row.target, json.loads(row.criteria), row.comment, _when(row.created_us),
                       row.status, _when(row.answered_us), None if row.answer is None else json.loads(row.answer))

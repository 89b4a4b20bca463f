"""The node's storage: one repository interface on SQLAlchemy Core, SQLite by default, PostgreSQL by URL.

Footprints are stored as their validated PACT JSON (v3 always, v2 where v2 can express them), so serving a
list is string assembly, not re-marshalling. Filterable values (product, company, classification ids and
geographies, lower-cased) sit in a key table; validity bounds are integers (microseconds since the epoch, UTC)
so comparisons behave the same on both databases. Footprints are immutable (spec v3.0.3 Sec. 7.2); setting
`status` to Deprecated, the one change the spec allows, has no command yet. Every write is one transaction: nothing is ever half-written.
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
    create_engine,
    event,
    exists,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from webhooks import outbox as webhook_outbox

from .addresses import peer_origin
from .events import REQUEST_FULFILLED, REQUEST_REJECTED, kind_of, type_names

# 2: sent_requests; 3: received_footprints; 6: the supplier portal (portal_invites, portal_hits, received_footprints.channel
# and .invite_id) and trusted_keys (each created on an existing older database by `pcf node init`: _upgrade_to_6);
# 7: signing_keys (the node's keys, rotation and revocation: _upgrade_to_7)
SCHEMA_VERSION = 7
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

metadata = MetaData()
meta = Table("meta", metadata, Column("key", String(64), primary_key=True), Column("value", Text, nullable=False))
clients = Table(
    "clients", metadata,
    Column("client_id", String(255), primary_key=True),
    Column("secret_hash", String(512), nullable=False),
    Column("org", String(255), nullable=False),
    Column("created_us", BigInteger, nullable=False),
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
    UniqueConstraint("seq", "org"),
    Index("ix_shares_org_seq", "org", "seq"),
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
portal_hits = Table(  # requests per key (an address, an invitation) in the current window: the portal's rate limit
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

KEY_KINDS = ("product", "company", "classification", "geography")
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
    v3_json: str
    v2_json: str | None
    keys: dict[str, tuple[str, ...]]  # kind -> values (any case; stored lower-cased)


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
    v3_json: str
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
    until: int  # the snapshot bound every page of this listing uses


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


def create_db_engine(url: str) -> Engine:
    """An engine for `url`: SQLite gets WAL, a busy timeout and immediate write transactions; `postgresql://`
    uses psycopg 3."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    engine = create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


class NodeStore:
    """The repository every part of the node goes through."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_db_engine(url)
        self.reader = self.engine.execution_options(**{READ_ONLY: True})  # same pool; for read-only work

    # --- schema

    def init_schema(self) -> None:
        """Create the tables (idempotent) and record the schema version."""
        metadata.create_all(self.engine)
        webhook_outbox.create_tables(self.engine)
        with self.engine.begin() as connection:
            _upgrade_to_6(connection)
            _upgrade_to_7(connection)
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
            found = self._active(connection)
            if found:
                return found
            kid, pem = make()
            try:
                with connection.begin_nested():
                    connection.execute(insert(meta).values(key=ACTIVE_KEY, value=kid))
                    connection.execute(insert(signing_keys).values(kid=kid, private_pem=pem, created_us=micros(now)))
            except IntegrityError:
                pass  # another worker made one first
            return self._active(connection)

    def _active(self, connection: Connection) -> tuple[str, str] | None:
        row = connection.execute(select(signing_keys.c.kid, signing_keys.c.private_pem).join(
            meta, and_(meta.c.key == ACTIVE_KEY, meta.c.value == signing_keys.c.kid))).first()
        return (row.kid, row.private_pem) if row else None

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

    def set_setting(self, name: str, value: str) -> None:
        with self.engine.begin() as connection:
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

    # --- footprints

    def transaction(self):
        """One database transaction for several writes (e.g. publish + outbox event + request status)."""
        return self.engine.begin()

    def publish(self, records: Sequence[FootprintRecord], share_with: Iterable[str] = (), public: bool = False,
                connection: Connection | None = None) -> None:
        """Store footprints, all or none; StoreError if one id exists already (footprints are immutable)."""
        if connection is None:
            try:
                with self.engine.begin() as own:
                    self.publish(records, share_with, public, own)
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
        for record in records:
            seq = connection.execute(insert(footprints).values(
                id=record.id.lower(), status=record.status, created_us=micros(record.created),
                validity_start_us=micros(record.validity_start), validity_end_us=micros(record.validity_end),
                public=public, v3_json=record.v3_json, v2_json=record.v2_json,
            )).inserted_primary_key[0]
            keys = [{"seq": seq, "kind": kind, "value": value.lower()}
                    for kind, values in record.keys.items() for value in dict.fromkeys(v.lower() for v in values)]
            if keys:
                connection.execute(insert(footprint_keys), keys)
            if orgs:
                connection.execute(insert(shares), [{"seq": seq, "org": org} for org in orgs])

    def share(self, footprint_id: str, orgs: Iterable[str], connection: Connection | None = None) -> None:
        """Make a published footprint visible to more organisations."""
        if connection is None:
            with self.engine.begin() as own:
                return self.share(footprint_id, orgs, own)
        seq = connection.execute(select(footprints.c.seq).where(footprints.c.id == footprint_id.lower())).scalar()
        if seq is None:
            raise StoreError(f"no footprint {footprint_id}")
        for org in set(orgs):
            if not connection.execute(select(shares.c.seq).where(shares.c.seq == seq, shares.c.org == org)).first():
                connection.execute(insert(shares).values(seq=seq, org=org))

    def get(self, footprint_id: str) -> StoredFootprint | None:
        with self.reader.connect() as connection:
            row = connection.execute(select(footprints).where(footprints.c.id == footprint_id.lower())).first()
            # the shares query runs for a missing id too: the same work whether or not the id exists (timing)
            orgs = connection.execute(select(shares.c.org).where(shares.c.seq == (row.seq if row else -1))).scalars().all()
        if row is None:
            return None
        return StoredFootprint(row.seq, row.id, row.status, row.public, row.v3_json, row.v2_json, frozenset(orgs))

    def count(self) -> int:
        with self.reader.connect() as connection:
            return connection.execute(select(func.count()).select_from(footprints)).scalar_one()

    def list_visible(self, org: str, filters: Filters, after: int, until: int | None, limit: int,
                     version: str = "v3") -> Page:
        """One page of footprints `org` may see, in publication order, after `after` and up to `until`."""
        document = footprints.c.v3_json if version == "v3" else footprints.c.v2_json
        with self.reader.connect() as connection:
            if until is None:
                until = connection.execute(select(func.coalesce(func.max(footprints.c.seq), 0))).scalar_one()
            # Visibility is a correlated EXISTS (one index probe per candidate, and an unfiltered page stops after
            # `limit` rows); key filters are IN (subquery), so a selective filter starts from its small index range.
            conditions = [footprints.c.seq > after, footprints.c.seq <= until,
                          or_(footprints.c.public.is_(True),
                              exists().where(and_(shares.c.seq == footprints.c.seq, shares.c.org == org)))]
            if version != "v3":
                conditions.append(document.is_not(None))
            for kind, values in (("product", filters.product), ("company", filters.company),
                                 ("classification", filters.classification), ("geography", filters.geography)):
                if values:
                    conditions.append(footprints.c.seq.in_(select(footprint_keys.c.seq).where(
                        footprint_keys.c.kind == kind, footprint_keys.c.value.in_([v.lower() for v in values]))))
            if filters.valid_on is not None:
                moment = micros(filters.valid_on)
                conditions += [footprints.c.validity_start_us <= moment, footprints.c.validity_end_us >= moment]
            if filters.valid_after is not None:
                conditions.append(footprints.c.validity_start_us > micros(filters.valid_after))
            if filters.valid_before is not None:
                conditions.append(footprints.c.validity_end_us < micros(filters.valid_before))
            if filters.status is not None:
                conditions.append(func.lower(footprints.c.status) == filters.status.lower())
            rows = connection.execute(
                select(footprints.c.seq, document).where(and_(*conditions)).order_by(footprints.c.seq).limit(limit + 1)
            ).all()
        return Page([(row[0], row[1]) for row in rows[:limit]], len(rows) > limit, until)

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

    def product_known(self, product_ids: Iterable[str]) -> bool:
        """Does the node make (its catalogue) or hold a footprint of (published here, shared with anyone or
        nobody) any of these products?"""
        wanted = [p.lower() for p in product_ids]
        with self.reader.connect() as connection:
            in_catalogue = connection.execute(select(catalogue).where(catalogue.c.product_id.in_(wanted))).first()
            in_store = connection.execute(select(footprint_keys.c.seq).where(
                footprint_keys.c.kind == "product", footprint_keys.c.value.in_(wanted))).first()
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

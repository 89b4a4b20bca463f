"""A durable outbox: events are written in the same transaction as the change that caused them.

The caller passes its own open transaction (`Connection`) to `enqueue`, so the event is committed together
with, say, the footprint it announces, or not at all. Delivery is at-least-once: an item is marked delivered
only after its target acknowledged it, and a lease keeps two deliverers from sending the same item at once
(on PostgreSQL claimed with `SELECT ... FOR UPDATE SKIP LOCKED`, so several server instances deliver side by side);
a deliverer that dies mid-send leaves the lease to expire and the item is sent again. Receivers deduplicate
by event id (PACT events carry one), so a repeat has one effect. Retries back off exponentially with jitter
up to a horizon (PACT: do not retry for more than 3 days), after which the item is marked dead with the reason.

This module knows HTTP-ish delivery bookkeeping and JSON text, nothing of PACT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text, and_, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
RETRY_HORIZON = timedelta(hours=72)  # PACT v3 rest-api: SHOULD NOT retry a response event for more than 3 days

metadata = MetaData()
outbox = Table(
    "outbox", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(255), nullable=False, unique=True),
    Column("target", String(2048), nullable=False),
    Column("kind", String(32), nullable=False),  # how to deliver: e.g. "pact-event" or "standard-webhook"
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_us", BigInteger, nullable=False),
    Column("next_attempt_us", BigInteger, nullable=False),
    Column("lease_until_us", BigInteger, nullable=False, default=0),
    Column("delivered_us", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
)
# the deliverers' scan for due messages: without it every round reads every message ever delivered
INDEXES = (Index("ix_outbox_due", outbox.c.status, outbox.c.next_attempt_us),)


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class OutboxItem:
    pk: int
    message_id: str
    target: str
    kind: str
    body: str
    attempts: int
    created: datetime


def create_tables(engine: Engine) -> None:
    """Create the outbox table in the application's database (idempotent)."""
    metadata.create_all(engine)


def enqueue(connection: Connection, message_id: str, target: str, kind: str, body: str, now: datetime) -> None:
    """Add a message inside the caller's transaction; a repeated message id is a no-op (idempotent enqueue)."""
    exists = connection.execute(select(outbox.c.pk).where(outbox.c.message_id == message_id)).first()
    if exists:
        return
    connection.execute(insert(outbox).values(
        message_id=message_id, target=target, kind=kind, body=body, status="pending", attempts=0,
        created_us=_us(now), next_attempt_us=_us(now), lease_until_us=0))


class Outbox:
    """Claims due messages and records what became of them."""

    def __init__(self, engine: Engine, base_delay: timedelta = timedelta(seconds=2),
                 max_delay: timedelta = timedelta(hours=1), lease: timedelta = timedelta(seconds=30),
                 horizon: timedelta = RETRY_HORIZON) -> None:
        self.engine, self.base_delay, self.max_delay, self.lease, self.horizon = engine, base_delay, max_delay, lease, horizon

    def claim_due(self, now: datetime, limit: int = 50) -> list[OutboxItem]:
        """Pending messages whose time has come and whose lease (if any) ran out; each is leased to the caller.

        On PostgreSQL several deliverers (one per `pcf serve` instance) share the outbox: the due rows are locked
        with `FOR UPDATE SKIP LOCKED`, so concurrent claims take disjoint rows without waiting on each other, and
        the lease is written in the same transaction. A deliverer killed mid-send leaves its lease to expire, after
        which the message is due again. SQLite has one writer at a time (BEGIN IMMEDIATE), so there a plain
        conditional update on the lease is enough."""
        due = and_(outbox.c.status == "pending", outbox.c.next_attempt_us <= _us(now),
                   or_(outbox.c.lease_until_us <= _us(now), outbox.c.lease_until_us.is_(None)))
        query = select(outbox).where(due).order_by(outbox.c.pk).limit(limit)
        claimed = []
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                rows = connection.execute(query.with_for_update(skip_locked=True)).all()
                if rows:
                    connection.execute(update(outbox).where(outbox.c.pk.in_([row.pk for row in rows])).values(
                        lease_until_us=_us(now + self.lease)))
            else:
                rows = [row for row in connection.execute(query).all() if connection.execute(
                    update(outbox).where(and_(outbox.c.pk == row.pk, outbox.c.lease_until_us == row.lease_until_us))
                    .values(lease_until_us=_us(now + self.lease))).rowcount]
            for row in rows:
                claimed.append(OutboxItem(row.pk, row.message_id, row.target, row.kind, row.body, row.attempts,
                                          _EPOCH + timedelta(microseconds=row.created_us)))
        return claimed

    def delivered(self, item: OutboxItem, now: datetime) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(outbox).where(outbox.c.pk == item.pk).values(
                status="delivered", delivered_us=_us(now), attempts=item.attempts + 1, lease_until_us=0, last_error=None))

    def failed(self, item: OutboxItem, error: str, now: datetime, jitter: float, permanent: bool = False) -> str:
        """Record a failed attempt; returns the new status (pending with a later retry, or dead)."""
        attempts = item.attempts + 1
        delay = min(self.max_delay, self.base_delay * (2 ** min(attempts - 1, 30)))
        retry_at = now + delay * (0.5 + jitter / 2)  # jitter in [0, 1): between half and the full delay
        dead = permanent or retry_at - item.created > self.horizon
        status = "dead" if dead else "pending"
        reason = error if not dead or permanent else f"gave up after {attempts} attempts over {self.horizon}: {error}"
        with self.engine.begin() as connection:
            connection.execute(update(outbox).where(outbox.c.pk == item.pk).values(
                status=status, attempts=attempts, next_attempt_us=_us(retry_at), lease_until_us=0, last_error=reason[:2000]))
        return status

    def items(self, status: str | None = None) -> list[dict]:
        """Every message (for operators and tests), oldest first."""
        with self.engine.connect() as connection:
            query = select(outbox).order_by(outbox.c.pk)
            if status:
                query = query.where(outbox.c.status == status)
            return [dict(row._mapping) for row in connection.execute(query)]

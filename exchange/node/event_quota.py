"""What the node keeps of the events partners send: a quota per organisation, and retention.

    prune_events(store, before)                -> how many events were deleted (`pcf node prune-events`)
    check_quota(store, org, size, limits, now) -> None, or QuotaExceeded (the API answers 400, nothing is stored)

Events are kept raw (the body as sent) so an answer can quote its request; without a bound one partner could fill the
disk. Each organisation (the org of the client that sent them) may keep at most `events_per_org` events and
`event_bytes_per_org` bytes of bodies. Before counting, that organisation's events older than the retention are
pruned, so a partner at its quota only for old traffic is never refused. Pruning never deletes a received request
still awaiting an answer (`received`, `waiting-for-credentials`), nor an event a received footprint points to (the
record of where it came from). The quota is read before the write, outside its transaction: requests racing at the
limit may overshoot it by the number of concurrent requests, never more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, not_, select

from .events import REQUEST_CREATED, type_names
from .storage import RECEIVED, WAITING_FOR_CREDENTIALS, NodeStore, events, micros, received_footprints


class QuotaExceeded(Exception):
    """The organisation keeps as many events (or bytes) as it may."""


@dataclass(frozen=True)
class EventLimits:
    events_per_org: int
    bytes_per_org: int
    retention: timedelta


def _prunable():
    """Events pruning may delete: not an unanswered request, not the origin of a received footprint."""
    unanswered = and_(events.c.type.in_(type_names(REQUEST_CREATED)),
                      events.c.status.in_((RECEIVED, WAITING_FOR_CREDENTIALS)))
    return and_(not_(unanswered), events.c.pk.not_in(select(received_footprints.c.event_pk)))


def prune_events(store: NodeStore, before: datetime, org: str | None = None) -> int:
    """Delete the events received before `before` (of `org`, or of everyone) that may go; how many went."""
    condition = and_(events.c.received_us < micros(before), _prunable())
    if org is not None:
        condition = and_(events.c.org == org, condition)
    with store.transaction() as connection:
        return connection.execute(delete(events).where(condition)).rowcount


def usage(store: NodeStore, org: str) -> tuple[int, int]:
    """(events, bytes of their bodies) the organisation keeps (an index range scan on ix_events_org_received)."""
    with store.reader.connect() as connection:
        count, size = connection.execute(select(func.count(), func.coalesce(func.sum(func.length(events.c.body)), 0))
                                         .where(events.c.org == org)).one()
    return int(count), int(size)


def check_quota(store: NodeStore, org: str, size: int, limits: EventLimits, now: datetime) -> None:
    """Prune `org`'s expired events, then QuotaExceeded when one more event of `size` bytes would not fit."""
    prune_events(store, now - limits.retention, org)
    count, stored = usage(store, org)
    if count + 1 > limits.events_per_org:
        raise QuotaExceeded(f"this organisation keeps {count} events on this node, its quota; older answered events "
                            f"are pruned after {limits.retention.days} days")
    if stored + size > limits.bytes_per_org:
        raise QuotaExceeded(f"this organisation's stored events ({stored} bytes) and this one would exceed its "
                            f"quota of {limits.bytes_per_org} bytes")

"""Requests per key and window, counted in the node database so every worker and instance shares the count.

The supplier portal is reached without an account: its link is the credential, and anyone may send it requests.
Each request counts against its remote address and its invitation token; past the limit of either, the answer is
429 with `Retry-After` before anything else is done. Fixed windows (one row per key): at most twice the limit can
fall within any window's length, which is enough to stop a flood while a supplier correcting a form a few times is
never slowed.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import case, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .storage import NodeStore, micros, portal_hits


class RateLimited(Exception):
    """Too many requests for a key in its window: retry after `retry_after` seconds."""

    def __init__(self, key: str, retry_after: int) -> None:
        super().__init__(f"too many requests ({key.split(':', 1)[0]}); retry in {retry_after} s")
        self.key, self.retry_after = key, retry_after


def address_key(address: str | None) -> str:
    """The key of a remote address: IPv4 as is, IPv6 by its /64 (one subscriber usually holds a whole /64)."""
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return f"address:{address}"
    if parsed.version == 4:
        return f"address:{parsed}"
    if parsed.ipv4_mapped is not None:
        return f"address:{parsed.ipv4_mapped}"
    return f"address:{ipaddress.ip_network(f'{parsed}/64', strict=False)}"


class RequestLimiter:
    """Counts a request against keys ("kind:value") and refuses it past `limits[kind]` requests per `window`."""

    def __init__(self, store: NodeStore, limits: dict[str, int], window: timedelta,
                 clock: Callable[[], datetime]) -> None:
        self.store, self.limits, self.window, self.clock = store, limits, window, clock

    def hit(self, *keys: str) -> None:
        """Count one request against each key; RateLimited (nothing counted) when one is already at its limit."""
        now = micros(self.clock())
        window = self.window // timedelta(microseconds=1)
        with self.store.transaction() as connection:
            rows = connection.execute(select(portal_hits).where(portal_hits.c.key.in_(keys))).all()
            for row in rows:
                ends = row.window_start_us + window
                if now < ends and row.hits >= self.limits[row.key.split(":", 1)[0]]:
                    raise RateLimited(row.key, max(1, -(-(ends - now) // 1_000_000)))
            # rows of windows that ended count nothing: the table stays as small as the current traffic
            connection.execute(delete(portal_hits).where(portal_hits.c.window_start_us <= now - window))
            insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
            for key in keys:
                statement = insert(portal_hits).values(key=key, window_start_us=now, hits=1)
                ended = statement.excluded.window_start_us >= portal_hits.c.window_start_us + window
                connection.execute(statement.on_conflict_do_update(index_elements=[portal_hits.c.key], set_={
                    "hits": case((ended, 1), else_=portal_hits.c.hits + 1),
                    "window_start_us": case((ended, statement.excluded.window_start_us),
                                            else_=portal_hits.c.window_start_us)}))

"""Requests per key and window, counted in the node database so every worker and instance shares the count.

One limiter for the whole node (the `portal_hits` table keeps its first user's name): the supplier portal counts every
request against the caller's address and its invitation token; the token endpoint counts failed client
authentications per client id and per address, the dashboard failed logins per user and per address. Past a key's
limit the answer is 429 with `Retry-After`, decided before anything costly is done (no scrypt for a refused try).
Fixed windows (one row per key): at most twice the limit can fall within any window's length, which is enough to stop
a flood while a supplier correcting a form, or an operator mistyping a password, is never slowed. Keys are
"kind:value"; each kind has its own limit, and rows of ended windows are deleted as the limiter goes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import case, delete, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .storage import NodeStore, micros, portal_hits


class RateLimited(Exception):
    """Too many requests for a key in its window: retry after `retry_after` seconds."""

    def __init__(self, key: str, retry_after: int) -> None:
        super().__init__(f"too many requests ({key.split(':', 1)[0]}); retry in {retry_after} s")
        self.key, self.retry_after = key, retry_after


@dataclass(frozen=True)
class Limit:
    """At most `count` requests per `window` for one kind of key."""

    count: int
    window: timedelta


def address_key(address: str | None, kind: str = "address") -> str:
    """The key of a remote address: IPv4 as is, IPv6 by its /64 (one subscriber usually holds a whole /64)."""
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return f"{kind}:{address}"
    if parsed.version == 4:
        return f"{kind}:{parsed}"
    if parsed.ipv4_mapped is not None:
        return f"{kind}:{parsed.ipv4_mapped}"
    return f"{kind}:{ipaddress.ip_network(f'{parsed}/64', strict=False)}"


class RequestLimiter:
    """Counts requests against keys ("kind:value") and refuses them past `limits[kind]`."""

    def __init__(self, store: NodeStore, limits: dict[str, Limit], clock: Callable[[], datetime]) -> None:
        self.store, self.limits, self.clock = store, limits, clock

    def _window(self, key: str) -> int:
        return self.limits[key.split(":", 1)[0]].window // timedelta(microseconds=1)

    def check(self, *keys: str, connection=None) -> None:
        """RateLimited when one of the keys is at its limit in its current window (one indexed read, no write)."""
        if connection is None:
            with self.store.reader.connect() as own:
                return self.check(*keys, connection=own)
        now = micros(self.clock())
        for row in connection.execute(select(portal_hits).where(portal_hits.c.key.in_(keys))).all():
            ends = row.window_start_us + self._window(row.key)
            if now < ends and row.hits >= self.limits[row.key.split(":", 1)[0]].count:
                raise RateLimited(row.key, max(1, -(-(ends - now) // 1_000_000)))

    def count(self, *keys: str, connection=None) -> None:
        """Count one request against each key (a new window for a key whose window ended)."""
        if connection is None:
            with self.store.transaction() as own:
                return self.count(*keys, connection=own)
        now = micros(self.clock())
        # rows of windows that ended count nothing: the table stays as small as the current traffic
        connection.execute(delete(portal_hits).where(or_(*(
            portal_hits.c.key.startswith(f"{kind}:", autoescape=True)
            & (portal_hits.c.window_start_us <= now - limit.window // timedelta(microseconds=1))
            for kind, limit in self.limits.items()))))
        insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
        for key in keys:
            statement = insert(portal_hits).values(key=key, window_start_us=now, hits=1)
            ended = statement.excluded.window_start_us >= portal_hits.c.window_start_us + self._window(key)
            connection.execute(statement.on_conflict_do_update(index_elements=[portal_hits.c.key], set_={
                "hits": case((ended, 1), else_=portal_hits.c.hits + 1),
                "window_start_us": case((ended, statement.excluded.window_start_us),
                                        else_=portal_hits.c.window_start_us)}))

    def hit(self, *keys: str) -> None:
        """Count one request against each key; RateLimited (nothing counted) when one is already at its limit."""
        with self.store.transaction() as connection:
            self.check(*keys, connection=connection)
            self.count(*keys, connection=connection)

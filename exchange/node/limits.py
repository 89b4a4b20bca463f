"""The node's configurable limits: defaults in `NodeConfig`, overridden per node with `pcf node limits --set`.

An override is a node setting in the database (`setting:limit:<name>`), so every worker process and every instance
on that database applies the same limits; `create_app` reads them when a server starts (restart `pcf serve` after a
change). Names are the CLI's; each maps to one `NodeConfig` field, a count or a duration ("90s", "10m", "48h", "90d").
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any

from .storage import NodeStore

NodeConfig = Any  # exchange.node.app.NodeConfig (a dataclass; not imported: app imports this module)

LIMITS: dict[str, str] = {  # CLI name -> NodeConfig field
    "token-failures-per-client": "token_failures_per_client",
    "token-failures-per-address": "token_failures_per_address",
    "token-window": "token_window",
    "login-failures-per-user": "login_failures_per_user",
    "login-failures-per-address": "login_failures_per_address",
    "login-window": "login_window",
    "portal-requests-per-address": "portal_requests_per_address",
    "portal-requests-per-invite": "portal_requests_per_invite",
    "portal-window": "portal_window",
    "events-per-org": "events_per_org",
    "event-bytes-per-org": "event_bytes_per_org",
    "event-retention": "event_retention",
}
_DURATION = re.compile(r"^(\d{1,7})([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """"90s", "10m", "48h", "90d" -> timedelta; ValueError for anything else or zero."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration such as 90s, 10m, 48h or 90d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def format_value(value: int | timedelta) -> str:
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if seconds % size == 0:
                return f"{seconds // size}{unit}"
        return f"{seconds}s"
    return str(value)


def parse_value(config: NodeConfig, name: str, text: str) -> int | timedelta:
    """The value of limit `name` from its text, typed like the default; ValueError for an unknown name or value."""
    if name not in LIMITS:
        raise ValueError(f"no limit {name!r}; known: {', '.join(LIMITS)}")
    if isinstance(getattr(config, LIMITS[name]), timedelta):
        return parse_duration(text)
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"{name} must be a positive whole number")
    return int(text)


def set_limit(store: NodeStore, config: NodeConfig, name: str, text: str) -> None:
    """Keep an override of one limit for this node (checked first: a bad value is never stored)."""
    store.set_setting(f"limit:{name}", format_value(parse_value(config, name, text)))


def configured(config: NodeConfig, store: NodeStore) -> NodeConfig:
    """`config` with this node's stored overrides applied."""
    changes = {}
    for name, field in LIMITS.items():
        stored = store.setting(f"limit:{name}")
        if stored is not None:
            changes[field] = parse_value(config, name, stored)
    return dataclasses.replace(config, **changes)


def current(config: NodeConfig) -> dict[str, str]:
    """Every limit's name and value as the CLI shows them."""
    return {name: format_value(getattr(config, field)) for name, field in LIMITS.items()}

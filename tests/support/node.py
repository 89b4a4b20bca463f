"""A real node for end-to-end tests: `pcf serve` in its own process, on a loopback port, over TLS."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timezone

from exchange.node.auth import hash_secret
from exchange.node.storage import NodeStore
from lca_models.footprint import Footprint
from pcf.tiers.local_nodes import RunningNode, free_port, start_node

__all__ = ["RunningNode", "add_clients", "free_port", "start_node"]


def with_id(base: Footprint, number: int, **changes) -> Footprint:
    """`base` under a fresh deterministic id (a version-4 UUID from `number`), with `changes` applied."""
    return dataclasses.replace(base, id=str(uuid.UUID(int=number, version=4)), **changes)


def add_clients(store: NodeStore, clients: dict[str, tuple[str, str]]) -> None:
    for client_id, (secret, org) in clients.items():
        store.add_client(client_id, hash_secret(secret), org, datetime.now(timezone.utc))

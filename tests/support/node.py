"""A real node for end-to-end tests: `pcf serve` in its own process, on a loopback port, over TLS."""

from __future__ import annotations

import dataclasses
import multiprocessing
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from exchange.node.auth import hash_secret
from exchange.node.storage import NodeStore
from lca_models.footprint import Footprint
from pcf.cli.common import default_db_url
from pcf.tiers.local_nodes import RunningNode, answers_health, free_port, start_node, wait_for

__all__ = ["RunningNode", "add_clients", "free_port", "new_node_db", "served_in_child", "start_node"]


def with_id(base: Footprint, number: int, **changes) -> Footprint:
    """`base` under a fresh deterministic id (a version-4 UUID from `number`), with `changes` applied."""
    return dataclasses.replace(base, id=str(uuid.UUID(int=number, version=4)), **changes)


def add_clients(store: NodeStore, clients: dict[str, tuple[str, str]]) -> None:
    for client_id, (secret, org) in clients.items():
        store.add_client(client_id, hash_secret(secret), org, datetime.now(timezone.utc))


def new_node_db(data_dir: Path, clients: dict[str, tuple[str, str]] | None = None) -> tuple[NodeStore, str]:
    """A fresh node database in `data_dir` with its schema and `clients` (id -> (secret, organisation)): (store, url).

    One place for the set-up many tests repeat, at the URL `pcf` itself uses for that data dir (SQLite)."""
    url = default_db_url(data_dir)
    store = NodeStore(url)
    store.init_schema()
    if clients:
        add_clients(store, clients)
    return store, url


@contextmanager
def served_in_child(target: Callable, args: tuple, port: int, ca: str, what: str) -> Iterator[str]:
    """`target(*args)`, a server on 127.0.0.1:`port` over TLS (serve_app under settings of a test's own), in a
    spawned process until the block ends: yields its base URL once its `/health` answers."""
    process = multiprocessing.get_context("spawn").Process(target=target, args=args, daemon=True)
    process.start()
    base = f"https://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers_health(base, ca), timeout=30, what=what)
        yield base
    finally:
        process.terminate()
        process.join(10)

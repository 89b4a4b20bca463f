"""Support for the hardening tests: a node app served by werkzeug on a real loopback port in a thread, and two
organisations (A, B) with private, shared and public footprints."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests
from werkzeug.serving import make_server

from exchange.node.app import NodeConfig, create_app
from exchange.node.records import publish_footprints
from exchange.node.storage import NodeStore
from exchange.pact import from_v3
from tests.support.node import add_clients, with_id
from tests.support.pact import PACT_FIXTURES, read_json

CLIENTS = {"a": ("a-secret", "OrgA"), "b": ("b-secret", "OrgB")}


@dataclass
class ThreadNode:
    """A node app on http://127.0.0.1:PORT (plain HTTP: TLS is the server's job, exchange/node/server.py, tested elsewhere)."""

    base: str
    store: NodeStore
    app: object
    server: object
    thread: threading.Thread
    ids: dict[str, str] = field(default_factory=dict)

    def token(self, client_id: str) -> str:
        secret = CLIENTS[client_id][0]
        response = requests.post(f"{self.base}/auth/token", data={"grant_type": "client_credentials"},
                                 auth=(client_id, secret), timeout=10)
        response.raise_for_status()
        return response.json()["access_token"]

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.store.dispose()


def footprint_copy(number: int, **changes):
    """The official v3 example-2 footprint under a fresh deterministic id (example-2 is valid in v2 too)."""
    base = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")).footprint
    return with_id(base, number, **changes)


def seeded_store(db_url: str) -> tuple[NodeStore, dict[str, str]]:
    """A store with clients a (OrgA) and b (OrgB) and footprints: private to A, private to B, public."""
    store = NodeStore(db_url)
    store.init_schema()
    add_clients(store, CLIENTS)
    a = footprint_copy(1, product_ids=("urn:pact:product:a-secret",))
    b = footprint_copy(2, product_ids=("urn:pact:product:b-secret",))
    public = footprint_copy(3, product_ids=("urn:pact:product:public",))
    publish_footprints(store, [a], share_with=("OrgA",))
    publish_footprints(store, [b], share_with=("OrgB",))
    publish_footprints(store, [public], public=True)
    return store, {"a": a.id, "b": b.id, "public": public.id}


def start_thread_node(tmp_path: Path, db_url: str | None = None, **config) -> ThreadNode:
    store, ids = seeded_store(db_url or f"sqlite:///{tmp_path / 'node.sqlite'}")
    app = create_app(NodeConfig(store.url, **config), store=store)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return ThreadNode(f"http://127.0.0.1:{server.server_port}", store, app, server, thread, ids)


PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class PostgresSchema:
    """A fresh schema in the local PostgreSQL `test` database (as tests/support/databases.py does), dropped on
    close; `url` points the node at it. pytest.skip with the reason when no server is reachable."""

    def __init__(self) -> None:
        import pytest
        from sqlalchemy import create_engine, text

        self.schema = f"pcf_{uuid.uuid4().hex[:12]}"
        try:
            self.engine = create_engine(PG_ADMIN)
            with self.engine.begin() as connection:
                connection.execute(text(f"CREATE SCHEMA {self.schema}"))
        except Exception as exc:  # noqa: BLE001
            pytest.skip(f"no PostgreSQL server reachable at 127.0.0.1:5432 ({exc.__class__.__name__})")
        self.url = f"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{self.schema}"

    def close(self) -> None:
        from sqlalchemy import text

        with self.engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {self.schema} CASCADE"))
        self.engine.dispose()


def database_url(kind: str, tmp_path: Path):
    """(url, cleanup) for "sqlite" (a file under tmp_path) or "postgresql" (a fresh schema)."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'node.sqlite'}", lambda: None
    schema = PostgresSchema()
    return schema.url, schema.close

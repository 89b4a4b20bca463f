"""The node's store on both databases: SQLite (default) and PostgreSQL (the server on 127.0.0.1:5432)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from exchange.node.storage import NodeStore
from tests.support.databases import postgres_schema
from tests.support.node import new_node_db


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        node_store, _ = new_node_db(tmp_path)
        yield node_store
        return
    url, engine, schema = postgres_schema()
    node_store = NodeStore(url)
    node_store.init_schema()
    yield node_store
    node_store.dispose()
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))

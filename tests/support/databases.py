"""A fresh PostgreSQL schema in the local server's `test` database, or a skip saying why there is none."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_schema():
    """A fresh schema in the `test` database, or a skip saying why there is none."""
    try:
        engine = create_engine(PG_ADMIN)
        schema = f"pcf_{uuid.uuid4().hex[:12]}"
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no PostgreSQL server reachable at 127.0.0.1:5432 ({exc.__class__.__name__})")
    return f"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}", engine, schema


def upgrade_from_version(store, version: int) -> None:
    """Mark the store's database as schema `version` (after the caller removed what later versions add), then check
    that it is refused as it stands and that `pcf node init` (init_schema, run twice: idempotent) brings it up to
    date."""
    from exchange.node.storage import StoreError

    with store.engine.begin() as connection:
        connection.execute(text("UPDATE meta SET value = :version WHERE key = 'schema_version'"), {"version": str(version)})
    with pytest.raises(StoreError, match="run `pcf node init` to upgrade"):
        store.check_schema()
    store.init_schema()
    store.init_schema()  # idempotent
    store.check_schema()

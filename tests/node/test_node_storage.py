"""The repository on both databases: SQLite (default) and PostgreSQL (the server on 127.0.0.1:5432)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from exchange.node.records import publish_footprints
from exchange.node.storage import Filters, StoreError
from exchange.pact import from_v3
from tests.support.databases import upgrade_from_version
from tests.support.pact import PACT_FIXTURES, read_json


@pytest.fixture
def footprint():
    return from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")).footprint


def test_init_is_idempotent_and_versioned(store):
    store.init_schema()
    store.check_schema()


def test_publish_share_list_and_get(store, footprint):
    publish_footprints(store, [footprint], share_with=("BuyerCo",))
    page = store.list_visible("BuyerCo", Filters(geography=("us",)), 0, 10)
    assert [json.loads(json_text)["id"] for _, json_text in page.items] == [footprint.id]
    assert store.list_visible("OtherCo", Filters(), 0, 10).items == []
    stored = store.get(footprint.id.upper())
    assert stored.shared_with == frozenset({"BuyerCo"}) and stored.v3_json.startswith("{")


def test_footprints_are_immutable_and_a_failed_batch_writes_nothing(store, footprint):
    other = dataclasses.replace(footprint, id=str(uuid.uuid4()))
    publish_footprints(store, [footprint])
    with pytest.raises(StoreError, match="immutable"):
        publish_footprints(store, [other, footprint])  # the second collides: the first must not stay
    assert store.count() == 1 and store.get(other.id) is None


def test_events_are_kept_once_per_source_and_id(store):
    now = datetime.now(timezone.utc)
    assert store.record_event("e1", "//a", "t", "Org", "{}", now)
    assert not store.record_event("e1", "//a", "t", "Org", "{}", now)
    assert store.record_event("e1", "//b", "t", "Org", "{}", now)
    assert len(store.list_events()) == 2


def test_node_secret_is_created_once(store):
    first = store.secret("k", lambda: "one")
    assert store.secret("k", lambda: "two") == first == "one"


SCHEMA_7_INDEXES = {"footprints": {"ix_footprints_status_seq", "ix_footprints_validity_start", "ix_footprints_validity_end"},
                    "outbox": {"ix_outbox_due"}}


def test_the_schema_7_upgrade_adds_the_filter_and_outbox_indexes_to_a_version_6_database(store, footprint):
    def indexes() -> dict[str, set[str]]:  # from the catalogue: SQLAlchemy's SQLite inspector skips expression indexes
        catalogue = ("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :table"
                     if store.engine.dialect.name == "sqlite" else
                     "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = :table")
        with store.engine.connect() as connection:
            return {table: set(connection.execute(text(catalogue), {"table": table}).scalars()) & names
                    for table, names in SCHEMA_7_INDEXES.items()}

    assert indexes() == SCHEMA_7_INDEXES  # a new database has them
    publish_footprints(store, [footprint], share_with=("BuyerCo",))
    with store.engine.begin() as connection:  # what the version 6 code made: no such indexes
        for names in SCHEMA_7_INDEXES.values():
            for name in names:
                connection.execute(text(f"DROP INDEX {name}"))
    upgrade_from_version(store, 6)
    assert indexes() == SCHEMA_7_INDEXES
    page = store.list_visible("BuyerCo", Filters(status="active", valid_on=datetime(2026, 1, 1, tzinfo=timezone.utc)),
                              0, 10)
    assert [json.loads(document)["id"] for _, document in page.items] == [footprint.id]


def test_a_single_key_value_pages_through_its_index_range_in_publication_order(store, footprint):
    """One value of a key criterion drives the listing from its index range: pages stay keyset-exact, visibility
    and the other criteria still apply, and several values (OR) give the same footprints by the other path."""
    copies = [dataclasses.replace(footprint, id=str(uuid.UUID(int=700 + i, version=4)),
                                  product_ids=(f"urn:pact:product:k{i % 2}",),  # a company each: no versions
                                  company_ids=(f"urn:pact:company:c{i}",)) for i in range(7)]
    for number, copy in enumerate(copies):
        publish_footprints(store, [copy], share_with=("BuyerCo",) if number != 3 else ("OtherCo",))

    def listed(filters: Filters, limit: int = 2) -> list[str]:
        seen, after = [], 0
        while True:
            page = store.list_visible("BuyerCo", filters, after, limit)
            seen += [json.loads(document)["id"] for _, document in page.items]
            if not page.has_more:
                return seen
            after = page.items[-1][0]

    visible = [c.id for number, c in enumerate(copies) if number != 3]
    assert listed(Filters(geography=("US", "us"))) == visible  # one value, written twice
    assert listed(Filters(product=("urn:pact:product:K1",), geography=("us",))) == [copies[1].id, copies[5].id]
    assert listed(Filters(product=("urn:pact:product:k0", "urn:pact:product:k1"))) == visible  # OR: the IN path
    assert listed(Filters(product=("urn:pact:product:k0",), status="deprecated")) == []


# --- the node's signing keys (schema 7)


def test_a_schema_6_database_upgrades_keeping_its_signing_key(store):
    """What a schema-6 node left: its one key as the secret `signing-key-pem`, no signing_keys table."""
    from sqlalchemy import text

    from exchange.node.keys import node_jwks, node_signing_key
    from exchange.pact.signing import SigningKey

    legacy = SigningKey.generate()
    with store.engine.begin() as connection:
        connection.execute(text("DROP TABLE signing_keys"))
        connection.execute(text("DELETE FROM meta WHERE key = 'active-signing-kid'"))
        connection.execute(text("INSERT INTO meta (key, value) VALUES ('secret:signing-key-pem', :pem)"),
                           {"pem": legacy.to_pem()})
    upgrade_from_version(store, 6)
    assert node_signing_key(store).kid == legacy.kid  # what it signed before still verifies, and it signs on
    [stored] = store.signing_keys()
    assert stored.active and stored.created is None and stored.revoked is None
    assert store.secret("signing-key-pem", lambda: "absent") == "absent"  # the private key lives in one place
    [jwk] = node_jwks(store)["keys"]
    assert jwk["kid"] == legacy.kid and "iat" not in jwk and "d" not in jwk


def test_rotation_keeps_old_keys_published_and_revocation_replaces_the_active_key(store):
    from exchange.node.keys import node_jwks, node_signing_key, rotate_key, set_identity

    set_identity(store, "Steel Co", ("urn:pact:company:steel-co",))
    store.set_setting("node-url", "https://steel.example:8443")
    first = node_signing_key(store)
    now = datetime.now(timezone.utc)
    second = rotate_key(store, now)
    assert node_signing_key(store).kid == second.kid
    assert store.revoke_signing_key(second.kid, now) and not store.revoke_signing_key("no-such-kid", now)
    third = node_signing_key(store)
    assert third.kid not in (first.kid, second.kid)
    keys = {jwk["kid"]: jwk for jwk in node_jwks(store)["keys"]}
    assert set(keys) == {first.kid, second.kid, third.kid}
    assert keys[second.kid]["revokedAt"] == pytest.approx(now.timestamp(), abs=1e-6) and "revokedAt" not in keys[first.kid]
    assert all(k["companyName"] == "Steel Co" and k["companyIds"] == ["urn:pact:company:steel-co"]
               and k["host"] == "https://steel.example:8443" and "d" not in k for k in keys.values())

"""The listing statement (storage._listing_sql): a page is the union of the caller's shares and the public
footprints, each stream bounded by the page; what it lists must be exactly what the caller may see, once each, in
publication order, whatever the page size, filter or version. Checked against the visibility rule written out here
from the stored rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import uuid

import psycopg
import pytest
from sqlalchemy import text

from exchange.node.records import publish_footprints
from exchange.node.storage import Filters
from exchange.pact import from_v3
from tests.support.databases import upgrade_from_version
from tests.support.pact import PACT_FIXTURES, read_json

# who sees what: (shared with BuyerCo, public); every footprint of its own company, so none is another's version
PATTERN = [(True, False), (False, True), (True, True), (False, False), (True, False), (False, True),
           (False, False), (True, True), (True, False), (False, True), (False, False), (True, False)]


@pytest.fixture
def published(store):
    base = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")).footprint
    ids = []
    for number, (shared, public) in enumerate(PATTERN):
        footprint = dataclasses.replace(base, id=str(uuid.UUID(int=900 + number, version=4)),
                                        company_ids=(f"urn:pact:company:stream{number}",),
                                        product_ids=(f"urn:pact:product:p{number % 3}",))
        publish_footprints(store, [footprint], share_with=("BuyerCo",) if shared else ("OtherCo",), public=public)
        ids.append(footprint.id)
    return ids


def listed(store, filters: Filters, limit: int, version: str = "v3", org: str = "BuyerCo") -> list[str]:
    seen, after = [], 0
    while True:
        page = store.list_visible(org, filters, after, limit, version)
        assert len(page.items) <= limit
        seen += [json.loads(document)["id"] for _, document in page.items]
        if not page.has_more:
            return seen
        after = page.items[-1][0]


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 100])
@pytest.mark.parametrize("version", ["v3", "v2"])
def test_every_visible_footprint_once_in_publication_order(store, published, limit, version):
    visible = [pf for pf, (shared, public) in zip(published, PATTERN) if shared or public]
    assert listed(store, Filters(), limit, version) == visible
    # a single key value drives both streams from its index range; two values take the IN path
    product = [pf for number, pf in enumerate(published) if number % 3 == 1 and pf in visible]
    assert listed(store, Filters(product=("urn:pact:product:p1",)), limit, version) == product
    assert listed(store, Filters(product=("urn:pact:product:p1", "urn:pact:product:nothing")), limit, version) == product
    assert listed(store, Filters(geography=("us",), status="active"), limit, version) == visible
    assert listed(store, Filters(status="deprecated"), limit, version) == []
    # an organisation nobody shared with sees the public ones only
    assert listed(store, Filters(), limit, version, org="NobodyCo") == [
        pf for pf, (_, public) in zip(published, PATTERN) if public]


def test_schema_8_adds_the_listing_indexes_to_a_version_7_database(store, published):
    expected = {"ix_footprints_public_seq"} | (  # the probe index: PostgreSQL only (storage.PROBE_INDEX)
        {"ix_footprints_seq_filters"} if store.engine.dialect.name == "postgresql" else set())
    catalogue = ("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'footprints'"
                 if store.engine.dialect.name == "sqlite" else
                 "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'footprints'")

    def present() -> set[str]:
        with store.engine.connect() as connection:
            return set(connection.execute(text(catalogue)).scalars()) & expected

    assert present() == expected
    with store.engine.begin() as connection:  # what the version 7 code made
        for name in expected:
            connection.execute(text(f"DROP INDEX {name}"))
    upgrade_from_version(store, 7)
    assert present() == expected
    assert listed(store, Filters(), 2, org="NobodyCo") == [pf for pf, (_, public) in zip(published, PATTERN) if public]


def test_a_hot_read_survives_a_connection_the_database_closed(store, published):
    """The hot-read pool has no pre-ping (a round trip per request): a pooled connection the server closed (a
    restart, an administrator) is replaced and the read retried, so the caller never sees the dead connection."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("a SQLite connection is a file handle: nothing on the other side can close it")
    (pid,), = store._fetch("SELECT pg_backend_pid()", {})  # this connection goes back to the hot-read pool
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    visible = [pf for pf, (shared, public) in zip(published, PATTERN) if shared or public]
    assert listed(store, Filters(), 100) == visible
    (new_pid,), = store._fetch("SELECT pg_backend_pid()", {})
    assert new_pid != pid

"""The listing statement (storage._listing_sql): a page is the union of the caller's rows and the public rows of
footprint_listing, each stream bounded by the page; what it lists must be exactly what the caller may see, once
each, in publication order, whatever the page size, filter or version. Checked against the visibility rule written
out here from the stored rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from datetime import datetime, timezone

import psycopg
import pytest
from sqlalchemy import select, text

from exchange.node.records import publish_footprints
from exchange.node.storage import Filters, footprint_listing, refresh_listing
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
    far = datetime(2200, 1, 1, tzinfo=timezone.utc)  # validity bounds (planned per request on PostgreSQL)
    assert listed(store, Filters(valid_before=far), limit, version) == visible
    assert listed(store, Filters(valid_after=far), limit, version) == []
    assert listed(store, Filters(valid_on=far, product=("urn:pact:product:p1", "urn:pact:product:p2")), limit, version) == []
    # an organisation nobody shared with sees the public ones only
    assert listed(store, Filters(), limit, version, org="NobodyCo") == [
        pf for pf, (_, public) in zip(published, PATTERN) if public]


def listing_rows(store) -> list[tuple]:
    with store.engine.connect() as connection:
        return sorted(connection.execute(select(*footprint_listing.c)).all(), key=repr)


def rebuilt_rows(store) -> list[tuple]:
    """The rows `refresh_listing` makes from scratch, from footprints, keys and shares as they are now."""
    with store.engine.begin() as connection:
        refresh_listing(connection)
    return listing_rows(store)


def test_every_write_keeps_the_listing_rows_what_a_rebuild_makes(store, published):
    """footprint_listing is derived: after share, unshare, a new version (deprecates the old one, carries its
    audience) and a public publish, its rows are exactly those a rebuild from the source tables makes."""
    store.share(published[3], ["NewCo"])
    assert store.unshare(published[0], "BuyerCo")
    base = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")).footprint
    public_shared = PATTERN.index((True, True))  # shared with BuyerCo and public
    old = dataclasses.replace(base, id=published[public_shared], company_ids=(f"urn:pact:company:stream{public_shared}",),
                              product_ids=(f"urn:pact:product:p{public_shared % 3}",))
    publish_footprints(store, [dataclasses.replace(old, id=str(uuid.UUID(int=999, version=4)))])  # its new version
    rows = listing_rows(store)
    assert rows == rebuilt_rows(store)
    assert listed(store, Filters(), 5, org="NewCo") == [pf for pf, (_, public) in zip(published, PATTERN)
                                                         if public or pf == published[3]] + [str(uuid.UUID(int=999, version=4))]
    assert published[0] not in listed(store, Filters(), 5)
    assert listed(store, Filters(status="deprecated"), 5) == [published[public_shared]]
    newest = [row for row in rows if row.seq == max(r.seq for r in rows)]
    assert {(row.public, row.org) for row in newest} == {(True, ""), (False, "BuyerCo")}  # the old version's audience
    assert {(row.kind, row.status) for row in newest if row.public} >= {("", "active"), ("product", "active")}


def test_concurrent_shares_of_one_footprint_leave_consistent_listing_rows(store, published):
    """Two transactions share the same footprint with different organisations at once (two instances, two
    operators): the second rebuilds the footprint's rows after the first commits (refresh_listing locks the row),
    so neither leaves duplicate or missing rows."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): there is no interleaving to check")
    first = store.engine.connect()
    transaction = first.begin()
    store.share(published[3], ["FirstCo"], first)
    second = threading.Thread(target=store.share, args=(published[3], ["SecondCo"]))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waits for the first transaction's lock on the footprint
    transaction.commit()
    first.close()
    second.join(10)
    rows = listing_rows(store)
    assert rows == rebuilt_rows(store)
    assert {row.org for row in rows if row.seq == rows_seq(store, published[3])} == {"OtherCo", "FirstCo", "SecondCo"}


def rows_seq(store, footprint_id: str) -> int:
    with store.engine.connect() as connection:
        return connection.execute(text("SELECT seq FROM footprints WHERE id = :id"), {"id": footprint_id}).scalar_one()


def test_schema_9_fills_the_listing_of_a_version_8_database(store, published):
    """A version 8 database has no footprint_listing: `pcf node init` makes and fills it, and drops the two
    schema-8 listing indexes nothing reads any more."""
    expected = listing_rows(store)
    assert expected
    with store.engine.begin() as connection:  # what the version 8 code made
        connection.execute(text("DROP TABLE footprint_listing"))
        connection.execute(text("CREATE INDEX ix_footprints_public_seq ON footprints "
                                "(seq, status, validity_start_us, validity_end_us) WHERE public"))
    upgrade_from_version(store, 8)
    assert listing_rows(store) == expected
    catalogue = ("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'footprints'"
                 if store.engine.dialect.name == "sqlite" else
                 "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'footprints'")
    with store.engine.connect() as connection:
        assert "ix_footprints_public_seq" not in set(connection.execute(text(catalogue)).scalars())
        if store.engine.dialect.name == "postgresql":
            assert set(connection.execute(text(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'footprint_listing'"
            )).scalars()) >= {"ix_footprint_listing", "ix_footprint_listing_starts", "ix_footprint_listing_ends"}
            assert connection.execute(text("SELECT count(*) FROM pg_statistic_ext WHERE stxrelid = "
                                           "'footprint_listing'::regclass")).scalar() == 1
    assert listed(store, Filters(), 2, org="NobodyCo") == [pf for pf, (_, public) in zip(published, PATTERN) if public]


def test_pages_with_a_validity_bound_are_planned_for_their_bound(store, published):
    """psycopg prepares a statement run five times, and PostgreSQL may then keep one generic plan; a page with a
    validity bound and no key range is sent unprepared, so each bound gets the plan its selectivity calls for (the
    walk in publication order, or a range of a validity index). The unbounded page stays prepared."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite plans every statement anew")
    for _ in range(8):
        listed(store, Filters(valid_after=datetime(2000, 1, 1, tzinfo=timezone.utc)), 100)
        listed(store, Filters(), 100)
    prepared = [statement for (statement,) in store._fetch("SELECT statement FROM pg_prepared_statements", {})]
    listings = [statement for statement in prepared if "footprint_listing" in statement]
    assert listings and not any("validity_start_us >" in statement for statement in listings)


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

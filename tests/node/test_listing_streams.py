"""The listing statement (storage._listing_sql): a page is the union of the caller's rows and the public rows of
footprint_listing, each stream bounded by the page; what it lists must be exactly what the caller may see, once
each, in publication order, whatever the page size, filter or version. Checked against the visibility rule written
out here from the stored rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import uuid
from datetime import datetime, timezone

import psycopg
import pytest
from sqlalchemy import select, text

from exchange.node.records import publish_footprints
from exchange.node.storage import MAX_KEY_RANGES, Filters, footprint_listing, micros, refresh_listing
from exchange.pact import from_v3
from tests.support.databases import upgrade_from_version
from tests.support.pact import PACT_FIXTURES, read_json
from tests.support.plans import generic_plan, statements_of

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
    # a key value drives both streams from its index range, each of several values its own range
    product = [pf for number, pf in enumerate(published) if number % 3 == 1 and pf in visible]
    assert listed(store, Filters(product=("urn:pact:product:p1",)), limit, version) == product
    assert listed(store, Filters(product=("urn:pact:product:p1", "urn:pact:product:nothing")), limit, version) == product
    assert listed(store, Filters(geography=("us",), status="active"), limit, version) == visible
    assert listed(store, Filters(status="deprecated"), limit, version) == []
    far = datetime(2200, 1, 1, tzinfo=timezone.utc)  # validity bounds
    assert listed(store, Filters(valid_before=far), limit, version) == visible
    assert listed(store, Filters(valid_after=far), limit, version) == []
    assert listed(store, Filters(valid_on=far, product=("urn:pact:product:p1", "urn:pact:product:p2")), limit, version) == []
    # an organisation nobody shared with sees the public ones only
    assert listed(store, Filters(), limit, version, org="NobodyCo") == [
        pf for pf, (_, public) in zip(published, PATTERN) if public]


def test_several_values_of_a_key_are_read_as_a_range_each_and_list_each_footprint_once(store):
    """productId=a&productId=b (a buyer asking for its purchased products): each value is a range of the listing
    index per audience, merged. A footprint with both products comes once; other key criteria still apply; beyond
    MAX_KEY_RANGES values the page walks the audience's rows instead, and lists the same."""
    base = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")).footprint
    products = {"a": ("urn:pact:product:a",), "b": ("urn:pact:product:b",), "ab": ("urn:pact:product:a",
                "urn:pact:product:b"), "c": ("urn:pact:product:c",)}
    published = []
    for number, (name, shared, public) in enumerate([("a", True, False), ("ab", True, True), ("c", True, True),
                                                     ("b", False, True), ("ab", False, False), ("b", True, False),
                                                     ("ab", True, False), ("a", False, True)]):
        footprint = dataclasses.replace(base, id=str(uuid.UUID(int=7000 + number, version=4)),
                                        company_ids=(f"urn:pact:company:many{number % 2}",), product_ids=products[name])
        publish_footprints(store, [footprint], share_with=("BuyerCo",) if shared else ("OtherCo",), public=public)
        published.append((footprint.id, name, shared or public, number % 2))
    asked = ("urn:pact:product:a", "urn:pact:product:b")
    expected = [fid for fid, name, visible, _ in published if visible and name != "c"]
    many = asked + tuple(f"urn:pact:product:absent{n}" for n in range(MAX_KEY_RANGES))
    for version in ("v3", "v2"):
        for limit in (1, 2, 5, 50):
            assert listed(store, Filters(product=asked), limit, version) == expected, (version, limit)
            assert listed(store, Filters(product=many), limit, version) == expected, (version, limit)
            assert listed(store, Filters(product=asked, company=("urn:pact:company:many1",)), limit, version) == [
                fid for fid, name, visible, company in published if visible and name != "c" and company == 1]
    if store.engine.dialect.name != "postgresql":
        return
    with psycopg.connect(store.url, autocommit=True) as connection:
        (statement, parameters), = statements_of(
            store, lambda: store.list_visible("BuyerCo", Filters(product=asked), 0, 50))
        plan = "\n".join(generic_plan(connection, statement, parameters))
        # two values times two audiences: four ranges of the listing index, none of the ('', '') rows
        assert plan.count("Index Only Scan using ix_footprint_listing on") == 4 and "''::text" not in plan, plan


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


MONTH_STARTS = [datetime(2015 + month // 12, month % 12 + 1, 1, tzinfo=timezone.utc) for month in range(120)]


@pytest.fixture
def spread(store):
    """120 footprints valid from one month each over ten years (3 years each), alternately shared with BuyerCo
    and public, with the listing's statistics taken (ANALYZE, as autovacuum would)."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("the validity ranges are PostgreSQL's (SQLite has no statistics to choose with)")
    base = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")).footprint
    for number, start in enumerate(MONTH_STARTS):
        footprint = dataclasses.replace(base, id=str(uuid.UUID(int=5000 + number, version=4)),
                                        company_ids=(f"urn:pact:company:spread{number}",),
                                        validity_period_start=start,
                                        validity_period_end=start.replace(year=start.year + 3))
        shared = number % 2 == 0
        publish_footprints(store, [footprint], share_with=("BuyerCo",) if shared else (), public=not shared)
    with store.engine.begin() as connection:
        connection.execute(text("ANALYZE footprint_listing"))
    return MONTH_STARTS


def test_a_validity_bound_few_footprints_meet_is_read_from_its_range_and_lists_the_same(store, spread):
    """validAfter/validBefore pages without a key: a bound most footprints meet walks the listing in publication
    order, one few meet reads its validity index from the bound (validity_ranges.py chooses from the statistics).
    Both forms list exactly the footprints the bound keeps, in publication order, whatever the page size; and the
    plan PostgreSQL keeps for each prepared form is the one it was written for."""
    ranges = store.validity_ranges
    original = ranges.range_for
    for bound in (spread[0], spread[60], spread[-3], spread[-1]):
        expected_after = [pf for pf, start in zip(spread_ids(), spread) if start > bound]
        expected_before = [pf for pf, start in zip(spread_ids(), spread) if start.replace(year=start.year + 3) < bound]
        for form in (None, "validity_start_us", "validity_end_us"):
            ranges.range_for = lambda *_, form=form: form
            for limit in (1, 7, 50):
                assert listed(store, Filters(valid_after=bound), limit, version="v3") == expected_after, (bound, form)
                assert listed(store, Filters(valid_before=bound), limit, version="v2") == expected_before, (bound, form)
    ranges.range_for = original
    # the choice: after the last month but one, 1 of 120 starts (0.8 %): the walk would need ~6,100 entries for a
    # page of 51, over WALK_BUDGET; after the middle one, half of them
    assert ranges.range_for(micros(spread[-2]), None, 51) == "validity_start_us"
    assert ranges.range_for(micros(spread[60]), None, 51) is None
    assert ranges.range_for(None, micros(spread[0].replace(year=2018, month=2)), 51) == "validity_end_us"
    with psycopg.connect(store.url, autocommit=True) as connection:
        for bound, walks in ((spread[-2], False), (spread[60], True)):
            (statement, parameters), = statements_of(store, lambda: store.list_visible("BuyerCo", Filters(
                valid_after=bound), 0, 50))
            plan = "\n".join(generic_plan(connection, statement, parameters))
            sorts = re.findall(r"->  Sort\b", plan)
            if walks:  # an index read in publication order, cut at the page: nothing to sort, no validity index
                assert not sorts and "ix_footprint_listing_starts" not in plan, plan
            else:  # both streams, the caller's and the public one, read from the bound, then sorted
                assert plan.count("ix_footprint_listing_starts") == 2 and len(sorts) >= 2, plan
            assert "ix_footprint_listing_ends" not in plan


def spread_ids() -> list[str]:
    return [str(uuid.UUID(int=5000 + number, version=4)) for number in range(len(MONTH_STARTS))]


def test_the_validity_pages_keep_their_prepared_plans(store, spread):
    """psycopg prepares a statement run five times; PostgreSQL then keeps its generic plan unless that plan's cost
    looks higher than the plans made for each run's values. Both validity forms (walk and range) and the unfiltered
    page must keep theirs: planning a validity page cost more than reading it (0.6 ms at a million footprints)."""
    for _ in range(16):  # psycopg prepares at the 5th run, PostgreSQL plans the first 5 prepared runs anew
        listed(store, Filters(valid_after=spread[-2]), 50)
        listed(store, Filters(valid_before=spread[0].replace(year=2018, month=2)), 50)
        listed(store, Filters(valid_after=spread[0]), 50)
        listed(store, Filters(), 50)
    prepared = store._fetch("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements", {})
    listings = [(generic, custom) for statement, generic, custom in prepared if "footprint_listing" in statement]
    assert len(listings) == 4 and all(generic > 0 and custom <= 5 for generic, custom in listings), prepared


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

"""Limits and revocation in the store, on SQLite and PostgreSQL: the shared rate limiter, event quota and retention,
token revocation, unsharing, server-side dashboard sessions, and the schema 7 upgrade of a version 6 database."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from exchange.node.auth import AuthError, Principal, TokenService, hash_secret
from exchange.node.dashboard import set_admin_password
from exchange.node.event_quota import EventLimits, QuotaExceeded, check_quota, prune_events, usage
from exchange.node.events import PUBLISHED, REQUEST_CREATED, REQUEST_FULFILLED, event_type
from exchange.node.records import publish_footprints
from exchange.node.request_limit import Limit, RateLimited, RequestLimiter
from exchange.node.sessions import end_session, open_session, session_valid
from exchange.node.storage import FETCHED, Filters, StoreError
from exchange.pact import from_v3
from tests.support.databases import upgrade_from_version
from tests.support.node import with_id
from tests.support.pact import PACT_FIXTURES, read_json

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_the_limiter_refuses_a_key_at_its_limit_until_its_window_ends_and_keeps_kinds_apart(store):
    clock = Clock(NOW)
    limiter = RequestLimiter(store, {"token-client": Limit(3, timedelta(minutes=5)),
                                     "token-address": Limit(5, timedelta(minutes=1))}, clock)
    for _ in range(3):
        limiter.check("token-client:victim", "token-address:10.0.0.1")
        limiter.count("token-client:victim", "token-address:10.0.0.1")
    clock.now = NOW + timedelta(seconds=10)
    with pytest.raises(RateLimited) as refused:
        limiter.check("token-client:victim", "token-address:10.0.0.1")
    assert refused.value.key == "token-client:victim" and refused.value.retry_after == 290  # 5 min from the first
    limiter.check("token-client:other", "token-address:10.0.0.1")  # another client from the same address: 3 < 5
    clock.now = NOW + timedelta(minutes=5)
    limiter.check("token-client:victim")  # its window ended
    limiter.count("token-client:victim")
    with store.engine.connect() as connection:  # the address row of the ended 1-minute window was deleted
        keys = set(connection.execute(text("SELECT key FROM portal_hits")).scalars())
    assert keys == {"token-client:victim"}


def _event(kind: str, number: int, **data) -> tuple[dict, str]:
    body = {"type": event_type(kind, "v3"), "specversion": "1.0", "id": f"e-{number}", "source": "//buyer.example",
            "time": "2026-06-01T00:00:00Z", "data": data}
    return body, json.dumps(body)


def test_the_event_quota_counts_events_and_bytes_per_organisation(store):
    limits = EventLimits(events_per_org=3, bytes_per_org=2_000, retention=timedelta(days=30))
    for number in range(3):
        check_quota(store, "BuyerCo", 100, limits, NOW)
        store.record_event(f"e-{number}", "//buyer.example", "x", "BuyerCo", "x" * 100, NOW)
    with pytest.raises(QuotaExceeded, match="3 events"):
        check_quota(store, "BuyerCo", 100, limits, NOW)
    check_quota(store, "OtherCo", 100, limits, NOW)  # another organisation's quota is its own
    with pytest.raises(QuotaExceeded, match="2000 bytes"):
        check_quota(store, "OtherCo", 2_001, limits, NOW)
    assert usage(store, "BuyerCo") == (3, 300)


def test_retention_prunes_old_answered_events_but_never_a_request_awaiting_its_answer(store):
    old, recent = NOW - timedelta(days=100), NOW - timedelta(days=1)
    waiting = store.record_event("req-open", "//b", event_type(REQUEST_CREATED, "v3"), "BuyerCo", "{}", old)
    answered = store.record_event("req-done", "//b", event_type(REQUEST_CREATED, "v3"), "BuyerCo", "{}", old)
    with store.transaction() as connection:
        store.set_event_status(answered, "fulfilled", connection)
    credentials = store.record_event("req-cred", "//b", event_type(REQUEST_CREATED, "v2"), "BuyerCo", "{}", old,
                                     status="waiting-for-credentials")
    answer = store.record_event("ans", "//b", event_type(REQUEST_FULFILLED, "v3"), "BuyerCo", "{}", old)
    fresh = store.record_event("fresh", "//b", event_type(REQUEST_FULFILLED, "v3"), "BuyerCo", "{}", recent)
    published = store.record_event("pub", "//mill", event_type(PUBLISHED, "v3"), "MillCo", "{}", old)
    with store.transaction() as connection:  # a received footprint points at its Published event
        store.expect_received("https://mill.example", "MillCo", ["f-1"], published, "v3", connection)
    store.record_received("https://mill.example", "f-1", FETCHED, "{}", None, old)
    other = store.record_event("other-old", "//o", event_type(REQUEST_FULFILLED, "v3"), "OtherCo", "{}", old)

    assert prune_events(store, NOW - timedelta(days=90), "BuyerCo") == 2  # answered request and old answer
    kept = {event["pk"] for event in store.list_events()}
    assert kept == {waiting, credentials, fresh, published, other}
    assert answered not in kept and answer not in kept
    # the quota check prunes the organisation's expired events first: an old backlog never blocks a partner
    check_quota(store, "OtherCo", 10, EventLimits(1, 10_000, timedelta(days=90)), NOW)
    assert other not in {event["pk"] for event in store.list_events()}


def test_the_dashboard_reads_events_a_page_at_a_time(store):
    pks = [store.record_event(f"e-{n}", "//b", "x", "BuyerCo", "{}", NOW) for n in range(7)]
    first = store.recent_events(3)
    assert [e["pk"] for e in first] == pks[::-1][:3]
    assert [e["pk"] for e in store.recent_events(3, before=first[-1]["pk"])] == pks[::-1][3:6]


def test_revoked_tokens_and_removed_clients_are_refused_at_once(store):
    clock = Clock(NOW)
    store.add_client("buyer", hash_secret("s"), "BuyerCo", NOW)
    tokens = TokenService(store, timedelta(hours=1), clock)
    header = "Bearer " + tokens.issue(Principal("buyer", "BuyerCo"))["access_token"]
    assert tokens.verify(header) == Principal("buyer", "BuyerCo")
    clock.now = NOW + timedelta(seconds=1)
    assert store.revoke_tokens("buyer", clock.now)
    with pytest.raises(AuthError, match="revoked"):
        tokens.verify(header)
    clock.now = NOW + timedelta(seconds=2)
    fresh = "Bearer " + tokens.issue(Principal("buyer", "BuyerCo"))["access_token"]
    assert tokens.verify(fresh).client_id == "buyer"  # a token issued after the revocation works
    assert store.remove_client("buyer") and not store.remove_client("buyer")
    with pytest.raises(AuthError, match="removed"):
        tokens.verify(fresh)
    assert not store.revoke_tokens("buyer", clock.now)


def test_a_page_or_a_footprint_read_with_the_token_floor_is_the_same_page_and_the_floor_is_the_clients(store):
    """The API's hot path reads the caller's token floor in the page's own statement (`floor_of`): the page must be
    the one read without it, in publication order, and the floor the one `token_floor` reads, whatever the page."""
    base = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-3.json")).footprint
    footprints = [with_id(base, n) for n in range(1, 10)]
    publish_footprints(store, footprints[:4], share_with=("BuyerCo",))
    publish_footprints(store, footprints[4:7], public=True)
    publish_footprints(store, footprints[7:], share_with=("BuyerCo",), public=True)  # both: listed once
    store.add_client("buyer", hash_secret("s"), "BuyerCo", NOW)
    store.add_client("gone", hash_secret("s"), "BuyerCo", NOW)
    assert store.remove_client("gone")
    for after, limit in ((0, 3), (0, 50), (10**9, 5)):  # a partial page, the whole listing, an empty page
        plain = store.list_visible("BuyerCo", Filters(), after, limit)
        assert [seq for seq, _ in plain.items] == sorted(seq for seq, _ in plain.items)
        assert plain.token_floor is None
        with_floor = store.list_visible("BuyerCo", Filters(), after, limit, floor_of="buyer")
        assert (with_floor.items, with_floor.has_more, with_floor.token_floor) == (plain.items, plain.has_more, 0)
        assert store.list_visible("BuyerCo", Filters(), after, limit, floor_of="gone").token_floor is None
    assert len(store.list_visible("BuyerCo", Filters(), 0, 50).items) == 9
    assert store.revoke_tokens("buyer", NOW)
    assert store.list_visible("BuyerCo", Filters(), 0, 50, "v2", floor_of="buyer").token_floor == store.token_floor(
        "buyer") > 0
    served = store.visible_document("BuyerCo", str(footprints[0].id), floor_of="buyer")
    assert served.visible and served.document == store.visible_document("BuyerCo", str(footprints[0].id)).document
    assert served.token_floor == store.token_floor("buyer")
    hidden = store.visible_document("OtherCo", str(footprints[0].id), floor_of="buyer")
    assert (hidden.visible, hidden.document, hidden.token_floor) == (False, None, store.token_floor("buyer"))


def test_unshare_hides_a_footprint_from_that_organisation_only(store):
    base = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-3.json")).footprint
    footprint = with_id(base, 7)
    publish_footprints(store, [footprint], share_with=("BuyerCo", "OtherCo"))
    assert store.unshare(footprint.id, "BuyerCo") and not store.unshare(footprint.id, "BuyerCo")
    assert store.list_visible("BuyerCo", Filters(), 0, 10).items == []
    assert len(store.list_visible("OtherCo", Filters(), 0, 10).items) == 1
    assert store.get(footprint.id).shared_with == {"OtherCo"}
    with pytest.raises(StoreError):
        store.unshare(str(with_id(base, 8).id), "OtherCo")


def test_dashboard_sessions_end_on_logout_expiry_and_password_change(store):
    first, second = open_session(store, NOW), open_session(store, NOW)
    assert session_valid(store, first, NOW) and session_valid(store, second, NOW)
    assert not session_valid(store, first, NOW + timedelta(hours=8))  # expired
    assert not session_valid(store, "forged", NOW) and not session_valid(store, None, NOW)
    end_session(store, first)
    assert not session_valid(store, first, NOW) and session_valid(store, second, NOW)
    set_admin_password(store, "a brand new password")
    assert not session_valid(store, second, NOW)
    with store.engine.connect() as connection:  # only hashes are kept
        assert second not in json.dumps([list(map(str, r)) for r in connection.execute(text(
            "SELECT * FROM dashboard_sessions"))])


def test_the_schema_7_upgrade_brings_a_version_6_database_up_to_date(store):
    store.add_client("buyer", hash_secret("s"), "BuyerCo", NOW)
    store.record_event("e-1", "//b", "x", "BuyerCo", "{}", NOW)
    with store.engine.begin() as connection:  # what version 6 of this code made
        connection.execute(text("DROP TABLE dashboard_sessions"))
        connection.execute(text("DROP INDEX ix_events_org_received"))
        connection.execute(text("ALTER TABLE clients DROP COLUMN tokens_after_us"))
    upgrade_from_version(store, 6)
    assert store.token_floor("buyer") == 0  # the existing client's tokens stay valid
    assert store.revoke_tokens("buyer", NOW) and store.token_floor("buyer") > 0
    open_session(store, NOW)
    with store.engine.connect() as connection:
        plan = " ".join(str(row) for row in connection.execute(text(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM events WHERE org = 'BuyerCo'" if store.engine.dialect.name ==
            "sqlite" else "SELECT indexname FROM pg_indexes WHERE tablename = 'events'")))
    assert "ix_events_org_received" in plan


def test_the_limit_and_prune_commands_work_on_a_data_dir(tmp_path):
    from click.testing import CliRunner

    from exchange.node.app import NodeConfig
    from exchange.node.limits import configured
    from exchange.node.storage import NodeStore
    from pcf.cli import main

    def pcf(*args: str):
        return CliRunner().invoke(main, ["node", *args, "--data-dir", str(tmp_path)])

    assert pcf("init").exit_code == 0
    shown = pcf("limits", "--set", "token-failures-per-address=100", "--set", "event-retention=30d")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["token-failures-per-address"] == "100"
    store = NodeStore(f"sqlite:///{tmp_path / 'node.sqlite'}")
    applied = configured(NodeConfig(store.url), store)
    assert applied.token_failures_per_address == 100 and applied.event_retention == timedelta(days=30)
    for bad in ("no-such-limit=1", "token-window=soon", "events-per-org=0"):
        refused = pcf("limits", "--set", bad)
        assert refused.exit_code == 1 and "error:" in refused.output
    old = datetime.now(timezone.utc) - timedelta(days=40)
    store.record_event("old", "//b", event_type(REQUEST_FULFILLED, "v3"), "BuyerCo", "{}", old)
    store.record_event("new", "//b", event_type(REQUEST_FULFILLED, "v3"), "BuyerCo", "{}", datetime.now(timezone.utc))
    pruned = pcf("prune-events")  # the node's retention: 30 days
    assert pruned.exit_code == 0 and json.loads(pruned.output) == {"deleted": 1}
    assert [e["event_id"] for e in store.list_events()] == ["new"]
    for command in (("remove-client", "ghost"), ("revoke-tokens", "ghost"), ("unshare", "x", "BuyerCo")):
        assert pcf(*command).exit_code == 1

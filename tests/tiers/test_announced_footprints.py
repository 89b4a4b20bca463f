"""A Published event from a peer: the node fetches the announced footprints (outbox job, peer credentials) into
`received_footprints`, recording what each fetch gave; the operator sees them in `pcf node received` and the
dashboard, beside requests that wait for credentials."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

from exchange.node.app import NodeConfig, create_app
from exchange.node.dashboard import set_admin_password
from exchange.node.events import PUBLISHED, REQUEST_CREATED, check_event, event_type
from exchange.node.storage import NodeStore
from exchange.node.workflow import receive_other, receive_request
from pcf.tiers.workflow import deliverer
from tests.support.event_receiver import EventReceiver
from tests.support.node import new_node_db
from tests.support.pact import PACT_FIXTURES, read_json
from webhooks.outbox import Outbox

NOW = datetime.now(timezone.utc)  # the deliverer runs on the real clock: outbox items must be fresh
GOOD = read_json(PACT_FIXTURES / "v3" / "examples" / "example-4.json")
BROKEN = {**read_json(PACT_FIXTURES / "v3" / "examples" / "example-3.json"), "pcf": {"declaredUnitAmount": "1"}}
MISSING = "3a6c14a7-4deb-498a-b5ea-16ce2535b576"  # the id WBCSD's conformance case 15 announces


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("PCF_OUTBOUND_ALLOW", "loopback")
    node_store, _ = new_node_db(tmp_path)
    return node_store


def announce(store: NodeStore, source: str, ids: list[str], event_id: str = "p1") -> None:
    event = {"type": event_type(PUBLISHED, "v3"), "specversion": "1.0", "id": event_id, "source": source,
             "time": "2026-03-01T00:00:00Z", "data": {"pfIds": ids}}
    receive_other(store, check_event(event, "v3"), "VendorCo", json.dumps(event), NOW)


def test_announced_footprints_are_fetched_with_the_peers_credentials_and_each_outcome_kept(store):
    with EventReceiver("me-at-vendor", "secret", footprints={("v3", GOOD["id"]): GOOD,
                                                             ("v3", BROKEN["id"]): BROKEN}) as vendor:
        store.add_peer(vendor.url, "me-at-vendor", "secret")
        announce(store, f"{vendor.url}/3/events", [GOOD["id"], BROKEN["id"], MISSING])
        assert deliverer(store).run_once() == {"delivered": 1, "retrying": 0, "dead": 0}
    outcome = {r.footprint_id: r for r in store.list_received()}
    assert outcome[GOOD["id"]].status == "fetched" and json.loads(outcome[GOOD["id"]].document) == GOOD
    assert outcome[GOOD["id"]].received is not None and outcome[GOOD["id"]].org == "VendorCo"
    assert outcome[BROKEN["id"]].status == "invalid" and "/pcf" in outcome[BROKEN["id"]].error
    assert json.loads(outcome[BROKEN["id"]].document) == BROKEN  # kept as received, with why it is invalid
    assert outcome[MISSING].status == "failed" and "404" in outcome[MISSING].error
    assert {r.peer for r in outcome.values()} == {vendor.url}


def test_a_peer_that_is_down_is_retried_for_the_ids_still_pending(store):
    with EventReceiver("me-at-vendor", "secret") as vendor:
        url = vendor.url
    store.add_peer(url, "me-at-vendor", "secret")  # the vendor's host is gone now
    announce(store, url, [GOOD["id"]])
    assert deliverer(store).run_once()["retrying"] == 1
    [pending] = store.list_received()
    assert pending.status == "pending" and "ConnectionError" in pending.error
    [job] = Outbox(store.engine).items()
    assert job["status"] == "pending" and job["attempts"] == 1


def test_an_announcement_from_a_host_without_credentials_is_kept_but_nothing_is_fetched(store):
    announce(store, "//stranger.example", [GOOD["id"]])
    assert [e["event_id"] for e in store.list_events(PUBLISHED)] == ["p1"]
    assert store.list_received() == [] and Outbox(store.engine).items() == []


def test_the_dashboard_shows_announced_footprints_and_requests_waiting_for_credentials(store):
    password = "correct horse battery staple"
    set_admin_password(store, password)
    with EventReceiver("me-at-vendor", "secret", footprints={("v3", GOOD["id"]): GOOD}) as vendor:
        store.add_peer(vendor.url, "me-at-vendor", "secret")
        announce(store, vendor.url, [GOOD["id"]])
        deliverer(store).run_once()
    request = {"type": event_type(REQUEST_CREATED, "v3"), "specversion": "1.0", "id": "r1",
               "source": "//new-buyer.example", "time": "2026-03-01T00:00:00Z", "data": {"productId": ["urn:x:y"]}}
    receive_request(store, check_event(request, "v3"), "NewBuyerCo", json.dumps(request), NOW)
    client = create_app(NodeConfig(store.url), store).test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    page = client.get("/dashboard/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post("/dashboard/login", data={"password": password, "csrf": csrf})
    html = client.get("/dashboard/").get_data(as_text=True)
    received = re.search(r'<table class="received-footprints">(.*?)</table>', html, re.DOTALL).group(1)
    assert GOOD["id"] in received and 'status-fetched">fetched<' in received and "VendorCo" in received
    requests_table = re.search(r'<table class="requests">(.*?)</table>', html, re.DOTALL).group(1)
    assert 'status-waiting-for-credentials">waiting-for-credentials<' in requests_table and "NewBuyerCo" in requests_table

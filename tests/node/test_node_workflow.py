"""The data owner's request workflow, in process: answers are one transaction with their outbox event."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from exchange.node.events import REQUEST_CREATED
from exchange.node.keys import node_signing_key
from exchange.node.storage import NodeStore
from exchange.node.workflow import RequestRefused, fulfil, receive_request, reject
from exchange.pact.signing import sign
from tests.support.pact import PACT_FIXTURES, read_json
from webhooks.outbox import Outbox

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path):
    store = NodeStore(f"sqlite:///{tmp_path / 'node.sqlite'}")
    store.init_schema()
    store.add_peer("https://buyer.example", "me", "secret")
    store.set_setting("node-url", "https://supplier.example")
    return store


def created(event_id: str, product: str = "urn:gtin:4712345060507") -> dict:
    return {"type": REQUEST_CREATED, "specversion": "1.0", "id": event_id, "source": "//buyer.example",
            "time": "2026-03-01T00:00:00Z", "data": {"productId": [product]}}


def request_pk(store: NodeStore, event_id: str) -> int:
    return next(e["pk"] for e in store.list_events() if e["event_id"] == event_id)


def test_fulfilling_publishes_shares_and_queues_the_answer_together(store):
    receive_request(store, created("r1"), "BuyerCo", "{}", NOW)
    document = sign(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json"), node_signing_key(store), NOW)
    answer_id = fulfil(store, request_pk(store, "r1"), [document], NOW)
    [item] = Outbox(store.engine).items()
    body = json.loads(item["body"])
    assert body["id"] == answer_id and body["source"] == "//supplier.example"
    assert item["target"] == "https://buyer.example/3/events" and body["data"]["requestEventId"] == "r1"
    assert store.get(document["id"]).shared_with == frozenset({"BuyerCo"})
    assert store.get_event(request_pk(store, "r1"))["status"] == "fulfilled"
    with pytest.raises(RequestRefused, match="fulfilled already"):
        fulfil(store, request_pk(store, "r1"), [document], NOW)


def test_the_same_footprint_answers_a_second_requester(store):
    document = sign(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json"), node_signing_key(store), NOW)
    receive_request(store, created("r1"), "BuyerCo", "{}", NOW)
    fulfil(store, request_pk(store, "r1"), [document], NOW)
    receive_request(store, created("r2"), "OtherCo", "{}", NOW)  # not shared with OtherCo: waits for the operator
    fulfil(store, request_pk(store, "r2"), [document], NOW)
    assert store.get(document["id"]).shared_with == frozenset({"BuyerCo", "OtherCo"})
    assert len(Outbox(store.engine).items()) == 2


def test_rejecting_queues_a_rejection_with_the_reason(store):
    receive_request(store, created("r3"), "BuyerCo", "{}", NOW)
    reject(store, request_pk(store, "r3"), "we stopped making this", NOW)
    [item] = Outbox(store.engine).items()
    error = json.loads(item["body"])["data"]["error"]
    assert error == {"code": "NotFound", "message": "we stopped making this"}
    assert store.get_event(request_pk(store, "r3"))["status"] == "rejected"


def test_a_failed_answer_leaves_no_trace(store):
    receive_request(store, created("r4"), "BuyerCo", "{}", NOW)
    document = sign(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json"), node_signing_key(store), NOW)
    broken = {**document, "pcf": {**document["pcf"], "fossilGhgEmissions": 1}}  # not valid PACT
    with pytest.raises(Exception):
        fulfil(store, request_pk(store, "r4"), [document, broken], NOW)
    assert Outbox(store.engine).items() == [] and store.count() == 0
    assert store.get_event(request_pk(store, "r4"))["status"] == "received"


def test_a_repeated_request_is_recorded_once(store):
    receive_request(store, created("r5"), "BuyerCo", "{}", NOW)
    receive_request(store, created("r5"), "BuyerCo", "{}", NOW)
    assert [e["event_id"] for e in store.list_events()].count("r5") == 1


def test_subscribers_get_signed_standard_webhooks_when_footprints_are_published(store):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from exchange.node.records import publish_footprints
    from exchange.pact import from_v3
    from pcf.tiers.workflow import deliverer
    from webhooks.signing import new_secret, verify_webhook

    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        secret = new_secret()
        url = f"http://127.0.0.1:{server.server_port}/erp/hooks"
        store.add_subscription(url, secret)
        footprint = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-3.json")).footprint
        publish_footprints(store, [footprint], share_with=("BuyerCo",))
        assert deliverer(store).run_once()["delivered"] == 1
        [(headers, body)] = received
        assert verify_webhook(secret, headers, body) == {"type": "footprint.published", "timestamp": json.loads(body)["timestamp"],
                                                         "data": {"pfIds": [footprint.id]}}
    finally:
        server.shutdown()
        server.server_close()


def test_a_v2_request_is_answered_in_v2_at_the_requesters_v2_endpoint(store):
    v2_request = {**created("r6"), "data": {"pf": {"productIds": ["urn:gtin:4712345060507"]}, "comment": "v2 buyer"}}
    receive_request(store, v2_request, "BuyerCo", json.dumps(v2_request), NOW)
    document = sign(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json"), node_signing_key(store), NOW)
    fulfil(store, request_pk(store, "r6"), [document], NOW)
    [item] = Outbox(store.engine).items()
    answer = json.loads(item["body"])
    assert item["target"] == "https://buyer.example/2/events"
    assert "pCfExcludingBiogenic" in answer["data"]["pfs"][0]["pcf"]  # the v2 form


def test_a_v2_request_matching_a_shared_footprint_is_answered_at_once(store):
    from exchange.node.records import publish_footprints
    from exchange.pact import from_v3

    footprint = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")).footprint
    publish_footprints(store, [footprint], share_with=("BuyerCo",))
    v2_request = {**created("r7"), "data": {"pf": {"productIds": ["urn:gtin:4712345060507"]}}}
    receive_request(store, v2_request, "BuyerCo", json.dumps(v2_request), NOW)
    [item] = Outbox(store.engine).items()
    assert item["target"].endswith("/2/events") and json.loads(item["body"])["data"]["pfs"][0]["id"] == footprint.id

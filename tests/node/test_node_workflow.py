"""The data owner's request workflow, in process: every well-formed request is kept; answers are one transaction
with their outbox event, in the request's PACT version, at the address its `source` gives."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from exchange.node.events import (
    PUBLISHED,
    REQUEST_CREATED,
    REQUEST_FULFILLED,
    REQUEST_REJECTED,
    check_event,
    event_type,
    kind_of,
)
from exchange.node.keys import node_signing_key
from exchange.node.storage import NodeStore
from exchange.node.workflow import (
    PACT_EVENT,
    PACT_FETCH,
    RequestRefused,
    fulfil,
    receive_other,
    receive_request,
    reject,
    release_waiting,
)
from exchange.pact.signing import sign
from tests.support.node import new_node_db
from tests.support.pact import PACT_FIXTURES, read_json
from webhooks.outbox import Outbox

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
PRODUCT = "urn:gtin:4712345060507"  # the product of PACT's v3 example-2.json


@pytest.fixture
def store(tmp_path):
    store, _ = new_node_db(tmp_path)
    store.add_peer("https://buyer.example", "me", "secret")
    store.set_setting("node-url", "https://supplier.example")
    store.add_products([PRODUCT])
    return store


def created(event_id: str, product: str = PRODUCT, source: str = "//buyer.example") -> dict:
    return {"type": event_type(REQUEST_CREATED, "v3"), "specversion": "1.0", "id": event_id, "source": source,
            "time": "2026-03-01T00:00:00Z", "data": {"productId": [product]}}


def created_v2(event_id: str, product: str = PRODUCT, source: str = "//buyer.example") -> dict:
    return {**created(event_id, source=source), "type": event_type(REQUEST_CREATED, "v2"),
            "data": {"pf": {"productIds": [product]}, "comment": "v2 buyer"}}


def receive(store: NodeStore, event: dict, org: str = "BuyerCo", version: str = "v3") -> str:
    """What POST /{3,2}/events does with a request: validate it, then hand it to the workflow."""
    return receive_request(store, check_event(event, version), org, json.dumps(event), NOW)


def queued(store: NodeStore) -> list[tuple[str, dict]]:
    return [(item["target"], json.loads(item["body"])) for item in Outbox(store.engine).items() if item["kind"] == PACT_EVENT]


def request_pk(store: NodeStore, event_id: str) -> int:
    return next(e["pk"] for e in store.list_events() if e["event_id"] == event_id)


def test_fulfilling_publishes_shares_and_queues_the_answer_together(store):
    receive(store, created("r1"))
    document = sign(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json"), node_signing_key(store), NOW)
    answer_id = fulfil(store, request_pk(store, "r1"), [document], NOW)
    [item] = Outbox(store.engine).items()
    body = json.loads(item["body"])
    assert body["id"] == answer_id and body["source"] == "//supplier.example"
    assert body["type"] == "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
    assert item["target"] == "https://buyer.example/3/events" and body["data"]["requestEventId"] == "r1"
    assert store.get(document["id"]).shared_with == frozenset({"BuyerCo"})
    assert store.get_event(request_pk(store, "r1"))["status"] == "fulfilled"
    with pytest.raises(RequestRefused, match="fulfilled already"):
        fulfil(store, request_pk(store, "r1"), [document], NOW)


def test_the_same_footprint_answers_a_second_requester(store):
    document = sign(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json"), node_signing_key(store), NOW)
    receive(store, created("r1"))
    fulfil(store, request_pk(store, "r1"), [document], NOW)
    receive(store, created("r2"), "OtherCo")  # not shared with OtherCo: waits for the operator
    fulfil(store, request_pk(store, "r2"), [document], NOW)
    assert store.get(document["id"]).shared_with == frozenset({"BuyerCo", "OtherCo"})
    assert len(Outbox(store.engine).items()) == 2


def test_rejecting_queues_a_rejection_with_the_reason(store):
    receive(store, created("r3"))
    reject(store, request_pk(store, "r3"), "we stopped making this", NOW)
    [item] = Outbox(store.engine).items()
    error = json.loads(item["body"])["data"]["error"]
    assert error == {"code": "NotFound", "message": "we stopped making this"}
    assert store.get_event(request_pk(store, "r3"))["status"] == "rejected"


def test_a_failed_answer_leaves_no_trace(store):
    receive(store, created("r4"))
    document = sign(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json"), node_signing_key(store), NOW)
    broken = {**document, "pcf": {**document["pcf"], "fossilGhgEmissions": 1}}  # not valid PACT
    with pytest.raises(Exception):
        fulfil(store, request_pk(store, "r4"), [document, broken], NOW)
    assert Outbox(store.engine).items() == [] and store.count() == 0
    assert store.get_event(request_pk(store, "r4"))["status"] == "received"


def test_a_repeated_request_is_recorded_once(store):
    assert receive(store, created("r5")) == "received"
    assert receive(store, created("r5")) == "repeat"
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
    receive(store, created_v2("r6"), version="v2")
    document = sign(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json"), node_signing_key(store), NOW)
    fulfil(store, request_pk(store, "r6"), [document], NOW)
    [item] = Outbox(store.engine).items()
    answer = json.loads(item["body"])
    assert item["target"] == "https://buyer.example/2/events"
    assert answer["type"] == "org.wbcsd.pathfinder.ProductFootprintRequest.Fulfilled.v1"
    assert "pCfExcludingBiogenic" in answer["data"]["pfs"][0]["pcf"]  # the v2 form


def test_a_v2_request_matching_a_shared_footprint_is_answered_at_once(store):
    from exchange.node.records import publish_footprints
    from exchange.pact import from_v3

    footprint = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")).footprint
    publish_footprints(store, [footprint], share_with=("BuyerCo",))
    assert receive(store, created_v2("r7"), version="v2") == "fulfilled"
    [item] = Outbox(store.engine).items()
    assert item["target"].endswith("/2/events") and json.loads(item["body"])["data"]["pfs"][0]["id"] == footprint.id


def test_a_request_for_an_unknown_product_is_kept_and_rejected_with_not_found_in_its_version(store):
    assert receive(store, created("u3", product="urn:pact:null")) == "rejected"
    assert receive(store, created_v2("u2", product="urn:pact:null"), version="v2") == "rejected"
    answers = dict((body["data"]["requestEventId"], (target, body)) for target, body in queued(store))
    target, v3 = answers["u3"]
    assert target == "https://buyer.example/3/events" and v3["type"] == event_type(REQUEST_REJECTED, "v3")
    assert v3["data"]["error"]["code"] == "NotFound" and "urn:pact:null" in v3["data"]["error"]["message"]
    target, v2 = answers["u2"]
    assert target == "https://buyer.example/2/events" and v2["type"] == event_type(REQUEST_REJECTED, "v2")
    assert v2["data"]["error"]["code"] == "NotFound"  # the v2.3.3 OpenAPI Error enum has no NoSuchFootprint
    assert {e["event_id"]: e["status"] for e in store.list_events(REQUEST_CREATED)} == {"u3": "rejected", "u2": "rejected"}


def test_a_product_known_from_a_footprint_the_requester_may_see_is_not_rejected(store):
    from exchange.node.records import publish_footprints
    from exchange.pact import from_v3

    footprint = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-1.json")).footprint  # not in the catalogue
    publish_footprints(store, [footprint], share_with=("BuyerCo",))
    assert receive(store, created("k1", product=footprint.product_ids[0])) == "fulfilled"
    [(_, answer)] = queued(store)
    assert [pf["id"] for pf in answer["data"]["pfs"]] == [footprint.id]


def test_whether_a_request_waits_or_is_rejected_does_not_tell_what_others_were_given(store):
    """A footprint shared only with another organisation counts for nothing in the answer to BuyerCo: the same
    rejection, word for word, as for a product nobody holds (docs/security.md, isolation)."""
    from exchange.node.records import publish_footprints
    from exchange.pact import from_v3

    footprint = from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-1.json")).footprint  # not in the catalogue
    publish_footprints(store, [footprint], share_with=("SomeoneElse",))
    assert receive(store, created("k1", product=footprint.product_ids[0])) == "rejected"
    assert receive(store, created("k2", product="urn:pact:nobody-holds-this")) == "rejected"
    messages = [answer["data"]["error"] for _, answer in queued(store)]
    assert messages[0]["code"] == messages[1]["code"] == "NotFound"
    assert messages[0]["message"].replace(footprint.product_ids[0], "X") == \
        messages[1]["message"].replace("urn:pact:nobody-holds-this", "X")


def test_a_request_from_a_host_without_credentials_waits_and_is_answered_once_the_peer_is_added(store):
    from exchange.node.records import publish_footprints
    from exchange.pact import from_v3

    publish_footprints(store, [from_v3(read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")).footprint],
                       share_with=("NewCo",))
    assert receive(store, created("w1", source="//new.example:8443"), "NewCo") == "waiting-for-credentials"
    assert receive(store, created("w2", product="urn:pact:null", source="//new.example:8443/3/events"), "NewCo") \
        == "waiting-for-credentials"
    assert receive(store, created("w3", source="//other.example"), "OtherCo") == "waiting-for-credentials"
    assert queued(store) == []  # nothing is sent where this node cannot authenticate
    waiting = {e["event_id"]: e["pk"] for e in store.list_events(REQUEST_CREATED)}
    with pytest.raises(RequestRefused, match="add-peer"):
        reject(store, waiting["w1"], "no", NOW)
    store.add_peer("https://new.example:8443", "me", "secret")
    released = dict(release_waiting(store, "https://new.example:8443/", NOW))
    assert released == {waiting["w1"]: "fulfilled", waiting["w2"]: "rejected"}
    assert sorted((body["data"]["requestEventId"], target, kind_of(body["type"])) for target, body in queued(store)) == [
        ("w1", "https://new.example:8443/3/events", REQUEST_FULFILLED),
        ("w2", "https://new.example:8443/3/events", REQUEST_REJECTED)]
    assert release_waiting(store, "https://new.example:8443", NOW) == []  # released once
    assert store.get_event(waiting["w3"])["status"] == "waiting-for-credentials"


@pytest.mark.parametrize("source", ["ftp://buyer.example", "buyer.example", "//buyer.example?x=1", "http://buyer.example"])
def test_a_source_no_answer_could_reach_is_refused_at_once(store, source):
    with pytest.raises(RequestRefused):
        receive(store, created("s1", source=source))
    assert store.list_events() == []


def test_an_http_source_is_used_for_a_host_the_operator_lists(store, monkeypatch):
    monkeypatch.setenv("PCF_OUTBOUND_ALLOW", "loopback")
    store.add_peer("http://127.0.0.1:8004", "test_client_id", "test_client_secret")
    assert receive(store, created("h1", product="urn:pact:null", source="http://127.0.0.1:8004")) == "rejected"
    [(target, body)] = queued(store)
    assert target == "http://127.0.0.1:8004/3/events" and body["data"]["requestEventId"] == "h1"


def test_reject_accepts_only_the_openapi_error_codes(store):
    receive(store, created("c1"))
    with pytest.raises(RequestRefused, match="NoSuchFootprint"):
        reject(store, request_pk(store, "c1"), "no", NOW, code="NoSuchFootprint")
    reject(store, request_pk(store, "c1"), "not this year", NOW, code="NotImplemented")
    [(_, body)] = queued(store)
    assert body["data"]["error"] == {"code": "NotImplemented", "message": "not this year"}


def _published(event_id: str, ids: list[str], source: str, version: str = "v3") -> dict:
    return {"type": event_type(PUBLISHED, version), "specversion": "1.0", "id": event_id, "source": source,
            "time": "2026-03-01T00:00:00Z", "data": {"pfIds": ids}}


def test_a_published_event_from_a_peer_queues_the_fetch_and_from_a_stranger_is_only_kept(store):
    ids = ["3a6c14a7-4deb-498a-b5ea-16ce2535b576", "3A6C14A7-4DEB-498A-B5EA-16CE2535B577"]
    for event, org in ((_published("p1", ids, "//buyer.example/3/events"), "BuyerCo"),
                       (_published("p2", ids, "//stranger.example"), "StrangerCo")):
        receive_other(store, check_event(event, "v3"), org, json.dumps(event), NOW)
    assert {e["event_id"] for e in store.list_events(PUBLISHED)} == {"p1", "p2"}
    [job] = [item for item in Outbox(store.engine).items() if item["kind"] == PACT_FETCH]
    assert job["target"] == "https://buyer.example" and json.loads(job["body"]) == {"version": "v3", "pfIds": [i.lower() for i in ids]}
    received = store.list_received()
    assert [(r.peer, r.footprint_id, r.org, r.status) for r in received] == [
        ("https://buyer.example", ids[0], "BuyerCo", "pending"), ("https://buyer.example", ids[1].lower(), "BuyerCo", "pending")]


def test_an_answer_in_either_version_closes_what_it_answers_and_lands_in_the_inbox(store):
    for version, event_id in (("v3", "a3"), ("v2", "a2")):
        answer = {"type": event_type(REQUEST_FULFILLED, version), "specversion": "1.0", "id": event_id,
                  "source": "//supplier.example", "time": "2026-03-01T00:00:00Z",
                  "data": {"requestEventId": f"req-{version}",
                           "pfs": [read_json(PACT_FIXTURES / version / "examples" / "get-footprint-response.json")["data"]]}}
        receive_other(store, check_event(answer, version), "SupplierCo", json.dumps(answer), NOW)
    assert [e["event_id"] for e in store.list_events(REQUEST_FULFILLED)] == ["a3", "a2"]

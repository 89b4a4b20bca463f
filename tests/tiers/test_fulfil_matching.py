"""`pcf fulfil` answers with exactly the products the request's criteria match, and a recomputation is a new
version (PACT v3.0.3 Sec. 7.2): `precedingPfIds` names the old footprint, which is served as Deprecated."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from exchange.node.events import REQUEST_CREATED, event_type
from exchange.node.storage import NodeStore
from exchange.node.workflow import PACT_EVENT, check_event, receive_request
from exchange.pact.own_extensions import COMPUTED
from pcf.tiers.workflow import compute_and_fulfil
from tests.support.models import model_document, product
from tests.support.node import new_node_db
from webhooks.outbox import Outbox

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
WIDGET, GADGET = "urn:pact:product:widget", "urn:pact:product:gadget"


@pytest.fixture
def store(tmp_path):
    store, _ = new_node_db(tmp_path)
    store.add_peer("https://buyer.example", "me", "secret")
    store.set_setting("node-url", "https://supplier.example")
    store.add_products([WIDGET, GADGET, "urn:pact:product:sprocket"])
    return store


def ask(store: NodeStore, event_id: str, data: dict, org: str = "BuyerCo") -> int:
    event = {"type": event_type(REQUEST_CREATED, "v3"), "specversion": "1.0", "id": event_id,
             "source": "//buyer.example", "time": "2026-03-01T00:00:00Z", "data": data}
    receive_request(store, check_event(event, "v3"), org, json.dumps(event), NOW)
    return next(e["pk"] for e in store.list_events(REQUEST_CREATED) if e["event_id"] == event_id)


def answers(store: NodeStore) -> dict[str, dict]:
    found = {}
    for item in Outbox(store.engine).items():
        body = json.loads(item["body"])
        if item["kind"] == PACT_EVENT and "requestEventId" in body["data"]:
            found[body["data"]["requestEventId"]] = body
    return found


def two_products(write_model, co2: float = 1.0):
    processes = [{"id": "widgets", "outputs": [{"flow": "widget", "amount": 1, "unit": "kg"}],
                  "emissions": [{"substance": "co2_fossil", "amount": co2, "unit": "kg"}]},
                 {"id": "gadgets", "outputs": [{"flow": "gadget", "amount": 1, "unit": "kg"}],
                  "emissions": [{"substance": "co2_fossil", "amount": 2, "unit": "kg"}]}]
    return write_model(model_document(processes, [product("widget"), product("gadget")]))


def test_fulfil_answers_only_the_products_the_request_asks_for(store, engine, write_model):
    request = ask(store, "r1", {"productId": [GADGET]})
    footprints, _ = compute_and_fulfil(store, request, two_products(write_model), engine)
    assert [f.product_ids for f in footprints] == [(GADGET,)]
    [pf] = answers(store)["r1"]["data"]["pfs"]
    assert pf["productIds"] == [GADGET]
    assert COMPUTED not in json.dumps(pf)  # the requester's level: summary by default
    assert store.count() == 1  # the widget was not published either


def test_other_criteria_in_the_request_count_too(store, engine, write_model):
    request = ask(store, "r2", {"productId": [WIDGET, GADGET], "geography": ["DE"]})  # the model's products are CN
    footprints, event_id = compute_and_fulfil(store, request, two_products(write_model), engine)
    assert footprints == [] and store.count() == 0
    rejection = answers(store)["r2"]
    assert rejection["id"] == event_id and rejection["data"]["error"]["code"] == "NotFound"
    assert store.get_event(request)["status"] == "rejected"


def test_a_request_no_product_of_the_model_matches_is_rejected(store, engine, write_model):
    request = ask(store, "r3", {"productId": ["urn:pact:product:sprocket"]})
    footprints, _ = compute_and_fulfil(store, request, two_products(write_model), engine)
    assert footprints == [] and answers(store)["r3"]["data"]["error"]["code"] == "NotFound"


def test_the_requested_level_is_what_the_answer_carries(store, engine, write_model):
    request = ask(store, "r4", {"productId": [WIDGET]})
    compute_and_fulfil(store, request, two_products(write_model), engine, level="full")
    [pf] = answers(store)["r4"]["data"]["pfs"]
    assert COMPUTED in json.dumps(pf)


def test_a_recomputation_deprecates_the_footprint_it_replaces(store, engine, write_model):
    [first], _ = compute_and_fulfil(store, ask(store, "v1", {"productId": [WIDGET]}), two_products(write_model), engine)
    [again], _ = compute_and_fulfil(store, ask(store, "v2", {"productId": [WIDGET]}, "OtherCo"), two_products(write_model),
                                    engine)
    assert again.id == first.id and store.get(first.id).status == "Active"  # the same model: the same footprint
    [second], _ = compute_and_fulfil(store, ask(store, "v3", {"productId": [WIDGET]}, "ThirdCo"),
                                     two_products(write_model, co2=1.5), engine)
    assert second.id != first.id
    new = json.loads(store.get(second.id, "BuyerCo").v3_json)  # the old one's audience gets the new one
    assert new["precedingPfIds"] == [first.id] and new["status"] == "Active"
    assert store.get(second.id).shared_with == frozenset({"BuyerCo", "OtherCo", "ThirdCo"})
    assert json.loads(store.get(first.id, "BuyerCo").v3_json)["status"] == "Deprecated"
    assert [pf["precedingPfIds"] for pf in answers(store)["v3"]["data"]["pfs"]] == [[first.id]]

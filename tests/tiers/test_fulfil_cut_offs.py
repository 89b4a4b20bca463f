"""`pcf fulfil` keeps PACT's cut-off limit: a model declaring more than 5 % excluded is refused before anything is
signed, published or answered (pcf/engine/exclusions.py, PACT Methodology exemption rules)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from exchange.node.events import REQUEST_CREATED, event_type
from exchange.node.storage import Filters
from exchange.node.workflow import receive_request
from lca_models.errors import ModelError
from pcf.tiers.workflow import compute_and_fulfil
from tests.support.models import model_document, product
from tests.support.node import new_node_db

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
WIDGET = "urn:pact:product:widget"


def test_fulfil_refuses_a_model_over_the_cut_off_limit(engine, write_model, tmp_path):
    store, _ = new_node_db(tmp_path)
    store.add_peer("https://buyer.example", "me", "secret")
    store.set_setting("node-url", "https://supplier.example")
    store.add_products([WIDGET])
    event = {"type": event_type(REQUEST_CREATED, "v3"), "specversion": "1.0", "id": "r1", "source": "//buyer.example",
             "time": "2026-03-01T00:00:00Z", "data": {"productId": [WIDGET]}}
    receive_request(store, event, "BuyerCo", json.dumps(event), NOW)
    [request] = store.list_events(REQUEST_CREATED)
    process = {"id": "works", "outputs": [{"flow": "widget", "amount": 1, "unit": "kg"}],
               "emissions": [{"substance": "co2_fossil", "amount": 1, "unit": "kg"}]}
    model = write_model(model_document([process], [product("widget")],
                                       exclusions=[{"what": "packaging", "why": "no data", "share": 6}]))
    with pytest.raises(ModelError, match="PACT allows at most 5"):
        compute_and_fulfil(store, request["pk"], model, engine)
    assert store.list_events(REQUEST_CREATED)[0]["status"] == request["status"]  # still waiting for an answer
    assert store.list_visible("BuyerCo", Filters(), 0, 10).items == []  # nothing published

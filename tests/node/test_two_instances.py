"""Two `pcf serve` instances on one PostgreSQL database, each with its own outbox deliverer (the way a node scales
out): 1,000 RequestCreated events sent to both are all answered, and each answer reaches the requester's host
exactly once; none lost, none sent twice (the deliverers claim with FOR UPDATE SKIP LOCKED, webhooks/outbox.py)."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select, text

from exchange.node.events import REQUEST_CREATED, REQUEST_FULFILLED, event_type
from exchange.node.records import publish_footprints
from exchange.node.storage import FULFILLED, NodeStore, events
from tests.support.databases import postgres_schema
from tests.support.event_receiver import EventReceiver
from tests.support.hardening import footprint_copy
from tests.support.node import add_clients, start_node
from pcf.tiers.local_nodes import wait_for
from webhooks.outbox import outbox

pytestmark = pytest.mark.slow
REQUESTS = 1_000
PRODUCT = "urn:pact:product:two-instances"


def _request(source: str) -> dict:
    return {"type": event_type(REQUEST_CREATED, "v3"), "specversion": "1.0", "id": str(uuid.uuid4()), "source": source,
            "time": "2026-03-01T00:00:00Z", "data": {"productId": [PRODUCT]}}


def test_two_instances_on_one_postgresql_answer_every_request_and_deliver_each_answer_once(tmp_path):
    url, admin, schema = postgres_schema()
    store = NodeStore(url)
    nodes = []
    try:
        store.init_schema()
        add_clients(store, {"buyer": ("buyer-secret", "BuyerCo")})
        publish_footprints(store, [footprint_copy(1, product_ids=(PRODUCT,))], share_with=("BuyerCo",))
        with EventReceiver("node-at-buyer", "nb-secret") as buyer:
            store.add_peer(buyer.url, "node-at-buyer", "nb-secret")  # so requests from the buyer's host are answered
            nodes = [start_node(tmp_path / f"instance-{i}", url, extra=("--deliver-every", "0.2")) for i in range(2)]
            token = nodes[0].token("buyer", "buyer-secret")  # one database, one signing key: valid on both
            sent = [_request(buyer.url) for _ in range(REQUESTS)]

            def post(numbered: tuple[int, dict]) -> int:
                number, event = numbered
                return requests.post(f"{nodes[number % 2].base}/3/events", data=json.dumps(event), timeout=60,
                                     verify=nodes[number % 2].ca, headers={"Authorization": f"Bearer {token}",
                                                                           "Content-Type": "application/cloudevents+json"}
                                     ).status_code

            with ThreadPoolExecutor(8) as pool:
                assert Counter(pool.map(post, enumerate(sent))) == {200: REQUESTS}

            def answered() -> Counter:
                return Counter(r.body["data"]["requestEventId"] for r in list(buyer.received)
                               if isinstance(r.body, dict) and isinstance(r.body.get("data"), dict))

            wait_for(lambda: sum(answered().values()) >= REQUESTS, timeout=300, what=f"{REQUESTS} answers")
            time.sleep(3)  # a duplicate would come from a second claim of the same message: give it time to show
            received = list(buyer.received)
            counts = answered()
            assert [r.errors for r in received if r.errors] == []  # each answer valid per the official OpenAPI
            assert {r.body["type"] for r in received} == {event_type(REQUEST_FULFILLED, "v3")}
            assert counts == Counter({event["id"]: 1 for event in sent})  # every request answered, exactly once
            assert len({r.body["id"] for r in received}) == REQUESTS  # no answer event repeated either
        with store.engine.connect() as connection:
            assert connection.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status)).all() == \
                [("delivered", REQUESTS)]
            assert connection.execute(select(outbox.c.attempts).distinct()).scalars().all() == [1]
            assert connection.execute(select(events.c.status, func.count()).group_by(events.c.status)).all() == \
                [(FULFILLED, REQUESTS)]
    finally:
        for node in nodes:
            node.stop()
        store.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

"""Requests this node sent (`pcf request`): recorded, closed by the supplier's answer event, listed and shown.

Storage-level tests run on SQLite and PostgreSQL; the dashboard test uses the Flask test client; one end-to-end
test runs two real nodes (`pcf serve` over TLS) and the real `pcf request` command.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from exchange.node.app import NodeConfig, create_app
from exchange.node.dashboard import set_admin_password
from exchange.node.events import REQUEST_FULFILLED, REQUEST_REJECTED, check_event, event_type
from exchange.node.records import publish_footprints
from exchange.node.storage import NodeStore, SentRequest, StoreError
from exchange.node.workflow import receive_other
from exchange.pact import from_v3
from pcf.tiers.local_nodes import wait_for
from tests.support.node import add_clients, new_node_db, start_node
from tests.support.pact import PACT_FIXTURES, read_json

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
LATER = NOW + timedelta(hours=2)
PRODUCT = "urn:gtin:4712345060507"  # the product of PACT's v3 example-2.json
PASSWORD = "correct horse battery staple"


def example() -> dict:
    return read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")


def sent(event_id: str, comment: str | None = "Q3 survey") -> SentRequest:
    return SentRequest(event_id, "https://supplier.example:8443", {"productId": [PRODUCT]}, comment, NOW, "sent")


def fulfilled(event_id: str, request_id: str) -> dict:
    return {"type": event_type(REQUEST_FULFILLED, "v3"), "specversion": "1.0", "id": event_id, "source": "//supplier.example:8443",
            "time": "2026-03-01T02:00:00Z", "data": {"requestEventId": request_id, "pfs": [example()]}}


def rejected(event_id: str, request_id: str, message: str = "we do not make this product") -> dict:
    return {"type": event_type(REQUEST_REJECTED, "v3"), "specversion": "1.0", "id": event_id, "source": "//supplier.example:8443",
            "time": "2026-03-01T02:00:00Z",
            "data": {"requestEventId": request_id, "error": {"code": "NotFound", "message": message}}}


def deliver(node_store: NodeStore, body: dict, now: datetime = LATER) -> None:
    """What POST /3/events does with an answer: validate, then keep it (and close the request it answers)."""
    receive_other(node_store, check_event(body, "v3"), "SupplierCo", json.dumps(body), now)


def test_a_fulfilled_answer_closes_the_request_with_the_footprint_ids(store):  # noqa: F811
    recorded = store.record_sent_request(sent("req-1"))
    assert (recorded.status, recorded.answered, recorded.comment) == ("sent", None, "Q3 survey")
    deliver(store, fulfilled("ans-1", "req-1"))
    answered = store.get_sent_request("req-1")
    assert answered.status == "fulfilled" and answered.answered == LATER
    assert answered.answer == {"pfIds": [example()["id"]]}
    assert [e["event_id"] for e in store.list_events(REQUEST_FULFILLED)] == ["ans-1"]  # the answer is in the inbox


def test_a_rejection_closes_the_request_with_its_code_and_message(store):  # noqa: F811
    store.record_sent_request(sent("req-1"))
    deliver(store, rejected("ans-1", "req-1"))
    answered = store.get_sent_request("req-1")
    assert answered.status == "rejected"
    assert answered.answer == {"code": "NotFound", "message": "we do not make this product"}


def test_a_repeated_answer_has_one_effect_and_the_first_answer_wins(store):  # noqa: F811
    store.record_sent_request(sent("req-1"))
    deliver(store, fulfilled("ans-1", "req-1"))
    deliver(store, fulfilled("ans-1", "req-1"), now=LATER + timedelta(hours=1))  # the outbox re-sent it
    deliver(store, rejected("ans-2", "req-1"), now=LATER + timedelta(hours=2))  # a later, different answer
    answered = store.get_sent_request("req-1")
    assert (answered.status, answered.answered) == ("fulfilled", LATER)
    assert [e["event_id"] for e in store.list_events(REQUEST_FULFILLED)] == ["ans-1"]


def test_an_answer_to_an_unknown_request_only_lands_in_the_inbox(store):  # noqa: F811
    store.record_sent_request(sent("req-1"))
    deliver(store, fulfilled("ans-1", "someone-elses-request"))
    assert store.get_sent_request("req-1").status == "sent"
    assert store.get_sent_request("someone-elses-request") is None
    assert [e["event_id"] for e in store.list_events(REQUEST_FULFILLED)] == ["ans-1"]


def test_an_answer_quicker_than_the_requesters_write_is_applied_when_the_request_is_recorded(store):  # noqa: F811
    deliver(store, rejected("ans-1", "req-1", message="not ours"))  # a supplier that refuses at once
    recorded = store.record_sent_request(sent("req-1"))
    assert recorded.status == "rejected" and recorded.answer["message"] == "not ours" and recorded.answered == LATER


def test_a_failed_send_is_kept_with_its_reason_and_listing_is_newest_first(store):  # noqa: F811
    store.record_sent_request(sent("req-1"))
    failed = SentRequest("req-2", "https://down.example", {"productId": [PRODUCT]}, None, LATER, "failed-to-send",
                         answer={"reason": "https://down.example refused the request: None None: connection refused"})
    store.record_sent_request(failed)
    assert [(r.event_id, r.status) for r in store.list_sent_requests()] == [("req-2", "failed-to-send"), ("req-1", "sent")]
    assert store.list_sent_requests()[0].answer["reason"].endswith("connection refused")
    with pytest.raises(StoreError, match="recorded already"):
        store.record_sent_request(sent("req-1"))


def test_a_version_1_database_is_upgraded_by_init_and_refused_until_then(store):  # noqa: F811
    store.record_sent_request(sent("req-1"))
    with store.engine.begin() as connection:  # what a database made by the previous release looks like
        connection.execute(text("DROP TABLE sent_requests"))
        connection.execute(text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
    with pytest.raises(StoreError, match="run `pcf node init` to upgrade"):
        store.check_schema()
    store.init_schema()
    store.check_schema()
    assert store.list_sent_requests() == []


def _logged_in_client(node_store: NodeStore):
    app = create_app(NodeConfig(node_store.url), node_store)
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    page = client.get("/dashboard/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert client.post("/dashboard/login", data={"password": PASSWORD, "csrf": csrf}).status_code == 302
    return client


def _sent_row(html: str, event_id: str) -> str:
    return re.search(rf'<tr id="sent-{event_id}">(.*?)</tr>', html, re.DOTALL).group(1)


def test_the_dashboard_shows_an_outgoing_request_and_its_answer_when_it_arrives(tmp_path):
    node_store, _ = new_node_db(tmp_path)
    set_admin_password(node_store, PASSWORD)
    add_clients(node_store, {"supplier": ("supplier-secret", "SupplierCo")})
    node_store.record_sent_request(sent("req-1", comment="<script>alert(1)</script>"))
    client = _logged_in_client(node_store)
    row = _sent_row(client.get("/dashboard/").get_data(as_text=True), "req-1")
    assert 'status-sent">sent<' in row and "https://supplier.example:8443" in row and PRODUCT in row
    assert "<script>" not in row and "&lt;script&gt;" in row  # autoescaped
    token = client.post("/auth/token", data={"grant_type": "client_credentials"},
                        auth=("supplier", "supplier-secret")).json["access_token"]
    answer = rejected("ans-1", "req-1", message="no <b>such</b> product")
    response = client.post("/3/events", json=answer, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    row = _sent_row(client.get("/dashboard/").get_data(as_text=True), "req-1")
    assert 'status-rejected">rejected<' in row and "NotFound" in row and "no &lt;b&gt;such&lt;/b&gt; product" in row


def _pcf(*args: str, data_dir, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "pcf.cli", *args], check=False, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PCF_DATA_DIR": str(data_dir)})
    if check and result.returncode != 0:
        raise AssertionError(f"pcf {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def test_two_nodes_a_request_sent_is_recorded_and_closed_by_the_suppliers_answer(tmp_path):
    buyer_dir, supplier_dir = tmp_path / "buyer", tmp_path / "supplier"
    buyer_dir.mkdir()
    supplier_dir.mkdir()
    buyer, supplier = (NodeStore(f"sqlite:///{d / 'node.sqlite'}") for d in (buyer_dir, supplier_dir))
    for node_store in (buyer, supplier):
        node_store.init_schema()
    add_clients(supplier, {"buyer": ("b-at-supplier", "BuyerCo")})
    add_clients(buyer, {"supplier": ("s-at-buyer", "SupplierCo")})
    supplier.add_products([PRODUCT])
    publish_footprints(supplier, [from_v3(example()).footprint], share_with=("BuyerCo",))  # answered at once
    nodes = [start_node(buyer_dir, buyer.url), start_node(supplier_dir, supplier.url)]
    try:
        buyer_node, supplier_node = nodes
        supplier.add_peer(buyer_node.base, "supplier", "s-at-buyer", buyer_node.ca)
        ask = ("request", "--node", supplier_node.base, "--client-id", "buyer", "--client-secret", "b-at-supplier",
               "--reply-to", buyer_node.base, "--ca-bundle", supplier_node.ca)
        # the buyer's default node database (PCF_DATA_DIR/node.sqlite) records what it sends
        request_id = json.loads(_pcf(*ask, "--product-id", PRODUCT, data_dir=buyer_dir).stdout)["requestEventId"]
        # a product the supplier does not know: accepted (200), answered later with RequestRejected NotFound
        unknown_id = json.loads(_pcf(*ask, "--product-id", "urn:gtin:0000000000000", data_dir=buyer_dir).stdout)["requestEventId"]
        wrong_secret = [a if a != "b-at-supplier" else "wrong" for a in ask]
        refused = _pcf(*wrong_secret, "--product-id", PRODUCT, data_dir=buyer_dir, check=False)
        assert refused.returncode == 1 and "invalid_client" in refused.stderr
        for event_id in (request_id, unknown_id):
            wait_for(lambda: buyer.get_sent_request(event_id).answered, timeout=60,
                     what="the supplier's answer at the buyer's node")
        listing = _pcf("node", "requests", "--sent", "--db", buyer.url, data_dir=buyer_dir).stdout.splitlines()
        [ok] = [line for line in listing if line.startswith(request_id)]
        assert "fulfilled" in ok and example()["id"] in ok and supplier_node.base in ok
        [rejected_line] = [line for line in listing if line.startswith(unknown_id)]
        assert "rejected" in rejected_line and '"code": "NotFound"' in rejected_line
        [failed] = [line for line in listing if not line.startswith((request_id, unknown_id))]
        assert "failed-to-send" in failed and "invalid_client" in failed
        # without a local node database the request is still sent, and the command says it is not recorded
        elsewhere = tmp_path / "no-node"
        alone = _pcf(*ask, "--product-id", PRODUCT, data_dir=elsewhere)
        assert "not recorded" in alone.stderr and json.loads(alone.stdout)["requestEventId"]
    finally:
        for running in nodes:
            running.stop()

"""Organisation A's token never reads, lists, infers or modifies organisation B's private footprints or requests.

The probes enumerate the node's URL map (`app.url_map`), so an endpoint added later (the dashboard, say) is
probed too: every path variable is filled with B's private id (and, to compare, with an id that does not
exist), every method is called with A's token, and no answer may contain B's id or product, or differ between
"B's" and "missing" other than by the id itself.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid

import pytest
import requests

from exchange.node.events import REQUEST_CREATED, event_type
from tests.support.hardening import start_thread_node

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
B_PRODUCT = "urn:pact:product:b-secret"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    running = start_thread_node(tmp_path_factory.mktemp("isolation"))
    running.store.add_peer("https://a-node.example", "x", "y")  # so A's requests are accepted, not refused
    running.a = {"Authorization": f"Bearer {running.token('a')}"}
    running.b = {"Authorization": f"Bearer {running.token('b')}"}
    yield running
    running.stop()


def _rules(node):
    return [rule for rule in node.app.url_map.iter_rules()]


def _url(node, rule, value: str) -> str:
    path = rule.rule
    for argument in rule.arguments:
        path = path.replace(f"<{argument}>", value)
        for converter in ("string", "path", "uuid", "int", "any"):
            path = path.replace(f"<{converter}:{argument}>", value)
    return node.base + path


def _call(node, method: str, url: str, headers: dict) -> requests.Response:
    body = json.dumps({"type": event_type(REQUEST_CREATED, "v3"), "specversion": "1.0", "id": str(uuid.uuid4()),
                       "source": "//a-node.example", "time": "2026-01-01T00:00:00Z", "data": {"productId": [B_PRODUCT]}})
    return requests.request(method, url, headers={**headers, "Content-Type": "application/cloudevents+json"},
                            data=body if method != "GET" else None, timeout=10)


def _snapshot(node) -> tuple:
    stored = node.store.get(node.ids["b"])
    return stored.v3_json, stored.v2_json, stored.shared_with, stored.status


def test_no_endpoint_shows_or_changes_bs_private_footprint_to_a(node):
    before = _snapshot(node)
    probed = set()
    for rule in _rules(node):
        for method in sorted(set(rule.methods) & set(METHODS)):
            for value in (node.ids["b"], node.ids["b"].upper()):
                url = _url(node, rule, value)
                response = _call(node, method, url, node.a)
                assert response.status_code < 500, (method, rule.rule, response.text[:300])
                # B's id and product are in B's document; an answer may echo what was sent (an error naming the
                # id asked for), so each is looked for only where this request did not carry it
                sent = url.lower() + (B_PRODUCT if method != "GET" else "")
                for secret in (node.ids["b"], B_PRODUCT):
                    if secret.lower() not in sent:
                        assert secret.lower() not in response.text.lower(), (method, rule.rule, "leaks", secret)
            probed.add(rule.endpoint)
    assert probed == {rule.endpoint for rule in _rules(node)}  # every endpoint, new ones included
    assert _snapshot(node) == before  # nothing A sent modified B's footprint
    with node.store.engine.connect() as connection:
        outbox = connection.exec_driver_sql("SELECT body FROM outbox").all()
    assert not any(node.ids["b"] in row[0] for row in outbox)  # nor queued it to A's node


def test_bs_private_id_is_indistinguishable_from_a_missing_id(node):
    missing = str(uuid.uuid4())
    compared = set()
    for rule in _rules(node):
        if not rule.arguments:
            continue
        for method in sorted(set(rule.methods) & set(METHODS)):
            hidden = _call(node, method, _url(node, rule, node.ids["b"]), node.a)
            absent = _call(node, method, _url(node, rule, missing), node.a)
            assert hidden.status_code == absent.status_code, (method, rule.rule)
            assert hidden.headers.get("Content-Type") == absent.headers.get("Content-Type"), (method, rule.rule)
            assert hidden.text.replace(node.ids["b"], missing) == absent.text, (method, rule.rule)
            compared.add(rule.rule)
    assert {"/3/footprints/<footprint_id>", "/2/footprints/<footprint_id>"} <= compared


def test_b_itself_does_see_its_footprint(node):
    """The probes above would pass on a node that shows nothing to anyone: B's own token must see it."""
    for prefix in ("/3", "/2"):
        own = requests.get(f"{node.base}{prefix}/footprints/{node.ids['b']}", headers=node.b, timeout=10)
        assert own.status_code == 200 and own.json()["data"]["id"] == node.ids["b"]
        listing = requests.get(f"{node.base}{prefix}/footprints", headers=node.b, timeout=10).json()["data"]
        assert {f["id"] for f in listing} == {node.ids["b"], node.ids["public"]}
        listing_a = requests.get(f"{node.base}{prefix}/footprints", headers=node.a, timeout=10).json()["data"]
        assert {f["id"] for f in listing_a} == {node.ids["a"], node.ids["public"]}


def test_a_filtering_on_bs_product_looks_like_an_unknown_product(node):
    for prefix in ("/3", "/2"):
        by_b = requests.get(f"{node.base}{prefix}/footprints", params={"productId": B_PRODUCT}, headers=node.a,
                            timeout=10)
        unknown = requests.get(f"{node.base}{prefix}/footprints", params={"productId": "urn:pact:product:none"},
                               headers=node.a, timeout=10)
        assert (by_b.status_code, by_b.text, by_b.headers.get("Link")) == (unknown.status_code, unknown.text, None)


def test_bs_requests_are_not_visible_to_a(node):
    """Requests (the inbox) are never served over the API; what B sends is recorded under B's organisation."""
    event = {"type": event_type(REQUEST_CREATED, "v3"), "specversion": "1.0", "id": str(uuid.uuid4()), "source": "//a-node.example",
             "time": "2026-01-01T00:00:00Z", "data": {"productId": ["urn:pact:product:b-asks"], "comment": "b-only"}}
    sent = requests.post(f"{node.base}/3/events", json=event, headers=node.b, timeout=10)
    assert sent.status_code == 200, sent.text
    [recorded] = [e for e in node.store.list_events() if e["event_id"] == event["id"]]
    assert recorded["org"] == "OrgB"
    for rule in _rules(node):
        if "GET" in rule.methods:
            response = requests.get(_url(node, rule, event["id"]), headers=node.a, timeout=10)
            assert "b-asks" not in response.text and "b-only" not in response.text, rule.rule


def test_get_timing_does_not_reveal_which_ids_exist(node):
    """Median time of GET for B's hidden id vs a missing id, interleaved: within 2 ms or 50 % of each other."""
    url = f"{node.base}/3/footprints/"
    session = requests.Session()
    hidden_times, absent_times = [], []
    for _ in range(40):
        for footprint_id, times in ((node.ids["b"], hidden_times), (str(uuid.uuid4()), absent_times)):
            start = time.perf_counter()
            session.get(url + footprint_id, headers=node.a, timeout=10)
            times.append(time.perf_counter() - start)
    hidden, absent = statistics.median(hidden_times), statistics.median(absent_times)
    assert abs(hidden - absent) < max(0.002, 0.5 * min(hidden, absent)), (hidden, absent)

"""The JSON nesting limit on every JSON body the node reads (events, portal uploads), and the dashboard reading its
events a page at a time."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from exchange.node.app import NodeConfig, create_app
from exchange.node.dashboard import LIST_LIMIT, set_admin_password
from exchange.node.invites import create_invite
from exchange.node.portal_form import read_upload
from exchange.pact import PactValidationError, parse_json
from exchange.pact.json_depth import json_depth
from tests.support.node import new_node_db

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("text, depth", [
    ("1", 0), ('"[[[{"', 0), ("[]", 1), ('{"a": [1, {"b": "]]]]\\"[[["}]}', 3), ("[" * 500 + "]" * 500, 500),
    (b'{"a": "\\\\"}', 1),
])
def test_depth_is_measured_outside_strings(text, depth):
    assert json_depth(text) == depth


def test_parse_json_refuses_deep_documents_before_parsing_them():
    assert parse_json("[" * 64 + "]" * 64) is not None
    for text in ("[" * 65 + "]" * 65, "[" * 1_000_000):  # the second would be a RecursionError in the parser
        with pytest.raises(PactValidationError, match="nested deeper than 64"):
            parse_json(text)


def test_a_deep_portal_upload_is_a_problem_shown_next_to_the_field(tmp_path):
    store, _ = new_node_db(tmp_path)
    invite, _token = create_invite(store, "BoltCo", ["urn:pact:product:boltco:m8x40"], timedelta(days=1), NOW)
    submission = read_upload(("[" * 5000 + "]" * 5000).encode(), invite)
    [problem] = submission.errors["file"]
    assert problem.endswith("JSON nested deeper than 64 levels") and not submission.documents


def test_the_dashboard_pages_its_events(tmp_path):
    store, _ = new_node_db(tmp_path)
    pks = [store.record_event(f"e-{n}", "//b", "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3", "BuyerCo",
                              json.dumps({"data": {"requestEventId": f"r-{n}", "pfs": []}}), NOW)
           for n in range(LIST_LIMIT + 5)]
    set_admin_password(store, "correct horse battery staple")
    client = create_app(NodeConfig(store.url), store, clock=lambda: NOW).test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/dashboard/login").get_data(as_text=True)).group(1)
    assert client.post("/dashboard/login", data={"password": "correct horse battery staple", "csrf": csrf}).status_code == 302
    first = client.get("/dashboard/").get_data(as_text=True)
    shown = {int(pk) for pk in re.findall(r"<tr><td>(\d+)</td>", first)}
    assert shown == set(pks[-LIST_LIMIT:])
    older = re.search(r'class="older-events" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(older).get_data(as_text=True)
    assert {int(pk) for pk in re.findall(r"<tr><td>(\d+)</td>", second)} == set(pks[:5])
    assert 'class="older-events"' not in second

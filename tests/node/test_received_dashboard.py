"""The buyer's dashboard opens the footprints it received, each with its verification result (Flask test client).

Footprints arrive as they do in production: a peer's Published event (the node fetches the footprint; here the fetch
result is recorded the way the outbox transport records it) or a supplier's portal submission. The browser test of
the same pages is in tests/node/test_portal_browser.py.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from exchange.node.app import NodeConfig, create_app
from exchange.node.dashboard import set_admin_password
from exchange.node.events import PUBLISHED, check_event, event_type
from exchange.node.invites import create_invite, record_submission
from exchange.node.storage import FETCHED, NodeStore
from exchange.node.workflow import receive_other
from exchange.pact.signing import SigningKey, jwks, sign
from pcf.cli import main
from tests.support.node import new_node_db
from tests.support.pact import PACT_FIXTURES, read_json

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
MILL = "https://mill.example:8443"
PASSWORD = "correct horse battery staple"
IDS = {"trusted": "11111111-1111-4111-8111-111111111111", "stranger": "22222222-2222-4222-8222-222222222222",
       "tampered": "33333333-3333-4333-8333-333333333333"}


def _received_from_the_mill(store: NodeStore, documents: dict[str, dict]) -> None:
    """A Published event from the mill (a known peer), then what fetching each announced footprint gave."""
    store.add_peer(MILL, "buyer", "secret")
    event = {"type": event_type(PUBLISHED, "v3"), "specversion": "1.0", "id": "pub-1", "source": "//mill.example:8443",
             "time": "2026-03-01T00:00:00Z", "data": {"pfIds": [d["id"] for d in documents.values()]}}
    receive_other(store, check_event(event, "v3"), "MillCo", json.dumps(event), NOW)
    for document in documents.values():
        store.record_received(MILL, document["id"], FETCHED, json.dumps(document), None, NOW)


def _logged_in(store: NodeStore):
    client = create_app(NodeConfig(store.url), store, clock=lambda: NOW).test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    assert client.get("/dashboard/received/").status_code == 302  # the admin's only
    page = client.get("/dashboard/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert client.post("/dashboard/login", data={"password": PASSWORD, "csrf": csrf}).status_code == 302
    return client


def _checks(html: str) -> dict[str, tuple[str, str]]:
    """{check: (mark, detail)} of a received footprint's page."""
    rows = re.findall(r'<tr class="check-(\w+)"><td><span class="\w+">(.)</span> \w+</td><td>([^<]*)</td>', html)
    return {name: (mark, detail.replace("&#39;", "'")) for name, mark, detail in rows}


def test_each_received_footprint_opens_with_who_signed_it_or_that_nobody_did(tmp_path):
    store, _ = new_node_db(tmp_path)
    set_admin_password(store, PASSWORD)
    example = read_json(PACT_FIXTURES / "v3" / "examples" / "example-2.json")
    mill_key, stranger_key = SigningKey.generate(), SigningKey.generate()
    signed_at = NOW - timedelta(days=1)
    trusted = sign({**example, "id": IDS["trusted"]}, mill_key, signed_at)
    stranger = sign({**example, "id": IDS["stranger"]}, stranger_key, signed_at)
    tampered = sign({**example, "id": IDS["tampered"]}, mill_key, signed_at)
    tampered["pcf"] = {**tampered["pcf"], "pcfExcludingBiogenicUptake": "0.1"}  # changed after signing
    _received_from_the_mill(store, {"trusted": trusted, "stranger": stranger, "tampered": tampered})
    store.trust(MILL, jwks([mill_key]), NOW)
    invite, _ = create_invite(store, "BoltCo", [example["productIds"][0]], timedelta(days=14), NOW - timedelta(days=1))
    record_submission(store, invite, [({**example, "id": "44444444-4444-4444-8444-444444444444"}, "v3")], "upload",
                      NOW - timedelta(hours=1))
    client = _logged_in(store)

    listing = client.get("/dashboard/received/").get_data(as_text=True)
    rows = {item.footprint_id: item.pk for item in store.list_received()}
    assert len(rows) == 4 and all(f'href="/dashboard/received/{pk}"' in listing for pk in rows.values())
    assert "supplier-declared (portal)" in listing

    def page(footprint_id: str) -> dict:
        response = client.get(f"/dashboard/received/{rows[footprint_id]}")
        assert response.status_code == 200
        return _checks(response.get_data(as_text=True))

    checks = page(IDS["trusted"])
    assert checks["schema"] == ("✓", "valid PACT v3")
    assert checks["signature"] == ("✓", f"signed by key {mill_key.kid} (its JWK names no organisation), at "
                                        f"2026-02-28T00:00:00Z: a key you trust for {MILL}")
    assert checks["consistency"][0] == "⚠"  # PACT's own example: its totals do not add up, which the spec allows
    mark, detail = page(IDS["stranger"])["signature"]
    assert mark == "⚠" and f"key {stranger_key.kid} is not among the trusted keys" in detail
    assert f"pcf node trust --url {MILL} --jwks FILE" in detail
    mark, detail = page(IDS["tampered"])["signature"]
    assert mark == "✗" and detail.startswith("does not verify")
    mark, detail = page("44444444-4444-4444-8444-444444444444")["signature"]
    assert mark == "⚠" and detail.startswith("supplier-declared, unsigned")
    assert client.get("/dashboard/received/999").status_code == 404
    overview = client.get("/dashboard/").get_data(as_text=True)
    assert f'href="/dashboard/received/{rows[IDS["trusted"]]}"' in overview


def test_pcf_node_trust_keeps_a_peers_keys_and_refuses_what_is_not_a_jwks(tmp_path):
    store, _ = new_node_db(tmp_path)
    key = SigningKey.generate()
    good, bad = tmp_path / "mill-jwks.json", tmp_path / "not-jwks.json"
    good.write_text(json.dumps(jwks([key])))
    bad.write_text(json.dumps({"kid": key.kid}))
    result = CliRunner().invoke(main, ["node", "trust", "--db", store.url, "--url", MILL + "/", "--jwks", str(good)])
    assert result.exit_code == 0 and f"1 key(s) trusted for {MILL}: {key.kid}" in result.output
    assert store.trusted() == {MILL: jwks([key])}
    refused = CliRunner().invoke(main, ["node", "trust", "--db", store.url, "--url", MILL, "--jwks", str(bad)])
    assert refused.exit_code == 1 and "not a JWK Set" in refused.output

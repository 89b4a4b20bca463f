"""Outbound requests are restricted (SSRF): webhook targets, peer nodes (event delivery), token endpoints from
discovery, redirects and supplier footprint URLs go only to public addresses or to what PCF_OUTBOUND_ALLOW lists.

The suite allows loopback (tests/conftest.py); each test here sets the policy it needs with monkeypatch.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.pact_client import PactClient, PactClientError
from exchange.node.workflow import PACT_EVENT
from lca_models.errors import ModelError
from pcf.engine.suppliers import SupplierLoader
from pcf.tiers.workflow import deliverer
from tests.support.node import new_node_db
from webhooks.delivery import DeliveryError, post_json
from webhooks.outbound import ENV, OutboundPolicy, OutboundRefused, guarded_session
from webhooks.outbox import enqueue

INTERNAL = ["http://127.0.0.1/", "http://localhost:8080/", "http://[::1]/", "http://10.1.2.3/", "http://192.168.0.1/",
            "http://172.16.5.4/", "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://0.0.0.0/",
            "http://[::ffff:127.0.0.1]/", "http://100.64.0.1/", "http://224.0.0.1/", "http://2130706433/"]


class Recorder:
    """A loopback HTTP server: records requests; `redirect_to` makes it answer 302 to that URL."""

    def __init__(self, redirect_to: str | None = None, openid: dict | None = None) -> None:
        self.requests: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                recorder.requests.append(self.path)
                if self.path.startswith("/.well-known/openid-configuration") and openid is not None:
                    body = json.dumps(openid).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(302 if redirect_to else 200)
                if redirect_to:
                    self.send_header("Location", redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    running = Recorder()
    yield running
    running.close()


@pytest.mark.parametrize("url", INTERNAL)
def test_default_policy_refuses_internal_addresses(url):
    with pytest.raises(OutboundRefused, match="non-public address"):
        OutboundPolicy().check(url)


def test_allow_list_admits_what_it_names_and_nothing_more():
    policy = OutboundPolicy.parse("loopback, 10.1.0.0/16, erp.internal.example")
    policy.check("http://127.0.0.1:9/")
    policy.check("http://10.1.200.3/")
    policy.check("https://erp.internal.example/hook")  # listed by name: not resolved at all
    for url in ("http://10.2.0.1/", "http://169.254.169.254/", "http://192.168.1.1/"):
        with pytest.raises(OutboundRefused):
            policy.check(url)
    with pytest.raises(OutboundRefused, match="only http"):
        policy.check("file:///etc/passwd")
    with pytest.raises(ValueError, match="not an IP address"):
        OutboundPolicy.parse("10.0.0.0/8, http://x")


def test_webhook_to_loopback_is_refused_unless_allowed(recorder, monkeypatch):
    monkeypatch.setenv(ENV, "")
    with pytest.raises(DeliveryError) as caught:
        post_json(f"http://127.0.0.1:{recorder.port}/hook", "{}", {"Content-Type": "application/json"})
    assert "outbound policy" in str(caught.value) and recorder.requests == []
    monkeypatch.setenv(ENV, "loopback")
    post_json(f"http://127.0.0.1:{recorder.port}/hook", "{}", {"Content-Type": "application/json"})
    assert recorder.requests == ["/hook"]


def test_redirect_to_an_internal_address_is_refused(monkeypatch):
    target = Recorder()
    bouncer = Recorder(redirect_to=f"http://127.0.0.1:{target.port}/admin")
    try:
        monkeypatch.setenv(ENV, "localhost")  # the first hop by name; the redirect's 127.0.0.1 is not listed
        with guarded_session() as session, pytest.raises(OutboundRefused, match="127.0.0.1"):
            session.get(f"http://localhost:{bouncer.port}/start", timeout=5)
        assert bouncer.requests == ["/start"] and target.requests == []
    finally:
        target.close()
        bouncer.close()


def test_token_endpoint_from_discovery_pointing_inside_is_refused(monkeypatch):
    peer = Recorder(openid={"token_endpoint": "http://169.254.169.254/latest/meta-data/iam"})
    try:
        monkeypatch.setenv(ENV, "loopback")  # the peer itself is allowed; the metadata address is not
        with PactClient(f"http://127.0.0.1:{peer.port}", "id", "secret", max_retries=0) as client:
            with pytest.raises(PactClientError, match="outbound policy"):
                client.token()
    finally:
        peer.close()


def test_event_delivery_to_a_peer_on_an_internal_address_waits_with_the_reason(tmp_path, recorder, monkeypatch):
    """Refused, not sent, and kept for retry (the operator may allow the address; nothing is lost meanwhile)."""
    store, _ = new_node_db(tmp_path)
    origin = f"http://127.0.0.1:{recorder.port}"
    store.add_peer(origin, "me", "secret")
    with store.transaction() as connection:
        enqueue(connection, "m1", f"{origin}/3/events", PACT_EVENT, "{}", datetime.now(timezone.utc))
    monkeypatch.setenv(ENV, "")
    assert deliverer(store).run_once() == {"delivered": 0, "retrying": 1, "dead": 0}
    with store.engine.connect() as connection:
        [item] = connection.exec_driver_sql("SELECT status, last_error FROM outbox").all()
    assert item[0] == "pending" and "outbound policy" in item[1] and recorder.requests == []


def test_supplier_footprint_url_inside_is_refused_before_fetching(monkeypatch):
    fetched = []
    loader = SupplierLoader(fetch=lambda url: fetched.append(url) or {})
    monkeypatch.setenv(ENV, "")
    with pytest.raises(ModelError, match="supplier footprint URL refused"):
        loader.load("https://169.254.169.254/3/footprints/00000000-0000-4000-8000-000000000001")
    assert fetched == []

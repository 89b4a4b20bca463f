"""The node's dashboard: who may see it (Flask test client), and what its admin sees (headless Chromium, real node).

The browser test runs a real `pcf serve` over TLS on loopback with a footprint computed from the bundled steel
example, receives a real PACT request, and watches it change from received to rejected on the page.
PCF_SCREENSHOTS=1 also saves docs/screenshots/dashboard.png for the README.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from importlib import resources

import pytest

from connectors.pact_client import PactClient
from exchange.node.app import NodeConfig, create_app
from exchange.node.dashboard import set_admin_password
from exchange.node.records import publish_footprints
from exchange.node.storage import NodeStore
from exchange.node.workflow import reject
from lca_models.model_schema import load_model
from pcf.tiers.workflow import request_event
from tests.support.browser import chromium_or_skip, launch, save_screenshot
from tests.support.node import free_port, new_node_db, start_node

PASSWORD = "correct horse battery staple"
WANTED = "urn:pact:product:example-steel:wire-rod-sae1008"  # a product the node has no footprint of yet


@pytest.fixture(scope="module")
def steel(engine):
    with resources.as_file(resources.files("lca_models").joinpath("examples", "steel_mill.yaml")) as path:
        [footprint] = engine.compute(load_model(path))
    return footprint


def _store(tmp_path, steel, password: str | None = PASSWORD) -> NodeStore:
    store, _ = new_node_db(tmp_path, {"buyer": ("buyer-secret", "BuyerCo")})
    publish_footprints(store, [steel], share_with=("BuyerCo",))
    if password:
        set_admin_password(store, password)
    return store


def _client(store: NodeStore):
    app = create_app(NodeConfig(store.url), store)
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"  # the node is HTTPS-only; its session cookie is Secure
    return client


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_dashboard_is_for_the_admin_only(tmp_path, steel):
    client = _client(_store(tmp_path, steel))
    response = client.get("/dashboard/")
    assert response.status_code == 302 and "/dashboard/login" in response.headers["Location"]
    assert client.get(f"/dashboard/footprints/{steel.id}").status_code == 302
    # a PACT client's bearer token is for the API, not for the dashboard
    token = client.post("/auth/token", data={"grant_type": "client_credentials"},
                        headers={"Authorization": "Basic YnV5ZXI6YnV5ZXItc2VjcmV0"}).json["access_token"]
    assert client.get("/dashboard/", headers={"Authorization": f"Bearer {token}"}).status_code == 302
    page = client.get("/dashboard/login").get_data(as_text=True)
    assert client.post("/dashboard/login", data={"password": PASSWORD}).status_code == 400  # no CSRF token
    wrong = client.post("/dashboard/login", data={"password": "guess", "csrf": _csrf(page)})
    assert wrong.status_code == 401 and "wrong password" in wrong.get_data(as_text=True)
    ok = client.post("/dashboard/login", data={"password": PASSWORD, "csrf": _csrf(page)})
    assert ok.status_code == 302
    cookie = ok.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    overview = client.get("/dashboard/")
    assert overview.status_code == 200 and steel.product_name_company in overview.get_data(as_text=True)
    assert client.get("/dashboard/footprints/00000000-0000-0000-0000-000000000000").status_code == 404
    client.post("/dashboard/logout", data={"csrf": _csrf(overview.get_data(as_text=True))})
    assert client.get("/dashboard/").status_code == 302


def test_without_a_password_the_dashboard_stays_closed(tmp_path, steel):
    client = _client(_store(tmp_path, steel, password=None))
    page = client.get("/dashboard/login").get_data(as_text=True)
    assert "closed until the node's admin sets a password" in page
    response = client.post("/dashboard/login", data={"password": "", "csrf": _csrf(page) if 'name="csrf"' in page else ""})
    assert response.status_code in (400, 401)
    assert client.get("/dashboard/").status_code == 302


def test_short_passwords_are_refused(tmp_path, steel):
    with pytest.raises(ValueError, match="at least 12"):
        set_admin_password(_store(tmp_path, steel, password=None), "short")


def test_admin_sees_footprints_a_request_changing_status_and_the_chart(tmp_path, steel):
    sync_playwright = chromium_or_skip()
    store = _store(tmp_path, steel)
    requester = f"https://127.0.0.1:{free_port()}"  # the buyer's node: known as a peer, not running
    store.add_peer(requester, "node", "node-secret")
    store.add_products([WANTED])  # a product it makes: the request waits for the operator
    node = start_node(tmp_path, store.url)
    try:
        with PactClient(node.base, "buyer", "buyer-secret", ca_bundle=node.ca) as client:
            client.send_event(request_event([WANTED], requester, "Q3 supplier survey"))
        with sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.goto(f"{node.base}/dashboard/")
                assert "/dashboard/login" in page.url
                page.get_by_label("Admin password").fill(PASSWORD)
                page.get_by_role("button", name="Log in").click()
                page.wait_for_url(f"{node.base}/dashboard/")
                footprints = page.locator("table.footprints")
                assert steel.product_name_company in footprints.inner_text()
                assert "✓ verified" in footprints.inner_text()
                request_row = page.locator("table.requests tr", has_text=WANTED)
                assert request_row.locator(".status").inner_text() == "received"
                assert "Q3 supplier survey" in request_row.inner_text()
                # the operator rejects it (as `pcf reject` does); the page shows the new status and the queued answer
                [request] = [e for e in store.list_events() if e["status"] == "received"]
                reject(store, request["pk"], "no footprint for this product yet", datetime.now(timezone.utc))
                page.reload()
                request_row = page.locator("table.requests tr", has_text=WANTED)
                assert request_row.locator(".status").inner_text() == "rejected"
                outgoing = page.locator("table.outgoing")
                assert "answer: rejected" in outgoing.inner_text() and requester.split("//")[1] in outgoing.inner_text()
                save_screenshot(page, "dashboard", full_page=True)
                page.get_by_role("link", name=steel.product_name_company).click()
                chart = page.locator("svg.chart")
                chart.wait_for()
                box = chart.bounding_box()
                assert box and box["width"] > 300 and box["height"] > 100
                assert page.locator("table.checks").inner_text().count("✓") == 4
                assert steel.computed.contributions[0].label in page.locator("table.contributions").inner_text()
            finally:
                browser.close()
    finally:
        node.stop()

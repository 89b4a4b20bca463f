"""The supplier portal and the buyer's received footprints in a real browser: Debian chromium through Playwright,
against a real `pcf serve` over TLS on loopback.

A buyer invites a supplier with `pcf node invite`; the supplier opens the link, makes a mistake, sees it next to the
field with what it typed still there, fixes it and sends; the buyer's request closes and the link is used up. An
expired link is refused. The buyer's dashboard then opens the received footprints with their verification: the
supplier-declared one and one signed by a peer whose keys the buyer trusts. PCF_SCREENSHOTS=1 also saves
docs/screenshots/portal.png and received.png.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from exchange.node.dashboard import set_admin_password
from exchange.node.events import PUBLISHED, check_event, event_type
from exchange.node.invites import create_invite
from exchange.node.storage import FETCHED, NodeStore
from exchange.node.workflow import receive_other
from exchange.pact.signing import SigningKey, jwks, sign
from pcf.cli import main
from tests.support.browser import chromium_or_skip, launch, save_screenshot
from tests.support.node import new_node_db, start_node
from tests.support.pact import PACT_FIXTURES, read_json

BOLT = "urn:pact:product:boltco:hex-bolt-m8x40"
PASSWORD = "correct horse battery staple"
MILL = "https://mill.example:8443"


def _peer_footprint(store: NodeStore, key: SigningKey) -> dict:
    """A footprint the mill announced and the node fetched, signed with the mill's key, which the buyer trusts."""
    document = sign(read_json(PACT_FIXTURES / "v3" / "examples" / "example-1.json"), key, datetime(2026, 2, 1,
                                                                                                tzinfo=timezone.utc))
    store.add_peer(MILL, "buyer", "secret")
    event = {"type": event_type(PUBLISHED, "v3"), "specversion": "1.0", "id": "pub-1", "source": "//mill.example:8443",
             "time": "2026-02-01T00:00:00Z", "data": {"pfIds": [document["id"]]}}
    now = datetime.now(timezone.utc)
    receive_other(store, check_event(event, "v3"), "MillCo", json.dumps(event), now)
    store.record_received(MILL, document["id"], FETCHED, json.dumps(document), None, now)
    store.trust(MILL, jwks([key]), now)
    return document


def test_a_supplier_answers_through_the_portal_and_the_buyer_opens_it_verified(tmp_path):
    sync_playwright = chromium_or_skip()
    store, _ = new_node_db(tmp_path)
    set_admin_password(store, PASSWORD)
    mill_key = SigningKey.generate()
    peer_document = _peer_footprint(store, mill_key)
    node = start_node(tmp_path, store.url)
    try:
        invited = CliRunner().invoke(main, [
            "node", "invite", "--db", store.url, "--org", "BoltCo", "--product", BOLT, "--url", node.base,
            "--from", "MachineCo", "--message", "Footprint for the 2026 frame contract, please."])
        assert invited.exit_code == 0, invited.output
        [link] = re.findall(rf"{re.escape(node.base)}/portal/[A-Za-z0-9_-]{{43}}", invited.output)
        _, expired_token = create_invite(store, "NutCo", [BOLT], timedelta(days=14),
                                         datetime.now(timezone.utc) - timedelta(days=15))
        with sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                context = browser.new_context(ignore_https_errors=True, viewport={"width": 1100, "height": 1000})
                page = context.new_page()
                page.goto(link)
                assert "MachineCo asks BoltCo for product carbon footprints" in page.locator("h1").inner_text()
                assert BOLT in page.locator("ul.products").inner_text()
                page.get_by_label("Product name").fill("Hex bolt M8x40, zinc plated")
                page.get_by_label("Declared unit: amount").fill("1000")
                page.get_by_label("Declared unit", exact=True).select_option("piece")
                page.get_by_label("kgCO2e per declared unit").fill("95,5")  # a decimal comma: refused, not guessed
                page.get_by_label("Reference period: first day").fill("2025-01-01")
                page.get_by_label("Reference period: last day").fill("2025-12-31")
                page.get_by_label("Standard followed").select_option("ISO14067")
                page.get_by_label("Primary data share (%)").fill("62.5")
                page.get_by_role("button", name="Send the footprint").click()

                error = page.locator("#pcf-0-error")
                error.wait_for()
                assert error.inner_text() == "a number like 12.5 (a point for decimals, no thousands separators)"
                assert page.locator("#mass-0-error").inner_text().startswith("required for a declared unit in piece")
                assert page.get_by_label("Product name").input_value() == "Hex bolt M8x40, zinc plated"
                assert page.get_by_label("kgCO2e per declared unit").input_value() == "95,5"
                assert page.get_by_label("Declared unit", exact=True).input_value() == "piece"
                assert page.get_by_label("kgCO2e per declared unit").get_attribute("aria-invalid") == "true"
                assert store.list_received()[0].channel == "pact"  # only the mill's: nothing of BoltCo's saved
                save_screenshot(page, "portal", full_page=True)

                page.get_by_label("kgCO2e per declared unit").fill("95.5")
                page.get_by_label("Mass per declared unit (kg)").fill("28")
                page.get_by_role("button", name="Send the footprint").click()
                page.get_by_text("Thank you: your footprints were received").wait_for()
                assert "1 footprint was received by MachineCo" in page.locator("p.ok").inner_text()

                sent = CliRunner().invoke(main, ["node", "requests", "--sent", "--db", store.url]).output
                assert re.search(r"fulfilled\s+to portal: BoltCo", sent), sent
                page.goto(link)
                assert "This link has been used" in page.locator("h1").inner_text()
                page.goto(f"{node.base}/portal/{expired_token}")
                assert "This link has expired" in page.locator("h1").inner_text()

                page.goto(f"{node.base}/dashboard/received/")
                page.get_by_label("Admin password").fill(PASSWORD)
                page.get_by_role("button", name="Log in").click()
                page.wait_for_url(f"{node.base}/dashboard/received/")
                declared_row = page.locator("tr", has_text="Hex bolt M8x40")
                assert "supplier-declared (portal)" in declared_row.inner_text()
                declared_row.get_by_role("link").click()
                checks = page.locator("table.checks")
                checks.wait_for()
                assert "✓ schema" in checks.inner_text()
                assert "supplier-declared, unsigned" in page.locator("tr.check-signature").inner_text()
                assert "95.5 kgCO2e" in page.locator("main").inner_text()

                page.goto(f"{node.base}/dashboard/received/")
                page.locator("tr", has_text=peer_document["productNameCompany"]).get_by_role("link").click()
                signature = page.locator("tr.check-signature")
                signature.wait_for()
                assert "✓ signature" in signature.inner_text()
                assert f"signed by key {mill_key.kid}" in signature.inner_text() and MILL in signature.inner_text()
                save_screenshot(page, "received", full_page=True)
            finally:
                browser.close()
    finally:
        node.stop()

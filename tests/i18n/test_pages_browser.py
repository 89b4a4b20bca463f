"""The HTML report and the node dashboard in both languages, in headless Chromium (Debian's, with fonts-noto-cjk):
the text is in the reader's language and, for Simplified Chinese, the glyphs are drawn (not the empty boxes a
missing font gives). PCF_SCREENSHOTS=1 saves docs/screenshots/{report,dashboard}.zh-CN.png."""

from __future__ import annotations

from importlib import resources

import pytest

from connectors.pact_client import PactClient
from exchange.node.dashboard import set_admin_password
from exchange.node.records import publish_footprints
from lca_models.model_schema import load_model
from pcf.report.html import write_report
from pcf.tiers.workflow import request_event
from tests.support.browser import chromium_or_skip, launch, save_screenshot
from tests.support.node import new_node_db, start_node

PASSWORD = "correct horse battery staple"
WANTED = "urn:pact:product:example-steel:wire-rod-sae1008"


@pytest.fixture(scope="module")
def steel(engine):
    with resources.as_file(resources.files("lca_models").joinpath("examples", "steel_mill.yaml")) as path:
        [footprint] = engine.compute(load_model(path))
    return footprint


def _glyphs_drawn(page, selector: str) -> bool:
    """A copy of the element with each character replaced by a private-use one (which no font has: the empty box)
    must look different from the element: otherwise the font lacks the glyphs too."""
    element = page.locator(selector).first
    drawn = element.screenshot()
    page.evaluate("""selector => {
        const original = document.querySelector(selector);
        const boxes = original.cloneNode(true);
        boxes.id = 'tofu-probe';
        boxes.textContent = [...original.textContent].map(c => /\\s/.test(c) ? c : '\\uE000').join('');
        original.after(boxes);
    }""", selector)
    boxes = page.locator("#tofu-probe").screenshot()
    page.evaluate("() => document.querySelector('#tofu-probe').remove()")
    return drawn != boxes


@pytest.mark.parametrize(("language", "heading", "section"), [
    ("en", "Product carbon footprint report", "Goal and scope"),
    ("zh-CN", "产品碳足迹报告", "目标与范围")])
def test_report_in_each_language(steel, tmp_path, language, heading, section):
    sync_playwright = chromium_or_skip()
    out = tmp_path / "report.html"
    write_report(out, [steel], source="lca_models/examples/steel_mill.yaml", language=language)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(out.as_uri())
            assert page.locator("html").get_attribute("lang") == language
            assert page.locator("h1").inner_text() == heading
            assert section in page.locator("h3").all_inner_texts()
            if language == "zh-CN":
                assert "声明单位" in page.inner_text("table") and "参考期" in page.inner_text("body")
                assert _glyphs_drawn(page, "h1")
                page.locator("figure").evaluate("figure => figure.scrollIntoView({block: 'center'})")
                save_screenshot(page, "report.zh-CN")
        finally:
            browser.close()


def test_dashboard_follows_accept_language_and_the_switch(tmp_path, steel):
    sync_playwright = chromium_or_skip()
    store, _ = new_node_db(tmp_path, {"buyer": ("buyer-secret", "BuyerCo")})
    publish_footprints(store, [steel], share_with=("BuyerCo",))
    set_admin_password(store, PASSWORD)
    store.add_products([WANTED])
    node = start_node(tmp_path, store.url)
    try:
        with PactClient(node.base, "buyer", "buyer-secret", ca_bundle=node.ca) as client:
            client.send_event(request_event([WANTED], "https://127.0.0.1:9", "第三季度供应商调查"))
        with sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                context = browser.new_context(ignore_https_errors=True, locale="zh-CN",
                                              viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.goto(f"{node.base}/dashboard/")
                assert page.locator("html").get_attribute("lang") == "zh-CN"
                page.get_by_label("管理员密码").fill(PASSWORD)
                page.get_by_role("button", name="登录").click()
                page.wait_for_url(f"{node.base}/dashboard/")
                assert page.locator("h1").inner_text() == "概览"
                assert "收到的请求" in page.locator("h2").all_inner_texts()
                request_row = page.locator("table.requests tr", has_text=WANTED)
                assert request_row.locator(".status").inner_text() == "等待凭据"  # the requester is no peer yet
                assert "✓ 已核验" in page.locator("table.footprints").inner_text()
                assert _glyphs_drawn(page, "h1")
                save_screenshot(page, "dashboard.zh-CN", full_page=True)
                # the switch link sets a cookie that wins over Accept-Language, on every page
                page.get_by_role("link", name="English").click()
                page.wait_for_url(f"{node.base}/dashboard/")
                assert page.locator("h1").inner_text() == "Overview"
                assert page.locator("table.requests .status").first.inner_text() == "waiting-for-credentials"
                page.get_by_role("link", name=steel.product_name_company).click()
                assert page.locator("h2").first.inner_text() == "Verification"
                page.get_by_role("link", name="简体中文").click()
                assert page.locator("h2").first.inner_text() == "核验"
            finally:
                browser.close()
    finally:
        node.stop()


def test_language_switch_never_redirects_off_site(tmp_path):
    from exchange.node.app import NodeConfig, create_app

    store, _ = new_node_db(tmp_path)
    client = create_app(NodeConfig(store.url), store).test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    response = client.get("/dashboard/language/zh-CN?next=//evil.example/")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/"
    assert "pcf_lang=zh-CN" in response.headers["Set-Cookie"]
    assert "找不到" not in client.get("/dashboard/login").get_data(as_text=True)  # it is a page, in Chinese:
    page = client.get("/dashboard/login").get_data(as_text=True)
    assert 'lang="zh-CN"' in page and "节点管理员" in page
    unknown = client.get("/dashboard/language/xx?next=/dashboard/login")
    assert unknown.status_code == 302 and "Set-Cookie" not in unknown.headers

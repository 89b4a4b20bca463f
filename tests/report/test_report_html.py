"""The HTML footprint report: what it states, that it keeps offsets apart, and that it needs no network."""

from __future__ import annotations

import re
from decimal import Decimal
from importlib import resources

import pytest
from click.testing import CliRunner

from lca_models.model_schema import load_model
from pcf.cli import main
from pcf.report.html import ReportSection, life_cycle_stages, render_report, write_report
from tests.support.browser import chromium_or_skip, launch, save_screenshot

# anything a browser would fetch: src/href/action attributes, CSS url()/@import, <link>; namespace URIs are not fetched
FETCHES = re.compile(r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//)|url\(\s*["']?\s*(?:https?:)?//|@import|<link\b""",
                     re.I)


def _example(engine, name: str):
    with resources.as_file(resources.files("lca_models").joinpath("examples", name)) as path:
        return engine.compute(load_model(path))


@pytest.fixture(scope="module")
def steel(engine):
    [footprint] = _example(engine, "steel_mill.yaml")
    return footprint


def test_report_states_scope_results_quality_electricity_and_offsets_apart(steel):
    html = render_report([steel], source="steel_mill.yaml")
    for heading in ("Goal and scope", "System boundary", "Results", "Where the emissions come from", "Data quality",
                    "Electricity: market- and location-based", "Offsets", "Provenance"):
        assert f"<h3>{heading}</h3>" in html
    assert f"{steel.pcf_excluding_biogenic_uptake:,.4f} kgCO2e per 1 kilogram" in html
    assert html.count("<svg ") == 1 and 'class="chart"' in html
    e = steel.computed.electricity
    assert f"{e.market_based_kgco2e:,.4f} kgCO2e" in html and f"{e.location_based_kgco2e:,.4f} kgCO2e" in html
    # the steel example retires credits: each lot is listed, and the headline PCF is the un-netted one
    assert steel.computed.offsets
    for offset in steel.computed.offsets:
        assert offset.serial_range in html
    assert "not subtracted" in html


def test_life_cycle_stages_add_up_to_the_pcf_and_the_energy_upstream_is_cited(steel):
    stages = life_cycle_stages(steel)
    assert [s.name.split(":")[0] for s in stages] == ["production", "purchased electricity, generation (market-based)",
                                                      "energy supply upstream", "materials, transport, packaging, waste "
                                                      "and supplier footprints (upstream)"]
    total = steel.pcf_excluding_biogenic_uptake
    assert abs(sum((s.kgco2e for s in stages), Decimal(0)) - total) <= Decimal("1e-6") * total  # 7 digits each
    direct = sum((c.kgco2e for c in steel.computed.contributions if c.kind == "process"), Decimal(0))
    assert abs(stages[0].kgco2e - direct) <= Decimal("1e-6") * direct and direct > 0
    assert stages[2].kgco2e > 0
    html = render_report([steel])
    assert "energy supply upstream" in html
    # each factor of the stage is listed with its citation: the mill burns coal and gas and draws North China power
    for dataset, cited in (("fuel_upstream:hard_coal", "DESNZ"), ("fuel_upstream:natural_gas", "DESNZ"),
                           ("grid_upstream:CN-NORTH", "China Electricity Council"), ("residual:CN-NORTH", "MEE")):
        assert f"<code>{dataset}</code>" in html and cited in steel.computed.sources[dataset]


def test_report_fetches_nothing_and_extra_sections_are_a_hook(steel, tmp_path):
    out = tmp_path / "report.html"
    write_report(out, [steel], extra_sections=[ReportSection("Factory assessment", "<p id='hook'>fragment</p>")])
    html = out.read_text(encoding="utf-8")
    assert not FETCHES.search(html), FETCHES.search(html)
    assert "<h2>Factory assessment</h2>" in html and "<p id='hook'>fragment</p>" in html
    assert not list(tmp_path.glob(".*.tmp"))


def test_product_text_is_escaped(steel):
    from dataclasses import replace

    html = render_report([replace(steel, product_name_company="<script>alert(1)</script>")])
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_pcf_compute_writes_the_report(tmp_path):
    out = tmp_path / "fastener.html"
    with resources.as_file(resources.files("lca_models").joinpath("examples", "fastener_maker.yaml")) as model:
        result = CliRunner().invoke(main, ["compute", str(model), "--report", str(out), "--data-dir", str(tmp_path / "bw")])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "wrote the HTML report" in result.output and "Hex head screw" in html
    # the same model's plant inventory, assessed against the bundled (illustrative) criteria, is a section of it
    assert "<h2>Plant inventory and zero-carbon assessment</h2>" in html and "renewable electricity share" in html
    bad_criteria = tmp_path / "missing-criteria.yaml"
    with resources.as_file(resources.files("lca_models").joinpath("examples", "fastener_maker.yaml")) as model:
        result = CliRunner().invoke(main, ["compute", str(model), "--report", str(tmp_path / "r2.html"),
                                           "--criteria", str(bad_criteria), "--data-dir", str(tmp_path / "bw")])
    assert result.exit_code == 1 and "missing-criteria.yaml: file not found" in result.output
    assert not (tmp_path / "r2.html").exists()
    missing_dir = tmp_path / "nowhere" / "r.html"
    with resources.as_file(resources.files("lca_models").joinpath("examples", "fastener_maker.yaml")) as model:
        result = CliRunner().invoke(main, ["compute", str(model), "--report", str(missing_dir), "--data-dir", str(tmp_path / "bw")])
    assert result.exit_code == 2 and "cannot write the report" in result.output and "Traceback" not in result.output


def test_report_renders_in_chromium_with_the_network_cut_off(steel, tmp_path):
    sync_playwright = chromium_or_skip()
    out = tmp_path / "report.html"
    write_report(out, [steel], source="lca_models/examples/steel_mill.yaml")
    requested = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.route("**/*", lambda route: (requested.append(route.request.url),
                                              route.continue_() if route.request.url.startswith("file:") else route.abort()))
            page.goto(out.as_uri())
            chart = page.locator("svg.chart")
            box = chart.bounding_box()
            assert box and box["width"] > 300 and box["height"] > 100
            assert page.locator("svg.chart path").count() > 10  # bars and glyphs drawn as paths
            assert page.locator("h1").inner_text() == "Product carbon footprint report"
            page.locator("figure").evaluate("figure => figure.scrollIntoView({block: 'center'})")
            save_screenshot(page, "report")
        finally:
            browser.close()
    assert requested == [out.as_uri()]


def test_a_footprint_without_computed_details_still_reports_what_pact_carries(steel):
    from dataclasses import replace

    html = render_report([replace(steel, computed=None)])
    assert "received without computed details" in html and "<svg" not in html
    assert f"{steel.fossil_ghg_emissions:,.4f}" in html and "<h3>Data quality</h3>" in html

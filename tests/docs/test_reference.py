"""Every example of docs/reference.md loads with the loader its command uses: the page cannot drift from the code.

An example is a fenced block after `<!-- example: NAME -->`; all are written into one folder under their names (the
model names its factor library, the meters file its model's line) and loaded there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from connectors.scope3_inputs import read_purchases, read_suppliers
from exchange.cbam import Declarant, DeclarationDeclarant, read_declaration_goods, read_goods
from lca_models.cbam_installation import load_installation
from lca_models.factor_library import load_library
from lca_models.model_schema import load_model
from pcf.factory.assess import load_criteria
from pcf.factory.meters import load_meters, read_meters
from pcf.factory.scenario import apply_settings, load_scenarios

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference.md"
EXAMPLE = re.compile(r"<!-- example: (?P<name>[\w.\-]+) -->\n```\w*\n(?P<body>.*?)\n```", re.S)


def _examples() -> dict[str, str]:
    found = {m["name"]: m["body"] + "\n" for m in EXAMPLE.finditer(PAGE.read_text(encoding="utf-8"))}
    return found


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("reference")
    for name, body in _examples().items():
        (where / name).write_text(body, encoding="utf-8")
    (where / "mill-jwks.json").write_text('{"keys": []}', encoding="utf-8")  # what suppliers.yaml names beside it
    return where


def test_the_page_has_an_example_for_every_file_a_command_reads():
    assert set(_examples()) == {"model.yaml", "factors.csv", "factors.yaml", "declarant.yaml", "goods.csv",
                                "installation.yaml", "suppliers.yaml", "purchases.csv", "criteria.yaml",
                                "scenarios.yaml", "meters.yaml", "readings.csv"}


def test_model_and_factor_libraries(folder):
    model = load_model(folder / "model.yaml")
    [product] = model.products
    assert "urn:pact:productclassification:cpc:42944" in product.classifications
    assert "urn:pact:productclassification:cn:73181581" in product.classifications
    labels = {line.label for line in model.processes[0].inputs}
    assert {"wire rod from the mill", "zinc plating service", "wire rod to the plant"} <= labels
    assert set(load_library(folder / "factors.yaml")) == {"cathode_nmc811"}


def test_cbam_files(folder):
    document = yaml.safe_load((folder / "declarant.yaml").read_text(encoding="utf-8"))
    assert Declarant.from_mapping(document).quarter == "Q1"
    assert DeclarationDeclarant.from_mapping(document, 2026).country == "DE"
    goods = read_goods(folder / "goods.csv")
    assert [g.cn_code for g in goods] == ["72083900", "76042990"]
    assert len(read_declaration_goods(folder / "goods.csv")) == 2
    installation = load_installation(folder / "installation.yaml")
    assert [p.name for p in installation.processes] == ["Iron", "Steel"]


def test_procurement_files(folder):
    config = read_suppliers(folder / "suppliers.yaml")
    assert list(config.suppliers) == ["MillCo"]
    purchases = read_purchases(folder / "purchases.csv", config)
    assert [(p.supplier, p.currency) for p in purchases] == [("MillCo", "EUR"), ("BoltCo", "CNY")]


def test_factory_files(folder):
    model = load_model(folder / "model.yaml")
    assert {c.indicator for c in load_criteria(folder / "criteria.yaml").criteria} == {
        "renewable_electricity_share", "emission_intensity", "residual_emissions"}
    _currency, scenarios = load_scenarios(folder / "scenarios.yaml")
    for scenario in scenarios:
        apply_settings(model, scenario.settings)  # the settings name what the example model has
    metered = (folder / "model.yaml").read_text(encoding="utf-8").replace(
        "{grid: CN-EAST, amount: 850, unit: MWh,", "{grid: CN-EAST, amount: 850, unit: MWh, meter: main_power,")
    (folder / "metered.yaml").write_text(metered, encoding="utf-8")
    report = read_meters(folder / "readings.csv", load_meters(folder / "meters.yaml"), load_model(folder / "metered.yaml"))
    assert not report.blocking and not report.issues
    assert report.totals["main_power"].total == 850  # 11100 - 10250 MWh


def test_the_shipped_examples_are_the_pages():
    examples = Path(__file__).resolve().parents[2] / "lca_models" / "examples"
    assert (examples / "declarant.yaml").read_text(encoding="utf-8") == _examples()["declarant.yaml"]
    assert (examples / "cbam_goods.csv").read_text(encoding="utf-8") == _examples()["goods.csv"]

"""Disclosure levels: only what the owner chose leaves, for files (`pcf compute --format`) as for the node."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from click.testing import CliRunner

from exchange.pact import from_v3, to_v2, to_v3
from exchange.pact.disclosure import BREAKDOWN, FULL, SUMMARY, check_level, disclosed, level_of
from exchange.pact.own_extensions import BREAKDOWN as BREAKDOWN_SCHEMA
from exchange.pact.own_extensions import COMPUTED
from exchange.pact.signing import canonical_digest
from lca_models.model_schema import load_model
from pcf.cli import main
from pcf.engine.suppliers import from_footprint
from tests.support.pact import assert_valid_against_openapi

SUPPLIER_NAME = "Hebei Example Iron & Steel"  # the fastener maker's line label for its steel supplier


@pytest.fixture(scope="module")
def steel(engine):
    with resources.as_file(resources.files("lca_models").joinpath("examples", "steel_mill.yaml")) as path:
        [footprint, *_] = engine.compute(load_model(path))
    return footprint


def schemas(document: dict) -> set[str]:
    return {e["dataSchema"] for e in document.get("extensions", [])}


def test_each_level_carries_only_its_part(steel):
    assert steel.computed is not None and steel.computed.contributions  # the engine's line items exist
    labels = [c.label for c in steel.computed.contributions]
    summary, breakdown, full = (to_v3(disclosed(steel, level)) for level in (SUMMARY, BREAKDOWN, FULL))
    assert COMPUTED not in schemas(summary) and BREAKDOWN_SCHEMA not in schemas(summary)
    assert not any(label in json.dumps(summary) for label in labels)
    [extension] = [e for e in breakdown["extensions"] if e["dataSchema"] == BREAKDOWN_SCHEMA]
    assert set(extension["data"]) == {"gwpSet", "byGas", "byCategory", "byStage"}
    assert COMPUTED not in schemas(breakdown) and not any(label in json.dumps(breakdown) for label in labels)
    assert COMPUTED in schemas(full) and all(label in json.dumps(full) for label in labels)
    for document in (summary, breakdown, full):
        assert_valid_against_openapi(document, "v3")
        assert document["pcf"] == full["pcf"]  # the PACT figures are the same at every level
    assert canonical_digest(summary) == canonical_digest(breakdown) == canonical_digest(full)
    assert [level_of(from_v3(d).footprint) for d in (summary, breakdown, full)] == [SUMMARY, BREAKDOWN, FULL]


def test_a_breakdown_is_enough_to_recharacterise_as_computed_details_are(steel):
    per_unit = from_footprint(from_v3(to_v3(disclosed(steel, BREAKDOWN))).footprint, None)
    reference = from_footprint(steel, None)
    assert per_unit.by_gas == reference.by_gas and per_unit.by_category == reference.by_category
    assert from_footprint(from_v3(to_v3(disclosed(steel, SUMMARY))).footprint, None).by_gas is None


def test_a_breakdown_a_peer_sent_is_kept_at_breakdown_and_a_malformed_one_is_ignored(steel):
    received = from_v3(to_v3(disclosed(steel, BREAKDOWN))).footprint
    assert BREAKDOWN_SCHEMA in schemas(to_v3(disclosed(received, BREAKDOWN)))
    assert BREAKDOWN_SCHEMA not in schemas(to_v3(disclosed(received, SUMMARY)))
    document = to_v3(disclosed(steel, BREAKDOWN))
    for extension in document["extensions"]:
        if extension["dataSchema"] == BREAKDOWN_SCHEMA:
            extension["data"]["byGas"] = {"CO2": "NaN", "CH4": "x"}
    assert from_footprint(from_v3(document).footprint, None).by_gas is None


def test_an_unknown_level_is_refused():
    with pytest.raises(ValueError, match="summary, breakdown, full"):
        check_level("everything")


def test_pcf_compute_format_defaults_to_summary(tmp_path):
    runner = CliRunner()
    with resources.as_file(resources.files("lca_models").joinpath("examples", "fastener_maker.yaml")) as path:
        outputs = {}
        for level in (None, "breakdown", "full"):
            out = tmp_path / f"{level}.json"
            args = ["compute", str(path), "--format", "pact-v3", "-o", str(out), "--data-dir", str(tmp_path / "d")]
            result = runner.invoke(main, args + (["--disclose", level] if level else []))
            assert result.exit_code == 0, result.output
            outputs[level] = out.read_text(encoding="utf-8")
        json_out = tmp_path / "canonical.json"
        assert runner.invoke(main, ["compute", str(path), "--json", str(json_out), "--data-dir",
                                    str(tmp_path / "d")]).exit_code == 0
    assert SUPPLIER_NAME in outputs["full"] and COMPUTED in outputs["full"]
    assert SUPPLIER_NAME not in outputs[None] and COMPUTED not in outputs[None] and BREAKDOWN_SCHEMA not in outputs[None]
    assert SUPPLIER_NAME not in outputs["breakdown"] and BREAKDOWN_SCHEMA in outputs["breakdown"]
    assert SUPPLIER_NAME in json_out.read_text(encoding="utf-8")  # full detail stays in the local JSON


def test_v2_output_follows_the_level_too(steel):
    import dataclasses

    cpc = dataclasses.replace(steel, product_classifications=("urn:pact:productclassification:un-cpc:41231",))
    labels = [c.label for c in steel.computed.contributions]
    assert not any(label in json.dumps(to_v2(disclosed(cpc, SUMMARY))) for label in labels)
    assert any(label in json.dumps(to_v2(disclosed(cpc, FULL))) for label in labels)

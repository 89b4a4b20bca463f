"""What the toolkit emits for its own models is valid PACT, by the official schema."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from click.testing import CliRunner

from exchange.pact import PactMappingError, from_v3, to_v2, to_v3
from lca_models.model_schema import load_model
from pcf.cli import main
from tests.support.models import model_document, product
from tests.support.pact import PACT_FIXTURES, assert_valid_against_openapi


@pytest.mark.parametrize("name", ["steel_mill.yaml", "fastener_maker.yaml", "aluminium_profiles.yaml"])
def test_bundled_models_emit_valid_v3_that_reads_back_equal(engine, name):
    PACT_FIXTURES
    with resources.as_file(resources.files("lca_models").joinpath("examples", name)) as path:
        footprints = engine.compute(load_model(path))
    for footprint in footprints:
        document = to_v3(footprint)
        assert_valid_against_openapi(document, "v3")
        assert from_v3(document).footprint == footprint
        assert document["pcf"]["pcfExcludingBiogenicUptake"] == format(footprint.pcf_excluding_biogenic_uptake, "f")


def test_v2_needs_a_cpc_code(engine, write_model):
    document = model_document([{"id": "p", "outputs": [{"flow": "x", "amount": 1, "unit": "kg"}],
                                "emissions": [{"substance": "co2_fossil", "amount": 1, "unit": "kg"}]}], [product("x")])
    [footprint] = engine.compute(load_model(write_model(document)))
    with pytest.raises(PactMappingError, match="productCategoryCpc"):
        to_v2(footprint)


def test_compute_writes_pact_v2_and_v3_files(write_model, tmp_path):
    PACT_FIXTURES
    cpc = "urn:pact:productclassification:un-cpc:42999"
    document = model_document([{"id": "p", "outputs": [{"flow": "x", "amount": 10, "unit": "kg"}],
                                "emissions": [{"substance": "n2o", "amount": 0.01, "unit": "kg"}]}],
                              [product("x", classifications=[cpc])])
    model = write_model(document)
    runner = CliRunner()
    for fmt, version in (("pact-v3", "v3"), ("pact-v2", "v2")):
        out = tmp_path / f"{fmt}.json"
        result = runner.invoke(main, ["compute", str(model), "--format", fmt, "-o", str(out), "--data-dir", str(tmp_path / "d")])
        assert result.exit_code == 0, result.output
        emitted = json.loads(out.read_text())
        assert_valid_against_openapi(emitted, version)
        assert runner.invoke(main, ["validate", str(out)]).exit_code == 0
    assert json.loads((tmp_path / "pact-v2.json").read_text())["productCategoryCpc"] == "42999"
    assert json.loads((tmp_path / "pact-v3.json").read_text())["pcf"]["pcfExcludingBiogenicUptake"] == "0.273"

"""The `pcf` command as a user runs it: clear output, clear errors, the right exit status."""

from __future__ import annotations

import json

from click.testing import CliRunner

from pcf.cli import main
from tests.support.models import model_document, product


def test_compute_prints_the_footprint_and_writes_json(write_model, tmp_path):
    document = model_document(
        [{"id": "press", "outputs": [{"flow": "widget", "amount": 100, "unit": "kg"}],
          "emissions": [{"substance": "co2_fossil", "amount": 250, "unit": "kg"}]}],
        [product("widget")],
    )
    out = tmp_path / "fp.json"
    result = CliRunner().invoke(main, ["compute", str(write_model(document)), "--json", str(out),
                                       "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert "2.5000 kgCO2e" in result.output
    [footprint] = json.loads(out.read_text())
    assert footprint["pcf_excluding_biogenic_uptake"] == "2.5"
    assert footprint["computed"]["by_gas"]["CO2"] == "2.5"


def test_bad_model_exits_1_with_the_path_and_reason(write_model, tmp_path):
    document = model_document(
        [{"id": "press", "outputs": [{"flow": "widget", "amount": -1, "unit": "kg"}]}], [product("widget")])
    result = CliRunner().invoke(main, ["compute", str(write_model(document)), "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "processes[0].outputs[0].amount: must be > 0" in result.output
    assert "Traceback" not in result.output


def test_missing_file_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["compute", str(tmp_path / "nope.yaml"), "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "file not found" in result.output


def test_demo_computes_the_example_chain(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name in ("Hot-rolled coil", "Hex head screw", "window profile"):
        assert name in result.output
    assert "top" in result.output and "contributors" in result.output

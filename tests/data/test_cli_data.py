"""`pcf data` as a user runs it: an import report, one error line per refused finding, browsing with values."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

from click.testing import CliRunner

from pcf.cli import main

from . import lci_files as fx
from .test_imports import ELECTRICITY

FACTORS = "id,name,unit,kgco2e,source,year\ncathode_nmc811,NMC811 cathode,kg,12.5,EPD (illustrative test value),2024\n"


def run(*args: str):
    return CliRunner().invoke(main, ["data", *args])


def test_import_prints_the_report_and_the_data_is_browsable(data_dir, tmp_path):
    source = fx.write_simapro(tmp_path / "cells.csv")
    result = run("import", "simapro", str(source), "--name", "cli-sp", "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    assert "as cli-sp: 4 activities, 17 exchanges" in result.output
    assert "co2_fossil x4" in result.output and "1 flows" in result.output

    listed = json.loads(run("list", "--json", "--data-dir", str(data_dir)).output)
    assert {"origin": "imported", "name": "cli-sp"}.items() <= next(r for r in listed if r["name"] == "cli-sp").items()
    assert listed[0]["origin"] == "bundled" and listed[0]["datasets"] > 50

    shown = json.loads(run("show", "cli-sp/electricity", "--json", "--data-dir", str(data_dir)).output)
    expected = ELECTRICITY["co2_fossil"] + ELECTRICITY["ch4_fossil"] * Decimal("29.8") + ELECTRICITY["n2o"] * 273  # AR6
    assert abs(float(shown[0]["kgco2e"]) - float(expected)) <= 1e-6 * float(expected)
    assert shown[0]["unit"] == "kilowatt hour"

    (tmp_path / "factors.csv").write_text(FACTORS, encoding="utf-8")
    found = run("search", "cathode", "nmc", "--library", str(tmp_path / "factors.csv"), "--json", "--data-dir", str(data_dir))
    assert [e["ref"] for e in json.loads(found.output)] == ["cathode_nmc811"]
    bundled = json.loads(run("search", "steel", "bf", "--json", "--data-dir", str(data_dir)).output)
    assert "material:steel_bf_bof" in {e["ref"] for e in bundled}
    table = run("search", "steel", "--database", "cli-sp", "--data-dir", str(data_dir))
    assert table.exit_code == 0 and "1 dataset(s) matching 'steel'" in table.output


def test_refused_import_prints_one_line_per_finding_and_exits_1(data_dir, tmp_path):
    activities = copy.deepcopy(fx.ACTIVITIES)
    activities["B"]["inputs"].append(("stainless", 0.05, None))
    result = run("import", "ecospold2", str(fx.write_ecospold2(tmp_path / "ds", activities)), "--name", "cli-bad",
                 "--data-dir", str(data_dir))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith("error: ") and "unlinked technosphere 'stainless steel'" in line for line in lines)
    assert "Traceback" not in result.output
    assert "cli-bad" not in run("list", "--data-dir", str(data_dir)).output


def test_missing_source_exits_2_and_unknown_dataset_exits_1(data_dir, tmp_path):
    assert run("import", "simapro", str(tmp_path / "nope.csv"), "--data-dir", str(data_dir)).exit_code == 2
    shown = run("show", "material:steel_bf_bfo", "--data-dir", str(data_dir))
    assert shown.exit_code == 1 and "no dataset 'material:steel_bf_bfo'" in shown.output

"""Meter readings into activity data: clean imports by hand, and each data problem reported, never repaired."""

from __future__ import annotations

from decimal import Decimal

import pytest
import yaml
from click.testing import CliRunner

from lca_models.errors import ModelError
from lca_models.model_schema import load_model
from pcf.cli import main
from pcf.factory.meters import apply_to_model, load_meters, read_meters
from tests.support.models import model_document, product

# Two days (end date inclusive) in the plant's local time, UTC+08:00
PERIOD = {"start": "2025-03-01", "end": "2025-03-02"}
E1 = [("2025-03-01T06:00:00+08:00", "100"), ("2025-03-01T12:00:00+08:00", "110"), ("2025-03-01T18:00:00+08:00", "90"),
      ("2025-03-02T00:00:00+08:00", "80"), ("2025-03-02T06:00:00+08:00", "0.1"), ("2025-03-02T12:00:00+08:00", "120"),
      ("2025-03-02T18:00:00+08:00", "95"), ("2025-03-03T00:00:00+08:00", "85")]  # E1: interval, kWh (one in MWh)
G1 = [("2025-03-01T00:00:00+08:00", "5000"), ("2025-03-01T12:00:00+08:00", "5600"),
      ("2025-03-02T00:00:00+08:00", "6100"), ("2025-03-02T12:00:00+08:00", "6900"),
      ("2025-03-03T00:00:00+08:00", "7400")]  # G1: cumulative register, Nm3
E1_KWH = Decimal(100 + 110 + 90 + 80 + 100 + 120 + 95 + 85)  # 0.1 MWh = 100 kWh
G1_NM3 = Decimal(7400 - 5000)


def rows(e1=E1, g1=G1) -> list[list[str]]:
    found = [["E1", at, value, "MWh" if value == "0.1" else "kWh"] for at, value in e1]
    return found + [["G1", at, value, "Nm3"] for at, value in g1]


def write_csv(path, data: list[list[str]]):
    path.write_text("meter_id,timestamp,value,unit\n" + "".join(",".join(r) + "\n" for r in data), encoding="utf-8")
    return path


@pytest.fixture
def plant(write_model, tmp_path):
    process = {"id": "works", "outputs": [{"flow": "widget", "amount": 10, "unit": "t"}],
               "electricity": [{"grid": "CN-EAST", "amount": 1, "unit": "kWh", "meter": "E1"}],
               "fuels": [{"fuel": "natural_gas", "amount": 1, "unit": "Nm3", "meter": "G1"}]}
    model_path = write_model(model_document([process], [product("widget")], reference_period=PERIOD))
    meters = tmp_path / "meters.yaml"
    meters.write_text(yaml.safe_dump({"period_utc_offset": "+08:00", "meters": [
        {"id": "E1", "kind": "interval", "unit": "kWh", "interval_minutes": 360},
        {"id": "G1", "kind": "cumulative", "unit": "Nm3", "interval_minutes": 720}]}), encoding="utf-8")
    return model_path, load_meters(meters), meters


def test_clean_readings_become_the_models_activity_data(plant, tmp_path):
    model_path, setup, _ = plant
    report = read_meters(write_csv(tmp_path / "r.csv", rows()), setup, load_model(model_path))
    assert report.issues == ()
    assert report.totals["E1"].total == E1_KWH and report.totals["E1"].complete
    assert report.totals["G1"].total == G1_NM3
    out = tmp_path / "metered.yaml"
    changed = apply_to_model(model_path, report, out)
    assert changed == ["processes[0].electricity[0]", "processes[0].fuels[0]"]
    model = load_model(out)
    assert model.processes[0].electricity[0].amount_kwh == E1_KWH
    # natural gas 0.75 kg/Nm3 and NCV 48.0 GJ/t (bundled fuels.csv: IPCC 2006 Vol. 2 Table 1.2; density row note)
    assert model.processes[0].fuels[0].amount_gj == G1_NM3 * Decimal("0.75") * Decimal("48.0") / 1000


def mutate(index: int, **change) -> list[list[str]]:
    data = rows()
    data[index] = [change.get("meter", data[index][0]), change.get("at", data[index][1]),
                   change.get("value", data[index][2]), change.get("unit", data[index][3])]
    return data


CASES = {
    # name: (rows, meter, kind, CSV line, words in the message)
    "gap": ([r for i, r in enumerate(rows()) if i != 2], "E1", "gap", 4, "12:00:00 since the reading on line 3"),
    "gap at the end": ([r for i, r in enumerate(rows()) if i != 7], "E1", "gap", 8, "nothing measured from 2025-03-02T18:00"),
    "duplicate": (rows() + [["E1", E1[3][0], "80", "kWh"]], "E1", "duplicate", 15, "already read on line 5"),
    "counter reset": (mutate(11, value="120"), "G1", "reset", 13, "register went down from 6100 to 120"),
    "unknown unit": (mutate(0, unit="kWhh"), "E1", "unit", 2, "unknown unit 'kWhh'"),
    "wrong dimension": (mutate(1, unit="kg"), "E1", "unit", 3, "kg (mass) cannot be converted to kWh (energy)"),
    "outside the period": (rows() + [["E1", "2025-03-05T00:00:00+08:00", "5", "kWh"]], "E1", "outside period", 15,
                           "is outside 2025-03-01T00:00:00+08:00 .. 2025-03-03T00:00:00+08:00"),
    "no UTC offset": (mutate(0, at="2025-03-01T06:00:00"), "E1", "bad row", 2, "has no UTC offset"),
    "not a number": (mutate(0, value="n/a"), "E1", "bad row", 2, "value 'n/a' is not a number"),
    "unknown meter": (mutate(0, meter="E9"), "E9", "unknown meter", 2, "not declared in the meters file"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_data_problem_is_reported_and_nothing_written(plant, tmp_path, case):
    data, meter, kind, line, words = CASES[case]
    model_path, setup, _ = plant
    report = read_meters(write_csv(tmp_path / "r.csv", data), setup, load_model(model_path))
    found = [i for i in report.issues if i.kind == kind]
    assert [(i.meter, i.line) for i in found][:1] == [(meter, line)], report.issues
    assert words in found[0].message
    out = tmp_path / "metered.yaml"
    if kind not in ("gap", "outside period"):
        assert report.blocking
    if kind != "outside period":  # a reading outside the period is dropped and said so; the rest still counts
        with pytest.raises(ModelError):
            apply_to_model(model_path, report, out)
        assert not out.exists()


def test_gaps_can_be_accepted_and_stay_reported(plant, tmp_path):
    model_path, setup, _ = plant
    data = [r for i, r in enumerate(rows()) if i != 2]
    report = read_meters(write_csv(tmp_path / "r.csv", data), setup, load_model(model_path), allow_gaps=True)
    e1 = report.totals["E1"]
    assert e1.total == E1_KWH - 90 and not e1.complete
    assert [i.kind for i in report.issues] == ["gap"]


def test_a_meter_named_in_the_model_but_not_declared(plant, tmp_path):
    model_path, _, meters = plant
    document = yaml.safe_load(meters.read_text())
    document["meters"] = document["meters"][:1]
    meters.write_text(yaml.safe_dump(document), encoding="utf-8")
    report = read_meters(write_csv(tmp_path / "r.csv", rows(g1=[])), load_meters(meters), load_model(model_path))
    assert [(i.meter, i.kind) for i in report.issues] == [("G1", "unmapped")]


def test_bad_meters_file(tmp_path):
    path = tmp_path / "meters.yaml"
    path.write_text(yaml.safe_dump({"meters": [{"id": "E1", "kind": "smart", "unit": "kWh", "interval_minutes": 0},
                                               {"id": "E2", "kind": "interval", "unit": "parsec", "interval_minutes": 5}]}))
    with pytest.raises(ModelError) as error:
        load_meters(path)
    assert f"{path}: meters[0].kind: Must be one of: cumulative, interval." in str(error.value)
    assert f"{path}: meters[0].interval_minutes:" in str(error.value)
    path.write_text(yaml.safe_dump({"meters": [{"id": "E2", "kind": "interval", "unit": "parsec", "interval_minutes": 5}]}))
    with pytest.raises(ModelError, match=r"meters\[0\].unit: unknown unit 'parsec'"):
        load_meters(path)


def test_cli_meters(plant, tmp_path):
    model_path, _, meters = plant
    runner = CliRunner()
    out = tmp_path / "metered.yaml"
    bad = write_csv(tmp_path / "bad.csv", CASES["counter reset"][0])
    result = runner.invoke(main, ["factory", "meters", str(model_path), str(bad), "--meters", str(meters), "-o", str(out)])
    assert result.exit_code == 1
    assert f"problem: {bad}: line 13: G1: reset: register went down" in result.output
    assert "nothing written" in result.output and not out.exists()
    good = write_csv(tmp_path / "good.csv", rows())
    result = runner.invoke(main, ["factory", "meters", str(model_path), str(good), "--meters", str(meters), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert load_model(out).processes[0].electricity[0].amount_kwh == E1_KWH

"""Reduction scenarios: the PCF and inventory changes checked by hand, the vocabulary's errors, the MAC table."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import yaml
from click.testing import CliRunner

from lca_models.errors import ModelError
from lca_models.model_schema import load_model
from pcf.cli import main
from pcf.factory.inventory import build_inventory
from pcf.factory.scenario import Scenario, abatement_table, apply_settings, deltas, parse_settings, run
from tests.support.models import model_document, product

REL = 1e-6  # Brightway single precision
CN_EAST = Decimal("0.5500")  # kgCO2/kWh, MEE & NBS 2023 East China grid average
CN_RESIDUAL = Decimal("0.6096")  # kgCO2/kWh, MEE & NBS 2023 national factor without market-traded non-fossil power
# energy supply upstream: DESNZ 2025 WTT- fuels per kWh (Net CV) x 1000/3.6 kWh per GJ; CN-EAST generation upstream
# 0.17 x 0.55 (0.09350) and 4.54 % line loss (CEC 2023), per kWh consumed
COAL_WTT = Decimal("0.05925") * 1000 / Decimal("3.6")
GAS_WTT = Decimal("0.03347") * 1000 / Decimal("3.6")
CN_EAST_UPSTREAM = (Decimal("0.09350") + CN_EAST * Decimal("0.0454")) / (1 - Decimal("0.0454"))
# IPCC 2006 GL Vol. 2 Ch. 1 Table 1.4 / Ch. 2 Table 2.3 (kg/TJ = g/GJ) with AR6 GWP100 (CH4 29.8, N2O 273)
COAL_PER_GJ = (Decimal(94600) + 10 * Decimal("29.8") + Decimal("1.5") * 273) / 1000  # other bituminous coal
GAS_PER_GJ = (Decimal(56100) + 1 * Decimal("29.8") + Decimal("0.1") * 273) / 1000  # natural gas


def press_document() -> dict:
    process = {"id": "press", "outputs": [{"flow": "widget", "amount": 1000, "unit": "kg"}],
               "electricity": [{"grid": "CN-EAST", "amount": 10000, "unit": "kWh"}],
               "fuels": [{"fuel": "hard_coal", "amount": 100, "unit": "GJ"}],
               "emissions": [{"substance": "co2_fossil", "amount": 50, "unit": "kg"}]}
    return model_document([process], [product("widget")])


def close(actual: Decimal, expected: Decimal, rel: float = REL) -> bool:
    return abs(float(actual) - float(expected)) <= rel * abs(float(expected))


def test_green_power_and_fuel_switch_change_the_pcf_as_computed_by_hand(engine, write_model):
    model = load_model(write_model(press_document()))
    settings = parse_settings(["electricity.green_share=0.6", "press.fuel=natural_gas"])
    comparison = run(engine, model, (Scenario("green + gas", settings),))
    [scenario] = comparison.scenarios
    baseline_pcf = (10000 * (CN_RESIDUAL + CN_EAST_UPSTREAM) + 100 * (COAL_PER_GJ + COAL_WTT) + 50) / 1000
    # 60 % of 10,000 kWh under certificates (no longer at the residual mix; the grid's upstream and losses stay);
    # 100 GJ of coal become 100 GJ of gas, burnt and supplied
    expected_change = (-6000 * CN_RESIDUAL + 100 * (GAS_PER_GJ + GAS_WTT - COAL_PER_GJ - COAL_WTT)) / 1000
    assert close(comparison.baseline.pcf["widget"], baseline_pcf)
    change = deltas(comparison.baseline, scenario)
    assert close(change["pcf:widget"], expected_change)
    assert close(change["scope2_market_based"], -6000 * CN_RESIDUAL / 1000)
    assert change["scope2_location_based"] == 0
    assert close(change["scope1"], 100 * (GAS_PER_GJ - COAL_PER_GJ) / 1000)
    assert scenario.inventory.energy.renewable_electricity_share == Decimal("0.6")


def test_electricity_pv_and_emission_settings(write_model):
    model = load_model(write_model(press_document()))
    changed = apply_settings(model, parse_settings(
        ["press.electricity=4 MWh", "press.onsite_pv=1000 kWh", "press.emission.co2_fossil=0 kg",
         "press.emission.ch4_fossil=2 kg"]))
    base, after = build_inventory(model), build_inventory(changed)
    assert after.energy.electricity_kwh == 4000
    assert after.scope2_location_based == 3000 * CN_EAST / 1000  # PV is not grid electricity
    assert after.scope1 - base.scope1 == (-50 + 2 * Decimal("29.8")) / 1000
    assert changed.digest != model.digest and model.processes[0].electricity[0].amount_kwh == 10000


def test_green_share_scales_existing_certificates(write_model):
    document = press_document()
    document["processes"][0]["electricity"][0]["instruments"] = [
        {"type": "onsite_pv", "amount": 2000, "unit": "kWh"},
        {"type": "ppa", "amount": 1000, "unit": "kWh"}]
    changed = apply_settings(load_model(write_model(document)), (("electricity.green_share", "0.5"),))
    instruments = {i.type: i.amount_kwh for i in changed.processes[0].electricity[0].instruments}
    assert instruments == {"onsite_pv": 2000, "ppa": 4000}  # half of the 8,000 kWh taken from the grid


def test_every_bad_setting_is_reported_at_once(write_model):
    model = load_model(write_model(press_document()))
    with pytest.raises(ModelError) as error:
        apply_settings(model, parse_settings([
            "electricity.green_share=1.5", "boiler.fuel=natural_gas", "press.fuel=unobtainium",
            "press.electricity=5 kg", "press.colour=red", "press.emission.smog=1 kg"]))
    lines = str(error.value).splitlines()
    assert lines == [
        "--set electricity.green_share: '1.5': a share between 0 and 1",
        "--set boiler.fuel: unknown setting: use electricity.green_share or <process>.fuel|electricity|onsite_pv|"
        "emission.<substance> with a process of the model (press)",
        lines[2],
        "--set press.electricity: '5 kg': give '<number> <unit of energy>' (kg is not a unit of energy)",
        "--set press.colour: unknown setting 'colour' for process 'press': use fuel, electricity, onsite_pv or "
        "emission.<substance>",
        "--set press.emission.smog: unknown substance 'smog'",
    ]
    assert lines[2].startswith("--set press.fuel: unknown fuel 'unobtainium' (known: ")
    with pytest.raises(ModelError, match="expected PATH=VALUE"):
        parse_settings(["electricity.green_share"])


def test_scenario_file_gives_a_marginal_abatement_table(engine, write_model, tmp_path):
    model = load_model(write_model(press_document()))
    scenarios = (Scenario("pricey green power", (("electricity.green_share", "1"),), Decimal(90)),
                 Scenario("gas", (("press.fuel", "natural_gas"),), Decimal(20)),
                 Scenario("no cost given", (("press.emission.co2_fossil", "0 kg"),)))
    rows = abatement_table(run(engine, model, scenarios))
    assert [r.name for r in rows] == ["gas", "pricey green power", "no cost given"]
    gas_t = 100 * (COAL_PER_GJ - GAS_PER_GJ) / 1000
    green_t = 10000 * CN_RESIDUAL / 1000
    assert close(rows[0].abatement_t, gas_t) and close(rows[0].total_cost, gas_t * 20)
    assert close(rows[1].abatement_t, green_t) and close(rows[1].cumulative_t, gas_t + green_t)
    assert rows[2].cost_per_t is None and close(rows[2].abatement_t, Decimal("0.05"))


def test_cli_scenarios_file_and_json(write_model, tmp_path):
    path = write_model(press_document())
    scenario_file = tmp_path / "scenarios.yaml"
    scenario_file.write_text(yaml.safe_dump({"currency": "CNY", "scenarios": [
        {"name": "green 60", "set": {"electricity.green_share": 0.6}, "abatement_cost_per_t": 30},
        {"name": "gas", "set": {"press.fuel": "natural_gas"}}]}), encoding="utf-8")
    out = tmp_path / "scenarios.json"
    result = CliRunner().invoke(main, ["factory", "scenario", str(path), "--scenarios", str(scenario_file),
                                       "--json", str(out), "--data-dir", str(tmp_path / "bw")])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert [s["name"] for s in document["scenarios"]] == ["green 60", "gas"]
    assert close(Decimal(document["scenarios"][0]["deltas"]["pcf:widget"]), -6000 * CN_RESIDUAL / 1000)
    assert document["abatement"][0]["currency"] == "CNY"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"scenarios": [{"name": "x", "set": {}, "cost": 3}]}), encoding="utf-8")
    result = CliRunner().invoke(main, ["factory", "scenario", str(path), "--scenarios", str(bad)])
    assert result.exit_code == 1
    assert f"error: {bad}: scenarios[0].set: Shorter than minimum length 1." in result.output
    assert f"error: {bad}: scenarios[0].cost: unknown field; did you mean 'abatement_cost_per_t'" in result.output

"""A footprint a verifier would sign (issue 17), each point against a hand calculation from the cited values.

Uptake apart in every breakdown, the energy supply upstream as a cited stage of its own, the residual mix on
uncovered kWh only, declared cut-offs and PACT's limit, supplier data quality and GWP sets, mobile combustion and
measured fuel properties, the reference period both ways.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal
from importlib import resources

import pytest
from click.testing import CliRunner

from exchange.pact import from_v3, to_v3
from lca_models.errors import ModelError
from lca_models.model_schema import load_model
from pcf.cli import main
from pcf.factory.inventory import build_inventory
from pcf.report.html import render_report
from tests.support.models import model_document, product

REL = 1e-6  # Brightway keeps single precision
# Cited values (lca_models/data) used by hand below
GWP = {"CH4": Decimal("29.8"), "CH4_bio": Decimal(27), "N2O": Decimal(273)}  # IPCC AR6 WG1 Table 7.15
GWP_AR5_CH4 = Decimal(30)  # IPCC AR5 WG1 Table 8.A.1, fossil methane
CN_EAST, CN_RESIDUAL, BR = Decimal("0.5500"), Decimal("0.6096"), Decimal("0.0385")  # MEE/NBS 2023; MCTI 2023
CN_EAST_UPSTREAM = (Decimal("0.09350") + CN_EAST * Decimal("0.0454")) / (1 - Decimal("0.0454"))  # CEC 2023 loss
KWH_PER_GJ = 1000 / Decimal("3.6")
NG_COMBUSTION = (Decimal(56100) + 1 * GWP["CH4"] + Decimal("0.1") * GWP["N2O"]) / 1000  # IPCC 2006 T1.4, T2.3 per GJ
NG_WTT = Decimal("0.03347") * KWH_PER_GJ  # DESNZ 2025 WTT- fuels, natural gas, per kWh Net CV
COAL_WTT = Decimal("0.05925") * KWH_PER_GJ  # DESNZ 2025 WTT- fuels, coal (industrial)
DIESEL_WTT = Decimal("0.06291") * KWH_PER_GJ  # DESNZ 2025 WTT- fuels, diesel (100% mineral diesel)


def close(actual, expected, rel: float = REL) -> bool:
    return abs(float(actual) - float(expected)) <= rel * max(abs(float(expected)), 1e-12)


def widget(**process_extra) -> dict:
    return model_document([{"id": "press", "outputs": [{"flow": "widget", "amount": 1000, "unit": "kg"}],
                            **process_extra}], [product("widget")])


def supplier_document(pcf: str, amount: str = "10", gwp: str = "AR6", dqi: dict | None = None,
                      uptake: str = "0", pds: str = "40") -> dict:
    """A PACT v3 supplier footprint: `pcf` kgCO2e per `amount` kg."""
    carbon = {"declaredUnitOfMeasurement": "kilogram", "declaredUnitAmount": amount, "productMassPerDeclaredUnit": amount,
              "referencePeriodStart": "2024-01-01T00:00:00Z", "referencePeriodEnd": "2025-01-01T00:00:00Z",
              "pcfExcludingBiogenicUptake": pcf, "pcfIncludingBiogenicUptake": str(Decimal(pcf) + Decimal(uptake)),
              "fossilGhgEmissions": pcf, "biogenicCO2Uptake": uptake, "fossilCarbonContent": "0",
              "ipccCharacterizationFactors": [gwp], "crossSectoralStandards": ["ISO14067"],
              "exemptedEmissionsPercent": "0", "primaryDataShare": pds}
    if dqi:
        carbon["dqi"] = dqi
    return {"id": "0f6b7f1e-1111-4c44-9a2a-3c0a4a2b5e10", "specVersion": "3.0.3", "created": "2025-06-01T00:00:00Z",
            "status": "Active", "companyName": "Supplier", "companyIds": ["urn:pact:company:supplier"],
            "productDescription": "input", "productIds": ["urn:pact:product:input"], "productNameCompany": "input",
            "pcf": carbon}


# --- uptake apart; every breakdown adds up to the total it claims


def test_every_breakdown_adds_up_to_the_pcf_and_uptake_stays_apart(engine, write_model, tmp_path):
    (tmp_path / "board.json").write_text(json.dumps(supplier_document("2.5", uptake="-4")), encoding="utf-8")
    document = widget(
        emissions=[{"substance": "co2_fossil", "amount": 100, "unit": "kg"},
                   {"substance": "co2_uptake", "amount": 300, "unit": "kg"},
                   {"substance": "ch4_biogenic", "amount": 1, "unit": "kg"},
                   {"substance": "co2_luc", "amount": 20, "unit": "kg"}],
        fuels=[{"fuel": "natural_gas", "amount": 10, "unit": "GJ"}],
        electricity=[{"grid": "CN-EAST", "amount": 1000, "unit": "kWh",
                      "instruments": [{"type": "green_certificate", "amount": 400, "unit": "kWh"}]}],
        inputs=[{"supplier": "board.json", "amount": 200, "unit": "kg"},
                {"dataset": "material:steel_scrap", "amount": 50, "unit": "kg"}])
    [footprint] = engine.compute(load_model(write_model(document)))
    details, total = footprint.computed, footprint.pcf_excluding_biogenic_uptake
    # uptake by hand: 300 kg at the plant and 200 kg x 4/10 in the supplier's board, per 1000 kg of widget
    assert close(footprint.biogenic_co2_uptake, Decimal(-380) / 1000)
    assert close(footprint.pcf_including_biogenic_uptake, total - Decimal("0.38"))
    assert "biogenic_uptake" not in details.by_category
    for name, parts in (("gas", details.by_gas.values()), ("category", details.by_category.values()),
                        ("stage", details.by_stage.values()), ("contribution", [c.kgco2e for c in details.contributions])):
        assert close(sum(parts, Decimal(0)), total, 1e-5), name
    # methane by hand: 1 kg biogenic at 27.0 and the gas's 1 kg/TJ x 0.01 TJ at 29.8, per 1000 kg
    assert close(details.by_gas["CH4"], (1 * GWP["CH4_bio"] + Decimal("0.01") * GWP["CH4"]) / 1000)
    assert not any("co2_uptake" in c.label for c in details.contributions)
    # the PACT document says the same: uptake in its own field, the totals as the engine's
    pcf = to_v3(footprint)["pcf"]
    assert Decimal(pcf["biogenicCO2Uptake"]) == footprint.biogenic_co2_uptake
    assert Decimal(pcf["pcfExcludingBiogenicUptake"]) == total


def test_uptake_weighs_nothing_in_the_dqr_and_primary_data_share(engine, write_model):
    document = widget(emissions=[
        {"substance": "co2_fossil", "amount": 100, "unit": "kg"},  # primary, DQR 1
        {"substance": "co2_uptake", "amount": 300, "unit": "kg", "source": "secondary",
         "dqr": {"technological": 5, "geographical": 5, "temporal": 5}}])
    [footprint] = engine.compute(load_model(write_model(document)))
    assert footprint.dqi.technological_dqr == 1 and footprint.dqi.temporal_dqr == 1  # the DQR-5 uptake is not weighed
    assert footprint.primary_data_share == 100
    assert [c.label for c in footprint.computed.contributions] == ["press: co2_fossil"]


# --- energy supply upstream: its own stage, cited, in the boundary by default, switchable, in the PACT totals


def test_energy_upstream_is_a_cited_stage_in_the_pcf_and_can_be_left_out(engine, write_model):
    lines = {"fuels": [{"fuel": "natural_gas", "amount": 10, "unit": "GJ"}],
             "electricity": [{"grid": "CN-EAST", "amount": 1000, "unit": "kWh"}]}
    [inside] = engine.compute(load_model(write_model(widget(**lines), "in.yaml")))
    [outside] = engine.compute(load_model(write_model(dict(widget(**lines), boundary={"energy_upstream": False}),
                                                      "out.yaml")))
    upstream = (10 * NG_WTT + 1000 * CN_EAST_UPSTREAM) / 1000
    assert close(inside.computed.by_stage["energy_upstream"], upstream, 2e-6)  # two lines, each in single precision
    assert close(inside.pcf_excluding_biogenic_uptake, (10 * NG_COMBUSTION + 1000 * CN_RESIDUAL) / 1000 + upstream, 1e-5)
    assert close(outside.pcf_excluding_biogenic_uptake, (10 * NG_COMBUSTION + 1000 * CN_RESIDUAL) / 1000)
    assert outside.computed.by_stage["energy_upstream"] == 0
    assert "DESNZ" in inside.computed.sources["fuel_upstream:natural_gas"]
    assert "China Electricity Council" in inside.computed.sources["grid_upstream:CN-EAST"]
    assert "Energy supply upstream included" in inside.boundary_processes_description
    assert "excluded" in outside.boundary_processes_description and not outside.computed.sources.get(
        "fuel_upstream:natural_gas")
    assert Decimal(to_v3(inside)["pcf"]["pcfExcludingBiogenicUptake"]) == inside.pcf_excluding_biogenic_uptake


def test_every_bundled_fuel_and_grid_has_a_cited_upstream_factor():
    from lca_models.background import catalogue, fuel_properties

    datasets = catalogue()
    for fuel in fuel_properties():
        upstream = datasets[f"fuel_upstream:{fuel}"]
        assert upstream.source.strip(), fuel
    for dataset_id in datasets:
        if dataset_id.startswith("grid:") and dataset_id != "grid:RENEWABLE-CERT":
            assert datasets[f"grid_upstream:{dataset_id[5:]}"].source.strip(), dataset_id
    # the conversion of a DESNZ factor per kWh (Net CV) to our per-GJ unit, by hand
    assert datasets["fuel_upstream:diesel"].exchanges == (("co2e_fossil", Decimal("17.4750")),)


# --- residual mix on uncovered kWh only (GHG Protocol Scope 2 Guidance, Ch. 6)


def test_residual_mix_applies_to_uncovered_kwh_only_and_the_grid_average_where_none_is_bundled(engine, write_model):
    document = widget(electricity=[
        {"grid": "CN-EAST", "amount": 1000, "unit": "kWh", "instruments": [
            {"type": "green_certificate", "amount": 300, "unit": "kWh"}, {"type": "onsite_pv", "amount": 100, "unit": "kWh"}]},
        {"grid": "BR", "amount": 500, "unit": "kWh"}])
    [footprint] = engine.compute(load_model(write_model(document)))
    e = footprint.computed.electricity
    assert close(e.market_based_kgco2e, (600 * CN_RESIDUAL + 500 * BR) / 1000)
    assert close(e.location_based_kgco2e, (900 * CN_EAST + 500 * BR) / 1000)
    assert e.market_basis == ("BR: uncovered kWh at the grid average (no residual mix is bundled for this grid)",
                              "CN-EAST: uncovered kWh at the residual mix (residual:CN-EAST)")
    assert close(footprint.computed.by_stage["electricity"], e.market_based_kgco2e)


# --- declared cut-offs


def test_declared_cut_offs_become_exempted_emissions_and_pacts_limit_is_enforced(engine, write_model, tmp_path):
    cut_offs = [{"what": "maintenance chemicals", "why": "below 0.1 kg per t, no data", "share": 1.5},
                {"what": "office and canteen", "why": "not attributable", "share": 2}]
    document = dict(widget(emissions=[{"substance": "co2_fossil", "amount": 100, "unit": "kg"}]), exclusions=cut_offs)
    [footprint] = engine.compute(load_model(write_model(document)))
    assert footprint.exempted_emissions_percent == Decimal("3.5")
    assert footprint.exempted_emissions_description == ("maintenance chemicals: below 0.1 kg per t, no data (~1.5 %); "
                                                        "office and canteen: not attributable (~2 %)")
    pcf = to_v3(footprint)["pcf"]
    assert pcf["exemptedEmissionsPercent"] == "3.5" and pcf["exemptedEmissionsDescription"].startswith("maintenance")
    over = dict(document, exclusions=cut_offs + [{"what": "spare parts", "why": "no data", "share": 2}])
    path = write_model(over, "over.yaml")
    runner = CliRunner()
    result = runner.invoke(main, ["compute", str(path), "--format", "pact-v3", "-o", str(tmp_path / "o.json"),
                                  "--data-dir", str(tmp_path / "bw")])
    assert result.exit_code == 1 and not (tmp_path / "o.json").exists()
    assert "5.5 % of the PCF; PACT allows at most 5 %" in result.output and "Traceback" not in result.output
    result = runner.invoke(main, ["compute", str(path), "--json", str(tmp_path / "o.json"), "--data-dir", str(tmp_path / "bw")])
    assert result.exit_code == 0 and json.loads((tmp_path / "o.json").read_text())[0]["exempted_emissions_percent"] == "5.5"


def test_bad_cut_offs_are_model_errors(write_model):
    document = dict(widget(), exclusions=[{"what": "x", "why": "y", "share": 120},
                                          {"what": "x", "why": "y", "share": 60, "products": ["gadget"]}])
    with pytest.raises(ModelError) as error:
        load_model(write_model(document))
    assert "exclusions[0].share: a share of the PCF in %, 0 to 100" in str(error.value)
    document["exclusions"] = [{"what": "a", "why": "b", "share": 60}, {"what": "c", "why": "d", "share": 50},
                              {"what": "e", "why": "f", "share": 1, "products": ["gadget"]}]
    with pytest.raises(ModelError) as error:
        load_model(write_model(document))
    assert "exclusions[2].products[0]: 'gadget' is no product of the model" in str(error.value)
    assert "the cut-offs of 'widget' add up to 110 %, more than its whole PCF" in str(error.value)


# --- supplier data quality and GWP sets


def test_supplier_dqr_and_primary_share_are_weighted_by_contribution(engine, write_model, tmp_path):
    dqi = {"technologicalDQR": "3", "geographicalDQR": "4", "temporalDQR": "5"}
    (tmp_path / "steel.json").write_text(json.dumps(supplier_document("2.5", dqi=dqi)), encoding="utf-8")
    lines = {"emissions": [{"substance": "co2_fossil", "amount": 300, "unit": "kg"}],  # 0.3 per kg, primary, DQR 1
             "inputs": [{"supplier": "steel.json", "amount": 400, "unit": "kg"}]}  # 0.4 kg x 0.25 = 0.1 per kg
    [footprint] = engine.compute(load_model(write_model(widget(**lines))))
    assert close(footprint.dqi.technological_dqr, (Decimal("0.3") * 1 + Decimal("0.1") * 3) / Decimal("0.4"), 1e-3)
    assert close(footprint.dqi.geographical_dqr, (Decimal("0.3") + Decimal("0.4")) / Decimal("0.4"), 1e-3)
    assert close(footprint.dqi.temporal_dqr, (Decimal("0.3") + Decimal("0.5")) / Decimal("0.4"), 1e-3)
    assert close(footprint.primary_data_share, 100 * (Decimal("0.3") + Decimal("0.1") * Decimal("0.4")) / Decimal("0.4"),
                 1e-3)
    # a DQR stated in the model for the line is the buyer's own judgement of the supplier's data: it wins
    lines["inputs"][0]["dqr"] = {"technological": 2, "geographical": 2, "temporal": 2}
    [judged] = engine.compute(load_model(write_model(widget(**lines), "judged.yaml")))
    assert close(judged.dqi.technological_dqr, (Decimal("0.3") + Decimal("0.2")) / Decimal("0.4"), 1e-3)


def test_a_v2_supplier_footprint_brings_its_dqr_on_the_v3_scale(engine, write_model, tmp_path):
    document = json.loads((resources.files("tests") / "fixtures/pact/v2/examples/get-footprint-response.json").read_text())
    (tmp_path / "ethanol.json").write_text(json.dumps(document["data"]), encoding="utf-8")
    lines = {"emissions": [{"substance": "co2_fossil", "amount": 370, "unit": "kg"}],
             "inputs": [{"supplier": "ethanol.json", "amount": 1000, "unit": "L"}]}
    [footprint] = engine.compute(load_model(write_model(widget(**lines))))
    # 1.63 kgCO2e per litre (v2 pCfExcludingBiogenic), technologicalDQR 1.6 on v2's 1-3 scale = 2.2 on v3's 1-5
    assert close(footprint.pcf_excluding_biogenic_uptake, Decimal("0.37") + Decimal("1.63"))
    # DQRs carry 3 significant digits: 1.978 is reported as 1.98
    assert footprint.dqi.technological_dqr == Decimal("1.98")
    assert close(footprint.primary_data_share, 100 * (Decimal("0.37") + Decimal("1.63") * Decimal("0.129")) / 2, 1e-3)
    assert close(footprint.biogenic_co2_uptake, Decimal("-1.5"))  # apart, not netted into any breakdown


def test_a_supplier_footprint_on_another_gwp_set_is_refused_unless_it_can_be_recharacterised(engine, write_model,
                                                                                           tmp_path):
    (tmp_path / "ar5.json").write_text(json.dumps(supplier_document("2.5", gwp="AR5")), encoding="utf-8")
    lines = {"inputs": [{"supplier": "ar5.json", "amount": 400, "unit": "kg", "label": "coil from mill"}]}
    with pytest.raises(ModelError, match=r"supplier input 'coil from mill'.*IPCC AR5 GWP100, the model with AR6"):
        engine.compute(load_model(write_model(widget(**lines))))
    # a supplier that computed with this toolkit under AR5 sends its by-gas breakdown: 10 kg fossil CH4 per kg
    supplier_model = model_document([{"id": "digester", "outputs": [{"flow": "gas_part", "amount": 1, "unit": "kg"}],
                                      "emissions": [{"substance": "ch4_fossil", "amount": 10, "unit": "kg"}]}],
                                    [product("gas_part")], gwp="AR5")
    [supplied] = engine.compute(load_model(write_model(supplier_model, "supplier.yaml")))
    assert close(supplied.pcf_excluding_biogenic_uptake, 10 * GWP_AR5_CH4)
    (tmp_path / "by_gas.json").write_text(json.dumps(to_v3(supplied)), encoding="utf-8")
    [footprint] = engine.compute(load_model(write_model(
        widget(inputs=[{"supplier": "by_gas.json", "amount": 1000, "unit": "kg"}]), "buyer.yaml")))
    assert close(footprint.pcf_excluding_biogenic_uptake, 10 * GWP["CH4"])  # 298 kgCO2e per kg under AR6


# --- mobile combustion and measured fuel properties


def test_mobile_fuels_take_road_transport_factors_and_measured_properties_override_the_defaults(engine, write_model):
    document = widget(fuels=[
        {"fuel": "diesel", "amount": 10, "unit": "GJ", "category": "mobile"},
        {"fuel": "hard_coal", "amount": 100, "unit": "t",
         "properties": {"ncv_gj_per_t": 24, "carbon_kg_per_gj": 26, "oxidation": "0.98"}}])
    model = load_model(write_model(document))
    [footprint] = engine.compute(model)
    # IPCC 2006 Table 3.2.2 (gas/diesel oil): CH4 3.9, N2O 3.9 kg/TJ; CO2 74,100 kg/TJ
    diesel = 10 * ((Decimal(74100) + Decimal("3.9") * GWP["CH4"] + Decimal("3.9") * GWP["N2O"]) / 1000 + DIESEL_WTT)
    # 100 t x 24 GJ/t = 2,400 GJ; CO2 = 2,400 x 26 x 0.98 x 44/12; CH4 and N2O stay IPCC's (10 and 1.5 kg/TJ)
    coal_co2 = 2400 * 26 * Decimal("0.98") * 44 / 12
    coal = coal_co2 + Decimal("2.4") * (10 * GWP["CH4"] + Decimal("1.5") * GWP["N2O"]) + 2400 * COAL_WTT
    assert close(footprint.pcf_excluding_biogenic_uptake, (diesel + coal) / 1000)
    inventory = build_inventory(model)
    assert abs(inventory.scope1_by_gas["CO2"] - (10 * Decimal("74.1") + coal_co2) / 1000) < Decimal("1e-9")
    assert inventory.energy.fuels_gj == {"diesel": 10, "hard_coal": 2400}


@pytest.mark.parametrize("fuel, fragment", [
    ({"fuel": "hard_coal", "amount": 1, "unit": "t", "properties": {"oxidation": "1.2"}},
     "fuels[0].properties.oxidation: the oxidation factor is a fraction: > 0 and <= 1"),
    ({"fuel": "hard_coal", "amount": 1, "unit": "t", "properties": {"carbon_kg_per_gj": "0.0258"}},
     "fuels[0].properties.carbon_kg_per_gj: carbon content is kg C per GJ NCV"),
    ({"fuel": "hard_coal", "amount": 1, "unit": "GJ", "properties": {"ncv_gj_per_t": 25}},
     "fuels[0].properties.ncv_gj_per_t: the amount is already energy (GJ)"),
    ({"fuel": "hard_coal", "amount": 1, "unit": "GJ", "category": "mobile"},
     "fuels[0].category: no road-transport CH4/N2O factors for 'hard_coal'"),
])
def test_bad_fuel_lines_are_clear_model_errors(write_model, fuel, fragment):
    with pytest.raises(ModelError) as error:
        load_model(write_model(widget(fuels=[fuel])))
    assert fragment in str(error.value)


# --- the reference period, both ways


def test_reference_period_is_inclusive_in_the_model_and_report_and_exclusive_in_pact(engine, write_model):
    [footprint] = engine.compute(load_model(write_model(widget(emissions=[
        {"substance": "co2_fossil", "amount": 1, "unit": "kg"}]))))  # reference_period: 2025-01-01 to 2025-12-31
    assert footprint.reference_period_end == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert footprint.reference_period_last_day == date(2025, 12, 31)
    document = to_v3(footprint)
    assert document["pcf"]["referencePeriodEnd"] == "2026-01-01T00:00:00Z"
    back = from_v3(document).footprint
    assert back.reference_period_last_day == date(2025, 12, 31)
    assert "January 1, 2025 to December 31, 2025 (last day included)" in render_report([back])  # dates per locale (Babel)
    # a supplier's document ending 2025-01-01T00:00:00Z (exclusive) covers 2024 only
    supplier = from_v3(supplier_document("1")).footprint
    assert supplier.reference_period_last_day == date(2024, 12, 31)

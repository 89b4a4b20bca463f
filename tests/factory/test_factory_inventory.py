"""The plant inventory against hand computations, its conservation against the engine, offsets, assessment."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import yaml
from click.testing import CliRunner

from lca_models.errors import ModelError
from lca_models.footprint import Offset
from lca_models.model_schema import load_model
from pcf.cli import main
from pcf.factory.assess import assess, assessment_html, load_criteria, to_json
from pcf.factory.inventory import build_inventory, conservation
from pcf.factory.offsets import OffsetRegistry
from tests.support.models import model_document, product

REL = Decimal("1e-9")  # the inventory is exact Decimal arithmetic on the cited rows
ENGINE_REL = 1e-6  # Brightway keeps single precision

# Literature values used by hand below:
# IPCC 2006 GL Vol. 2 Ch. 1 Table 1.4 (CO2) and Ch. 2 Table 2.3 (CH4, N2O, manufacturing industries), kg/TJ
NG = {"CO2": Decimal(56100), "CH4": Decimal(1), "N2O": Decimal("0.1")}
# the same CO2 (Table 3.2.1); CH4 and N2O of road transport, IPCC 2006 Vol. 2 Ch. 3 Table 3.2.2 row Gas/Diesel Oil
DIESEL_MOBILE = {"CO2": Decimal(74100), "CH4": Decimal("3.9"), "N2O": Decimal("3.9")}
# IPCC AR6 WG1 Table 7.15 / 7.SM.7 GWP100
GWP = {"CO2": Decimal(1), "CH4": Decimal("29.8"), "N2O": Decimal(273), "HFC-134a": Decimal(1530)}
CN_EAST = Decimal("0.5500")  # kgCO2/kWh, MEE & NBS 2023 East China grid average
CN_RESIDUAL = Decimal("0.6096")  # kgCO2/kWh, MEE & NBS 2023 national factor without market-traded non-fossil power
# energy supply upstream: DESNZ 2025 WTT- fuels per kWh (Net CV) x 1000/3.6 kWh per GJ
NG_WTT = Decimal("0.03347") * 1000 / Decimal("3.6")
DIESEL_WTT = Decimal("0.06291") * 1000 / Decimal("3.6")
# CN-EAST upstream per kWh consumed: generation upstream 0.17 x 0.55 (0.09350) and 4.54 % line loss (CEC 2023)
LOSS = Decimal("0.0454")
CN_EAST_UPSTREAM = (Decimal("0.09350") + CN_EAST * LOSS) / (1 - LOSS)
STEEL_SCRAP = Decimal("0.03")  # kgCO2e/kg, bundled background.csv row material:steel_scrap
TRUCK = Decimal("0.090")  # kgCO2e/t*km, GLEC Framework v3.0 row transport:truck


def near(actual: Decimal, expected: Decimal, rel: Decimal = REL) -> bool:
    return abs(actual - expected) <= rel * abs(expected)


def plant_document(**extra) -> dict:
    process = {
        "id": "works",
        "outputs": [{"flow": "widget", "amount": 2000, "unit": "t"}],
        "fuels": [{"fuel": "natural_gas", "amount": 1000, "unit": "GJ"},
                  {"fuel": "diesel", "amount": 100, "unit": "GJ", "category": "mobile"}],
        "emissions": [{"substance": "co2_fossil", "amount": 500, "unit": "t"},
                      {"substance": "hfc_134a", "amount": 10, "unit": "kg", "category": "fugitive"}],
        "electricity": [{"grid": "CN-EAST", "amount": 1000, "unit": "MWh", "instruments": [
            {"type": "onsite_pv", "amount": 100, "unit": "MWh"},
            {"type": "ppa", "amount": 200, "unit": "MWh"},
            {"type": "green_certificate", "amount": 300, "unit": "MWh", "scheme": "GEC"},
            {"type": "green_certificate", "amount": 100, "unit": "MWh", "scheme": "I-REC"}]}],
        "inputs": [{"dataset": "material:steel_scrap", "amount": 100, "unit": "t"}],
        "transport": [{"mode": "truck", "amount": 1000, "unit": "t*km"}],
    }
    return model_document([process], [product("widget")], **extra)


def test_inventory_by_scope_source_and_gas_by_hand(write_model):
    inventory = build_inventory(load_model(write_model(plant_document())))
    # 1 TJ natural gas (stationary), 0.1 TJ diesel (mobile, road-transport factors): kg/TJ x TJ x GWP, in tonnes
    ng = sum(NG[g] * GWP[g] for g in NG) / 1000
    diesel = Decimal("0.1") * sum(DIESEL_MOBILE[g] * GWP[g] for g in DIESEL_MOBILE) / 1000
    fugitive = 10 * GWP["HFC-134a"] / 1000
    assert near(inventory.scope1_by_category["stationary_combustion"], ng)
    assert near(inventory.scope1_by_category["mobile_combustion"], diesel)
    assert inventory.scope1_by_category["process"] == 500
    assert near(inventory.scope1_by_category["fugitive"], fugitive)
    assert near(inventory.scope1, ng + diesel + 500 + fugitive)
    assert near(inventory.scope1_by_gas["CO2"], (NG["CO2"] + Decimal("0.1") * DIESEL_MOBILE["CO2"]) / 1000 + 500)
    assert near(inventory.scope1_by_gas["CH4"], (NG["CH4"] + Decimal("0.1") * DIESEL_MOBILE["CH4"]) * GWP["CH4"] / 1000)
    assert near(inventory.scope1_by_gas["N2O"], (NG["N2O"] + Decimal("0.1") * DIESEL_MOBILE["N2O"]) * GWP["N2O"] / 1000)
    assert near(inventory.scope1_by_gas["HFC-134a"], fugitive)
    # Scope 2: 1000 MWh less 100 MWh on-site PV from the grid; PPA + certificates (600 MWh) at zero market-based and
    # the 300 MWh no instrument covers at China's residual mix, never the grid average
    assert near(inventory.scope2_location_based, 900_000 * CN_EAST / 1000)
    assert near(inventory.scope2_market_based, 300_000 * CN_RESIDUAL / 1000)
    # Scope 3: 100 t scrap (category 1), 1000 t*km by truck (category 4), and category 3: the fuels' well-to-tank
    # and the upstream and losses of all 900 MWh drawn from the grid
    assert near(inventory.scope3_by_category["1_purchased_goods"], 100_000 * STEEL_SCRAP / 1000)
    assert near(inventory.scope3_by_category["4_upstream_transport"], 1000 * TRUCK / 1000)
    assert near(inventory.scope3_by_category["3_fuel_and_energy"],
                (1000 * NG_WTT + 100 * DIESEL_WTT + 900_000 * CN_EAST_UPSTREAM) / 1000, Decimal("1e-6"))


def test_energy_balance_and_renewable_share_by_instrument(write_model):
    energy = build_inventory(load_model(write_model(plant_document()))).energy
    assert energy.electricity_kwh == 1_000_000
    assert energy.electricity_by_source_kwh == {"onsite_pv": 100_000, "ppa": 200_000, "green_certificate": 400_000,
                                                "grid": 300_000}
    assert energy.certificates_by_scheme_kwh == {"GEC": 300_000, "I-REC": 100_000}
    assert energy.renewable_electricity_share == Decimal("0.7")  # (100 + 200 + 400) / 1000 MWh
    assert energy.fuels_gj == {"diesel": 100, "natural_gas": 1000}
    assert energy.total_gj == 1100 + 3600  # 1,000,000 kWh x 3.6 MJ


def conservation_document(**extra) -> dict:
    """Two products from a rolling mill by mass allocation, home scrap looped back to the smelter."""
    processes = [
        {"id": "smelter", "outputs": [{"flow": "ingot", "amount": 1000, "unit": "t"}],
         "inputs": [{"flow": "home_scrap", "amount": 100, "unit": "t"},
                    {"dataset": "material:aluminium_primary", "amount": 920, "unit": "t"}],
         "fuels": [{"fuel": "natural_gas", "amount": 5000, "unit": "GJ"}],
         "emissions": [{"substance": "co2_fossil", "amount": 200, "unit": "t"}],
         "electricity": [{"grid": "CN-EAST", "amount": 2, "unit": "GWh",
                          "instruments": [{"type": "green_certificate", "amount": 0.5, "unit": "GWh"}]}]},
        {"id": "rolling", "allocation": {"method": "mass"},
         "outputs": [{"flow": "sheet", "amount": 700, "unit": "t"}, {"flow": "foil", "amount": 200, "unit": "t"},
                     {"flow": "home_scrap", "amount": 100, "unit": "t"}],
         "inputs": [{"flow": "ingot", "amount": 1000, "unit": "t"}],
         "fuels": [{"fuel": "diesel", "amount": 300, "unit": "GJ", "category": "mobile"}],
         "emissions": [{"substance": "ch4_fossil", "amount": 1, "unit": "t", "category": "fugitive"}],
         "electricity": [{"grid": "CN-EAST", "amount": 1, "unit": "GWh",
                          "instruments": [{"type": "onsite_pv", "amount": 0.1, "unit": "GWh"}]}]},
    ]
    products = [product("sheet"), product("foil", declared_unit_amount=10, mass="10")]
    return model_document(processes, products, **extra)


def test_conservation_products_carry_the_plant_scope_1_and_2(engine, write_model):
    model = load_model(write_model(conservation_document()))
    inventory = build_inventory(model)
    footprints = engine.compute(model)
    assert [o.declared_units for o in inventory.outputs] == [700_000, 20_000]  # kg of sheet, 10-kg units of foil
    check = conservation(inventory, footprints)
    assert check.unassigned_outputs == ()
    assert check.relative_difference < ENGINE_REL
    # the same with location-based electricity on both sides
    attributed = sum(
        (sum((c.kgco2e for c in f.computed.contributions if c.kind == "process"), Decimal(0))
         + f.computed.electricity.location_based_kgco2e) * o.declared_units / 1000
        for f, o in zip(footprints, inventory.outputs))
    plant = inventory.scope1 + inventory.scope2_location_based
    assert abs(float(attributed - plant)) < ENGINE_REL * float(plant)


def test_conservation_names_flows_leaving_the_plant_that_are_no_product(engine, write_model):
    document = conservation_document()
    document["products"] = [product("sheet")]
    model = load_model(write_model(document))
    check = conservation(build_inventory(model), engine.compute(model))
    assert check.unassigned_outputs == ("foil",)
    assert check.attributed < check.plant


OFFSET = {"scheme": "CCER", "serial_range": "CCER-X-2025-0000001-0001000", "vintage": 2024, "tonnes": 1000,
          "retired_on": "2026-01-15"}


def test_offsets_change_neither_inventory_nor_pcf(engine, write_model):
    bare = load_model(write_model(conservation_document(), "bare.yaml"))
    offset = load_model(write_model(conservation_document(offsets=[OFFSET]), "offset.yaml"))
    a, b = build_inventory(bare), build_inventory(offset)
    for field in ("scope1_by_category", "scope1_by_gas", "scope2_location_based", "scope2_market_based",
                  "scope3_by_category", "energy", "outputs"):
        assert getattr(a, field) == getattr(b, field), field
    assert a.residual_emissions == b.residual_emissions
    assert (a.offsets_t, b.offsets_t) == (0, 1000)
    pcf_a = [f.pcf_excluding_biogenic_uptake for f in engine.compute(bare)]
    pcf_b = [f.pcf_excluding_biogenic_uptake for f in engine.compute(offset)]
    assert pcf_a == pcf_b


def test_overlapping_serial_ranges_in_one_model_are_refused(write_model):
    overlapping = dict(OFFSET, serial_range="CCER-X-2025-0000900-0002000")
    model = load_model(write_model(conservation_document(offsets=[OFFSET, overlapping])))
    with pytest.raises(ModelError, match="double use of carbon credits refused: CCER CCER-X-2025-0000001-0001000 "
                                         "overlaps CCER-X-2025-0000900-0002000"):
        build_inventory(model)


def test_registry_refuses_a_serial_range_used_before(tmp_path):
    registry = OffsetRegistry(tmp_path / "offsets.json")
    lot = Offset("VCS", "VCS-123-2024-1-500", 2024, Decimal(500), "2026-02-01")
    assert len(registry.record("Plant A", "2025-01-01/2025-12-31", (lot,))) == 1
    assert registry.record("Plant A", "2025-01-01/2025-12-31", (lot,)) == []  # the same lot again: not double use
    before = registry.path.read_bytes()
    again = Offset("VCS", "VCS-123-2024-400-900", 2024, Decimal(500), "2026-03-01")
    with pytest.raises(ModelError, match="overlaps VCS-123-2024-1-500, already used by Plant A for 2025-01-01/2025-12-31"):
        registry.record("Plant B", "2025-01-01/2025-12-31", (again,))
    assert registry.path.read_bytes() == before
    other_scheme = Offset("Gold Standard", "VCS-123-2024-1-500", 2024, Decimal(500), "2026-03-01")
    assert len(registry.record("Plant B", "2025-01-01/2025-12-31", (other_scheme,))) == 1


def test_model_format_categories_default_and_are_validated(write_model):
    model = load_model(write_model(plant_document()))
    assert [f.category for f in model.processes[0].fuels] == ["stationary", "mobile"]
    assert [e.category for e in model.processes[0].emissions] == ["process", "fugitive"]
    document = plant_document()
    document["processes"][0]["fuels"][0]["category"] = "flying"
    document["processes"][0]["electricity"][0]["meter"] = "M1"
    document["processes"][0]["fuels"][1]["meter"] = "M1"
    with pytest.raises(ModelError) as error:
        load_model(write_model(document))
    assert "processes[0].fuels[0].category: Must be one of: stationary, mobile." in str(error.value)
    document["processes"][0]["fuels"][0]["category"] = "stationary"
    with pytest.raises(ModelError, match=r"processes\[0\].fuels\[1\].meter: meter 'M1' already feeds "
                                         r"processes\[0\].electricity\[0\]"):
        load_model(write_model(document))


def criteria_file(tmp_path, criteria: list[dict], name: str = "test <criteria>"):
    path = tmp_path / "criteria.yaml"
    path.write_text(yaml.safe_dump({"name": name, "criteria": criteria}), encoding="utf-8")
    return path


def test_assessment_status_and_gaps_by_hand(write_model, tmp_path):
    inventory = build_inventory(load_model(write_model(plant_document(offsets=[OFFSET]))))
    criteria = load_criteria(criteria_file(tmp_path, [
        {"indicator": "renewable_electricity_share", "min": 60, "unit": "%", "source": "test"},
        {"indicator": "emission_intensity", "max": "0.1", "unit": "tCO2e/t", "source": "test", "illustrative": True},
        {"indicator": "energy_intensity", "max": 5, "unit": "GJ/t", "source": "test"},
        {"indicator": "offset_coverage", "min": 100, "unit": "%", "source": "test"},
        {"indicator": "residual_emissions", "unit": "tCO2e", "source": "reported"},
    ]))
    result = assess(inventory, criteria)
    by = {r.indicator: r for r in result.results}
    assert by["renewable_electricity_share"].value == 70 and by["renewable_electricity_share"].status == "met"
    residual = inventory.scope1 + 300_000 * CN_RESIDUAL / 1000  # Scope 1 + market-based Scope 2
    assert near(by["emission_intensity"].value, residual / 2000)  # 2000 t of widgets
    assert by["emission_intensity"].status == "not met"
    assert near(by["emission_intensity"].gap, residual / 2000 - Decimal("0.1"))
    assert by["energy_intensity"].value == Decimal(4700) / 2000 and by["energy_intensity"].status == "met"
    assert near(by["offset_coverage"].value, 1000 / residual * 100) and by["offset_coverage"].status == "met"
    assert by["residual_emissions"].status == "reported"
    assert [r.indicator for r in result.gaps] == ["emission_intensity"]
    document = to_json(result)
    assert document["gaps"] == ["emission_intensity"] and document["all_met"] is False
    fragment = assessment_html(result)
    assert "test &lt;criteria&gt;" in fragment and "<criteria>" not in fragment


def test_bundled_criteria_cite_or_flag_every_threshold():
    criteria = load_criteria()
    for criterion in criteria.criteria:
        assert criterion.source
        if criterion.min is not None or criterion.max is not None:
            assert criterion.illustrative or "illustrative" not in criterion.source
            assert criterion.illustrative or "(" in criterion.source  # a cited source names its document


def test_bad_criteria_file_lists_every_problem(tmp_path):
    path = criteria_file(tmp_path, [{"indicator": "happiness", "min": 1, "unit": "%", "source": "x"},
                                    {"indicator": "energy_intensity", "min": 1, "max": 2, "unit": "kWh/t", "source": "x"}])
    with pytest.raises(ModelError) as error:
        load_criteria(path)
    message = str(error.value)
    assert f"{path}: criteria[0].indicator: Must be one of" in message
    assert f"{path}: criteria[1]: give min or max, not both" in message
    assert f"{path}: criteria[1].unit: energy_intensity is measured in GJ/t" in message


def test_cli_inventory_json_and_registry(write_model, tmp_path):
    path = write_model(plant_document(offsets=[OFFSET]))
    runner = CliRunner()
    out, registry = tmp_path / "inventory.json", tmp_path / "registry.json"
    result = runner.invoke(main, ["factory", "inventory", str(path), "--json", str(out), "--registry", str(registry),
                                  "--data-dir", str(tmp_path / "bw")])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert Decimal(document["scope2"]["market_based"]) == 300_000 * CN_RESIDUAL / 1000
    assert document["offsets"]["total_t"] == "1000"
    assert float(document["conservation"]["relative_difference"]) < ENGINE_REL
    # a second plant claiming the same credits is refused, with a clear line and no traceback
    other = write_model(dict(plant_document(offsets=[OFFSET]), company={"name": "Other Ltd",
                                                                        "ids": ["urn:pact:company:other"]}), "other.yaml")
    result = runner.invoke(main, ["factory", "inventory", str(other), "--registry", str(registry),
                                  "--data-dir", str(tmp_path / "bw")])
    assert result.exit_code == 1
    assert "error:" in result.output and "already used by Test Works Ltd" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_missing_model_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["factory", "assess", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "file not found" in result.output

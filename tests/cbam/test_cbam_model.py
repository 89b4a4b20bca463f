"""CBAM SEE from the product model (pcf/cbam/from_model.py): the factory model that gives the PCF gives the SEE.

Hand-checked figures use the literature values they come from:
- natural gas 56.1 tCO2/TJ (IPCC 2006 Guidelines Vol. 2 Ch. 1 Table 1.4), hard coal 94.6 tCO2/TJ at 25.8 GJ/t
  (Table 1.4 and Table 1.2);
- North China grid 0.6361 tCO2/MWh (MEE & NBS, 2023 electricity CO2 emission factors, regional average);
- agglomerated iron ore (CN 2601 12 00) produced in China: default value direct 0.2, indirect 0.06 tCO2e/t
  (IR (EU) 2025/2621 Annex I, sheet 'China');
- GWP N2O 265, CF4 6630 (IR (EU) 2025/2547 Annex II G Table 6).
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from lca_models.errors import ModelError, ModelErrors
from lca_models.model_schema import load_model
from pcf.cbam.from_model import installation_from_model
from pcf.cbam.see import compute_see
from pcf.cli import main
from tests.support.models import model_document, product

NG_T_PER_GJ = 0.0561
COAL_T_PER_T = 25.8 * 0.0946
GRID_NORTH = 0.6361
PELLETS_DIRECT, PELLETS_INDIRECT = 0.2, 0.06


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cbam-model-data")


def two_process_model() -> dict:
    """Pig iron -> crude steel, with a shared unmarked oxygen plant, purchased pellets and a scrap co-product."""
    iron = {
        "id": "iron", "cbam": {"goods_category": "Pig iron", "route": "Blast furnace route"},
        "outputs": [{"flow": "hot_metal", "amount": 1000, "unit": "t"}],
        "inputs": [
            {"dataset": "material:iron_ore_pellets", "amount": 500, "unit": "t", "label": "pellets",
             "cbam_precursor": {"cn_code": "26011200", "country": "CN"}},
            {"dataset": "material:coke", "amount": 300, "unit": "t"},  # not a CBAM good: no embedded emissions
            {"flow": "oxygen", "amount": 80, "unit": "t"},
            {"flow": "home_scrap", "amount": 20, "unit": "t"},  # the steel process's co-product: zero
        ],
        "fuels": [{"fuel": "natural_gas", "amount": 10000, "unit": "GJ"}],
        "emissions": [{"substance": "co2_fossil", "amount": 1200, "unit": "t"},
                      {"substance": "ch4_fossil", "amount": 1, "unit": "t"},  # CH4: not a CBAM gas
                      {"substance": "n2o", "amount": 0.1, "unit": "t"}],  # N2O: not covered for pig iron
        "electricity": [{"grid": "CN-NORTH", "amount": 50, "unit": "MWh"}],
    }
    oxygen = {"id": "oxygen_plant", "outputs": [{"flow": "oxygen", "amount": 100, "unit": "t"}],
              "electricity": [{"grid": "CN-NORTH", "amount": 40, "unit": "MWh"}]}
    steel = {
        "id": "steel", "cbam": {"goods_category": "Crude steel", "route": "Basic oxygen steelmaking"},
        "allocation": {"method": "mass"},
        "outputs": [{"flow": "crude_steel", "amount": 900, "unit": "t"}, {"flow": "home_scrap", "amount": 20, "unit": "t"}],
        "inputs": [{"flow": "hot_metal", "amount": 950, "unit": "t"}, {"flow": "oxygen", "amount": 20000, "unit": "kg"}],
        "emissions": [{"substance": "co2_fossil", "amount": 100, "unit": "t"}],
        "electricity": [{"grid": "CN-NORTH", "amount": 20000, "unit": "kWh"}],
    }
    return model_document([iron, oxygen, steel], [product("crude_steel", cn_code="72071111"),
                                                  product("hot_metal", cn_code="72011011")])


def test_two_process_model_gives_the_hand_computed_see(write_model, data_dir):
    installation = installation_from_model(load_model(write_model(two_process_model())))
    iron, steel = installation.processes
    assert (iron.name, iron.activity_level, steel.activity_level) == ("iron", 1000, 900)
    assert iron.precursors == {"pellets": 500} and steel.precursors == pytest.approx({"iron": 950})
    [pellets] = installation.purchased_precursors
    assert (pellets.cn_code, pellets.country, pellets.see_direct, pellets.goods_category) == \
        ("26011200", "CN", None, "Sintered Ore")
    result = compute_see(installation, data_dir)
    # iron: 10,000 GJ gas x 0.0561 + 1,200 t CO2 (CH4, N2O not counted) + 500 t pellets x 0.2
    iron_direct = (10000 * NG_T_PER_GJ + 1200 + 500 * PELLETS_DIRECT) / 1000
    # its 50 MWh, 80 of the oxygen plant's 100 t (so 80 % of its 40 MWh), and the pellets' 0.06
    iron_indirect = (50 * GRID_NORTH + 0.8 * 40 * GRID_NORTH + 500 * PELLETS_INDIRECT) / 1000
    # steel: 100 t CO2 + 950 t hot metal; its 20 MWh and 20 % of the oxygen plant's; home scrap carries nothing
    steel_direct = (100 + 950 * iron_direct) / 900
    steel_indirect = (20 * GRID_NORTH + 0.2 * 40 * GRID_NORTH + 950 * iron_indirect) / 900
    by_process = {see.process: see for see in result.processes}
    assert by_process["iron"].see_direct == pytest.approx(iron_direct, rel=1e-6)   # 1.861
    assert by_process["iron"].see_indirect == pytest.approx(iron_indirect, rel=1e-6)
    assert by_process["steel"].see_direct == pytest.approx(steel_direct, rel=1e-6)  # 2.0755
    assert by_process["steel"].see_indirect == pytest.approx(steel_indirect, rel=1e-6)
    assert by_process["steel"].see_total == pytest.approx(steel_direct + steel_indirect, rel=1e-6)
    assert by_process["iron"].default_share == pytest.approx(500 * PELLETS_DIRECT / 1000 / iron_direct, rel=1e-6)
    assert {(p.product.cn_code, p.see.process) for p in result.products} == {("72071111", "steel"), ("72011011", "iron")}


def test_the_steel_mill_gives_see_per_good_and_conserves_its_direct_emissions(data_dir):
    with resources.as_file(resources.files("lca_models").joinpath("examples", "steel_mill.yaml")) as path:
        model = load_model(path)
    result = compute_see(installation_from_model(model), data_dir)
    by_process = {see.process: see for see in result.processes}
    assert set(by_process) == {"sinter_plant", "blast_furnace", "bof", "hot_rolling"}
    [coil] = result.products
    assert (coil.product.cn_code, coil.see.process, coil.see.activity_level) == ("72083900", "hot_rolling", 940000)
    # every t of sinter, hot metal and crude steel ends up in the coil (home scrap carries nothing), so the
    # coil's direct SEE x AL is all the mill's direct CO2 plus the purchased pellets' default value
    direct_co2 = (226230 + 797500 + 145200                  # process CO2 of sinter plant, blast furnace, BOF (t)
                  + 135000 * COAL_T_PER_T                   # pulverised coal injection
                  + 1170000 * NG_T_PER_GJ                   # reheat furnace natural gas
                  + 250000 * PELLETS_DIRECT)
    assert coil.see.see_direct * 940000 == pytest.approx(direct_co2, rel=1e-6)
    mwh = 45000 + 80000 + 30000 + 105000  # certificates (30 GWh GEC) do not lower CBAM indirect emissions
    assert coil.see.see_indirect * 940000 == pytest.approx(mwh * GRID_NORTH + 250000 * PELLETS_INDIRECT, rel=1e-6)
    assert 0 < by_process["sinter_plant"].see_direct < by_process["blast_furnace"].see_direct


def test_the_product_model_goes_into_the_communication_template_and_back(tmp_path, data_dir):
    """`pcf cbam template` takes a product model too; re-importing the workbook gives the same SEE."""
    from exchange.cbam.template_import import import_template

    with resources.as_file(resources.files("lca_models").joinpath("examples", "steel_mill.yaml")) as path:
        installation = installation_from_model(load_model(path))
        result = CliRunner().invoke(main, ["cbam", "template", str(path), "-o", str(tmp_path / "mill.xlsx")])
    assert result.exit_code == 0, result.output
    before, after = compute_see(installation, data_dir), compute_see(import_template(tmp_path / "mill.xlsx"), data_dir)
    for ours, again in zip(before.processes, after.processes, strict=True):
        assert (again.process, again.see_direct, again.see_indirect) == \
            (ours.process, pytest.approx(ours.see_direct, rel=1e-6), pytest.approx(ours.see_indirect, rel=1e-6))


def test_cli_prints_the_table_for_a_product_model(write_model, data_dir):
    path = write_model(two_process_model())
    result = CliRunner().invoke(main, ["cbam", "see", str(path), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "72071111" in result.output and "Basic oxygen" in result.output and "2.075500" in result.output


def test_covered_gases_follow_the_goods_category(write_model):
    def direct(category: str, substance: str) -> float:
        process = {"id": "p", "cbam": {"goods_category": category}, "emissions": [
            {"substance": "co2_fossil", "amount": 1, "unit": "t"}, {"substance": substance, "amount": 1, "unit": "t"}],
            "outputs": [{"flow": "good", "amount": 10, "unit": "t"}]}
        document = model_document([process], [product("good")])
        return installation_from_model(load_model(write_model(document))).processes[0].direct_emissions
    assert direct("Nitric acid", "n2o") == pytest.approx(1 + 265)
    assert direct("Urea", "n2o") == pytest.approx(1)  # Annex I Table 1: urea, CO2 only
    assert direct("Aluminium products", "cf4") == pytest.approx(1 + 6630)
    assert direct("Cement clinker", "cf4") == pytest.approx(1)
    assert direct("Cement clinker", "ch4_fossil") == pytest.approx(1)


def test_a_precursor_from_the_union_counts_zero_and_a_supplier_see_is_used(write_model):
    document = model_document([{
        "id": "rolling", "cbam": {"goods_category": "Iron or steel products"},
        "outputs": [{"flow": "coil", "amount": 100, "unit": "t"}],
        "inputs": [{"dataset": "material:steel_eaf", "amount": 50, "unit": "t", "label": "slabs DE",
                    "cbam_precursor": {"cn_code": "72071111", "country": "DE"}},
                   {"dataset": "material:steel_bf_bof", "amount": 60, "unit": "t", "label": "slabs IN",
                    "cbam_precursor": {"cn_code": "72071111", "country": "IN", "see_direct": 2.1, "see_indirect": 0.3}}]}],
        [product("coil", cn_code="72083900")])
    installation = installation_from_model(load_model(write_model(document)))
    by_name = {p.name: p for p in installation.purchased_precursors}
    assert (by_name["slabs DE"].see_direct, by_name["slabs DE"].see_indirect) == (0.0, 0.0)
    assert (by_name["slabs IN"].see_direct, by_name["slabs IN"].see_indirect, by_name["slabs IN"].default_value) == \
        (2.1, 0.3, False)
    assert installation.processes[0].precursors == {"slabs DE": 50, "slabs IN": 60}


def errors_of(write_model, document) -> list[str]:
    with pytest.raises(ModelErrors) as caught:
        installation_from_model(load_model(write_model(document)))
    return [f"{e.path}: {e.reason}" for e in caught.value.errors]


def load_errors(write_model, document) -> list[str]:
    with pytest.raises(ModelErrors) as caught:
        load_model(write_model(document))
    return [f"{e.path}: {e.reason}" for e in caught.value.errors]


def test_invalid_markers_give_clear_errors(write_model):
    def process(**cbam):
        return {"id": "p", "cbam": cbam, "outputs": [{"flow": "good", "amount": 1, "unit": "t"},
                                                     {"flow": "gas", "amount": 5, "unit": "GJ", "price": 1}],
                "allocation": {"method": "economic"}}
    cases = [
        (process(goods_category="pig iron", route="Blast furnace route"),
         "processes[0].cbam.goods_category: unknown CBAM goods category 'pig iron' (did you mean 'Pig iron'"),
        (process(goods_category="Crude steel"),
         "processes[0].cbam.route: Crude steel has several production routes: give one of Basic oxygen steelmaking"),
        (process(goods_category="Crude steel", route="Electric arc"),
         ("processes[0].cbam.route: unknown production route 'Electric arc' for Crude steel (did you mean "
          "'Electric arc furnace'?)")),
        (process(goods_category="Cement", output="god"),
         "processes[0].cbam.output: 'god' is not an output of this process (did you mean 'good'?)"),
        (process(goods_category="Cement", output="gas"),
         "processes[0].cbam.output: the activity level of Cement is counted in tonnes: 'gas' is produced in GJ"),
        (process(goods_category="Cement", colour="grey"),
         "processes[0].cbam.colour: unknown field; the fields here are goods_category, output, route"),
    ]
    for bad, expected in cases:
        document = model_document([bad], [product("good")])
        assert any(e.startswith(expected) for e in load_errors(write_model, document)), (expected, bad)


def test_invalid_precursor_data_gives_clear_errors(write_model):
    def model(**precursor_input):
        return model_document([
            {"id": "maker", "outputs": [{"flow": "part", "amount": 1, "unit": "t"}]},
            {"id": "p", "cbam": {"goods_category": "Iron or steel products"},
             "outputs": [{"flow": "good", "amount": 1, "unit": "t"}], "inputs": [precursor_input]}], [product("good")])
    cases = [
        ({"flow": "part", "amount": 1, "unit": "t", "cbam_precursor": {"cn_code": "72071111", "country": "CN"}},
         "processes[1].inputs[0].cbam_precursor: cbam_precursor is for purchased inputs"),
        ({"dataset": "material:steel_eaf", "amount": 1, "unit": "t", "cbam_precursor": {"cn_code": "7207", "country": "China"}},
         "processes[1].inputs[0].cbam_precursor.country: ISO 3166-1 alpha-2"),
        ({"dataset": "material:steel_eaf", "amount": 1, "unit": "t", "cbam_precursor": {"cn_code": "72071111", "country": "CN",
                                                                                       "see_indirect": 0.1}},
         "processes[1].inputs[0].cbam_precursor.see_indirect: see_indirect needs see_direct"),
        ({"dataset": "material:steel_eaf", "amount": 1, "unit": "t", "cbam_precursor": {"cn_code": "72A", "country": "CN"}},
         "processes[1].inputs[0].cbam_precursor.cn_code: a CN code has 8 digits"),
        ({"dataset": "material:steel_eaf", "amount": 1, "unit": "t", "cbam_precursor": {"cn_code": "7207", "country": "CN"}},
         "processes[1].inputs[0].cbam_precursor.cn_code: a CN code has 8 digits"),
        ({"dataset": "material:steel_eaf", "amount": 1, "unit": "t", "cbam_out_of_scope": "test pieces",
          "cbam_precursor": {"cn_code": "72071111", "country": "CN"}},
         "processes[1].inputs[0].cbam_out_of_scope: an input is either a CBAM precursor or out of scope, not both"),
        ({"flow": "part", "amount": 1, "unit": "t", "cbam_out_of_scope": "made here"},
         "processes[1].inputs[0].cbam_out_of_scope: cbam_out_of_scope is for purchased inputs"),
    ]
    for item, expected in cases:
        assert any(e.startswith(expected) for e in load_errors(write_model, model(**item))), expected
    not_cbam = model(dataset="material:steel_eaf", amount=1, unit="t",
                     cbam_precursor={"cn_code": "73181500", "country": "CN"})
    assert errors_of(write_model, not_cbam) == [
        "processes[1].inputs[0].cbam_precursor.cn_code: CN code 73181500 falls under Annex I 7318 (Screws, bolts, nuts, "
        "coach screws, screw hooks, rivets, ...) but is neither in the communication template v2.1.1's CN list nor in "
        "IR 2025/2621's tables (did you mean 73181520, 73181535, 73181542?)"]
    xx = model(dataset="material:steel_eaf", amount=1, unit="t", cbam_precursor={"cn_code": "72071111", "country": "XX"})
    assert errors_of(write_model, xx) == ["processes[1].inputs[0].cbam_precursor.country: country 'XX' is not an ISO "
                                          "3166-1 alpha-2 country code (not assigned, or user-assigned)"]


def test_inputs_the_mapping_cannot_attribute_are_refused(write_model):
    document = model_document([
        {"id": "coke_oven", "allocation": {"method": "mass"},
         "outputs": [{"flow": "coke", "amount": 10, "unit": "t"}, {"flow": "tar", "amount": 1, "unit": "t"}]},
        {"id": "iron", "cbam": {"goods_category": "Pig iron", "route": "Blast furnace route"},
         "outputs": [{"flow": "hot_metal", "amount": 100, "unit": "t"}],
         "inputs": [{"flow": "coke", "amount": 10, "unit": "t"},
                    {"dataset": "material:pig_iron", "amount": 5, "unit": "t"}],
         "emissions": [{"substance": "co2e_fossil", "amount": 3, "unit": "t"}]}],
        [product("hot_metal"), product("coke", cn_code="72011011")])
    problems = errors_of(write_model, document)
    assert any(p.startswith("processes[1].inputs[0]: process 'coke_oven' has no cbam marker and several outputs")
               for p in problems)
    assert any(p.startswith("processes[1].inputs[1]: material:pig_iron is a CBAM good") for p in problems)
    assert any(p.startswith("processes[1].emissions[0].substance: co2e_fossil is already CO2e") for p in problems)
    assert "products[1].cn_code: CN 72011011 is a CBAM good, but 'coke' is not the good of a CBAM process: give " \
        "process 'coke_oven' a cbam marker with output 'coke'" in problems


def test_a_product_model_without_markers_is_refused_clearly(write_model, tmp_path):
    document = model_document([{"id": "p", "outputs": [{"flow": "good", "amount": 1, "unit": "t"}]}], [product("good")])
    path = write_model(document)
    with pytest.raises(ModelError, match="no CBAM production process: mark the processes"):
        installation_from_model(load_model(path))
    result = CliRunner().invoke(main, ["cbam", "see", str(path), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 1 and "error:" in result.output and "no CBAM production process" in result.output
    assert "Traceback" not in result.output


def test_models_without_cbam_fields_keep_their_digest(write_model):
    """The digest is the sha256 of the document as written: the new optional fields add nothing to it."""
    document = two_process_model()
    for process in document["processes"]:
        process.pop("cbam", None)
        for item in process.get("inputs", []):
            item.pop("cbam_precursor", None)
    model = load_model(write_model(document))
    expected = hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode("utf-8")).hexdigest()
    assert model.digest == expected
    assert all(p.cbam is None and all(i.cbam_precursor is None for i in p.inputs) for p in model.processes)

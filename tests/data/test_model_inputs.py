"""A product model naming an activity of an imported database and a factor of a user library computes the
hand-checked footprint, and the plant inventory counts both in Scope 3 category 1."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lca_models.errors import ModelError
from lca_models.model_schema import load_model
from pcf.factory.inventory import build_inventory
from tests.support.models import model_document, product

from . import lci_files as fx
from .test_imports import ELECTRICITY, STEEL

REL = 1e-6
GWP_AR6 = {"co2_fossil": Decimal(1), "ch4_fossil": Decimal("29.8"), "n2o": Decimal(273)}  # gwp100.csv, AR6
LIBRARY = """id,name,unit,kgco2e,co2_fossil,ch4_fossil,source,year,geography,dqr_technological,dqr_geographical,dqr_temporal
cathode_nmc811,NMC811 cathode active material,kg,12.5,,,Supplier EPD (illustrative test value),2024,CN,2,3,2
electrolyte,LiPF6 electrolyte,kg,,3,0.01,Test study (illustrative test value),2023,CN,,,
"""


def co2e(flows: dict[str, Decimal]) -> Decimal:
    return sum((amount * GWP_AR6[flow] for flow, amount in flows.items()), Decimal(0))


# By hand, per kg of cell (100 kg made): 20 kg steel and 500 kWh from the imported database, 30 kg cathode at
# 12.5 kgCO2e/kg and 10 kg electrolyte at 3 kg CO2 + 0.01 kg CH4 (x 29.8) per kg from the library, 5 kg CO2 direct.
CATHODE = Decimal("12.5")
ELECTROLYTE = Decimal(3) + Decimal("0.01") * GWP_AR6["ch4_fossil"]
PURCHASED = 20 * co2e(STEEL) + 500 * co2e(ELECTRICITY) + 30 * CATHODE + 10 * ELECTROLYTE
EXPECTED_PER_KG = (PURCHASED + 5) / 100


def cell_model(database: str, electricity_amount: float = 500, electricity_unit: str = "kWh", **activity) -> dict:
    electricity = {"database": database, "name": "electricity production", **activity}
    process = {
        "id": "cell_assembly",
        "outputs": [{"flow": "cell", "amount": 100, "unit": "kg"}],
        "inputs": [
            {"activity": {"database": database, "name": "steel production"}, "amount": 20, "unit": "kg"},
            {"activity": electricity, "amount": electricity_amount, "unit": electricity_unit},
            {"factor": "cathode_nmc811", "amount": 30, "unit": "kg"},
            {"factor": "electrolyte", "amount": 10000, "unit": "g"},
        ],
        "emissions": [{"substance": "co2_fossil", "amount": 5, "unit": "kg"}],
    }
    return model_document([process], [product("cell")], factor_libraries=["factors.csv"])


@pytest.fixture(scope="module")
def imported_databases(engine, tmp_path_factory):
    from pcf.data.imports import import_database

    folder = tmp_path_factory.mktemp("lci")
    import_database("ecospold2", fx.write_ecospold2(folder / "datasets"), "cells-es2", engine.data_dir)
    import_database("olca-jsonld", fx.write_jsonld(folder / "export.zip"), "cells-olca", engine.data_dir)


@pytest.fixture
def write_cell_model(write_model, tmp_path):
    (tmp_path / "factors.csv").write_text(LIBRARY, encoding="utf-8")
    return lambda document, name="cell.yaml": write_model(document, name)


def close(actual, expected) -> bool:
    return abs(float(actual) - float(expected)) <= REL * abs(float(expected))


def test_imported_activity_and_user_factor_give_the_hand_checked_footprint(engine, imported_databases, write_cell_model):
    [footprint] = engine.compute(load_model(write_cell_model(cell_model("cells-es2", location="DE"))))
    assert close(footprint.pcf_excluding_biogenic_uptake, EXPECTED_PER_KG)
    by_label = {c.label: c.kgco2e for c in footprint.computed.contributions}
    assert close(by_label["cell_assembly <- factor cathode_nmc811"], 30 * CATHODE / 100)
    assert close(by_label["cell_assembly <- cells-es2: steel production"], 20 * co2e(STEEL) / 100)
    expected_ch4 = (20 * STEEL["ch4_fossil"] + 500 * ELECTRICITY["ch4_fossil"] + Decimal("0.1")) * Decimal("29.8") / 100
    assert close(footprint.computed.by_gas["CH4"], expected_ch4)


def test_openlca_activity_in_megajoules_takes_kilowatt_hours_converted(engine, imported_databases, write_cell_model):
    # the openLCA import keeps electricity per MJ; 500 kWh of the model are 1800 MJ of it
    [footprint] = engine.compute(load_model(write_cell_model(cell_model("cells-olca"), name="olca.yaml")))
    assert close(footprint.pcf_excluding_biogenic_uptake, EXPECTED_PER_KG)


def test_plant_inventory_counts_both_in_scope3_category1(engine, imported_databases, write_cell_model):
    model = load_model(write_cell_model(cell_model("cells-es2")))
    inventory = build_inventory(model, data_dir=engine.data_dir)
    assert close(inventory.scope3_by_category["1_purchased_goods"], PURCHASED / 1000)
    assert inventory.scope1 == Decimal("0.005")


@pytest.mark.parametrize("change, message", [
    ({"name": "electricity productoin"},
     r"processes\[0\]\.inputs\[1\]\.activity: no activity 'electricity productoin' in imported database 'cells-es2' "
     r"\(did you mean 'electricity production' \| electricity \| DE \| kilowatt hour[;?]"),
    ({"location": "FR"}, r"no activity 'electricity production' \(location 'FR'\) .*did you mean 'electricity production'"),
    ({"database": "cells-e2s"}, r"no imported database 'cells-e2s' .*did you mean: 'cells-es2'"),
])
def test_a_missed_activity_names_the_closest(engine, imported_databases, write_cell_model, change, message):
    document = cell_model("cells-es2")
    document["processes"][0]["inputs"][1]["activity"].update(change)
    with pytest.raises(ModelError, match=message):
        engine.compute(load_model(write_cell_model(document)))


def test_an_ambiguous_activity_lists_the_candidates(engine, imported_databases, write_cell_model):
    document = cell_model("cells-es2")
    document["processes"][0]["inputs"][0]["activity"] = {"database": "cells-es2", "name": "refinery operation"}
    with pytest.raises(ModelError, match=r"2 activities of 'cells-es2' match: give reference_product.*diesel.*heavy fuel oil"):
        engine.compute(load_model(write_cell_model(document)))
    document["processes"][0]["inputs"][0]["activity"]["reference_product"] = "diesel"
    [footprint] = engine.compute(load_model(write_cell_model(document, "diesel.yaml")))
    assert footprint.pcf_excluding_biogenic_uptake > 0


def test_unknown_factor_and_unit_mismatch_are_reported_at_load(write_cell_model):
    document = cell_model("cells-es2")
    document["processes"][0]["inputs"][2]["factor"] = "cathode_nmc81"
    document["processes"][0]["inputs"][3]["unit"] = "kWh"
    with pytest.raises(ModelError) as caught:
        load_model(write_cell_model(document))
    text = str(caught.value)
    assert "processes[0].inputs[2].factor: unknown factor 'cathode_nmc81' (did you mean 'cathode_nmc811'?)" in text
    assert "processes[0].inputs[3].unit: unit mismatch: kWh given, factor 'electrolyte' is per kg" in text


def test_a_changed_factor_library_is_a_new_model(write_cell_model, tmp_path):
    path = write_cell_model(cell_model("cells-es2"))
    before = load_model(path).digest
    (tmp_path / "factors.csv").write_text(LIBRARY.replace("12.5", "12.6"), encoding="utf-8")
    assert load_model(path).digest != before

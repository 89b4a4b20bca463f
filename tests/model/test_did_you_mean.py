"""Every schema-checked file names an unknown field with the closest fields it knows, and a product model reports
its schema problems and its reference problems in one pass (both kinds, each with its path)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from connectors.scope3_inputs import Scope3InputError, read_purchases, read_suppliers
from exchange.cbam import CbamError, Declarant, DeclarationDeclarant, read_goods
from lca_models.cbam_installation import load_installation
from lca_models.errors import ModelErrors
from lca_models.factor_library import load_library
from lca_models.model_schema import load_model
from pcf.factory.assess import load_criteria
from pcf.factory.meters import load_meters
from pcf.factory.scenario import load_scenarios

EXAMPLES = Path(__file__).resolve().parents[2] / "lca_models" / "examples"


def _yaml(tmp_path: Path, document: dict, name: str = "file.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _steel(tmp_path: Path, change) -> Path:
    document = yaml.safe_load((EXAMPLES / "steel_mill.yaml").read_text(encoding="utf-8"))
    change(document)
    return _yaml(tmp_path, document, "model.yaml")


def test_model_schema_and_reference_errors_in_one_pass(tmp_path):
    def spoil(document):
        document["processes"][0]["fules"] = document["processes"][0].pop("fuels", [])  # schema: unknown field
        document["processes"][1]["inputs"][0]["amount"] = -1  # schema: a range
        document["processes"][-1]["inputs"].append({"dataset": "material:steel_bf_bfo", "amount": 1, "unit": "t"})
        document["products"][0]["flow"] = "hot_roled_coil"  # reference: no process makes it
    path = _steel(tmp_path, spoil)
    with pytest.raises(ModelErrors) as raised:
        load_model(path)
    lines = str(raised.value).splitlines()
    last = len(yaml.safe_load(path.read_text())["processes"]) - 1
    assert lines[:2] == [f"{path}: processes[0].fules: unknown field; did you mean 'fuels'?",
                         f"{path}: processes[1].inputs[0].amount: must be > 0"]  # schema problems first
    assert f"{path}: processes[{last}].inputs[1].dataset: unknown dataset 'material:steel_bf_bfo' (did you mean " \
           "'material:steel_bf_bof'" in "\n".join(lines[2:])
    assert f"{path}: products[0].flow: no process of the model produces 'hot_roled_coil' (did you mean " \
           "'hot_rolled_coil'?)" in lines
    assert len(lines) == 4


def test_an_item_with_a_schema_problem_is_not_also_reported_as_missing(tmp_path):
    def spoil(document):
        producer = next(p for p in document["processes"] if any(o["flow"] == "hot_rolled_coil" for o in p["outputs"]))
        producer["allocation"] = {"method": "by weight"}  # schema problem in the process making the product
    path = _steel(tmp_path, spoil)
    with pytest.raises(ModelErrors) as raised:
        load_model(path)
    assert [e.path.rsplit(".", 1)[-1] for e in raised.value.errors] == ["method"]  # not "products[0].flow" as well


@pytest.mark.parametrize(("loader", "document", "expected"), [
    (load_installation, {"name": "Works", "country": "CN", "procesess": []}, "procesess: unknown field; did you mean 'processes'"),
    (load_criteria, {"name": "c", "criteria": [{"indicator": "energy_intensity", "unit": "GJ/t", "source": "s",
                                                 "mx": 3}]}, "criteria[0].mx: unknown field; did you mean 'max'"),
    (load_scenarios, {"scenarios": [{"name": "x", "set": {"a.b": 1}, "abatement_cost": 3}]},
     "scenarios[0].abatement_cost: unknown field; did you mean 'abatement_cost_per_t'"),
    (load_meters, {"meters": [{"id": "m", "kind": "interval", "unit": "kWh", "interval_minute": 15}]},
     "meters[0].interval_minute: unknown field; did you mean 'interval_minutes'"),
])
def test_unknown_fields_of_yaml_files_name_the_closest(tmp_path, loader, document, expected):
    path = _yaml(tmp_path, document)
    with pytest.raises(ModelErrors) as raised:
        loader(path)
    assert f"{path}: {expected}?" in str(raised.value).splitlines()


def test_factor_library_rows_and_columns(tmp_path):
    library = _yaml(tmp_path, {"factors": [{"id": "x", "name": "X", "unit": "kg", "kgco2e": 1, "source": "s",
                                            "year": 2024, "geograpy": "CN"}]}, "lib.yaml")
    with pytest.raises(ModelErrors, match=r"row 1: geograpy: unknown field; did you mean 'geography'"):
        load_library(library)
    csv = tmp_path / "lib.csv"
    csv.write_text("id,name,unit,kgco2e,source,yeer\nx,X,kg,1,s,2024\n", encoding="utf-8")
    with pytest.raises(ModelErrors, match=r"row 1: yeer: unknown column \(did you mean 'year'\?\)"):
        load_library(csv)


def test_declarant_files_name_the_closest_field():
    fields = {"year": 2026, "quarter": "Q1", "identification_number": "DE123", "name": "Importer GmbH",
              "country": "DE", "city": "Hamburg", "signatory": "A. Person", "signatory_position": "CEO"}
    with pytest.raises(CbamError, match=r"declarant: postal_code: unknown field; did you mean 'postcode'"):
        Declarant.from_mapping({**fields, "postal_code": "20095"})
    with pytest.raises(CbamError, match=r"declarant: identification_nr: unknown field; did you mean 'identification_number'"):
        DeclarationDeclarant.from_mapping({"identification_nr": "DE1", "name": "I", "country": "DE"}, 2026)


def test_goods_and_purchases_name_the_misspelt_column(tmp_path):
    goods = tmp_path / "goods.csv"
    goods.write_text("cn_code,origin_country,net_mass_t,installation_id,installation_name,installation_country,"
                     "see_drect,see_indirect,value_type\n72083900,CN,1,I1,Mill,CN,1.9,0.2,actual\n", encoding="utf-8")
    with pytest.raises(CbamError, match=r"missing column see_direct \(did you mean 'see_drect'\?\)"):
        read_goods(goods)
    purchases = tmp_path / "purchases.csv"
    purchases.write_text("supplier,product_id,quantiy,unit,spend,currency\nMill,urn:x,1,t,100,USD\n", encoding="utf-8")
    with pytest.raises(Scope3InputError, match=r"missing column quantity \(did you mean 'quantiy'\?\)"):
        read_purchases(purchases, read_suppliers(None))


def test_suppliers_file_names_the_closest_key(tmp_path):
    path = _yaml(tmp_path, {"fx_to_usd": {"EUR": "1.08"}, "supplier": [],
                            "suppliers": [{"name": "Mill", "url": "https://mill.example", "client_id_env": "A",
                                           "client_secret_env": "B", "jkws": "keys.json"}]})
    with pytest.raises(Scope3InputError) as raised:
        read_suppliers(path)
    assert f"{path}: supplier: unknown field; did you mean 'suppliers'" in str(raised.value)
    assert f"{path}: suppliers[0].jkws: unknown field; did you mean 'jwks'?" in str(raised.value)

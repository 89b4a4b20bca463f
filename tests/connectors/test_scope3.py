"""`pcf scope3` against three supplier nodes on loopback: one answers, one lacks the footprint, one is down.

The nodes are real `pcf serve` processes (HTTPS, OAuth2); the buyer's command runs in-process through click.
Expected totals are worked out by hand in the test from the inputs (quantities, the published footprint's
figures, the bundled estimate factors), not read back from the code under test.
"""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources
from pathlib import Path

import openpyxl
import pytest
import requests
import yaml
from click.testing import CliRunner

from exchange.node.records import publish_footprints
from exchange.pact import from_v3
from pcf.cli import main
from tests.support.node import free_port, new_node_db, start_node

HRC = "urn:pact:product:example-steel:hrc-s235jr"
SCREWS = "urn:pact:product:example-fasteners:hex-m8x40-88-zn"
COIL_X = "urn:pact:product:downco:coil-x"
SECRET = "s3cr3t-at-mill-do-not-leak"


def _node(tmp_path: Path, name: str, footprints: list) -> tuple:
    data_dir = tmp_path / name
    data_dir.mkdir()
    store, db = new_node_db(data_dir, {"buyer": (SECRET if name == "mill" else f"secret-at-{name}", "BuyerCo")})
    if footprints:
        publish_footprints(store, footprints, share_with=("BuyerCo",))
    return start_node(data_dir, db)


@pytest.fixture(scope="module")
def suppliers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scope3")
    document = json.loads(resources.files("lca_models").joinpath("examples", "steel_mill_hrc.pact.json").read_text())
    steel = from_v3(document).footprint
    mill = _node(tmp, "mill", [steel])
    fastener = _node(tmp, "fastener", [])  # a node that answers but has no footprint of the screws
    yield {"tmp": tmp, "mill": mill, "fastener": fastener, "down": f"https://127.0.0.1:{free_port()}", "steel": document}
    mill.stop()
    fastener.stop()


def _write_inputs(tmp: Path, suppliers: dict, mill_jwks: dict) -> tuple[Path, Path]:
    (tmp / "mill-jwks.json").write_text(json.dumps(mill_jwks))
    config = {
        "fx_to_usd": {"EUR": "1.10"}, "fx_source": "test rate",
        "suppliers": [
            {"name": "MillCo", "url": suppliers["mill"].base, "client_id_env": "MILL_ID", "client_secret_env": "MILL_SECRET",
             "ca_bundle": suppliers["mill"].ca, "jwks": "mill-jwks.json"},
            {"name": "FastenerCo", "url": suppliers["fastener"].base, "client_id_env": "FAST_ID",
             "client_secret_env": "FAST_SECRET", "ca_bundle": suppliers["fastener"].ca},
            {"name": "DownCo", "url": suppliers["down"], "client_id_env": "FAST_ID", "client_secret_env": "FAST_SECRET"},
        ]}
    suppliers_file = tmp / "suppliers.yaml"
    suppliers_file.write_text(yaml.safe_dump(config))
    purchases = tmp / "purchases.csv"
    purchases.write_text(
        "supplier,product_id,quantity,unit,spend,currency,category,naics,cn_code,origin_country\n"
        f"MillCo,{HRC},12,t,9000,USD,steel,331110,,\n"
        f"MillCo,{HRC},500,kg,400,EUR,steel,331110,,\n"
        f"FastenerCo,{SCREWS},2000,kg,5000,USD,fasteners,332722,,\n"
        f"DownCo,{COIL_X},3,t,2400,USD,steel,,7208 39 00,CN\n", encoding="utf-8")
    return purchases, suppliers_file


ENV = {"MILL_ID": "buyer", "MILL_SECRET": SECRET, "FAST_ID": "buyer", "FAST_SECRET": "secret-at-fastener"}


def _sheet(path: Path, name: str) -> list[dict]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    rows = list(workbook[name].iter_rows(values_only=True))
    workbook.close()
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def test_pull_from_three_suppliers_totals_estimates_and_the_unreachable_one(suppliers):
    tmp = suppliers["tmp"]
    mill_jwks = requests.get(f"{suppliers['mill'].base}/.well-known/jwks.json", verify=suppliers["mill"].ca, timeout=10).json()
    purchases, suppliers_file = _write_inputs(tmp, suppliers, mill_jwks)
    out = tmp / "scope3.xlsx"
    result = CliRunner().invoke(main, ["scope3", str(purchases), "--suppliers", str(suppliers_file), "-o", str(out)],
                                env=ENV)
    assert result.exit_code == 0, result.output
    pcf = Decimal(suppliers["steel"]["pcf"]["pcfExcludingBiogenicUptake"])  # kgCO2e per kg of coil, as published
    share = float(suppliers["steel"]["pcf"]["primaryDataShare"])
    assert suppliers["steel"]["pcf"]["declaredUnitOfMeasurement"] == "kilogram"
    # by hand: 12 t = 12,000 kg and 500 kg of coil at the mill's footprint
    row2, row3 = 12000 * pcf, 500 * pcf
    # spend-based, NAICS 332722: US EPA Supply Chain GHG Emission Factors v1.3.0, with margins, 0.248 kg CO2e per
    # 2022 USD (tests/fixtures/epa/..._excerpt.csv, the row as EPA publishes it)
    row4 = 5000 * Decimal("0.248")
    row5 = 3 * Decimal("3.186892655") * 1000  # CBAM default CN 7208, China: IR 2025/2621 Annex I sheet 'China' row 101
    lines = {line["row"]: line for line in _sheet(out, "lines")}
    assert lines[2]["data"] == lines[3]["data"] == "supplier footprint"
    assert lines[2]["kgCO2e"] == pytest.approx(float(row2)) and lines[3]["kgCO2e"] == pytest.approx(float(row3))
    assert lines[2]["footprint_id"] == suppliers["steel"]["id"]
    assert lines[2]["signature"].startswith("verified")
    assert lines[3]["spend_usd"] == pytest.approx(440.0)  # 400 EUR at the configured 1.10
    assert lines[2]["primary_data_share_percent"] == pytest.approx(share)
    assert lines[4]["data"] == "estimate: spend-based" and lines[4]["kgCO2e"] == pytest.approx(float(row4))
    assert "no footprint for this product" in lines[4]["flag"]
    assert lines[4]["primary_data_share_percent"] == 0
    assert lines[5]["data"] == "estimate: CBAM default value" and lines[5]["kgCO2e"] == pytest.approx(float(row5))
    assert "unreachable" in lines[5]["flag"]
    by_supplier = {t["key"]: t for t in _sheet(out, "by supplier")}
    assert by_supplier["MillCo"]["kgCO2e"] == pytest.approx(float(row2 + row3))
    assert by_supplier["MillCo"]["estimated_kgCO2e"] == 0
    assert by_supplier["FastenerCo"]["primary_kgCO2e"] == 0
    assert by_supplier["DownCo"]["estimated_kgCO2e"] == pytest.approx(float(row5))
    total = row2 + row3 + row4 + row5
    overall = by_supplier["all purchases"]
    assert overall["kgCO2e"] == pytest.approx(float(total))
    assert overall["primary_share_percent"] == pytest.approx(float((row2 + row3) / total * 100))
    assert overall["primary_data_share_percent"] == pytest.approx(float((row2 + row3)) * share / float(total))
    by_category = {t["key"]: t for t in _sheet(out, "by category")}
    assert by_category["steel"]["kgCO2e"] == pytest.approx(float(row2 + row3 + row5))
    assert by_category["fasteners"]["kgCO2e"] == pytest.approx(float(row4))
    by_product = {t["key"]: t for t in _sheet(out, "by product")}
    assert by_product[f"MillCo | {HRC}"]["kgCO2e"] == pytest.approx(float(row2 + row3))
    problems = _sheet(out, "problems")
    assert any(p["where"] == "supplier DownCo" and "unreachable" in p["problem"] for p in problems)
    assert "DownCo" in result.output and "unreachable" in result.output
    # the secret is in the environment only: not in the workbook, not on the terminal
    workbook_text = json.dumps([_sheet(out, name) for name in ("lines", "problems")], default=str)
    assert SECRET not in workbook_text and SECRET not in result.output


def test_a_signature_that_does_not_verify_is_not_primary_data(suppliers, tmp_path):
    from exchange.pact.signing import SigningKey, jwks

    purchases, suppliers_file = _write_inputs(tmp_path, suppliers, jwks([SigningKey.generate()]))
    out = tmp_path / "scope3.csv"
    result = CliRunner().invoke(main, ["scope3", str(purchases), "--suppliers", str(suppliers_file), "-o", str(out)],
                                env=ENV)
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    mill_lines = [line for line in text.splitlines() if line.startswith(("2,", "3,"))]
    assert len(mill_lines) == 2 and all("estimate: spend-based" in line for line in mill_lines)
    assert "signature FAILED" in text


def test_input_problems_stop_before_any_node_is_called(tmp_path):
    purchases = tmp_path / "purchases.csv"
    purchases.write_text("supplier,product_id,quantity,unit,spend,currency\n"
                         "A,p1,ten,kg,5,USD\nA,p2,1,parsec,5,USD\nA,p3,1,kg,5,GBP\nA,p4,\"1,5\",kg,5,USD\n", encoding="utf-8")
    out = tmp_path / "out.xlsx"
    result = CliRunner().invoke(main, ["scope3", str(purchases), "-o", str(out)])
    assert result.exit_code == 1
    assert f"{purchases}: row 2: quantity" in result.output
    assert f"{purchases}: row 3: unit: unknown unit 'parsec'" in result.output
    assert f"{purchases}: row 4: currency: no exchange rate for GBP" in result.output
    assert f"{purchases}: row 5: quantity: '1,5' is not a number" in result.output  # decimal comma or thousands?
    assert not out.exists()


def test_credentials_in_the_suppliers_file_are_refused(tmp_path):
    suppliers_file = tmp_path / "suppliers.yaml"
    suppliers_file.write_text(yaml.safe_dump({"suppliers": [{"name": "A", "url": "https://a", "client_id_env": "X",
                                                             "client_secret_env": "Y", "client_secret": "oops"}]}))
    purchases = tmp_path / "purchases.csv"
    purchases.write_text("supplier,product_id,quantity,unit,spend,currency\nA,p1,1,kg,5,USD\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["scope3", str(purchases), "--suppliers", str(suppliers_file), "-o",
                                       str(tmp_path / "out.csv")])
    assert result.exit_code == 1
    assert "client_secret: credentials must not be in the file" in result.output
    assert "oops" not in result.output


def test_an_unset_credential_variable_is_named(tmp_path):
    suppliers_file = tmp_path / "suppliers.yaml"
    suppliers_file.write_text(yaml.safe_dump({"suppliers": [{"name": "A", "url": "https://a", "client_id_env": "SCOPE3_TEST_UNSET_ID",
                                                             "client_secret_env": "SCOPE3_TEST_UNSET_SECRET"}]}))
    purchases = tmp_path / "purchases.csv"
    purchases.write_text("supplier,product_id,quantity,unit,spend,currency\nA,p1,1,kg,5,USD\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["scope3", str(purchases), "--suppliers", str(suppliers_file), "-o",
                                       str(tmp_path / "out.csv")])
    assert result.exit_code == 1
    assert "SCOPE3_TEST_UNSET_ID, SCOPE3_TEST_UNSET_SECRET not set" in result.output
    assert not (tmp_path / "out.csv").exists()


def test_purchases_from_excel_without_suppliers_are_all_estimated_and_flagged(tmp_path):
    purchases = tmp_path / "purchases.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["supplier", "product_id", "quantity", "unit", "spend", "currency", "naics", "category"])
    workbook.active.append(["A", "p1", 2, "t", 1000, "USD", "331110", "steel"])
    workbook.save(purchases)
    out = tmp_path / "out.xlsx"
    result = CliRunner().invoke(main, ["scope3", str(purchases), "-o", str(out)])
    assert result.exit_code == 0, result.output
    [line] = _sheet(out, "lines")
    assert line["data"] == "estimate: spend-based" and line["flag"] == "no node configured for this supplier"
    assert line["kgCO2e"] == pytest.approx(1000 * 0.787)  # US EPA v1.3.0: 0.787 kg CO2e/2022 USD for NAICS 331110
    assert any(p["where"] == "supplier A" for p in _sheet(out, "problems"))


def test_mass_purchases_of_a_per_piece_footprint_go_through_its_mass_per_declared_unit():
    from dataclasses import replace

    from connectors.scope3 import Found, Pulled, assess
    from connectors.scope3_inputs import Purchase, Scope3Config, SupplierNode

    document = json.loads(resources.files("lca_models").joinpath("examples", "steel_mill_hrc.pact.json").read_text())
    # a box of 100 screws weighing 2.5 kg, 1.5 kgCO2e per box (made-up figures for the conversion)
    box = replace(from_v3(document).footprint, declared_unit_of_measurement="piece", declared_unit_amount=Decimal(1),
                  product_mass_per_declared_unit=Decimal("2.5"), pcf_excluding_biogenic_uptake=Decimal("1.5"))
    config = Scope3Config({"S": SupplierNode("S", "https://s", "A", "B")})
    pulled = {"S": Pulled("S", {HRC: Found(document, box, "unsigned", True)})}
    purchases = [Purchase(2, "S", HRC, Decimal("1"), "t", Decimal(10), "USD"),  # 1,000 kg = 400 boxes
                 Purchase(3, "S", HRC, Decimal("30"), "pieces", Decimal(10), "USD"),  # 30 boxes
                 Purchase(4, "S", HRC, Decimal("5"), "kWh", Decimal(10), "USD")]  # no way to boxes, no estimate
    result = assess(purchases, pulled, config)
    by_row = {line.purchase.row: line for line in result.lines}
    assert by_row[2].declared_units == 400 and by_row[2].kgco2e == 600
    assert by_row[3].declared_units == 30 and by_row[3].kgco2e == 45
    assert by_row[4].kgco2e is None and "kWh cannot be converted to the footprint's declared unit 1 piece" in by_row[4].flag
    assert result.overall.kgco2e == 645 and result.overall.unresolved_lines == 1
    assert result.overall.lines_without_estimate == 1 and by_row[4].unresolved
    assert any(p.where == "row 4" for p in result.problems)


def test_a_deprecated_footprint_is_not_used():
    from dataclasses import replace

    from connectors.scope3 import Found, Pulled, assess
    from connectors.scope3_inputs import Purchase, Scope3Config, SupplierNode

    document = json.loads(resources.files("lca_models").joinpath("examples", "steel_mill_hrc.pact.json").read_text())
    old = replace(from_v3(document).footprint, status="Deprecated")
    config = Scope3Config({"S": SupplierNode("S", "https://s", "A", "B")})
    [line] = assess([Purchase(2, "S", HRC, Decimal(1), "t", Decimal(100), "USD", naics="331110")],
                    {"S": Pulled("S", {HRC: Found(document, old, "unsigned", True)})}, config).lines
    assert line.method == "estimate: spend-based" and "is Deprecated" in line.flag
    assert line.kgco2e == 100 * Decimal("0.787")  # US EPA v1.3.0, NAICS 331110, with margins

"""CN codes, country codes and precursors: every way a CBAM good enters is checked, nothing is dropped silently.

Sources: Reg (EU) 2023/956 Annex I (OJ L 130, 16.5.2023, p. 89-93) as amended by Reg (EU) 2025/2083 Art. 1(28);
the Commission's communication template v2.1.1 (its CN list, sheet Parameters_CNCodes); IR (EU) 2025/2621 Annex I
(the default-value workbook in tests/fixtures/cbam).
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from exchange.cbam import CbamError
from exchange.cbam.codes import annex_i, annex_i_row, check_cn_code, in_annex_i, template_cn_codes
from exchange.cbam.template_import import import_template
from lca_models.errors import ModelErrors
from lca_models.model_schema import load_model
from pcf.cbam.from_model import installation_from_model
from pcf.cbam.see import compute_see
from pcf.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cbam"
NG_T_PER_GJ = 0.0561  # IPCC 2006 Vol. 2 Ch. 1 Table 1.4: natural gas 56.1 tCO2/TJ
NG_GJ_PER_NM3 = 0.75 * 48.0 / 1000  # 0.75 kg/Nm3 x 48.0 GJ/t (IPCC 2006 Table 1.2; lca_models/data/fuels.csv)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cbam-codes-data")


def fastener_document() -> dict:
    with resources.as_file(resources.files("lca_models").joinpath("examples", "fastener_maker.yaml")) as path:
        return yaml.safe_load(path.read_text(encoding="utf-8"))


def write_fastener(tmp_path: Path, document: dict) -> Path:
    """The fastener example with changes, beside a copy of its supplier footprint (the model refers to it)."""
    with resources.as_file(resources.files("lca_models").joinpath("examples", "steel_mill_hrc.pact.json")) as pact:
        (tmp_path / pact.name).write_bytes(pact.read_bytes())
    path = tmp_path / "fastener.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


# --- Annex I and the template's list agree --------------------------------------------------------------------

def test_annex_i_table_as_printed():
    entries = [e for e in annex_i() if not e.excepted]
    exceptions = [e for e in annex_i() if e.excepted]
    # counted in the regulation: cement 6, electricity 1, fertilisers 5, iron and steel 15, aluminium 14, hydrogen 1
    assert len(entries) == 42 and len(exceptions) == 14
    assert annex_i_row("73181588").printed == "7318" and annex_i_row("73181588").category == "Iron and steel"
    assert annex_i_row("72022100").excepted and annex_i_row("72022100").excepted_from == "72"
    assert annex_i_row("31056000").excepted and annex_i_row("31059000").printed == "3105"
    clay = annex_i_row("25070080")
    assert clay.printed == "ex 2507 00 80" and "2025/2083" in clay.source and "non-calcined" in clay.description
    assert annex_i_row("76151010") is None  # 7615 (table- and kitchenware) is not in Annex I
    assert {e.greenhouse_gases for e in entries if e.category == "Aluminium"} == {"Carbon dioxide and perfluorocarbons"}


def test_the_templates_cn_list_is_the_8_digit_enumeration_of_annex_i():
    listed = template_cn_codes()
    assert len(listed) == 569 and all(re.fullmatch(r"\d{8}", code) for code in listed)
    assert all(in_annex_i(code) for code in listed)
    for entry in (e for e in annex_i() if not e.excepted):  # and every entry has goods in the list
        assert any(code.startswith(entry.cn_code) and annex_i_row(code) is entry for code in listed), entry


def test_cn_code_checks_say_why_and_suggest():
    assert check_cn_code("7318 15 88").code == "73181588"
    assert check_cn_code("31021012").goods_category == "Urea"  # CN 2025, used by IR 2025/2621, not in the template
    for value, message in [
        ("7208390", "has 7 digit(s): a CN code has exactly 8 digits (did you mean 72083900"),
        ("73181590", "falls under Annex I 7318 (Screws, bolts, nuts, coach screws, screw hooks, rivets, ...) but is "
                     "neither in the communication template v2.1.1's CN list nor in IR 2025/2621's tables (did you "
                     "mean 73181595, "),
        ("72041000", "is not a CBAM good: Reg (EU) 2023/956 Annex I excepts 7204 (Ferrous waste and scrap"),
        ("39269097", "is not a CBAM good (under no CN code of Reg (EU) 2023/956 Annex I)"),
    ]:
        with pytest.raises(CbamError) as caught:
            check_cn_code(value)
        assert message in str(caught.value)


def test_cli_default_refuses_bad_codes_naming_them():
    runner = CliRunner()
    for args, message in [(["--country", "CN", "--cn-code", "7208390"], "did you mean 72083900"),
                          (["--country", "XX", "--cn-code", "72083900"], "country 'XX' is not an ISO 3166-1"),
                          (["--country", "CHN", "--cn-code", "72083900"], "not an ISO 3166-1 alpha-2 code"),
                          (["--country", "CN", "--cn-code", "720839"], "exactly 8 digits")]:
        result = runner.invoke(main, ["cbam", "default", *args, "--year", "2026"])
        assert result.exit_code == 1 and "error: " in result.output and message in result.output, result.output
        assert "Traceback" not in result.output


# --- the bundled fastener model: a valid CN code, the coil a precursor -------------------------------------------

def test_the_fastener_example_gives_its_see_with_the_coil_as_precursor(data_dir):
    """By hand: natural gas 21,200 GJ (wire drawing) + 850,000 Nm3 (heat treatment) at 56.1 tCO2/TJ, plus 21,800 t of
    coil at the SEE the mill communicates (1.717084 direct, 0.191900 indirect), per 20,000 t of screws; indirect:
    15.7 GWh at the East China grid factor (0.55 tCO2/MWh, lca_models/data/grid_electricity.csv)."""
    with resources.as_file(resources.files("lca_models").joinpath("examples", "fastener_maker.yaml")) as path:
        installation = installation_from_model(load_model(path))
    [product] = compute_see(installation, data_dir).products
    fuels = (21200 + 850000 * NG_GJ_PER_NM3) * NG_T_PER_GJ
    assert product.product.cn_code == "73181588"
    assert product.see.see_direct == pytest.approx((fuels + 21800 * 1.717084) / 20000, rel=1e-6)   # 2.0169
    assert product.see.see_indirect == pytest.approx((15700 * 0.55 + 21800 * 0.1919) / 20000, rel=1e-6)
    assert fuels / 20000 == pytest.approx(0.1453, abs=1e-4)  # what the screws alone would show (93 % low)


def test_pcf_cbam_template_on_the_fastener_example(tmp_path):
    with resources.as_file(resources.files("lca_models").joinpath("examples", "fastener_maker.yaml")) as path:
        result = CliRunner().invoke(main, ["cbam", "template", str(path), "-o", str(tmp_path / "screws.xlsx")])
    assert result.exit_code == 0, result.output
    assert "1 product(s)" in result.output
    book = openpyxl.load_workbook(tmp_path / "screws.xlsx", read_only=True)
    try:  # read with openpyxl: installation identity (A_InstData 2) and the product row (Summary_Products)
        identity = {r[3]: r[8] for r in book["A_InstData"].iter_rows(min_row=19, max_row=32, values_only=True)}
        product = next(book["Summary_Products"].iter_rows(min_row=10, max_row=10, values_only=True))
    finally:
        book.close()
    assert identity["ii."] == "Haiyan Example Fasteners, Haiyan works" and identity["viii."] == "China"
    assert (identity["iii."], identity["vii."], identity["ix."]) == ("1 Example Road", "Haiyan", "CN ABC")
    assert (identity["x."], identity["xi."]) == ("30.53", "120.95")
    assert (identity["xii."], identity["xiii."]) == ("Example Representative", "cbam@fasteners.example.com")
    assert (product[3], product[5], product[15], product[21]) == ("zinc_plating", "73181588", "Coal or coke", 0.0035)
    again = import_template(tmp_path / "screws.xlsx")
    assert again.address["unlocode"] == "CN ABC" and again.address["telephone"] == "+86 573 0000 0000"
    assert again.products[0].parameters == {"reducing_agent": "Coal or coke", "carbon_share": 0.0035}


@pytest.mark.parametrize("cn_code, message", [
    ("73181590", "products[0].cn_code: CN code 73181590 falls under Annex I 7318"),
    ("39269097", "products[0].cn_code: 'hex_screws' is the good of CBAM process 'zinc_plating', but CN code 39269097 "
                 "is not a CBAM good"),
])
def test_a_wrong_cn_code_on_the_fastener_is_an_error_not_a_dropped_product(tmp_path, cn_code, message):
    document = fastener_document()
    document["products"][0]["cn_code"] = cn_code
    path = write_fastener(tmp_path, document)
    for command in (["see", str(path), "--data-dir", str(tmp_path / "d")],
                    ["template", str(path), "-o", str(tmp_path / "out.xlsx")]):
        result = CliRunner().invoke(main, ["cbam", *command])
        assert result.exit_code == 1 and message in result.output, result.output
    assert not (tmp_path / "out.xlsx").exists()


def test_an_unmarked_supplier_footprint_of_a_cbam_good_is_refused(tmp_path, data_dir):
    """The coil's PACT file carries urn:pact:productclassification:cn:72083900: unmarked, it would count zero."""
    from exchange.cbam.defaults import default_value

    document = fastener_document()
    coil = document["processes"][0]["inputs"][0]
    del coil["cbam_precursor"]
    with pytest.raises(ModelErrors) as caught:
        installation_from_model(load_model(write_fastener(tmp_path, document)))
    [error] = caught.value.errors
    annex = default_value("CN", "72083900", 2026)
    assert error.path == "processes[0].inputs[0]"
    assert "the supplier footprint steel_mill_hrc.pact.json carries CN 72083900, a CBAM good" in error.reason
    assert f"takes the default value {annex.direct} direct" in error.reason and "sheet 'China' row 101" in error.reason
    assert "cbam_precursor" in error.reason and "cbam_out_of_scope" in error.reason
    coil["cbam_out_of_scope"] = "test: the coil is declared out of scope on purpose"   # explicit: then it counts zero
    [product] = compute_see(installation_from_model(load_model(write_fastener(tmp_path, document))), data_dir).products
    assert product.see.see_direct == pytest.approx((21200 + 850000 * NG_GJ_PER_NM3) * NG_T_PER_GJ / 20000, rel=1e-6)
    del coil["cbam_out_of_scope"]
    coil["cbam_precursor"] = {"cn_code": "72083900", "country": "CN"}                 # no SEE: the default value
    [product] = compute_see(installation_from_model(load_model(write_fastener(tmp_path, document))), data_dir).products
    fuels = (21200 + 850000 * NG_GJ_PER_NM3) * NG_T_PER_GJ
    assert product.see.see_direct == pytest.approx((fuels + 21800 * float(annex.direct)) / 20000, rel=1e-6)
    assert product.see.default_share == pytest.approx(21800 * float(annex.direct) / 20000 / product.see.see_direct,
                                                      rel=1e-6)


def test_precursor_detection_reads_other_pact_spellings_and_bundled_datasets(tmp_path):
    document = fastener_document()
    coil = document["processes"][0]["inputs"][0]
    del coil["cbam_precursor"]
    pact = json.loads(resources.files("lca_models").joinpath("examples", "steel_mill_hrc.pact.json").read_text())
    pact["productClassifications"] = []
    pact["productIds"] = ["urn:pact:product:x", "urn:example:cn:7208 39 00"]   # a v2-style id with spaces
    path = write_fastener(tmp_path, document)
    (tmp_path / "steel_mill_hrc.pact.json").write_text(json.dumps(pact), encoding="utf-8")
    with pytest.raises(ModelErrors, match="carries CN 72083900, a CBAM good"):
        installation_from_model(load_model(path))
    document["processes"][0]["inputs"][0] = {"dataset": "material:steel_bf_bof", "amount": 21800, "unit": "t"}
    with pytest.raises(ModelErrors, match=r"processes\[0\]\.inputs\[0\]: material:steel_bf_bof is a CBAM good "
                                          r"\(CN 7207\.\.\., Iron and steel"):
        installation_from_model(load_model(write_fastener(tmp_path, document)))
    document["processes"][0]["inputs"][0] = {"supplier": "https://node.example.com/3/footprints/x", "amount": 21800,
                                             "unit": "t", "label": "coil"}
    with pytest.raises(ModelErrors, match="a footprint on a supplier's node cannot be checked here"):
        installation_from_model(load_model(write_fastener(tmp_path, document)))


def test_installation_identity_is_checked(tmp_path):
    document = fastener_document()
    document["cbam_installation"]["unlocode"] = "DE HAM"
    with pytest.raises(ModelErrors, match=r"cbam_installation\.unlocode: UN/LOCODE 'DE HAM' is in DE, the "
                                          r"installation in CN"):
        installation_from_model(load_model(write_fastener(tmp_path, document)))
    document["cbam_installation"]["unlocode"] = "CNHAI1"
    document["products"][0]["cbam_parameters"] = {"colour": "blue"}
    with pytest.raises(ModelErrors) as caught:
        load_model(write_fastener(tmp_path, document))
    text = str(caught.value)
    assert "cbam_installation.unlocode: UN/LOCODE: country code and 3 letters" in text
    assert "products[0].cbam_parameters.colour.key: Must be one of: reducing_agent, " in text
    document["products"][0]["cbam_parameters"] = {"carbon_share": "0.35 %"}
    with pytest.raises(ModelErrors, match=r"products\[0\]\.cbam_parameters: carbon_share: expected a number, found "
                                          r"'0\.35 %'"):
        load_model(write_fastener(tmp_path, document))


def test_an_installation_without_products_is_not_written_as_a_template(tmp_path):
    model = tmp_path / "bare.yaml"
    model.write_text(yaml.safe_dump({"name": "Bare", "country": "XX", "processes": [
        {"name": "P", "goods_category": "Cement", "production": {"All production routes": 1.0},
         "direct_emissions": 1.0}]}), encoding="utf-8")
    result = CliRunner().invoke(main, ["cbam", "template", str(model), "-o", str(tmp_path / "bare.xlsx")])
    assert result.exit_code == 1 and "country: country 'XX' is not an ISO 3166-1" in result.output
    model.write_text(model.read_text().replace("country: XX", "country: CN"), encoding="utf-8")
    result = CliRunner().invoke(main, ["cbam", "template", str(model), "-o", str(tmp_path / "bare.xlsx")])
    assert result.exit_code == 1 and "products: none: the template would state the SEE of no good" in result.output
    assert not (tmp_path / "bare.xlsx").exists()

"""CBAM communication template: import -> SEE on Brightway -> export, against the Commission's own examples.

The golden figures are the Commission's: each example workbook's Summary_Products sheet (SEE direct,
indirect, total per product), read here with openpyxl `data_only=True`. The importer never reads those
cached results; the test that strips every cached value from a copy proves it.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from functools import lru_cache
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from exchange.cbam import CbamError
from exchange.cbam.template_import import import_template
from exchange.cbam.template_workbook import BLANK_TEMPLATE
from lca_models.cbam_installation import Installation, installation_document, load_installation, parse_installation
from lca_models.errors import ModelError, ModelErrors
from pcf.cbam.see import compute_see
from pcf.cli import main

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "cbam" / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.xlsx"))
SCREWS = next(p for p in EXAMPLES if "Screws" in p.name)


def _examples() -> list:
    return [pytest.param(path, id=path.name.split("_")[1].split(" ", 1)[1] if "_" in path.name else path.stem)
            for path in EXAMPLES]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cbam-see-data")


@lru_cache(maxsize=8)
def expected_products(path: Path) -> list[dict]:
    """The Commission's Summary_Products rows: process, CN code, SEE direct/indirect/total, default share."""
    book = openpyxl.load_workbook(path, data_only=True, read_only=True)
    try:
        rows = list(book["Summary_Products"].iter_rows(min_row=10, max_row=110, max_col=13, values_only=True))
    finally:
        book.close()
    return [{"process": r[3], "cn_code": str(r[5]), "direct": r[8], "indirect": r[9], "total": r[10], "default": r[12]}
            for r in rows if isinstance(r[2], int) and r[3]]


def assert_reproduces(path: Path, installation: Installation, data_dir: Path) -> None:
    expected = expected_products(path)
    result = compute_see(installation, data_dir)
    assert len(result.products) == len(expected) > 0
    for got, want in zip(result.products, expected):
        assert (got.product.process, got.product.cn_code) == (want["process"], want["cn_code"])
        assert got.see.see_direct == pytest.approx(want["direct"], rel=1e-6)
        assert got.see.see_indirect == pytest.approx(want["indirect"], rel=1e-6)
        assert got.see.see_total == pytest.approx(want["total"], rel=1e-6)
        assert got.see.default_share == pytest.approx(want["default"], abs=1e-9)


@pytest.mark.parametrize("path", _examples())
def test_example_reproduces_the_commissions_summary(path: Path, data_dir: Path) -> None:
    installation = import_template(path)
    assert_reproduces(path, installation, data_dir)
    text = yaml.safe_dump(installation_document(installation), allow_unicode=True)
    assert parse_installation(yaml.safe_load(text)) == installation  # the YAML model holds all of it
    book = openpyxl.load_workbook(path, data_only=True, read_only=True)
    try:  # the installation's totals from its source streams equal the template's GHG balance (sheet C, 2(a) iii.)
        total_direct, total_indirect = next(book["C_Emissions&Energy"].iter_rows(
            min_row=27, max_row=27, min_col=12, max_col=13, values_only=True))
    finally:
        book.close()
    assert installation.direct_emissions == pytest.approx(total_direct, rel=1e-9)
    assert installation.indirect_emissions == pytest.approx(total_indirect, rel=1e-9)


def strip_cached_values(source: Path, target: Path) -> None:
    """Copy an .xlsx without the cached result of any formula, as a tool that does not evaluate formulas saves it."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                text = data.decode("utf-8")
                text = re.sub(r"(<f(?:\s[^>]*)?(?:/>|>[^<]*</f>))<v>[^<]*</v>", r"\1", text)
                data = text.encode("utf-8")
            if item.filename != "xl/calcChain.xml":
                zout.writestr(item, data)


@pytest.mark.parametrize("path", _examples())
def test_import_does_not_need_cached_formula_results(path: Path, tmp_path: Path, data_dir: Path) -> None:
    stripped = tmp_path / "stripped.xlsx"
    strip_cached_values(path, stripped)
    book = openpyxl.load_workbook(stripped, data_only=True, read_only=True)
    try:  # the copy really has no results: the Commission's SEE cells read as empty
        assert all(row[0] is None for row in book["Summary_Products"].iter_rows(min_row=10, max_row=11, min_col=9,
                                                                                 max_col=9, values_only=True))
    finally:
        book.close()
    assert_reproduces(path, import_template(stripped), data_dir)


def test_see_cli_prints_the_table(data_dir: Path) -> None:
    result = CliRunner().invoke(main, ["cbam", "see", str(SCREWS), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    expected = expected_products(SCREWS)
    for row in expected:
        assert row["cn_code"] in result.output
        assert f"{row['total']:.6f}" in result.output


def test_see_cli_compares_with_the_templates_own_summary(data_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["cbam", "see", str(SCREWS), "--compare", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    for row in expected_products(SCREWS):  # the Commission's figures, read here independently of the command
        assert f"{row['process']} {row['cn_code']} SEE total: ours " in result.output
        assert f"template {row['total']:.6f}" in result.output
    worst = float(re.search(r"largest relative difference from the template's own summary: (\S+)",
                            result.output).group(1))
    assert worst < 1e-6
    stripped = tmp_path / "stripped.xlsx"
    strip_cached_values(SCREWS, stripped)
    result = CliRunner().invoke(main, ["cbam", "see", str(stripped), "--compare", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "states no SEE of its own" in result.output and "largest relative difference" not in result.output
    model = tmp_path / "screws.yaml"
    assert CliRunner().invoke(main, ["cbam", "import-template", str(SCREWS), "-o", str(model)]).exit_code == 0
    result = CliRunner().invoke(main, ["cbam", "see", str(model), "--compare", "--data-dir", str(data_dir)])
    assert result.exit_code == 1 and "--compare needs a filled communication template" in result.output


# --- a general installation: own and purchased precursors, heat, waste gas, exported electricity, default values

CHAIN = {
    "name": "Chain Works", "country": "CN",
    "processes": [
        {"name": "Sinter", "goods_category": "Sintered Ore", "production": {"All production routes": 1000.0},
         "direct_emissions": 200.0, "electricity_consumed": 50.0, "electricity_ef": 0.6},
        {"name": "Iron", "goods_category": "Pig iron",
         "production": {"Blast furnace route": 700.0, "Smelting reduction": 100.0},
         "direct_emissions": 1200.0, "waste_gas_exported": 2.0, "heat_exported": 1.0, "heat_exported_ef": 60.0,
         "electricity_consumed": 40.0, "electricity_ef": 0.6, "electricity_exported": 10.0,
         "electricity_exported_ef": 0.5, "precursors": {"Sinter": 900.0, "Coke": 300.0}},
        {"name": "Steel", "goods_category": "Crude steel", "production": {"Basic oxygen steelmaking": 750.0},
         "direct_emissions": 150.0, "heat_imported": 1.0, "heat_imported_ef": 60.0, "electricity_consumed": 30.0,
         "electricity_ef": 0.6, "precursors": {"Iron": 800.0, "Ferroalloy": 5.0}},
    ],
    "purchased_precursors": [
        {"name": "Coke", "goods_category": "Iron or steel products", "see_direct": 0.4, "specific_electricity": 0.1,
         "electricity_ef": 0.5, "country": "AU"},
        {"name": "Ferroalloy", "goods_category": "Alloys (FeMn, FeCr, FeNi)", "see_direct": 3.0,
         "specific_electricity": 2.0, "electricity_ef": 0.8, "see_direct_source": "Default", "country": "ZA"},
    ],
    "products": [{"process": "Steel", "cn_code": "72071111", "name": "Billets"},
                 {"process": "Iron", "cn_code": "72011011", "name": "Pig iron"}],
}


def chain_by_hand() -> dict[str, tuple[float, float, float]]:
    """SEE = (AttrEm + sum M_i SEE_i) / AL, step by step (Reg 2023/956 Annex IV 2.): (direct, indirect, default)."""
    sinter = (200.0 / 1000, 50 * 0.6 / 1000, 0.0)
    attr_iron = 1200.0 - 2.0 * 56.1 * 0.667 - 1.0 * 60.0 - 10.0 * 0.5  # waste gas credit, exported heat, export el.
    iron = ((attr_iron + 900 * sinter[0] + 300 * 0.4) / 800, (40 * 0.6 + 900 * sinter[1] + 300 * 0.05) / 800, 0.0)
    steel_default = 5 * 3.0 / 750
    steel = ((150.0 + 60.0 + 800 * iron[0] + 5 * 3.0) / 750, (30 * 0.6 + 800 * iron[1] + 5 * 1.6) / 750, steel_default)
    return {"Sinter": sinter, "Iron": iron, "Steel": steel}


def test_general_installation_matches_the_formula(data_dir: Path) -> None:
    result = compute_see(parse_installation(CHAIN), data_dir)
    for name, (direct, indirect, default) in chain_by_hand().items():
        see = result.process(name)
        assert see.see_direct == pytest.approx(direct, rel=1e-6)
        assert see.see_indirect == pytest.approx(indirect, rel=1e-6)
        assert see.default_share == pytest.approx(default / direct, rel=1e-6)


@pytest.fixture(scope="module")
def chain_written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The general installation written to the Commission's template with `pcf cbam template`."""
    folder = tmp_path_factory.mktemp("chain")
    model, written = folder / "chain.yaml", folder / "chain.xlsx"
    model.write_text(yaml.safe_dump(CHAIN, sort_keys=False), encoding="utf-8")
    result = CliRunner().invoke(main, ["cbam", "template", str(model), "-o", str(written)])
    assert result.exit_code == 0, result.output
    return written


def test_template_written_by_the_toolkit_reimports_to_the_same_figures(chain_written: Path, data_dir: Path) -> None:
    book = openpyxl.load_workbook(chain_written, read_only=True)
    try:  # the whole official workbook is there, its formulas included
        blank = openpyxl.load_workbook(BLANK_TEMPLATE, read_only=True)
        assert book.sheetnames == blank.sheetnames
        blank.close()
        assert str(next(book["Summary_Products"].iter_rows(min_row=10, max_row=10, min_col=9, max_col=9,
                                                           values_only=True))[0]).startswith("=")
    finally:
        book.close()
    assert sorted(p.name for p in chain_written.parent.iterdir()) == ["chain.xlsx", "chain.yaml"]  # no temp left
    installation = parse_installation(CHAIN)
    again = import_template(chain_written)
    assert [(p.name, p.production, p.precursors) for p in again.processes] == \
        [(p.name, p.production, p.precursors) for p in installation.processes]
    assert [p.default_value for p in again.purchased_precursors] == [False, True]
    before, after = compute_see(installation, data_dir), compute_see(again, data_dir)
    for one, other in zip(before.processes, after.processes, strict=True):
        assert (other.see_direct, other.see_indirect, other.default_share) == \
            pytest.approx((one.see_direct, one.see_indirect, one.default_share), rel=1e-9)


def test_libreoffice_opens_the_written_template_and_its_formulas_agree(chain_written: Path, tmp_path: Path,
                                                                       data_dir: Path) -> None:
    """LibreOffice recalculates the Commission's own formulas on the toolkit's file: the same SEE as Brightway's."""
    libreoffice = shutil.which("soffice") or shutil.which("libreoffice")
    if libreoffice is None:
        pytest.skip("LibreOffice (soffice) is not installed here; the written template is checked with openpyxl")
    import subprocess

    subprocess.run([libreoffice, "--headless", f"-env:UserInstallation=file://{tmp_path / 'profile'}",
                    "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(tmp_path / "out"),
                    str(chain_written)], check=True, timeout=240, capture_output=True)
    recalculated = expected_products(tmp_path / "out" / chain_written.name)
    ours = compute_see(parse_installation(CHAIN), data_dir).products
    for row, product in zip(recalculated, ours, strict=True):
        assert (row["process"], row["cn_code"]) == (product.product.process, product.product.cn_code)
        assert (row["direct"], row["indirect"], row["total"], row["default"]) == pytest.approx(
            (product.see.see_direct, product.see.see_indirect, product.see.see_total, product.see.default_share),
            rel=1e-6)


# --- bad input: file, sheet!cell and reason; no traceback, nothing half-imported


def _sheet_part(archive: zipfile.ZipFile, sheet: str) -> str:
    workbook = archive.read("xl/workbook.xml").decode()
    rel_id = re.search(rf'<sheet [^>]*name="{re.escape(sheet)}"[^>]*r:id="([^"]+)"', workbook).group(1)
    rels = archive.read("xl/_rels/workbook.xml.rels").decode()
    target = re.search(rf'<Relationship [^>]*Id="{rel_id}"[^>]*Target="([^"]+)"', rels) or \
        re.search(rf'<Relationship [^>]*Target="([^"]+)"[^>]*Id="{rel_id}"', rels)
    return "xl/" + target.group(1).lstrip("/").removeprefix("xl/")


def patch_cell(source: Path, target: Path, sheet: str, cell: str, replacement: str | None) -> None:
    """Copy the workbook with one cell replaced by a formula ('=...'), an inline string, or emptied (None)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        part = _sheet_part(zin, sheet)
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == part:
                text = data.decode("utf-8")
                pattern = rf'<c r="{cell}"([^>]*?)(?:/>|>.*?</c>)'
                match = re.search(pattern, text, flags=re.S)
                assert match, f"{cell} not found in {part}"
                style = re.search(r'\ss="\d+"', match.group(1))
                attrs = style.group(0) if style else ""
                if replacement is None:
                    new = f'<c r="{cell}"{attrs}/>'
                elif replacement.startswith("="):
                    new = f'<c r="{cell}"{attrs}><f>{replacement[1:]}</f></c>'
                else:
                    new = f'<c r="{cell}"{attrs} t="inlineStr"><is><t>{replacement}</t></is></c>'

                data = (text[:match.start()] + new + text[match.end():]).encode("utf-8")
            zout.writestr(item, data)


@pytest.mark.parametrize(("sheet", "cell", "replacement", "message"), [
    ("D_Processes", "L16", None, "D_Processes!L16: missing activity level (total production) of process "
                                 "'Carbon steel screws and nuts'"),
    ("D_Processes", "L81", "eight thousand", "D_Processes!L81: expected a number, found text 'eight thousand'"),
    ("Summary_Products", "F10", "99999999", "Summary_Products!F10: CN code 99999999 is not a CBAM good"),
    ("Summary_Products", "F10", "73181590", "Summary_Products!F10: CN code 73181590 falls under Annex I 7318 "
                                            "(Screws, bolts, nuts, coach screws, screw hooks, rivets, ...) but is not in "
                                            "the communication template v2.1.1's CN list"),
    ("E_PurchPrec", "L49", "=FOOBAR(1,2)", "E_PurchPrec!L49: the formula '=FOOBAR(1,2)' cannot be evaluated: an "
                                           "unknown function or name in its formula"),
    ("E_PurchPrec", "L49", "=1/0", "E_PurchPrec!L49: the formula '=1/0' cannot be evaluated: #DIV/0! in its formula"),
    ("A_InstData", "I26", "Atlantis", "A_InstData!I26: unknown country 'Atlantis' (not an ISO 3166-1 country"),
    ("A_InstData", "F102", "XX", "A_InstData!F102: unknown country 'XX' of purchased precursor"),
    ("A_InstData", "I27", "DE HAM", "A_InstData!I27: UN/LOCODE 'DE HAM': in DE, the installation in US"),
])
def test_broken_template_gives_a_clear_error(tmp_path: Path, sheet: str, cell: str, replacement: str | None,
                                             message: str) -> None:
    broken = tmp_path / "broken.xlsx"
    patch_cell(SCREWS, broken, sheet, cell, replacement)
    model = tmp_path / "model.yaml"
    result = CliRunner().invoke(main, ["cbam", "import-template", str(broken), "-o", str(model)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"error: {broken}: {message}" in result.output and not model.exists()


def test_not_a_template_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.xlsx"
    openpyxl.Workbook().save(other)
    with pytest.raises(CbamError, match="not a CBAM communication template"):
        import_template(other)
    text = tmp_path / "text.xlsx"
    text.write_text("not a zip", encoding="utf-8")
    with pytest.raises(CbamError, match="text.xlsx"):
        import_template(text)


def test_installation_yaml_errors_name_the_path(tmp_path: Path) -> None:
    broken = yaml.safe_load(yaml.safe_dump(CHAIN))
    broken["processes"][1]["production"] = {"Blast furnace route": 0}
    broken["products"][0]["cn_code"] = "7207"
    path = tmp_path / "chain.yaml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    with pytest.raises(ModelErrors) as caught:
        load_installation(path)
    text = str(caught.value)
    assert f"{path}: processes[1].production: the activity level (sum of production) must be > 0" in text
    assert f"{path}: products[0].cn_code: a CN code has 8 digits" in text
    wrong_code = yaml.safe_load(yaml.safe_dump(CHAIN))
    wrong_code["products"][1]["cn_code"] = "72071111"  # crude steel, but the process makes pig iron
    path.write_text(yaml.safe_dump(wrong_code), encoding="utf-8")
    result = CliRunner().invoke(main, ["cbam", "see", str(path), "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert (f"error: {path}: products[1].cn_code: CN code 72071111 is 'Crude steel', but process 'Iron' makes "
            "Pig iron") in result.output
    unknown = yaml.safe_load(yaml.safe_dump(CHAIN))
    unknown["processes"][2]["precursors"]["Scrap"] = 1.0
    with pytest.raises(ModelErrors, match=r"processes\[2\]\.precursors\.Scrap: unknown precursor"):
        parse_installation(unknown, "chain.yaml")
    assert installation_document(parse_installation(CHAIN))["processes"][1]["precursors"] == {"Sinter": 900.0,
                                                                                              "Coke": 300.0}


def test_precursor_loops_are_solved_and_impossible_ones_refused(data_dir: Path) -> None:
    """A feeds B and B feeds A (e.g. return scrap): SEE solves the two equations together."""
    loop = {"name": "Loop Works", "country": "TR", "processes": [
        {"name": "A", "goods_category": "Crude steel", "production": {"Electric arc furnace": 100.0},
         "direct_emissions": 50.0, "precursors": {"B": 10.0}},
        {"name": "B", "goods_category": "Iron or steel products", "production": {"All production routes": 80.0},
         "direct_emissions": 20.0, "precursors": {"A": 90.0}},
    ]}
    result = compute_see(parse_installation(loop), data_dir)
    # 100 a = 50 + 10 b and 80 b = 20 + 90 a  ->  b = (20 + 90 * 0.5) / (80 - 9), a = 0.5 + 0.1 b
    b = (20 + 45) / 71
    assert result.process("B").see_direct == pytest.approx(b, rel=1e-6)
    assert result.process("A").see_direct == pytest.approx(0.5 + 0.1 * b, rel=1e-6)
    loop["processes"][0]["production"] = {"Electric arc furnace": 90.0}  # A and B each use all the other makes
    loop["processes"][0]["precursors"] = {"B": 80.0}
    with pytest.raises(ModelError, match="precursor network has no solution"):
        compute_see(parse_installation(loop), data_dir)


def test_negative_attributed_direct_emissions_are_set_to_zero() -> None:
    """IR 2025/2547 Annex III A.3, Equation 55: exports credited beyond DirEm* leave AttrEm(direct) at zero."""
    process = parse_installation({"name": "Export Works", "country": "IN", "processes": [
        {"name": "P", "goods_category": "Hydrogen", "production": {"Electrolysis of water": 10.0},
         "direct_emissions": 5.0, "electricity_exported": 100.0, "electricity_exported_ef": 0.7}]}).processes[0]
    assert process.attributed_direct_emissions == 0.0


def test_missing_precursor_data_takes_the_default_value_and_reports_its_share(data_dir: Path) -> None:
    """A purchased precursor without communicated SEE gets IR 2025/2621 Annex I's value, flagged as default."""
    from exchange.cbam.defaults import default_value

    document = yaml.safe_load(yaml.safe_dump(CHAIN))
    document["purchased_precursors"][1] = {"name": "Ferroalloy", "goods_category": "Alloys (FeMn, FeCr, FeNi)",
                                           "cn_code": "72024110", "country": "ZA"}
    annex = default_value("ZA", "72024110", 2026)  # ferro-manganese from South Africa, without the mark-up
    direct, indirect = float(annex.direct), float(annex.indirect or 0)
    iron_direct, iron_indirect, _ = chain_by_hand()["Iron"]
    steel = compute_see(parse_installation(document), data_dir).process("Steel")
    assert steel.see_direct == pytest.approx((150.0 + 60.0 + 800 * iron_direct + 5 * direct) / 750, rel=1e-6)
    assert steel.see_indirect == pytest.approx((30 * 0.6 + 800 * iron_indirect + 5 * indirect) / 750, rel=1e-6)
    assert steel.default_share == pytest.approx(5 * direct / 750 / steel.see_direct, rel=1e-6)
    document["purchased_precursors"][1]["cn_code"] = "27160000"  # electricity: IR 2025/2621 Annex III, not Annex I
    with pytest.raises(CbamError, match="purchased precursor .Ferroalloy.: CN 27160000: no default value"):
        compute_see(parse_installation(document), data_dir)

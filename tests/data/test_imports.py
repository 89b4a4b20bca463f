"""Each format imports through bw2io, maps onto the project's GHG flows and gives the hand-computed inventories;
what bw2io would do silently (delete, zero, crash) is refused with the source named."""

from __future__ import annotations

import copy
import zipfile
from decimal import Decimal

import pytest

from pcf.data.imports import DataImportError
from pcf.engine.imported import imported_database, read_registry

from . import lci_files as fx

REL = 1e-6  # Brightway keeps matrix values in single precision

# The fixture system by hand (lci_files docstring). Per kWh delivered, electricity runs x = 1 / (1 - 0.2 - 0.0045)
# times: 0.1 kg steel needs 0.2 kWh, and 0.02 kg diesel (0.2 kg per kg steel) needs 0.02 x 0.75 x 0.3 = 0.0045 kWh
# (the refinery's inputs are 75 % diesel's). Per unit of x: CO2 0.5 + 0.1 x 1.5 + 0.02 x 0.75 x 0.2 = 0.653,
# CH4 0.001 + 0.02 x 0.75 x 0.002 = 0.00103, N2O 0.1 x 0.0001 = 0.00001.
X = 1 / (1 - Decimal("0.2") - Decimal("0.0045"))
ELECTRICITY = {"co2_fossil": Decimal("0.653") * X, "ch4_fossil": Decimal("0.00103") * X, "n2o": Decimal("0.00001") * X}
# 1 kg diesel: 75 % of the refinery (CO2 0.2, CH4 0.002, 0.3 kWh); 1 kg heavy fuel oil: 25 % over 0.5 kg = 50 %.
DIESEL = {f: Decimal("0.225") * e for f, e in ELECTRICITY.items()}
DIESEL["co2_fossil"] += Decimal("0.15")
DIESEL["ch4_fossil"] += Decimal("0.0015")
HEAVY_FUEL_OIL = {f: Decimal("0.15") * e for f, e in ELECTRICITY.items()}
HEAVY_FUEL_OIL["co2_fossil"] += Decimal("0.1")
HEAVY_FUEL_OIL["ch4_fossil"] += Decimal("0.001")
# 1 kg steel: CO2 1.5 and N2O 0.0001 direct, 2 kWh and 0.2 kg diesel.
STEEL = {f: 2 * ELECTRICITY[f] + Decimal("0.2") * DIESEL[f] for f in ELECTRICITY}
STEEL["co2_fossil"] += Decimal("1.5")
STEEL["n2o"] += Decimal("0.0001")
HAND = {"electricity": ELECTRICITY, "steel": STEEL, "diesel": DIESEL, "heavy fuel oil": HEAVY_FUEL_OIL}


def assert_hand_inventories(entry, per_megajoule: bool = False) -> None:
    by_product = {a.reference_product or a.name: a for a in entry.activities}
    assert set(by_product) == set(HAND)
    for product, expected in HAND.items():
        got = dict(entry.inventory(by_product[product]))
        assert set(got) == set(expected), product  # SO2 is no GHG: dropped
        scale = Decimal(1) / Decimal("3.6") if per_megajoule and product == "electricity" else Decimal(1)
        for flow, value in expected.items():
            assert abs(float(got[flow]) - float(value * scale)) <= REL * float(value * scale), (product, flow)


def test_ecospold2_folder_imports_with_the_hand_inventories(run_import, tmp_path):
    entry, report = run_import("ecospold2", fx.write_ecospold2(tmp_path / "datasets"), "es2-fixture")
    assert_hand_inventories(entry)
    assert report.mapped == {"co2_fossil": 4, "ch4_fossil": 3, "n2o": 1}
    assert (report.dropped_non_ghg, report.dropped_non_ghg_flows) == (1, 1)
    assert {a.location for a in entry.activities} == {"DE"}


@pytest.mark.parametrize("decimal, encoding", [(".", "cp1252"), (",", "cp1252"), (".", "utf-8")])
def test_simapro_csv_imports_with_the_hand_inventories(run_import, tmp_path, decimal, encoding):
    source = fx.write_simapro(tmp_path / "export.csv", decimal=decimal, encoding=encoding)
    entry, report = run_import("simapro", source, f"sp-{encoding}-{'comma' if decimal == ',' else 'point'}")
    assert_hand_inventories(entry)
    assert report.mapped == {"co2_fossil": 4, "ch4_fossil": 3, "n2o": 1}


def test_simapro_utf8_names_are_not_mojibake(run_import, tmp_path):
    activities = copy.deepcopy(fx.ACTIVITIES)
    fx.PRODUCTS["steel_de"] = ("Stahl für Bau", "kg")
    try:
        activities["B"]["outputs"] = [("steel_de", 1.0)]
        activities["A"]["inputs"] = [("steel_de", 0.1, "B")]
        entry, _ = run_import("simapro", fx.write_simapro(tmp_path / "utf8.csv", activities, encoding="utf-8"), "sp-utf8")
    finally:
        del fx.PRODUCTS["steel_de"]
    assert "Stahl für Bau" in {a.name for a in entry.activities}


@pytest.mark.parametrize("top_folder", ["", "export/"])
def test_openlca_jsonld_zip_imports_with_the_hand_inventories(run_import, tmp_path, top_folder):
    source = fx.write_jsonld(tmp_path / "export.zip", top_folder=top_folder)
    entry, report = run_import("olca-jsonld", source, f"olca{'-nested' if top_folder else ''}")
    # openLCA converts to the flow's reference unit: electricity is in MJ there (1 kWh = 3.6 MJ)
    assert_hand_inventories(entry, per_megajoule=True)
    electricity = entry.find("electricity production")
    assert (electricity.unit, electricity.location) == ("megajoule", "Germany")
    assert electricity.product_code != electricity.code  # openLCA: the demand is the product node
    assert report.mapped == {"co2_fossil": 4, "ch4_fossil": 3, "n2o": 1}


def test_ecospold2_input_without_a_provider_is_reported_not_deleted(run_import, data_dir, tmp_path):
    activities = copy.deepcopy(fx.ACTIVITIES)
    activities["B"]["inputs"].append(("stainless", 0.05, None))
    source = fx.write_ecospold2(tmp_path / "datasets", activities)
    with pytest.raises(DataImportError) as refused:
        run_import("ecospold2", source, "es2-unlinked")
    assert "unlinked technosphere 'stainless steel' (kilogram) x1 in: steel production" in str(refused.value)
    assert "--allow-unlinked" in str(refused.value)
    assert "es2-unlinked" not in read_registry(data_dir)


def test_allow_unlinked_imports_and_records_what_was_left_out(run_import, data_dir, tmp_path):
    activities = copy.deepcopy(fx.ACTIVITIES)
    activities["B"]["inputs"].append(("stainless", 0.05, None))
    entry, report = run_import("ecospold2", fx.write_ecospold2(tmp_path / "datasets", activities), "es2-allowed",
                               allow_unlinked=True)
    assert_hand_inventories(entry)  # the missing input carried nothing the hand numbers count
    recorded = imported_database(data_dir, "es2-allowed").report
    assert recorded["allowed_unlinked"] is True
    assert [u["name"] for u in recorded["unlinked"]] == ["stainless steel"]


def test_simapro_co_product_with_zero_allocation_is_refused(run_import, tmp_path):
    activities = copy.deepcopy(fx.ACTIVITIES)
    activities["C"]["allocation"] = {"diesel": 1.0, "hfo": 0.0}
    with pytest.raises(DataImportError, match=r"allocation share > 0 %.*'refinery operation' \[100\.0, 0\.0\]"):
        run_import("simapro", fx.write_simapro(tmp_path / "zero.csv", activities), "sp-zero")


def test_unmapped_greenhouse_gas_is_refused_unless_allowed(run_import, data_dir, tmp_path):
    activities = copy.deepcopy(fx.ACTIVITIES)
    activities["A"]["emissions"].append(("ch4_luc", 0.01))
    source = fx.write_ecospold2(tmp_path / "datasets", activities)
    with pytest.raises(DataImportError, match=r"unmapped GHG biosphere 'Methane, from soil or biomass stock'"):
        run_import("ecospold2", source, "es2-ghg")
    entry, report = run_import("ecospold2", source, "es2-ghg", allow_unmapped=True)
    assert [f.name for f in report.unmapped_ghg] == ["Methane, from soil or biomass stock"]
    assert imported_database(data_dir, "es2-ghg").report["allowed_unmapped"] is True


def test_openlca_product_with_two_providers_is_refused(run_import, tmp_path):
    activities = copy.deepcopy(fx.ACTIVITIES)
    activities["A2"] = dict(copy.deepcopy(activities["A"]), name="electricity production, wind")
    with pytest.raises(DataImportError, match="made by more than one process"):
        run_import("olca-jsonld", fx.write_jsonld(tmp_path / "twin.zip", activities), "olca-twin")


@pytest.mark.parametrize("member", ["../evil.json", "/etc/evil.json"])
def test_openlca_zip_with_unsafe_paths_is_refused(run_import, tmp_path, member):
    source = fx.write_jsonld(tmp_path / "evil.zip")
    with zipfile.ZipFile(source, "a") as archive:
        archive.writestr(member, "{}")
    with pytest.raises(DataImportError, match="unsafe path in the zip"):
        run_import("olca-jsonld", source, "olca-evil")


def test_not_a_zip_and_not_simapro_are_clear_errors(run_import, tmp_path):
    (tmp_path / "x.zip").write_text("hello", encoding="utf-8")
    with pytest.raises(DataImportError, match="not a zip file"):
        run_import("olca-jsonld", tmp_path / "x.zip", "bad-zip")
    (tmp_path / "x.csv").write_text("a;b\n1;2\n", encoding="utf-8")
    with pytest.raises(DataImportError, match="not a SimaPro CSV export"):
        run_import("simapro", tmp_path / "x.csv", "bad-csv")
    with pytest.raises(DataImportError, match="no .spold files"):
        run_import("ecospold2", tmp_path, "bad-folder")


def test_failed_reimport_keeps_the_previous_one_and_a_good_one_replaces_it(run_import, data_dir, engine, tmp_path):
    first, _ = run_import("ecospold2", fx.write_ecospold2(tmp_path / "one"), "es2-replace")
    broken = copy.deepcopy(fx.ACTIVITIES)
    broken["B"]["inputs"].append(("stainless", 0.05, None))
    with pytest.raises(DataImportError):
        run_import("ecospold2", fx.write_ecospold2(tmp_path / "two", broken), "es2-replace")
    assert imported_database(data_dir, "es2-replace") == first
    bw, _ = engine._project()
    assert first.brightway_database in bw.databases
    second, _ = run_import("simapro", fx.write_simapro(tmp_path / "three.csv"), "es2-replace")
    assert imported_database(data_dir, "es2-replace").format == "simapro"
    assert first.brightway_database not in bw.databases
    assert not first.directory.exists()
    assert second.brightway_database in bw.databases

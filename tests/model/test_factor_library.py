"""User factor libraries (CSV or YAML): every problem of every row at once, as `FILE: row N: column: reason`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lca_models.errors import ModelErrors
from lca_models.factor_library import load_library

HEADER = "id,name,unit,kgco2e,co2_fossil,ch4_fossil,source,year,geography,dqr_technological,dqr_geographical,dqr_temporal\n"


def test_csv_rows_become_factors_with_flows_and_dqr(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + "graphite,Synthetic graphite,t,8900,,,EPD 2024,2024,CN,2,3,2\n"
                    "pcb,Printed circuit board,kg,,40,0.1,Study,2022,,,,\n", encoding="utf-8")
    factors = load_library(path)
    assert factors["graphite"].flows == (("co2e_fossil", Decimal(8900)),)
    assert factors["graphite"].unit == "t"
    assert (factors["graphite"].dqr.technological, factors["graphite"].dqr.geographical) == (2, 3)
    assert factors["pcb"].flows == (("co2_fossil", Decimal(40)), ("ch4_fossil", Decimal("0.1")))
    assert factors["pcb"].kgco2e("AR6") == Decimal(40) + Decimal("0.1") * Decimal("29.8")  # gwp100.csv AR6 CH4 fossil
    assert factors["pcb"].kgco2e("AR5") == Decimal(40) + Decimal("0.1") * 30
    assert factors["pcb"].dqr.temporal == 3  # secondary-data default
    assert factors["pcb"].row == 3


def test_every_row_error_is_reported_in_one_pass(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + "ok,Fine,kg,1,,,s,2024,,,,\n"
                    "bad one,Bad,kgs,-1,,,,20,,7,,\n"
                    "both,Both,kg,1,2,,s,2024,,,,\n"
                    "ok,Again,kg,1,,,s,2024,,,,\n"
                    "none,No value,kg,,,,s,2024,,,,\n", encoding="utf-8")
    with pytest.raises(ModelErrors) as caught:
        load_library(path)
    lines = str(caught.value).splitlines()
    assert f"{path}: row 3: id: use letters, digits, '_', '-', '.' or ':' only" in lines
    assert any(line.startswith(f"{path}: row 3: unit: unknown unit 'kgs'") for line in lines)
    assert f"{path}: row 3: kgco2e: must be >= 0" in lines
    assert f"{path}: row 3: source: Missing data for required field." in lines
    assert f"{path}: row 3: dqr_technological: must be between 1 and 5" in lines
    assert f"{path}: row 4: kgco2e: give either kgco2e or per-gas columns, not both (co2_fossil)" in lines
    assert f"{path}: row 5: id: factor id 'ok' already defined in row 2" in lines
    assert any(line.startswith(f"{path}: row 6: kgco2e: give kgco2e or the kg of at least one gas") for line in lines)


def test_unknown_column_names_the_closest(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("id,name,unit,co2_fosil,source,year\nx,X,kg,1,s,2024\n", encoding="utf-8")
    with pytest.raises(ModelErrors, match=r"row 1: co2_fosil: unknown column \(did you mean 'co2_fossil'"):
        load_library(path)


def test_yaml_library_with_nested_dqr(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text("factors:\n"
                    "  - {id: separator, name: PE separator, unit: m2, kgco2e: 0.9, source: EPD, year: 2024,\n"
                    "     dqr: {technological: 2, geographical: 2, temporal: 1}}\n"
                    "  - {id: foil, name: Cu foil, unit: kg, kgco2e: -3, source: X, year: 2024}\n", encoding="utf-8")
    with pytest.raises(ModelErrors) as caught:
        load_library(path)
    assert str(caught.value) == f"{path}: row 2: kgco2e: must be >= 0"
    path.write_text(path.read_text().replace("-3", "7.2"), encoding="utf-8")
    factors = load_library(path)
    assert factors["separator"].dqr.temporal == 1 and factors["separator"].unit == "m2"
    assert factors["foil"].kgco2e("AR6") == Decimal("7.2")

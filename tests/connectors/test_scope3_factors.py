"""Spend-based factors: the bundled US EPA v1.3.0 table as published, a table of your own, and what is refused."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from connectors.scope3_factors import bundled_spend_factors, read_spend_factors
from connectors.scope3_inputs import Scope3InputError
from pcf.cli import main

EPA_EXCERPT = (Path(__file__).resolve().parents[1] / "fixtures" / "epa" /
               "SupplyChainGHGEmissionFactors_v1.3.0_NAICS_CO2e_USD2022_excerpt.csv")


def test_the_bundled_table_is_epas_v1_3_with_margins_row_for_row():
    table = bundled_spend_factors()
    assert len(table.factors) == 1016  # EPA v1.3.0: 1,016 commodities by 2017 NAICS code
    with EPA_EXCERPT.open(encoding="utf-8") as handle:
        published = list(csv.DictReader(handle))  # EPA's rows, unmodified
    for row in published:
        factor = table.factors[row["2017 NAICS Code"]]
        assert factor.kgco2e_per_currency_unit == Decimal(row["Supply Chain Emission Factors with Margins"])
        assert factor.title == row["2017 NAICS Title"]
        assert (factor.currency, factor.price_year, factor.price_basis) == ("USD", "2022", "purchaser")
        assert factor.source == "US EPA Supply Chain GHG Emission Factors v1.3.0 (2024), with margins"
    assert "illustrative" not in " ".join(f.source for f in table.factors.values())


def test_epas_own_csv_reads_as_published():
    table = read_spend_factors(EPA_EXCERPT)
    assert table.factors["331110"].kgco2e_per_currency_unit == Decimal("0.787")
    assert table.factors["331110"].describe() == (
        "0.787 kgCO2e/USD (2022 purchaser price), NAICS 331110 Iron and Steel Mills and Ferroalloy Manufacturing: "
        "US EPA Supply Chain GHG Emission Factors, with margins")


def test_a_table_with_problems_is_refused_with_every_row_named(tmp_path):
    path = tmp_path / "factors.csv"
    path.write_text("naics,title,kgco2e_per_currency_unit,currency,price_year,source\n"
                    "331110,Steel,0.9,USD,2022,my EEIO\n"
                    "331110,Steel again,0.8,USD,2022,my EEIO\n"
                    ",No code,abc,dollars,22,\n", encoding="utf-8")
    with pytest.raises(Scope3InputError) as refused:
        read_spend_factors(path)
    assert refused.value.problems == [
        "row 3: naics: 331110 given twice",
        "row 4: naics: empty", "row 4: kgco2e_per_currency_unit: 'abc' is not a number >= 0",
        "row 4: currency: 'DOLLARS' is not an ISO 4217 code such as USD",
        "row 4: price_year: '22' is not a year (factors are per money of one year)",
        "row 4: source: empty (every factor names where it comes from)"]
    path.write_text("code,value\n1,2\n", encoding="utf-8")
    with pytest.raises(Scope3InputError, match="missing column"):
        read_spend_factors(path)


def _files(tmp_path: Path, factors: str, rates: dict) -> tuple[Path, Path, Path]:
    (tmp_path / "factors.csv").write_text(factors, encoding="utf-8")
    (tmp_path / "suppliers.yaml").write_text(yaml.safe_dump({"fx_to_usd": rates, "fx_source": "test rates"}))
    (tmp_path / "purchases.csv").write_text("supplier,product_id,quantity,unit,spend,currency,naics\n"
                                            "A,urn:p:1,2,t,10000,CNY,331110\n", encoding="utf-8")
    return tmp_path / "factors.csv", tmp_path / "suppliers.yaml", tmp_path / "purchases.csv"


def test_your_own_table_replaces_the_bundled_one_in_its_own_currency(tmp_path):
    factors, suppliers, purchases = _files(
        tmp_path, "naics,title,kgco2e_per_currency_unit,currency,price_year,price_basis,source\n"
                  "331110,Steel (made-up test factor),0.25,CNY,2023,purchaser,test table\n", {"CNY": "0.14"})
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["scope3", str(purchases), "--suppliers", str(suppliers), "-o", str(out),
                                       "--spend-factors", str(factors)])
    assert result.exit_code == 0, result.output
    [line] = list(csv.DictReader(out.open(encoding="utf-8")))
    # 10,000 CNY = 1,400 USD at 0.14; the factor is per CNY: 1,400 / 0.14 = 10,000 CNY x 0.25 = 2,500 kgCO2e
    assert Decimal(line["kgCO2e"]) == Decimal("2500") and Decimal(line["spend_usd"]) == Decimal("1400")
    assert line["estimate_source"].startswith("0.25 kgCO2e/CNY (2023 purchaser price), NAICS 331110")
    assert f"spend-based estimates: {factors}" in result.output


def test_a_table_in_a_currency_without_a_rate_stops_before_anything_is_computed(tmp_path):
    factors, suppliers, purchases = _files(
        tmp_path, "naics,title,kgco2e_per_currency_unit,currency,price_year,source\n331110,Steel,0.25,EUR,2023,t\n",
        {"CNY": "0.14"})
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["scope3", str(purchases), "--suppliers", str(suppliers), "-o", str(out),
                                       "--spend-factors", str(factors)])
    assert result.exit_code == 1 and "factors in EUR: configure fx_to_usd" in result.output
    assert not out.exists()


def test_without_a_table_the_command_says_which_factors_it_used(tmp_path):
    _, suppliers, purchases = _files(tmp_path, "", {"CNY": "0.14"})
    result = CliRunner().invoke(main, ["scope3", str(purchases), "--suppliers", str(suppliers), "-o",
                                       str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    assert "spend-based estimates: US EPA Supply Chain GHG Emission Factors v1.3.0" in result.output

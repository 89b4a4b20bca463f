"""Scope 3: every purchase unit reaches the footprint's declared unit, or the line is unresolved, estimated and counted.

Footprints and purchases are made up for the arithmetic; each expected figure is worked out in the comment beside it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from importlib import resources

from connectors.scope3 import DECLARED, PRIMARY, SPEND_ESTIMATE, Found, Pulled, assess
from connectors.scope3_inputs import Purchase, Scope3Config, SupplierNode, read_purchases
from exchange.pact import from_v3

PRODUCT = "urn:pact:product:cellco:lfp-module"


def _footprint(unit: str, amount: str, mass: str, pcf: str):
    document = json.loads(resources.files("lca_models").joinpath("examples", "steel_mill_hrc.pact.json").read_text())
    footprint = replace(from_v3(document).footprint, product_ids=(PRODUCT,), declared_unit_of_measurement=unit,
                        declared_unit_amount=Decimal(amount), product_mass_per_declared_unit=Decimal(mass),
                        pcf_excluding_biogenic_uptake=Decimal(pcf))
    return document, footprint


def _assess(footprint_pair, purchases):
    document, footprint = footprint_pair
    config = Scope3Config({"S": SupplierNode("S", "https://s", "A", "B")})
    return assess(purchases, {"S": Pulled("S", {PRODUCT: Found(document, footprint, "unsigned", True)})}, config)


def _purchase(row: int, quantity: str, unit: str, **extra) -> Purchase:
    return Purchase(row, "S", PRODUCT, Decimal(quantity), unit, Decimal("1000"), "USD", **extra)


def test_pieces_against_a_per_kwh_footprint_convert_with_the_lines_declared_units_per_unit():
    # a battery module footprint: 68 kgCO2e per 1 kWh of capacity; each module bought stores 2.5 kWh
    result = _assess(_footprint("kilowatt hour", "1", "0", "68"),
                     [_purchase(2, "40", "piece", declared_units_per_unit=Decimal("2.5"))])
    [line] = result.lines
    assert line.method == PRIMARY and line.declared_units == 100  # 40 modules x 2.5 kWh
    assert line.kgco2e == 6800  # 100 kWh x 68 kgCO2e/kWh
    assert "declared_units_per_unit 2.5 kWh per piece" in line.conversion
    assert result.overall.unresolved_lines == 0


def test_a_declared_unit_amount_other_than_one_divides():
    # 120 kgCO2e per 10 kWh (declaredUnitAmount 10): 40 modules x 2.5 kWh = 100 kWh = 10 declared units
    [line] = _assess(_footprint("kilowatt hour", "10", "0", "120"),
                     [_purchase(2, "40", "piece", declared_units_per_unit=Decimal("2.5"))]).lines
    assert line.declared_units == 10 and line.kgco2e == 1200


def test_pieces_against_a_per_kg_footprint_convert_with_the_lines_kg_per_unit():
    # screws bought by the piece, 28 g each, footprint 3.3 kgCO2e per kg: 5,000 x 0.028 kg = 140 kg -> 462 kgCO2e
    [line] = _assess(_footprint("kilogram", "1", "1", "3.3"),
                     [_purchase(2, "5000", "piece", kg_per_unit=Decimal("0.028"))]).lines
    assert line.declared_units == 140 and line.kgco2e == Decimal("462.0")
    assert line.conversion.startswith("kg_per_unit 0.028 (purchases file), kg -> kg")


def test_pieces_against_a_per_liter_footprint_go_through_both_masses():
    # drums bought by the piece, 200 kg each; footprint 1.8 kgCO2e per 1 liter weighing 0.9 kg:
    # 3 drums = 600 kg = 600 / 0.9 liters = 666.67 declared units -> 1,200 kgCO2e
    [line] = _assess(_footprint("liter", "1", "0.9", "1.8"),
                     [_purchase(2, "3", "piece", kg_per_unit=Decimal("200"))]).lines
    assert line.kgco2e == Decimal("1200")
    assert "productMassPerDeclaredUnit 0.9 kg per 1 liter" in line.conversion


def test_a_line_that_cannot_reach_the_declared_unit_is_estimated_flagged_and_counted_never_dropped():
    pair = _footprint("kilowatt hour", "1", "0", "68")
    purchases = [_purchase(2, "40", "piece", naics="335911"),  # storage batteries: a spend-based estimate exists
                 _purchase(3, "40", "piece"),  # no naics: no estimate at all
                 _purchase(4, "100", "kWh")]  # converts directly: 100 x 68 = 6,800
    result = _assess(pair, purchases)
    by_row = {line.purchase.row: line for line in result.lines}
    # US EPA Supply Chain GHG Emission Factors v1.3.0, NAICS 335911 Storage Battery Manufacturing, with margins:
    # 0.337 kg CO2e per 2022 USD (tests/fixtures/epa/..._excerpt.csv, as EPA publishes it)
    factor = "0.337"
    assert by_row[2].method == SPEND_ESTIMATE and by_row[2].unresolved
    assert by_row[2].kgco2e == 1000 * Decimal(factor)  # 1,000 USD spent
    assert by_row[2].flag.startswith("unresolved: footprint") and "give kg_per_unit or declared_units_per_unit" in by_row[2].flag
    assert by_row[3].kgco2e is None and by_row[3].unresolved and "no estimate possible" in by_row[3].flag
    assert by_row[4].method == PRIMARY and by_row[4].kgco2e == 6800
    overall = result.overall
    assert overall.kgco2e == 6800 + 1000 * Decimal(factor)  # the estimate is in the headline total
    assert overall.unresolved_lines == 2 and overall.lines_without_estimate == 1
    assert overall.primary_kgco2e == 6800 and overall.estimated_kgco2e == 1000 * Decimal(factor)
    assert {p.where for p in result.problems} == {"row 2", "row 3"}


def test_conversion_columns_are_read_and_checked(tmp_path):
    path = tmp_path / "purchases.csv"
    path.write_text("supplier,product_id,quantity,unit,spend,currency,kg_per_unit,declared_units_per_unit\n"
                    f"S,{PRODUCT},40,piece,1000,USD,0.028,\n"
                    f"S,{PRODUCT},40,piece,1000,USD,,2.5\n"
                    f"S,{PRODUCT},40,piece,1000,USD,-1,zero\n", encoding="utf-8")
    from connectors.scope3_inputs import Scope3InputError

    try:
        read_purchases(path, Scope3Config())
    except Scope3InputError as error:
        assert error.problems == ["row 4: kg_per_unit: '-1' is not a number > 0",
                                  "row 4: declared_units_per_unit: 'zero' is not a number > 0"]
    else:
        raise AssertionError("the bad row was accepted")
    path.write_text("\n".join(path.read_text().splitlines()[:3]) + "\n", encoding="utf-8")
    first, second = read_purchases(path, Scope3Config())
    assert (first.kg_per_unit, first.declared_units_per_unit) == (Decimal("0.028"), None)
    assert (second.kg_per_unit, second.declared_units_per_unit) == (None, Decimal("2.5"))


def test_supplier_declared_lines_count_as_supplier_data_and_are_totalled_apart():
    document, footprint = _footprint("kilogram", "1", "1", "3.3")
    config = Scope3Config({"S": SupplierNode("S", "https://s", "A", "B")})
    pulled = {"S": Pulled("S", {PRODUCT: Found(document, footprint, "unsigned (supplier-declared)", True,
                                               declared=True)})}
    [line] = assess([_purchase(2, "100", "kg")], pulled, config).lines
    assert line.method == DECLARED and line.primary and line.flag == "supplier-declared, unsigned"
    assert line.kgco2e == 330

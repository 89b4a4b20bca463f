"""Units convert within a dimension and refuse to cross one."""

from decimal import Decimal

import pytest

from lca_models.errors import UnitError
from lca_models.units import PACT_DECLARED_UNITS, convert, unit


@pytest.mark.parametrize(
    "amount, source, target, expected",
    [("1", "t", "kg", "1000"), ("2500", "kWh", "MWh", "2.5"), ("1", "MWh", "GJ", "3.6"), ("3", "tkm", "t*km", "3")],
)
def test_conversion_within_a_dimension_is_exact(amount, source, target, expected):
    assert convert(Decimal(amount), source, target) == Decimal(expected)


def test_conversion_across_dimensions_fails():
    with pytest.raises(UnitError, match="unit mismatch: kg \\(mass\\) cannot be converted to kWh \\(energy\\)"):
        convert(Decimal(1), "kg", "kWh")


def test_unknown_unit_lists_the_known_ones():
    with pytest.raises(UnitError, match="known: .*kWh"):
        unit("furlong")


def test_every_pact_declared_unit_is_known():
    for symbol in PACT_DECLARED_UNITS.values():
        assert unit(symbol).symbol == symbol

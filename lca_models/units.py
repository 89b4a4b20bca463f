"""Units: convert within a dimension, refuse across dimensions.

A factor of 1000 lost between kg and t, or kWh and MWh, is the classic silent error of footprint
spreadsheets; here every amount carries its unit and conversion fails loudly when dimensions differ.
The table is small on purpose: it holds the units industrial activity data comes in.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .errors import UnitError


@dataclass(frozen=True)
class Unit:
    symbol: str
    dimension: str
    factor: Decimal  # amount of the dimension's base unit in one of this unit


_D = Decimal
_UNITS: dict[str, Unit] = {}


def _add(dimension: str, factor: str, *symbols: str) -> None:
    for symbol in symbols:
        _UNITS[symbol.lower()] = Unit(symbols[0], dimension, _D(factor))


# mass, base kg
_add("mass", "1", "kg", "kilogram", "kilograms")
_add("mass", "0.001", "g", "gram")
_add("mass", "1000", "t", "tonne", "tonnes", "metric ton")
_add("mass", "1000000", "kt", "kilotonne")
_add("mass", "1000000000", "Mt", "megatonne")
# energy, base MJ
_add("energy", "1", "MJ", "megajoule")
_add("energy", "1000", "GJ", "gigajoule")
_add("energy", "1000000", "TJ", "terajoule")
_add("energy", "3.6", "kWh", "kilowatt hour", "kilowatt-hour")
_add("energy", "3600", "MWh", "megawatt hour")
_add("energy", "3600000", "GWh", "gigawatt hour")
# volume, base m3 (liquids and solids); gas at normal conditions is its own dimension
_add("volume", "1", "m3", "cubic meter", "cubic metre")
_add("volume", "0.001", "L", "l", "liter", "litre")
_add("gas volume", "1", "Nm3", "normal cubic meter")
_add("gas volume", "1000", "kNm3")
# transport work, base t*km
_add("transport", "1", "t*km", "tkm", "ton kilometer", "tonne kilometre")
_add("transport", "0.001", "kg*km", "kgkm")
# count, area, time, data
_add("count", "1", "piece", "pieces", "pcs", "unit", "item")
_add("area", "1", "m2", "square meter", "square metre")
_add("time", "1", "h", "hour")
_add("data", "1", "Mbit*s", "megabit second")

# PACT v3 `declaredUnitOfMeasurement` enum (CarbonFootprint) -> our unit symbols
PACT_DECLARED_UNITS: dict[str, str] = {
    "liter": "L",
    "kilogram": "kg",
    "cubic meter": "m3",
    "kilowatt hour": "kWh",
    "megajoule": "MJ",
    "ton kilometer": "t*km",
    "square meter": "m2",
    "piece": "piece",
    "hour": "h",
    "megabit second": "Mbit*s",
}


def unit(symbol: str) -> Unit:
    """Look a unit up by symbol or name (case-insensitive); UnitError lists the known ones."""
    try:
        return _UNITS[symbol.strip().lower()]
    except (KeyError, AttributeError):
        known = ", ".join(sorted({u.symbol for u in _UNITS.values()}))
        raise UnitError(f"unknown unit {symbol!r} (known: {known})") from None


def conversion_factor(source: str, target: str) -> Decimal:
    """How many `target` units one `source` unit is; UnitError when the dimensions differ."""
    s, t = unit(source), unit(target)
    if s.dimension != t.dimension:
        raise UnitError(
            f"unit mismatch: {s.symbol} ({s.dimension}) cannot be converted to {t.symbol} ({t.dimension})"
        )
    return s.factor / t.factor


def convert(amount: Decimal, source: str, target: str) -> Decimal:
    """`amount` in `source` units, expressed in `target` units."""
    return amount * conversion_factor(source, target)


def dimension(symbol: str) -> str:
    return unit(symbol).dimension

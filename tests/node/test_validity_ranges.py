"""The fraction of rows a validity bound keeps, estimated from PostgreSQL's column statistics (validity_ranges.py),
and the choice it makes between walking a page in publication order and reading a validity range. Every expected
figure below is worked out by hand from the statistics given, as PostgreSQL's planner would (scalarineqsel)."""

from __future__ import annotations

import pytest

from exchange.node.validity_ranges import (END, REFRESH_SECONDS, START, WALK_BUDGET, ColumnStatistics, ValidityRanges,
                                          _integers)

# 10 % NULL, one common value (25, 20 % of rows), the other 70 % in four equal buckets 0-10, 10-20, 20-30, 30-40
STATISTICS = ColumnStatistics(null_fraction=0.1, common=((25, 0.2),), bounds=(0, 10, 20, 30, 40))


def test_a_bound_inside_the_histogram_is_interpolated_within_its_bucket():
    # 15 lies half-way through the second of four buckets: 1.5 / 4 = 0.375 of the histogram's 70 % lie below it
    assert STATISTICS.fraction_below(15) == pytest.approx(0.7 * 0.375)
    # above it: the rest of the histogram, and the common value 25
    assert STATISTICS.fraction_above(15) == pytest.approx(0.7 * 0.625 + 0.2)
    # 27 is past the common value: it counts below, not above
    assert STATISTICS.fraction_below(27) == pytest.approx(0.2 + 0.7 * 2.7 / 4)
    assert STATISTICS.fraction_above(27) == pytest.approx(0.7 * 1.3 / 4)


def test_a_bound_outside_the_histogram_keeps_all_or_nothing_of_it():
    assert STATISTICS.fraction_below(-5) == 0.0
    assert STATISTICS.fraction_above(-5) == pytest.approx(0.9)  # every row but the NULLs
    assert STATISTICS.fraction_above(50) == 0.0
    assert STATISTICS.fraction_below(50) == pytest.approx(0.9)


def test_statistics_read_as_postgresql_prints_them():
    assert _integers("{-3,0,1700000000000000}") == (-3, 0, 1_700_000_000_000_000)
    assert _integers(None) == () and _integers("{}") == ()


class _Fixed(ValidityRanges):
    """The choice alone, over statistics given here (no database)."""

    def __init__(self, statistics: dict[str, ColumnStatistics]) -> None:
        self._given = statistics

    def _current(self) -> dict[str, ColumnStatistics]:
        return self._given


def test_the_walk_when_it_fills_the_page_within_its_budget_else_the_range_of_the_narrower_bound():
    # starts spread evenly over 0..1000 (no common values), ends over 1000..2000
    ranges = _Fixed({START: ColumnStatistics(0.0, (), tuple(range(0, 1001, 10))),
                     END: ColumnStatistics(0.0, (), tuple(range(1000, 2001, 10)))})
    page = 51
    # validAfter 500 keeps half the rows: a page needs ~102 entries of the walk
    assert ranges.range_for(500, None, page) is None
    # validAfter 995 keeps 0.5 %: the walk would need 51 / 0.005 = 10,200 entries, over WALK_BUDGET (5,000)
    assert 51 / 0.005 > WALK_BUDGET and ranges.range_for(995, None, page) == START
    # validBefore 1005 keeps 0.5 % of the ends; with validAfter 500 as well, the narrower bound names the range
    assert ranges.range_for(None, 1005, page) == END
    assert ranges.range_for(500, 1005, page) == END
    assert ranges.range_for(995, 1900, page) == START
    # 1 % kept: 51 / 0.01 = 5,100 entries, just over the budget; 1.1 % (5.5 of 500 buckets' worth): the walk
    assert ranges.range_for(990, None, page) == START
    assert ranges.range_for(989, None, page) is None


def test_without_statistics_every_page_walks():
    assert _Fixed({}).range_for(995, 1005, 51) is None


def test_the_statistics_are_read_once_then_again_when_stale():
    """A page costs no statistics query: they are read on first use and again only after REFRESH_SECONDS."""
    now = [1000.0]
    reads = []

    class Counting(ValidityRanges):
        def _read(self):
            reads.append(now[0])
            return {START: ColumnStatistics(0.0, (), tuple(range(0, 1001, 10)))}

    ranges = Counting(engine=None, clock=lambda: now[0])
    assert ranges.range_for(995, None, 51) == START and reads == [1000.0]
    now[0] += REFRESH_SECONDS - 1
    assert ranges.range_for(500, None, 51) is None and reads == [1000.0]
    now[0] += 1
    ranges.range_for(500, None, 51)
    assert reads == [1000.0, 1000.0 + REFRESH_SECONDS]

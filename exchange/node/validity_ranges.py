"""Which plan a validAfter/validBefore page takes on PostgreSQL: a walk in publication order, or a validity range.

A page with a validity bound and no key criterion can be read two ways (storage._listing_sql): walk the audience's
rows in publication order, checking the bound in each index entry, until the page is full; or read the range of
the bound's partial index (VALIDITY_INDEXES) and sort what it holds. A bound most footprints meet fills a page in a
few dozen steps of the walk; a bound few meet would make the walk read the whole audience to find none, where the
range holds only the few. Planning each such page for its own bound chose well but cost 0.6 ms per request, more
than the page (docs/node.md). Both forms are now prepared statements whose generic plan PostgreSQL keeps
(storage._listing_sql), and this module chooses between them per request from the columns' statistics PostgreSQL
already keeps (`pg_stats`, what its planner would use), read at most every few minutes per process.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Engine, text

START, END = "validity_start_us", "validity_end_us"
# Index entries a page may walk per stream before the range is the better read: ~1 ms at a million footprints
# (docs/node.md). A page of n + 1 rows walks about (n + 1) / fraction entries.
WALK_BUDGET = 5_000
REFRESH_SECONDS = 300.0  # statistics change with ANALYZE (autovacuum's, or `pcf node init`): minutes suffice

_STATISTICS_SQL = text(
    "SELECT attname, null_frac, most_common_vals::text, most_common_freqs, histogram_bounds::text FROM pg_stats "
    "WHERE schemaname = current_schema() AND tablename = 'footprint_listing' AND NOT inherited "
    f"AND attname IN ('{START}', '{END}')")


def _integers(array_text: str | None) -> tuple[int, ...]:
    """An anyarray of bigints as PostgreSQL prints it ('{1,2,3}')."""
    if not array_text or array_text == "{}":
        return ()
    return tuple(int(item) for item in array_text.strip("{}").split(","))


@dataclass(frozen=True)
class ColumnStatistics:
    """One column's distribution as ANALYZE sampled it: null fraction, most common values with their frequencies,
    and the bounds of equal-population buckets of the other values (PostgreSQL's `pg_stats`)."""

    null_fraction: float
    common: tuple[tuple[int, float], ...]
    bounds: tuple[int, ...]

    def fraction_below(self, value: int) -> float:
        """Estimated fraction of rows whose value is below `value` (PostgreSQL's own estimate, scalarineqsel:
        the common values counted exactly, the histogram interpolated within its bucket)."""
        common = sum(frequency for item, frequency in self.common if item < value)
        rest = max(0.0, 1.0 - self.null_fraction - sum(frequency for _, frequency in self.common))
        return min(1.0, common + rest * self._histogram_below(value))

    def fraction_above(self, value: int) -> float:
        """Estimated fraction of rows whose value is above `value`."""
        common = sum(frequency for item, frequency in self.common if item > value)
        rest = max(0.0, 1.0 - self.null_fraction - sum(frequency for _, frequency in self.common))
        return min(1.0, common + rest * (1.0 - self._histogram_below(value)))

    def _histogram_below(self, value: int) -> float:
        bounds = self.bounds
        if len(bounds) < 2:  # no histogram: every sampled value was a common one (rest is then ~0)
            return 0.5
        if value <= bounds[0]:
            return 0.0
        if value >= bounds[-1]:
            return 1.0
        bucket = bisect_right(bounds, value) - 1
        low, high = bounds[bucket], bounds[bucket + 1]
        within = (value - low) / (high - low) if high > low else 0.5
        return (bucket + within) / (len(bounds) - 1)


class ValidityRanges:
    """Per page: None (walk in publication order) or the column whose validity range to read (START or END).

    The statistics are read on first use and again after REFRESH_SECONDS, by whichever request finds them stale;
    without statistics (a table never analysed: a new or small node) every page walks, as validOn pages do."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine, self.clock = engine, clock
        self._lock = threading.Lock()
        self._statistics: dict[str, ColumnStatistics] = {}
        self._read_at: float | None = None

    def range_for(self, valid_after: int | None, valid_before: int | None, page_rows: int) -> str | None:
        """The column to read a range of for a page of `page_rows` rows with these bounds (microseconds), or None
        to walk: the range when the walk would read more than WALK_BUDGET entries to fill the page, on the bound
        that keeps the fewest rows."""
        statistics = self._current()
        candidates = []
        if valid_after is not None and START in statistics:
            candidates.append((statistics[START].fraction_above(valid_after), START))
        if valid_before is not None and END in statistics:
            candidates.append((statistics[END].fraction_below(valid_before), END))
        if not candidates:
            return None
        fraction, column = min(candidates)
        return None if fraction * WALK_BUDGET >= page_rows else column

    def _current(self) -> dict[str, ColumnStatistics]:
        now = self.clock()
        if self._read_at is not None and now - self._read_at < REFRESH_SECONDS:
            return self._statistics
        if self._lock.acquire(blocking=False):  # one request re-reads; the others meanwhile use what was read before
            try:
                self._statistics = self._read()
                self._read_at = now
            finally:
                self._lock.release()
        return self._statistics

    def _read(self) -> dict[str, ColumnStatistics]:
        with self.engine.connect() as connection:
            rows = connection.execute(_STATISTICS_SQL).all()
        return {name: ColumnStatistics(float(null_fraction or 0.0),
                                       tuple(zip(_integers(common), (float(f) for f in frequencies or ()))),
                                       _integers(bounds))
                for name, null_fraction, common, frequencies, bounds in rows}

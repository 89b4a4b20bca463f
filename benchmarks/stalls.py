"""What the machine did when a request stalled: a probe request every 100 ms beside a load, and each second's CPU
iowait and disk reads (Linux /proc), so a benchmark can tell a slow plan from a machine that stopped to read disk.

    with StallWatch(url, headers, verify) as watch:
        ...run the load...
    for line in watch.report():
        print(line)

A stall is a probe that waited longer than `threshold_ms`; each is reported with the iowait and the megabytes read
from disk during the seconds it spanned (benchmarks/bench_scale.py prints them per query kind).

Given a `database` URL, a second probe sends `SELECT 1` to that PostgreSQL every 10 ms on a connection of its own, and
a third sleeps 1 ms at a time and measures how late it wakes (the kernel's scheduling delay for a process that needs
little CPU). They tell whose stall a slow answer is: one the database probe shares is the database server's or the
machine's, not the node's code; one the sleeper shares is the scheduler's.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import requests

ROUND_TRIP_SLOW_MS = 50.0  # a database round trip of SELECT 1 slower than this is counted (it takes ~0.2 ms alone)


@dataclass(frozen=True)
class Second:
    """One second of the machine, from /proc: shares of CPU time idle, waiting on I/O and stolen by the host (a
    virtual machine's CPU given to another), and what was read from disk."""

    start: float  # seconds since the watch began
    idle_percent: float
    iowait_percent: float
    steal_percent: float
    read_mb: float


def _cpu_times() -> tuple[int, int, int, int]:
    """(idle, iowait, steal, total) jiffies of all CPUs since boot (/proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[3], fields[4], fields[7], sum(fields)


def _kb_read() -> int:
    """Kilobytes read from block devices since boot (/proc/vmstat pgpgin)."""
    for line in Path("/proc/vmstat").read_text().splitlines():
        if line.startswith("pgpgin "):
            return int(line.split()[1])
    return 0


class StallWatch:
    """Probes `url` every `interval` s on its own keep-alive connection and samples /proc every second (see the
    module docstring)."""

    def __init__(self, url: str, headers: dict[str, str], verify: str, threshold_ms: float = 250.0,
                 interval: float = 0.1, database: str | None = None) -> None:
        self.url, self.headers, self.verify = url, headers, verify
        self.threshold_ms, self.interval = threshold_ms, interval
        self.database = database
        self.probes: list[tuple[float, float]] = []  # (start, latency ms)
        self.seconds: list[Second] = []
        self.round_trips: list[float] = []  # ms of each SELECT 1 to `database`
        self.worst_wake_ms = 0.0  # the most a 1 ms sleep overran
        self._stop = threading.Event()
        targets = [self._probe, self._sample] + ([self._probe_database, self._sleep] if database else [])
        self._threads = [threading.Thread(target=target, daemon=True) for target in targets]
        self._began = 0.0

    def __enter__(self) -> StallWatch:
        self._began = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _probe(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                started = time.monotonic()
                session.get(self.url, headers=self.headers, verify=self.verify, timeout=10).raise_for_status()
                latency = time.monotonic() - started
                self.probes.append((started - self._began, latency * 1000))
                self._stop.wait(max(0.0, self.interval - latency))

    def _probe_database(self) -> None:
        with psycopg.connect(self.database, autocommit=True) as connection:
            while not self._stop.is_set():
                started = time.monotonic()
                connection.execute("SELECT 1").fetchall()
                self.round_trips.append((time.monotonic() - started) * 1000)
                self._stop.wait(0.01)

    def _sleep(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            time.sleep(0.001)
            self.worst_wake_ms = max(self.worst_wake_ms, (time.monotonic() - started) * 1000 - 1)

    def _sample(self) -> None:
        times, read, at = _cpu_times(), _kb_read(), time.monotonic()
        while not self._stop.wait(1.0):
            times_now, read_now, now = _cpu_times(), _kb_read(), time.monotonic()
            idle, iowait, steal, total = (b - a for a, b in zip(times, times_now))
            shares = (100.0 * jiffies / max(1, total) for jiffies in (idle, iowait, steal))
            self.seconds.append(Second(at - self._began, *shares, (read_now - read) / 1024))
            times, read, at = times_now, read_now, now

    def report(self) -> list[str]:
        """One line per stall (a probe over the threshold) with the machine's seconds it spanned; a summary line."""
        lines = []
        for start, latency in self.probes:
            if latency < self.threshold_ms:
                continue
            end = start + latency / 1000
            spanned = [second for second in self.seconds if second.start < end and second.start + 1 > start]
            idle, iowait, steal = (max((getattr(second, name) for second in spanned), default=0.0)
                                   for name in ("idle_percent", "iowait_percent", "steal_percent"))
            read = sum(second.read_mb for second in spanned)
            lines.append(f"  stall: a probe at {start:5.1f} s waited {latency:,.0f} ms; in the {len(spanned)} s it "
                         f"spanned, CPU idle up to {idle:.0f} %, iowait {iowait:.0f} %, steal {steal:.0f} %, "
                         f"{read:.1f} MB read from disk")
        worst = max((latency for _, latency in self.probes), default=0.0)
        read = sum(second.read_mb for second in self.seconds)
        iowait = max((second.iowait_percent for second in self.seconds), default=0.0)
        lines.append(f"  probes: {len(self.probes)}, slowest {worst:,.0f} ms; the run read {read:.1f} MB from disk, "
                     f"iowait up to {iowait:.0f} % in a second")
        if self.database:
            slow = sorted((trip for trip in self.round_trips if trip > ROUND_TRIP_SLOW_MS), reverse=True)
            listed = ", ".join(f"{trip:,.0f}" for trip in slow[:5]) + (", ..." if len(slow) > 5 else "")
            lines.append(f"  database probe: {len(self.round_trips):,} SELECT 1, slowest "
                         f"{max(self.round_trips, default=0):,.0f} ms, {len(slow)} over {ROUND_TRIP_SLOW_MS:.0f} ms "
                         f"({listed}); a 1 ms sleep woke up to {self.worst_wake_ms:,.0f} ms late")
        return lines

"""Progress on the long commands: drawn on a terminal, silent everywhere else (pipes, CliRunner, opt-out)."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from rich.console import Console

from lca_models.model_schema import load_model
from pcf.cli import main
from pcf.factory.meters import load_meters, read_meters
from pcf.report.progress import NO_PROGRESS_ENV, SILENT, progress
from tests.support.models import model_document, product

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CHECKING = "checking each meter's series"  # the last phase of `pcf factory meters`: drawn when the bar stops


class Recorder:
    """Steps that remember what they were told."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def phase(self, description: str, total: int | None = None) -> None:
        self.events.append(("phase", description, total))

    def advance(self, items: int = 1) -> None:
        self.events.append(("advance", items))


@pytest.fixture(autouse=True)
def _progress_allowed(monkeypatch):
    """The suite may run under PCF_NO_PROGRESS or TERM=dumb; each test sets what it tests."""
    monkeypatch.delenv(NO_PROGRESS_ENV, raising=False)
    monkeypatch.setenv("TERM", "xterm")


def terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=100), buffer


def test_draws_description_and_count_on_a_terminal():
    console, buffer = terminal()
    with progress("crunching widgets", total=3, console=console) as steps:
        for _ in range(3):
            steps.advance()
    drawn = ANSI.sub("", buffer.getvalue())
    assert "crunching widgets" in drawn and "3/3" in drawn


def test_a_new_phase_replaces_the_previous_one():
    console, buffer = terminal()
    with progress("first phase", total=5, console=console) as steps:
        steps.advance(2)  # still pending when the phase changes: dropped with its task, never drawn on the next
        steps.phase("second phase")  # a spinner: no total, a running count
        steps.advance(7)
    last_frame = [frame for frame in ANSI.sub("", buffer.getvalue()).split("\r") if frame.strip()][-1]
    assert re.search(r"second phase\s+7\s", last_frame)  # a count of 7, not 9: the first phase's 2 went with it
    assert "first phase" not in last_frame and "/5" not in last_frame


@pytest.mark.parametrize("env", [{NO_PROGRESS_ENV: "1"}, {"TERM": "dumb"}])
def test_opt_out_even_on_a_terminal(monkeypatch, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    console, buffer = terminal()
    with progress("crunching widgets", total=3, console=console) as steps:
        steps.advance()
    assert steps is SILENT and buffer.getvalue() == ""


def test_silent_when_stderr_is_a_pipe_even_with_force_color(monkeypatch, capsys):
    monkeypatch.setenv("FORCE_COLOR", "1")  # makes rich call any stream a terminal; stderr.isatty() decides here
    with progress("crunching widgets", total=3) as steps:
        steps.advance()
    captured = capsys.readouterr()
    assert steps is SILENT and captured.err == "" and captured.out == ""


def test_engine_reports_its_phases_and_each_product(engine, write_model):
    process = {"id": "splitter", "allocation": {"method": "mass"},
               "outputs": [{"flow": "a", "amount": 600, "unit": "kg", "mass_kg": 1},
                           {"flow": "b", "amount": 400, "unit": "kg", "mass_kg": 1}],
               "emissions": [{"substance": "co2_fossil", "amount": 1000, "unit": "kg"}]}
    recorder = Recorder()
    footprints = engine.compute(load_model(write_model(model_document([process], [product("a"), product("b")]))),
                                steps=recorder)
    phases = [event[1] for event in recorder.events if event[0] == "phase"]
    assert phases[0] == "opening the Brightway project" and "solving on Brightway" in phases
    last = max(i for i, event in enumerate(recorder.events) if event[0] == "phase")
    assert recorder.events[last] == ("phase", "building footprints", 2)
    assert recorder.events[last + 1:] == [("advance", 1)] * len(footprints) and len(footprints) == 2


@pytest.fixture
def metered(write_model, tmp_path) -> list[str]:
    """A plant with two meters and two days of six-hourly readings each: the `pcf factory meters` arguments."""
    period = {"start": "2025-03-01", "end": "2025-03-02"}  # end date inclusive: 2025-03-01T00:00 .. 03-03T00:00
    process = {"id": "works", "outputs": [{"flow": "widget", "amount": 10, "unit": "t"}],
               "electricity": [{"grid": "CN-EAST", "amount": 1, "unit": "kWh", "meter": "E1"}],
               "fuels": [{"fuel": "natural_gas", "amount": 1, "unit": "Nm3", "meter": "G1"}]}
    model = write_model(model_document([process], [product("widget")], reference_period=period))
    meters = tmp_path / "meters.yaml"
    meters.write_text(yaml.safe_dump({"period_utc_offset": "+08:00", "meters": [
        {"id": "E1", "kind": "interval", "unit": "kWh", "interval_minutes": 360},
        {"id": "G1", "kind": "cumulative", "unit": "Nm3", "interval_minutes": 360}]}), encoding="utf-8")
    start = datetime(2025, 3, 1, tzinfo=timezone(timedelta(hours=8)))
    rows = [f"E1,{(start + timedelta(hours=6 * i)).isoformat()},100,kWh" for i in range(1, 9)]  # 8 x 100 kWh
    rows += [f"G1,{(start + timedelta(hours=6 * i)).isoformat()},{1000 + 10 * i},Nm3" for i in range(9)]  # 1080 - 1000
    readings = tmp_path / "readings.csv"
    readings.write_text("meter_id,timestamp,value,unit\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return ["factory", "meters", str(model), str(readings), "--meters", str(meters)]


def test_meters_count_every_row_then_every_meter(metered):
    model, readings, meters = Path(metered[2]), Path(metered[3]), Path(metered[5])
    recorder = Recorder()
    report = read_meters(readings, load_meters(meters), load_model(model), steps=recorder)
    assert report.totals["E1"].total == 800 and report.totals["G1"].total == 80
    rows = len(readings.read_text(encoding="utf-8").splitlines()) - 1
    assert recorder.events == [("phase", "rows read from readings.csv", None), *[("advance", 1)] * rows,
                               ("phase", CHECKING, 2), ("advance", 1), ("advance", 1)]


def run_in_pty(args: list[str]) -> tuple[int, str, str]:
    """Run `python -m pcf.cli ARGS` with stderr on a pseudo-terminal: (exit status, stdout, terminal text)."""
    controller, child = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "pcf.cli", *args], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=child,
                               env={**os.environ, "TERM": "xterm", "COLUMNS": "120"})
    os.close(child)
    drawn, deadline = b"", time.monotonic() + 60
    while time.monotonic() < deadline:
        if select.select([controller], [], [], 1)[0]:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
        elif process.poll() is not None:
            break
    os.close(controller)
    stdout = process.stdout.read().decode()
    process.stdout.close()
    return process.wait(timeout=10), stdout, ANSI.sub("", drawn.decode(errors="replace"))


def test_a_command_draws_on_a_terminal_and_not_through_a_pipe(metered, monkeypatch):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    status, stdout, drawn = run_in_pty(metered)
    assert status == 0 and "E1: 8 reading(s), 800 kWh - complete" in stdout
    assert CHECKING in drawn and "2/2" in drawn
    assert CHECKING not in stdout  # the bar is on stderr only: stdout stays the command's output

    piped = subprocess.run([sys.executable, "-m", "pcf.cli", *metered], capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0 and piped.stdout == stdout
    assert CHECKING not in piped.stderr and "rows read" not in piped.stderr


def test_cli_runner_output_has_no_progress(metered):
    result = CliRunner().invoke(main, metered)
    assert result.exit_code == 0, result.output
    assert "E1: 8 reading(s), 800 kWh" in result.output
    assert CHECKING not in result.output and "rows read" not in result.output

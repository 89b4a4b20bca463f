"""Progress for the long commands, on stderr, shown only on a terminal.

One helper so every command behaves the same way: a transient rich progress line on stderr (it disappears when
the work is done, leaving only the command's own output), silent when stderr is not a terminal (pipes, CI logs,
`CliRunner`), when `PCF_NO_PROGRESS` is set or when `TERM=dumb`. The commands' stdout is never touched, so
`pcf compute --format pact-v3 > out.json` stays clean.

Code below the CLI never sees rich: it takes a `Steps` (default `SILENT`) and reports phases and items on it.
A phase without a total is a spinner with a running count (work whose size is not known in advance, or a single
call that cannot report from inside); with a total it is a bar.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from typing import Iterable, Iterator, Protocol

from rich.console import Console, RenderableType
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn
from rich.progress_bar import ProgressBar
from rich.text import Text

NO_PROGRESS_ENV = "PCF_NO_PROGRESS"


class Steps(Protocol):
    """Where long-running code reports what it is doing."""

    def phase(self, description: str, total: int | None = None) -> None:
        """Start a phase: `total` items to come (a bar), or None (a spinner)."""

    def advance(self, items: int = 1) -> None:
        """`items` more of the current phase are done."""


class _Silent:
    """Steps that go nowhere: the default for callers that show no progress, and for non-terminals."""

    def phase(self, description: str, total: int | None = None) -> None:
        pass

    def advance(self, items: int = 1) -> None:
        pass


SILENT: Steps = _Silent()


class _Count(ProgressColumn):
    """`done/total` for a bar; the running count for a spinner once something was counted."""

    def render(self, task: Task) -> Text:
        if task.total is not None:
            return Text(f"{task.completed:,.0f}/{task.total:,.0f}", style="progress.download")
        return Text(f"{task.completed:,.0f}" if task.completed else "", style="progress.download")


class _Bar(BarColumn):
    """A bar only when there is a total: a spinner phase is already animated by its spinner."""

    def render(self, task: Task) -> Text | ProgressBar:
        return Text("") if task.total is None else super().render(task)


class _Shown:
    """Steps drawn on one rich task.

    `advance` only adds to a counter under a lock of its own, and rich takes the counter just before it draws a
    frame (`_Progress`, ten times a second): rich's own `advance` (its lock, a speed sample) measured 1.3 us a
    call against 0.35 us here, on loops such as meter readings whose rows take about 9 us each to parse.
    """

    def __init__(self, progress: _Progress, description: str, total: int | None) -> None:
        self._progress = progress
        self._lock = threading.Lock()
        self._pending = 0
        self._task = progress.add_task(description, total=total)

    def phase(self, description: str, total: int | None = None) -> None:
        with self._lock:
            self._progress.remove_task(self._task)  # a new task: `update` cannot turn a bar back into a spinner
            self._task = self._progress.add_task(description, total=total)
            self._pending = 0

    def advance(self, items: int = 1) -> None:
        with self._lock:
            self._pending += items

    def flush(self) -> None:
        """Hand the count to rich; skipped while `phase` holds the lock (its own `add_task` draws a frame too)."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self._pending:
                self._progress.advance(self._task, self._pending)
                self._pending = 0
        finally:
            self._lock.release()


class _Progress(Progress):
    """rich's Progress, bringing the steps' count up to date before each frame, the last one included."""

    steps: _Shown | None = None

    def get_renderables(self) -> Iterable[RenderableType]:
        if self.steps is not None:
            self.steps.flush()
        yield from super().get_renderables()


def progress_wanted(console: Console | None = None) -> bool:
    """Whether to draw progress: never with PCF_NO_PROGRESS or TERM=dumb; else only on a terminal.

    Without `console` the test is `sys.stderr.isatty()` itself, not rich's `is_terminal`, which FORCE_COLOR
    (often set in CI) turns on for pipes too; a caller passing its own console has decided for itself.
    """
    if os.environ.get(NO_PROGRESS_ENV) or os.environ.get("TERM") == "dumb":
        return False
    if console is not None:
        return console.is_terminal
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


@contextmanager
def progress(description: str, total: int | None = None, console: Console | None = None) -> Iterator[Steps]:
    """Show `description` (a bar when `total` is given, else a spinner) on stderr while the block runs."""
    if not progress_wanted(console):
        yield SILENT
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), _Bar(), _Count(), TimeElapsedColumn())
    with _Progress(*columns, console=console or Console(stderr=True), transient=True, redirect_stdout=False) as shown:
        shown.steps = _Shown(shown, description, total)
        yield shown.steps

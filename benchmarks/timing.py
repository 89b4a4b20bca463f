"""Wall-clock runs of a function with the garbage collector off, as `timeit` does, for both sides of a ratio alike."""

from __future__ import annotations

import gc
import time
from typing import Callable


def run_times(function: Callable[[], object], repeat: int) -> list[float]:
    """Seconds of each of `repeat` calls, collected before and disabled during each one."""
    times = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            started = time.perf_counter()
            function()
            times.append(time.perf_counter() - started)
        finally:
            gc.enable()
    return times

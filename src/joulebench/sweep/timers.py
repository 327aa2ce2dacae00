"""Iteration completion times inside a measured window: ``perf_counter`` on the CPU, CUDA events on a GPU."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any


class CpuTimer:
    """Iteration completion times on the CPU, where each call returns when its work is done."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter):
        self.clock = clock
        self.t0 = 0.0
        self.marks: list[float] = []

    def start(self) -> None:
        """Mark the start of the loop."""
        self.t0 = self.clock()
        self.marks = []

    def mark(self) -> None:
        """Mark the end of one iteration."""
        self.marks.append(self.clock())

    def completions(self) -> list[float]:
        """Seconds from start to the end of each iteration (call after the window ended)."""
        return [m - self.t0 for m in self.marks]

    def throttle(self, in_flight: int) -> None:
        """Nothing to wait for: each call returned when its work was done."""


class CudaTimer:
    """Iteration completion times from CUDA events recorded after each launch (no synchronisation)."""

    def __init__(self, torch: Any):
        self.torch = torch
        self.start_event: Any = None
        self.events: list[Any] = []

    def start(self) -> None:
        """Record the start event on the current stream."""
        self.start_event = self.torch.cuda.Event(enable_timing=True)
        self.start_event.record()
        self.events = []

    def mark(self) -> None:
        """Record an event after the iteration just launched."""
        e = self.torch.cuda.Event(enable_timing=True)
        e.record()
        self.events.append(e)

    def completions(self) -> list[float]:
        """GPU seconds from the start event to each iteration's event (the window end synchronised)."""
        return [self.start_event.elapsed_time(e) / 1000.0 for e in self.events]

    def throttle(self, in_flight: int) -> None:
        """Wait until at most ``in_flight - 1`` marked iterations are unfinished: the next launch makes ``in_flight``.

        Launches return at once, so without this the host runs ahead of the GPU by as many iterations as the launch
        queue holds (five of a large batch): a loop that stops on host time would then wait for all of them, and a
        one-second window of a batch taking 1.2 s per iteration would last six. Two in flight keep the GPU fed back
        to back (one running, one queued) while host time follows the GPU within an iteration.
        """
        if in_flight >= 1 and len(self.events) >= in_flight:
            self.events[-in_flight].synchronize()


def make_timer(runtime: Any) -> CpuTimer | CudaTimer:
    """A CUDA-event timer for runtimes on a CUDA device, else a ``perf_counter`` timer."""
    if str(getattr(runtime, "device", "cpu")).startswith("cuda"):
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            return CudaTimer(torch)
    return CpuTimer()


__all__ = ["CpuTimer", "CudaTimer", "make_timer"]

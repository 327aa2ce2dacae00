"""Test doubles shared by several test modules (the NVML fake is in :mod:`joulebench.meters.testing`)."""

from __future__ import annotations

import time


class ManualClock:
    """A clock the test moves by hand (reading it never advances it, so threads cannot disturb it)."""

    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def spin(seconds: float) -> None:
    """Keep this thread on its CPU for ``seconds`` (a launch-bound call holds the host like this)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

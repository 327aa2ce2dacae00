"""Test doubles shared by several test modules (the NVML fake is in :mod:`joulebench.meters.testing`)."""

from __future__ import annotations


class ManualClock:
    """A clock the test moves by hand (reading it never advances it, so threads cannot disturb it)."""

    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

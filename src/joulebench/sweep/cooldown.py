"""Waiting for the card to cool down before a measurement (``--cooldown 45C``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joulebench.meters.base import Meter

#: Longest ``--cooldown 45C`` waits before measuring anyway (with a note): some cards never idle that cool.
COOLDOWN_MAX_S = 300.0


@dataclass(frozen=True)
class Cooldown:
    """How a wait for the card to cool down went (recorded in the next measurement's trace summary)."""

    target_c: float
    waited_s: float
    start_c: float | None
    end_c: float | None

    @property
    def reached(self) -> bool:
        """True when the card was at most ``target_c`` when the wait ended."""
        return self.end_c is not None and self.end_c <= self.target_c

    def record(self) -> dict[str, Any]:
        """Trace-summary fields."""
        return {"cooldown_wait_s": self.waited_s, "cooldown_start_c": self.start_c, "cooldown_end_c": self.end_c}

    def note(self) -> str | None:
        """A note when the target was not reached, else None."""
        if self.end_c is None:
            return f"--cooldown {self.target_c:g}C: the meter could not read the temperature; measured without waiting"
        if not self.reached:
            return (
                f"--cooldown {self.target_c:g}C: the card was still at {self.end_c:g} °C after {self.waited_s:.0f} s; "
                "measured anyway (raise the target or improve the cooling)"
            )
        return None


def cool_down(
    meter: Meter,
    target_c: float,
    *,
    max_wait_s: float | None = None,
    poll_s: float = 1.0,
    sleep: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Cooldown:
    """Wait until the meter's devices are at most ``target_c`` °C, ``max_wait_s`` at most.

    Args:
        meter: Reads the temperature (:meth:`~joulebench.meters.base.Meter.read_temperature_c`) and the clock.
        target_c: The temperature to cool to (°C).
        max_wait_s: Give up after this long (the measurement then goes ahead, with a note); default
            :data:`COOLDOWN_MAX_S`.
        poll_s: Time between readings.
        sleep: Waits ``poll_s``; default ``time.sleep`` (tests pass one that moves a fake clock).
        should_stop: Polled between readings; True ends the wait (Ctrl-C).

    Returns:
        The :class:`Cooldown`.
    """
    stop = should_stop or (lambda: False)
    sleep = sleep or time.sleep
    max_wait_s = COOLDOWN_MAX_S if max_wait_s is None else max_wait_s
    t0 = meter.clock()
    start = temp = meter.read_temperature_c()
    while temp is not None and temp > target_c and meter.clock() - t0 < max_wait_s and not stop():
        sleep(poll_s)
        temp = meter.read_temperature_c()
    return Cooldown(target_c, meter.clock() - t0, start, temp)


__all__ = ["COOLDOWN_MAX_S", "Cooldown", "cool_down"]

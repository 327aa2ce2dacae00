"""A background polling thread and the trapezoidal power integral shared by the meters.

:class:`BackgroundSampler` calls a ``read()`` function every ``interval_s`` seconds on a daemon
thread and keeps what it returns. It takes one reading synchronously when it starts and one when it
stops, so a window's edges are always covered. If ``read()`` raises, the sampler records the error
and stops (it never dies silently and never spins on a failing call); the meter then reports the
error in the window's notes and still returns whatever else it measured (e.g. the energy counter).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class BackgroundSampler(Generic[T]):
    """Poll ``read()`` on a thread at a fixed rate.

    Args:
        read: Returns the readings of one poll (a list; may be empty). Exceptions stop the sampler.
        interval_s: Seconds between polls (0.005 = 200 Hz). The schedule is absolute, so slow polls
            do not lower the average rate.
        clock: Monotonic clock used to stamp readings (the meter's clock, so edges and samples agree).
        name: Thread name (shows up in debuggers and ``threading.enumerate()``).
    """

    def __init__(
        self,
        read: Callable[[float], list[T]],
        interval_s: float = 0.005,
        clock: Callable[[], float] = time.monotonic,
        name: str = "joulebench-sampler",
    ):
        self._read = read
        self.interval_s = interval_s
        self.clock = clock
        self.name = name
        self.readings: list[T] = []
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def _poll(self) -> bool:
        """One poll; False once an error has been recorded."""
        if self.error is not None:
            return False
        try:
            got = self._read(self.clock())
        except Exception as e:  # recorded and reported in the window's notes, never swallowed
            self.error = e
            return False
        with self._lock:
            self.readings.extend(got)
        return True

    def _run(self) -> None:
        next_t = time.monotonic() + self.interval_s
        while not self._stop.is_set():
            delay = next_t - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            if not self._poll():
                break
            next_t += self.interval_s
            now = time.monotonic()
            if next_t < now:  # fell behind (suspended, overloaded): skip missed ticks instead of bursting
                next_t = now + self.interval_s

    def start(self, initial: bool = True) -> None:
        """Take one reading now (unless ``initial`` is False), then keep polling on a daemon thread."""
        self._stop.clear()
        if initial:
            self._poll()
        if self.error is None and self.interval_s > 0:
            self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self.thread.start()

    def stop(self, final: bool = True) -> list[T]:
        """Stop the thread, take a final reading (unless ``final`` is False) and return all readings."""
        self._stop.set()
        if self.thread is not None:
            self.thread.join(timeout=5.0)
            if self.thread.is_alive():  # read() hung inside the driver: report rather than block forever
                self.error = self.error or TimeoutError("sampler thread did not stop within 5 s")
        if final:
            self._poll()
        with self._lock:
            return list(self.readings)

    @property
    def running(self) -> bool:
        """True while the polling thread is alive."""
        return self.thread is not None and self.thread.is_alive()


def integrate_trapezoid(ts: Sequence[float], ps: Sequence[float], t0: float, t1: float) -> float | None:
    """Energy (J) over ``[t0, t1]`` from power samples ``ps`` (W) taken at times ``ts`` (s).

    Samples are linearly interpolated; before the first and after the last sample the nearest value is
    held. Samples outside the interval are used only to interpolate at its edges.

    Returns:
        The integral, or None when there are no samples or the interval is empty.
    """
    pts = sorted((t, p) for t, p in zip(ts, ps, strict=True) if p is not None)
    if not pts or t1 <= t0:
        return None if not pts else 0.0

    def value_at(t: float) -> float:
        if t <= pts[0][0]:
            return pts[0][1]
        if t >= pts[-1][0]:
            return pts[-1][1]
        for (ta, pa), (tb, pb) in zip(pts, pts[1:], strict=False):
            if ta <= t <= tb:
                return pa if tb == ta else pa + (pb - pa) * (t - ta) / (tb - ta)
        return pts[-1][1]  # unreachable: t lies between the first and last sample

    inner = [(t, p) for t, p in pts if t0 < t < t1]
    knots = [(t0, value_at(t0)), *inner, (t1, value_at(t1))]
    return sum((tb - ta) * (pa + pb) / 2.0 for (ta, pa), (tb, pb) in zip(knots, knots[1:], strict=False))

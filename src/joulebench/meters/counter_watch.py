"""Watching a cumulative energy counter while work keeps running: every change kept as a :class:`CounterMark`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from joulebench.errors import MeterError

if TYPE_CHECKING:
    from joulebench.meters.base import Meter


@dataclass(frozen=True)
class CounterMark:
    """An instant at which a cumulative energy counter was seen to change.

    Attributes:
        t_s: The meter's clock right after the changed value was read (in ``WindowResult.counter_marks``:
            seconds since the window began).
        energy_j: The counter's new value (joules; one device or the sum over the meter's devices).
    """

    t_s: float
    energy_j: float


class CounterWatch:
    """Watches a meter's energy counter on a background thread and keeps every change as a :class:`CounterMark`.

    For counter-aligned sub-windows while work keeps running: the measured loop never blocks on the
    counter (an NVML counter read can take milliseconds); afterwards, pair marks about a window length
    apart and attribute to each pair the work done between their instants. Use as a context manager
    or call :meth:`start` / :meth:`stop`; :meth:`marks` is safe to call while it runs.

    Args:
        meter: A meter with ``has_counter``.
        device: Device whose counter is watched (None = the sum over the meter's devices).
        poll_s: Pause between reads (the read itself may take longer than this).
        read: Reads the counter in joules (default: ``meter.read_counter_j(device)``).
        period_hint_s: The counter's update period, if known: after each change the watcher rests for 70 %
            of it before polling again, so a slow counter read holds the driver (and delays other readers,
            such as the power sampler) only around the expected update.

    Attributes:
        latest: The most recent value read (None before the first read).
    """

    def __init__(
        self,
        meter: Meter,
        device: int | None = None,
        poll_s: float = 0.001,
        read: Callable[[], float] | None = None,
        period_hint_s: float | None = None,
    ):
        from joulebench.meters.sampler import BackgroundSampler

        self.meter = meter
        self.device = device
        self._read_j = read or (lambda: meter.read_counter_j(device))
        self.period_hint_s = period_hint_s
        self._last: float | None = None
        self.latest: float | None = None
        self._sampler: BackgroundSampler[CounterMark] = BackgroundSampler(
            self._read, poll_s, meter.clock, name=f"joulebench-{meter.name}-counter-watch"
        )

    def _read(self, _t: float) -> list[CounterMark]:
        value = self._read_j()
        t = self.meter.clock()
        self.latest = value
        if self._last is None or value == self._last:
            self._last = value
            return []  # the first value and repeats say nothing about when the counter changed
        self._last = value
        if self.period_hint_s:
            self._sampler._stop.wait(0.7 * self.period_hint_s)  # returns at once when stop() is called
        return [CounterMark(t, value)]

    def start(self, known_value: float | None = None) -> CounterWatch:
        """Start watching.

        Args:
            known_value: The counter's value just read by the caller; saves the first (possibly slow) read.
        """
        if known_value is None:
            self._sampler.start()
        else:
            self._last = self.latest = known_value
            self._sampler.start(initial=False)
        return self

    @property
    def running(self) -> bool:
        """True while the watcher thread is alive."""
        return self._sampler.running

    def stop(self) -> list[CounterMark]:
        """Stop watching and return all marks.

        Raises:
            MeterError: If reading the counter failed on the thread.
        """
        marks = self._sampler.stop(final=False)
        if self._sampler.error is not None:
            raise MeterError(f"watching the energy counter failed: {self._sampler.error}") from self._sampler.error
        return marks

    def marks(self) -> list[CounterMark]:
        """The marks so far (a copy)."""
        with self._sampler._lock:
            return list(self._sampler.readings)

    @property
    def error(self) -> BaseException | None:
        """The exception that stopped the watcher thread, if any."""
        return self._sampler.error

    def __enter__(self) -> CounterWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""The measurement window: the one interface every energy source implements.

``with meter.window() as w: ...`` synchronises the device at both edges and leaves a frozen
:class:`WindowResult` on ``w.result`` (its fields are also readable on ``w`` directly).
``begin_window()`` / ``Window.end()`` do the same without a ``with`` block.
"""

from __future__ import annotations

import math
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from joulebench.errors import MeterError
from joulebench.meters.counter_watch import CounterMark, CounterWatch

#: How the energy of a window was obtained.
METHODS = ("counter", "sampled", "simulated", "rapl")


@dataclass(frozen=True)
class Sample:
    """One reading of the background sampler.

    Attributes:
        t_s: Seconds since the window began (monotonic clock).
        device: Device index as the process sees it (after ``CUDA_VISIBLE_DEVICES``).
        power_w: Board power in watts.
        gpu_util_pct: GPU utilisation (%).
        mem_util_pct: Memory-controller utilisation (%).
        mem_used_b: Device memory used (bytes).
        temperature_c: GPU temperature (°C).
        sm_clock_mhz: SM clock (MHz).
        throttle_reasons: NVML clock-throttle-reason bit mask (0 = none).
    """

    t_s: float
    device: int
    power_w: float | None
    gpu_util_pct: float | None = None
    mem_util_pct: float | None = None
    mem_used_b: float | None = None
    temperature_c: float | None = None
    sm_clock_mhz: float | None = None
    throttle_reasons: int | None = None


@dataclass(frozen=True)
class DeviceReading:
    """Energy of one device over a window.

    Attributes:
        device: Device index as the process sees it.
        uuid: Device UUID where known (stable across ``CUDA_VISIBLE_DEVICES`` remaps).
        energy_j: The energy reported for this device (from ``method``).
        method: ``counter``, ``sampled``, ``simulated`` or ``rapl``.
        counter_energy_j: Delta of the cumulative energy counter, or None when unsupported.
        sampled_energy_j: Trapezoidal integral of sampled power, or None without samples.
    """

    device: int
    uuid: str | None
    energy_j: float
    method: str
    counter_energy_j: float | None = None
    sampled_energy_j: float | None = None


@dataclass(frozen=True)
class WindowResult:
    """The frozen outcome of one measurement window (all devices of the meter summed).

    Attributes:
        meter: Registered name of the meter that produced it (``sim`` is never a real measurement).
        method: How ``energy_j`` was obtained; ``mixed`` if devices differ.
        energy_j: Total energy over the window, joules.
        duration_s: Window length, seconds (between the synchronised edges).
        counter_energy_j: Sum of counter deltas, or None if any device lacks the counter.
        sampled_energy_j: Sum of sampled-power integrals, or None without samples.
        idle_power_w: Idle baseline of the meter's devices (W) if one was measured.
        aligned: True when both edges were aligned to energy-counter updates.
        started_at: Unix time of the first edge.
        devices: Per-device readings.
        trace: The sampler's readings during the window.
        notes: Plain-language remarks on how the numbers were obtained (fallbacks, sampler errors,
            an edge that could not be aligned). Shown beside the result; empty when all went as planned.
        counter_marks: Every change of the energy counter seen during the window (meters that watch
            their counter), for counter-aligned sub-windows: energy between two marks is exact up to the
            counter's resolution, their instants are known to about one counter read.
    """

    meter: str
    method: str
    energy_j: float
    duration_s: float
    counter_energy_j: float | None = None
    sampled_energy_j: float | None = None
    idle_power_w: float | None = None
    aligned: bool = False
    started_at: float = 0.0
    devices: tuple[DeviceReading, ...] = ()
    trace: tuple[Sample, ...] = field(default=(), repr=False)
    notes: tuple[str, ...] = ()
    counter_marks: tuple[CounterMark, ...] = field(default=(), repr=False)

    @property
    def avg_power_w(self) -> float:
        """Mean power over the window (W)."""
        return self.energy_j / self.duration_s if self.duration_s > 0 else math.nan

    @property
    def idle_energy_j(self) -> float | None:
        """Energy the devices would have spent idling for the same time, or None without a baseline."""
        return None if self.idle_power_w is None else self.idle_power_w * self.duration_s

    @property
    def dynamic_energy_j(self) -> float | None:
        """Energy above idle ("dynamic" energy), or None without a baseline."""
        idle = self.idle_energy_j
        return None if idle is None else self.energy_j - idle

    @property
    def is_simulated(self) -> bool:
        """True when the numbers come from the simulated meter, not hardware."""
        return self.method == "simulated"

    def trace_summary(self) -> dict[str, Any]:
        """Summary statistics of the trace (for storing beside a measurement)."""
        return summarize_trace(self.trace)

    def to_dict(self, with_trace: bool = False) -> dict[str, Any]:
        """Plain dict for JSON output; the trace is summarised unless ``with_trace``."""
        d = asdict(self)
        d.pop("trace")
        marks = d.pop("counter_marks")
        d["counter_mark_count"] = len(marks)
        d["avg_power_w"] = self.avg_power_w
        d["dynamic_energy_j"] = self.dynamic_energy_j
        d["trace_summary"] = self.trace_summary()
        if with_trace:
            d["trace"] = [asdict(s) for s in self.trace]
            d["counter_marks"] = marks
        return d


def summarize_trace(trace: Sequence[Sample]) -> dict[str, Any]:
    """Min/mean/max of the traced quantities and the OR of all throttle reasons."""
    out: dict[str, Any] = {"samples": len(trace)}
    for key in ("power_w", "gpu_util_pct", "mem_util_pct", "mem_used_b", "temperature_c", "sm_clock_mhz"):
        vals = [getattr(s, key) for s in trace if getattr(s, key) is not None]
        if vals:
            mean = sum(vals) / len(vals)
            out[f"{key}_min"] = min(vals)
            out[f"{key}_mean"] = mean
            out[f"{key}_max"] = max(vals)
            if key == "power_w" and len(vals) > 1:
                out["power_w_std"] = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
    reasons = 0
    for s in trace:
        reasons |= s.throttle_reasons or 0
    out["throttle_reasons"] = reasons
    if len(trace) > 1:
        out["sample_rate_hz"] = (len(trace) - 1) / max(trace[-1].t_s - trace[0].t_s, 1e-9)
    return out


def combine_readings(
    meter: str,
    readings: Sequence[DeviceReading],
    *,
    duration_s: float,
    started_at: float,
    idle_power_w: float | None = None,
    aligned: bool = False,
    trace: Sequence[Sample] = (),
    notes: Sequence[str] = (),
    counter_marks: Sequence[CounterMark] = (),
) -> WindowResult:
    """Sum per-device readings into one :class:`WindowResult`.

    ``method`` is the devices' common method, or ``mixed``; ``counter_energy_j`` and
    ``sampled_energy_j`` are sums only when every device has them (a partial sum would mislead).
    """
    if not readings:
        raise MeterError(f"meter '{meter}' produced no device readings; check the device selection")
    methods = {r.method for r in readings}
    counters = [r.counter_energy_j for r in readings]
    sampled = [r.sampled_energy_j for r in readings]
    return WindowResult(
        meter=meter,
        method=methods.pop() if len(methods) == 1 else "mixed",
        energy_j=sum(r.energy_j for r in readings),
        duration_s=duration_s,
        counter_energy_j=None if any(c is None for c in counters) else sum(counters),  # type: ignore[arg-type]
        sampled_energy_j=None if any(x is None for x in sampled) else sum(sampled),  # type: ignore[arg-type]
        idle_power_w=idle_power_w,
        aligned=aligned,
        started_at=started_at,
        devices=tuple(readings),
        trace=tuple(trace),
        notes=tuple(notes),
        counter_marks=tuple(counter_marks),
    )


def default_sync() -> None:
    """Wait for all queued device work, if torch with CUDA is in use (torch is never imported here)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        for i in range(torch.cuda.device_count()):
            torch.cuda.synchronize(i)


class Window:
    """An open measurement window. Use as a context manager or call :meth:`end`.

    After the window ends, ``result`` holds the :class:`WindowResult`, and its fields
    (``energy_j``, ``duration_s``, ``avg_power_w``...) are readable on the window itself.
    """

    def __init__(self, meter: Meter, align: bool, load: float | None):
        self.meter = meter
        self.align = align
        self.load = load
        self.result: WindowResult | None = None
        self.state: dict[str, Any] = {}
        self._open = False

    def begin(self) -> Window:
        """Synchronise the device, then open the window (aligned to a counter update when asked)."""
        if self._open or self.result is not None:
            raise MeterError("this window was already begun; open a new one with meter.window()")
        self.meter.sync()
        self.meter._begin(self)
        self._open = True
        return self

    def end(self) -> WindowResult:
        """Synchronise the device, close the window and return the frozen result."""
        if not self._open:
            raise MeterError("end() called on a window that is not open; call begin() or use `with meter.window()`")
        self.meter.sync()
        self._open = False
        self.result = self.meter._end(self)
        return self.result

    def abort(self) -> None:
        """Close the window without a result (used when the measured code raised)."""
        if self._open:
            self._open = False
            self.meter._abort(self)

    def __enter__(self) -> Window:
        return self.begin()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.end()
        else:
            self.abort()

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes the Window lacks: forward to the result once there is one.
        result = self.__dict__.get("result")
        if result is None:
            raise AttributeError(f"'{name}' is available once the window has ended")
        return getattr(result, name)


class Meter(ABC):
    """An energy source. Subclasses register with :func:`joulebench.meters.register_meter`.

    Args:
        devices: Device indices to measure (as the process sees them); None = the meter's default.
        device: Shorthand for ``devices=[device]``; it wins over ``devices``.
        sync: Called at both edges of every window; defaults to synchronising CUDA if torch uses it.
        align: Default for aligning window edges to energy-counter updates.
        clock: Monotonic clock in seconds (patched in tests).
    """

    name: ClassVar[str] = "?"
    #: True for meters whose numbers are not hardware measurements.
    simulated: ClassVar[bool] = False
    #: True when :meth:`read_counter_j` works (a cumulative energy counter exists).
    has_counter: ClassVar[bool] = False
    #: True when :meth:`read_temperature_c` reads the device's temperature (``--cooldown 45C`` needs it).
    reads_temperature: ClassVar[bool] = False

    def __init__(
        self,
        devices: Sequence[int] | None = None,
        *,
        device: int | None = None,
        sync: Callable[[], None] | None = None,
        align: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ):
        if device is not None:
            devices = [device]
        self.devices = list(devices) if devices is not None else None
        self._sync = sync or default_sync
        self.align = align
        self.clock = clock
        self.idle_power_w: float | None = None

    def sync(self) -> None:
        """Wait for the measured device's queued work."""
        self._sync()

    def window(self, *, align: bool | None = None, load: float | None = None) -> Window:
        """A new (not yet begun) window; use it with ``with``.

        Args:
            align: Align edges to energy-counter updates (default: the meter's ``align``).
            load: Hint of device utilisation in [0, 1], used only by the simulated meter.
        """
        return Window(self, self.align if align is None else align, load)

    def begin_window(self, *, align: bool | None = None, load: float | None = None) -> Window:
        """Open a window now; close it with ``Window.end()``."""
        return self.window(align=align, load=load).begin()

    def measure_idle(self, duration_s: float = 2.0, *, meanwhile: Callable[[], object] | None = None) -> float:
        """Measure and remember the idle power baseline (W) over ``duration_s`` of doing nothing.

        Args:
            duration_s: The shortest window.
            meanwhile: Host work that leaves the device idle (importing frameworks), done inside the window, which
                then lasts as long as the work does if that is longer: the baseline costs no time of its own.

        Raises:
            ConfigError: If ``duration_s`` is not positive.
        """
        if not duration_s > 0:
            from joulebench.errors import ConfigError

            raise ConfigError(f"the idle baseline needs a positive duration, got {duration_s} s (e.g. 2s)")
        w = self.begin_window(align=False)
        t0 = self.clock()
        try:
            if meanwhile is not None:
                meanwhile()
        except BaseException:
            w.end()  # close the window (and its sampler) before the error goes on
            raise
        self._idle_wait(max(0.0, duration_s - (self.clock() - t0)))
        r = w.end()
        self.idle_power_w = r.avg_power_w
        return self.idle_power_w

    def _idle_wait(self, duration_s: float) -> None:
        time.sleep(duration_s)

    # --- Energy-counter API (for counter-aligned sub-windows while work keeps running) ---

    def read_counter_j(self, device: int | None = None) -> float:
        """Current value of the cumulative energy counter, joules (cheap: one driver call per device).

        Args:
            device: A measured device index (as the process sees it); None = the sum over all measured devices.

        Raises:
            MeterError: If this meter has no energy counter (see ``has_counter``).
        """
        raise MeterError(f"meter '{self.name}' has no cumulative energy counter; use windows instead")

    def wait_for_counter_update(
        self, device: int | None = None, timeout_s: float = 1.0, poll_s: float = 0.0005
    ) -> tuple[float, float] | None:
        """Poll the counter until its value changes; return ``(clock time, counter J)`` right after the change.

        Use the returned instant as a window edge: energy between two such edges is exact up to the
        counter's resolution, instead of off by up to one update period (~100 ms on NVIDIA boards).

        Args:
            device: Device whose counter is watched (None = the first measured device).
            timeout_s: Give up after this many seconds of wall time (returns None).
            poll_s: Sleep between polls.

        Returns:
            ``(t, energy_j)`` where ``energy_j`` is the counter of ``device`` (or of all measured devices
            summed when ``device`` is None, read at that same instant), or None on timeout.
        """
        watched = device if device is not None else self._primary_device()
        start = self.read_counter_j(watched)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if poll_s > 0:
                time.sleep(poll_s)
            now_val = self.read_counter_j(watched)
            if now_val != start:
                t = self.clock()
                single = device is not None or len(self.devices or []) <= 1
                return t, (now_val if single else self.read_counter_j(None))
        return None

    def counter_watch(self, device: int | None = None, poll_s: float = 0.001) -> CounterWatch:
        """A :class:`CounterWatch` on this meter's energy counter (not started; use it with ``with``).

        Raises:
            MeterError: If this meter has no energy counter.
        """
        if not self.has_counter:
            raise MeterError(f"meter '{self.name}' has no cumulative energy counter to watch")
        return CounterWatch(self, device, poll_s)

    def _primary_device(self) -> int | None:
        return self.devices[0] if self.devices else None

    def read_temperature_c(self) -> float | None:
        """The hottest measured device's temperature now (°C), or None where this meter cannot read it."""
        return None

    def describe(self) -> dict[str, Any]:
        """Facts about the measured devices for provenance (name, uuid, power limits...)."""
        return {"meter": self.name}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (threads, handles)."""

    def __enter__(self) -> Meter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def _begin(self, window: Window) -> None:
        """Record the starting readings into ``window.state``."""

    @abstractmethod
    def _end(self, window: Window) -> WindowResult:
        """Read the final values and build the result."""

    def _abort(self, window: Window) -> None:  # noqa: B027 - optional hook
        """Stop whatever ``_begin`` started, without a result."""

"""The simulated meter: deterministic, hardware-free numbers so everything above the meters runs without a GPU.

Its results are never measurements: ``meter="sim"``, ``method="simulated"`` and ``is_simulated`` mark
them, and every place that shows them (CLI tables, JSON, the store) carries the meter's name.

Model
    Board power is ``idle_power_w + load * (power_limit_w - idle_power_w)``, where ``load`` in [0, 1] is
    the window's ``load`` hint (None = idle). The trace is a synthetic 100 Hz series on a grid fixed to
    the meter's clock, each sample multiplied by ``1 + noise_rel * n`` with ``n`` a standard normal drawn
    from a hash of ``(seed, device, sample index)``: the same clock readings always give the same numbers.
    The window's energy is the trapezoidal integral of that trace. Like an NVIDIA board, the meter also
    has a cumulative energy counter (noise-free model power) that only advances every
    ``counter_period_s`` (100 ms), so counter-aligned edges and sub-windows behave as on hardware.
    Between windows, :meth:`SimMeter.set_load` sets the load the counter integrates.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from joulebench.errors import ConfigError, MeterError
from joulebench.meters import register_meter
from joulebench.meters.base import DeviceReading, Meter, Sample, Window, WindowResult, combine_readings
from joulebench.meters.sampler import integrate_trapezoid

_MASK = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _fraction(load: float | None) -> float:
    """``load`` clamped to [0, 1] (None = idle = 0)."""
    return 0.0 if load is None else min(max(float(load), 0.0), 1.0)


def _util_pct(load: float | None) -> float:
    """Simulated utilisation (%) at ``load``."""
    return _fraction(load) * 100.0


def _temperature_c(util_pct: float) -> float:
    """Simulated temperature (°C) at a utilisation: 35 °C idle, 75 °C at full load."""
    return 35.0 + 0.4 * util_pct


def _normal(seed: int, device: int, k: int) -> float:
    """A standard normal deviate that depends only on its arguments (Box-Muller on two hashed uniforms)."""
    h1 = _splitmix64((seed * 1_000_003 + device) * 2_654_435_761 + k)
    h2 = _splitmix64(h1)
    u1 = ((h1 >> 11) + 1) / float(1 << 53)  # in (0, 1]
    u2 = (h2 >> 11) / float(1 << 53)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@register_meter("sim")
class SimMeter(Meter):
    """A deterministic simulated GPU meter (``method="simulated"``).

    Args:
        devices: Simulated device indices (default ``[0]``).
        device: Shorthand for ``devices=[device]``.
        sync: Called at both window edges (default: CUDA synchronise if torch uses CUDA).
        align: Default for counter-aligned window edges.
        clock: Monotonic clock (patch it to make results exactly reproducible).
        idle_power_w: Power at load 0.
        power_limit_w: Power at load 1.
        noise_rel: Relative standard deviation of the trace's noise.
        seed: Seed of the noise.
        rate_hz: Trace sample rate.
        counter_period_s: Update period of the simulated energy counter.

    Raises:
        ConfigError: Inconsistent parameters.
    """

    name = "sim"
    simulated = True
    has_counter = True
    reads_temperature = True

    def __init__(
        self,
        devices: Sequence[int] | None = None,
        *,
        device: int | None = None,
        sync: Callable[[], None] | None = None,
        align: bool = False,
        clock: Callable[[], float] = time.monotonic,
        idle_power_w: float = 60.0,
        power_limit_w: float = 300.0,
        noise_rel: float = 0.02,
        seed: int = 0,
        rate_hz: float = 100.0,
        counter_period_s: float = 0.1,
    ):
        super().__init__(devices, device=device, sync=sync, align=align, clock=clock)
        if self.devices is None:
            self.devices = [0]
        if not 0 <= idle_power_w <= power_limit_w:
            raise ConfigError(f"sim meter: need 0 <= idle_power_w ({idle_power_w}) <= power_limit_w ({power_limit_w})")
        if rate_hz <= 0 or counter_period_s <= 0 or noise_rel < 0:
            raise ConfigError("sim meter: rate_hz and counter_period_s must be positive, noise_rel non-negative")
        self.idle_w = float(idle_power_w)
        self.limit_w = float(power_limit_w)
        self.noise_rel = float(noise_rel)
        self.seed = int(seed)
        self.rate_hz = float(rate_hz)
        self.counter_period_s = float(counter_period_s)
        self.origin = self.clock()
        # Piecewise-constant load history for the counter: (start time, load, energy per device up to start).
        self._seg_t: list[float] = [self.origin]
        self._seg: list[tuple[float, float]] = [(0.0, 0.0)]  # (load, cumulative J per device at segment start)

    # power model

    def power_w(self, load: float | None) -> float:
        """Noise-free model power (W) of one device at ``load`` (None = idle)."""
        return self.idle_w + _fraction(load) * (self.limit_w - self.idle_w)

    def set_load(self, load: float | None) -> None:
        """Set the load the energy counter integrates from now on (windows set it themselves)."""
        t = self.clock()
        if t < self._seg_t[-1]:
            raise MeterError("sim meter: the clock went backwards")
        prev_load, prev_cum = self._seg[-1]
        cum = prev_cum + self.power_w(prev_load) * (t - self._seg_t[-1])
        self._seg_t.append(t)
        self._seg.append((0.0 if load is None else float(load), cum))

    def _model_energy_j(self, t: float) -> float:
        """Integral of model power from the origin to ``t`` for one device."""
        i = max(bisect.bisect_right(self._seg_t, t) - 1, 0)
        load, cum = self._seg[i]
        return cum + self.power_w(load) * max(t - self._seg_t[i], 0.0)

    def read_temperature_c(self) -> float | None:
        """Simulated temperature: the trace's ``35 + 0.4 x utilisation`` at the current load (35 °C idle)."""
        return _temperature_c(_util_pct(self._seg[-1][0]))

    # counter API

    def read_counter_j(self, device: int | None = None) -> float:
        """Simulated cumulative energy counter (J): model energy up to the last update instant.

        Raises:
            MeterError: ``device`` is not one of the simulated devices.
        """
        if device is not None and device not in (self.devices or []):
            raise MeterError(f"device {device} is not simulated by this meter (devices: {self.devices})")
        n = 1 if device is not None else len(self.devices or [])
        t = self.clock()
        tq = self.origin + math.floor((t - self.origin) / self.counter_period_s) * self.counter_period_s
        return n * self._model_energy_j(tq)

    # trace

    def _sample(self, device: int, k: int, load: float | None) -> float:
        return self.power_w(load) * (1.0 + self.noise_rel * _normal(self.seed, device, k))

    def _trace(self, t0: float, t1: float, load: float | None) -> list[Sample]:
        k0 = math.ceil((t0 - self.origin) * self.rate_hz)
        k1 = math.floor((t1 - self.origin) * self.rate_hz)
        util = _util_pct(load)
        out = []
        for d in self.devices or []:
            points = [(t0, round((t0 - self.origin) * self.rate_hz))]
            points += [(self.origin + k / self.rate_hz, k) for k in range(k0, k1 + 1)]
            points.append((t1, round((t1 - self.origin) * self.rate_hz)))
            for t, k in points:
                out.append(
                    Sample(
                        t_s=t - t0,
                        device=d,
                        power_w=self._sample(d, k, load),
                        gpu_util_pct=util,
                        mem_util_pct=util * 0.6,
                        mem_used_b=2e9 + 40e9 * util / 100.0,
                        temperature_c=_temperature_c(util),
                        sm_clock_mhz=1980.0,
                        throttle_reasons=0,
                    )
                )
        return out

    # window

    def _edge(self, window: Window, which: str, notes: list[str]) -> tuple[float, bool]:
        if window.align:
            got = self.wait_for_counter_update(timeout_s=max(1.0, 10 * self.counter_period_s))
            if got is not None:
                return got[0], True
            notes.append(f"{which} edge not aligned: the simulated counter did not change (is the clock patched?)")
        return self.clock(), False

    def _begin(self, window: Window) -> None:
        notes: list[str] = []
        t0, aligned = self._edge(window, "begin", notes)
        self.set_load(window.load)
        c0 = {d: self.read_counter_j(d) for d in self.devices or []}
        window.state.update(t0=t0, aligned=aligned, notes=notes, c0=c0, started_at=time.time())

    def _end(self, window: Window) -> WindowResult:
        st = window.state
        notes: list[str] = st["notes"]
        t1, aligned_end = self._edge(window, "end", notes)
        c1 = {d: self.read_counter_j(d) for d in self.devices or []}
        self.set_load(None)
        t0 = st["t0"]
        trace = self._trace(t0, t1, window.load)
        readings = []
        for d in self.devices or []:
            mine = [s for s in trace if s.device == d]
            sampled = integrate_trapezoid([s.t_s for s in mine], [s.power_w for s in mine], 0.0, t1 - t0) or 0.0
            readings.append(DeviceReading(d, f"SIM-{d}", sampled, "simulated", c1[d] - st["c0"][d], sampled))
        return combine_readings(
            self.name,
            readings,
            duration_s=t1 - t0,
            started_at=st["started_at"],
            idle_power_w=self.idle_power_w,
            aligned=st["aligned"] and aligned_end,
            trace=trace,
            notes=["simulated meter: these numbers are not a measurement", *notes],
        )

    def _abort(self, window: Window) -> None:
        self.set_load(None)

    def describe(self) -> dict[str, Any]:
        """Facts of the simulated devices (clearly marked as simulated)."""
        return {
            "meter": self.name,
            "simulated": True,
            "driver": None,
            "cuda_driver": None,
            "devices": [
                {
                    "index": d,
                    "name": "Simulated GPU (joulebench sim meter)",
                    "uuid": f"SIM-{d}",
                    "memory_b": 80e9,
                    "power_limit_w": self.limit_w,
                    "default_power_limit_w": self.limit_w,
                    "idle_model_w": self.idle_w,
                    "counter": True,
                }
                for d in self.devices or []
            ],
        }

"""How one batch size is measured: warm-up, a window of back-to-back launches, sub-windows, precision.

The protocol for one batch (``measure_batch``):

1. ``runtime.prepare(batch)`` (compile, engine build; timed, never measured) and ``runtime.make_inputs``:
   at least two input buffers, pre-generated on the device; the measured loop only rotates among them.
   Scouting windows call ``runtime.prepare_scout(batch)`` instead, which compilers use to reuse one
   dynamic-batch compilation across the scouted batch sizes (recorded as ``build`` in the trace summary).
2. Warm-up: at least ``warmup_s`` seconds and ``warmup_min_iters`` iterations (cuDNN/inductor algorithm
   selection, clocks settling), then a synchronise.
3. The window: ``meter.window(load=hint)`` (synchronised edges, counter-aligned where the meter can) around
   launches issued back to back without any per-iteration synchronisation, until at least ``min_iters``
   iterations and ``min_window_s`` seconds have passed. Per-iteration times come from CUDA events recorded
   after each launch (on CPU: ``perf_counter`` after each call, which is synchronous there).
4. Sub-windows: while the loop runs, the meter's cumulative energy counter is polled (one cheap driver call
   per launch); every change of its value is a sub-window boundary. Images completed by each boundary are
   interpolated from the iteration completion times, so every sub-window gives an energy per image. The 95%
   confidence interval of energy per image (ratio estimator over sub-windows) is reported as ``ci95_rel``.
   Launching goes on past the minimum until the counter updates once more; energy per image, power and
   throughput then come from the span between the first and last counter updates (both observed while the
   device was busy), which avoids the +-1 update error of unaligned edges and the idle tail of an aligned
   end edge. Meters without a counter use the whole window, and fixed-length sub-windows over the sampled
   power trace for the confidence interval.
5. ``precision``: while the interval is wider than the target, the window is extended by further segments
   (each a full meter window) up to ``max_window_s``.

The simulated meter's power follows the ``load`` hint, which grows with the batch size as
``1 - exp(-batch / 32)``: a stand-in for the utilisation of a real GPU, so that energy per image has a
realistic minimum. Numbers measured with it are a simulation, never a measurement.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from joulebench.meters.base import Meter, Sample, WindowResult, summarize_trace
from joulebench.sweep.tasks import SweepOptions

#: NVML clock-throttle reasons that mean the card slowed down (thermal, hardware slowdown, power brake).
#: The software power cap (0x4) is left out: a card at its power limit under full load is normal.
THROTTLE_WARN_MASK = 0x8 | 0x20 | 0x40 | 0x80

# Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom (beyond: the normal's 1.96).
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t975(df: int) -> float:
    """Student's t 97.5% quantile for ``df`` degrees of freedom."""
    return _T975[df - 1] if 1 <= df <= len(_T975) else 1.96


def load_hint(batch_size: int) -> float:
    """Utilisation hint for the simulated meter: rises with the batch size, saturating near 1."""
    return 1.0 - math.exp(-batch_size / 32.0)


@dataclass(frozen=True)
class WindowPlan:
    """The window parameters for one batch (derived from the options and the search phase)."""

    warmup_s: float
    warmup_min_iters: int
    min_window_s: float
    min_iters: int
    precision: float | None
    max_window_s: float
    phase: str = "full"


def plan_for(opts: SweepOptions, phase: str, *, first: bool = False) -> WindowPlan:
    """Window parameters for a search phase.

    Args:
        opts: The protocol options.
        phase: ``full`` or ``scout`` (scouting windows are ``scout_fraction`` of the full ones, no precision).
        first: The model's first measured batch: always gets the full warm-up (clocks, lazy initialisation).
    """
    if phase != "scout":
        return WindowPlan(
            opts.warmup_s,
            opts.warmup_min_iters,
            opts.min_window_s,
            opts.min_iters,
            opts.precision,
            max(opts.effective_max_window_s, opts.min_window_s),
            phase,
        )
    f = opts.scout_fraction
    return WindowPlan(
        opts.warmup_s if first else opts.warmup_s * f,
        min(opts.warmup_min_iters, 2) if not first else opts.warmup_min_iters,
        opts.min_window_s * f,
        max(3, math.ceil(opts.min_iters * f)),
        None,
        opts.min_window_s * f,
        phase,
    )


# ---------------------------------------------------------------------------------------------- cooldown

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


# ---------------------------------------------------------------------------------------------- timers


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


def make_timer(runtime: Any) -> CpuTimer | CudaTimer:
    """A CUDA-event timer for runtimes on a CUDA device, else a ``perf_counter`` timer."""
    if str(getattr(runtime, "device", "cpu")).startswith("cuda"):
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            return CudaTimer(torch)
    return CpuTimer()


# ------------------------------------------------------------------------------------------ statistics


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (``q`` in [0, 100]) of ``values``, None when empty."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def ratio_ci95_rel(energies: Sequence[float], images: Sequence[float]) -> float | None:
    """Relative half-width of the 95% CI of ``sum(energies) / sum(images)`` over sub-windows.

    Uses the ratio estimator's linearised variance: residuals ``E_k - R * I_k`` over the mean images.
    Returns None with fewer than three sub-windows.
    """
    pairs = [(e, i) for e, i in zip(energies, images, strict=True) if i > 0]
    n = len(pairs)
    if n < 3:
        return None
    tot_e = sum(e for e, _ in pairs)
    tot_i = sum(i for _, i in pairs)
    if tot_e <= 0 or tot_i <= 0:
        return None
    r = tot_e / tot_i
    s2 = sum((e - r * i) ** 2 for e, i in pairs) / (n - 1)
    se = math.sqrt(s2 / n) / (tot_i / n)
    return t975(n - 1) * se / r


def images_at(t: float, completions: Sequence[float], batch_size: int) -> float:
    """Images completed by time ``t``, interpolating linearly within the iteration running at ``t``."""
    if not completions or t <= 0:
        return 0.0
    prev = 0.0
    for k, c in enumerate(completions):
        if t < c:
            frac = (t - prev) / (c - prev) if c > prev else 1.0
            return (k + frac) * batch_size
        prev = c
    return len(completions) * batch_size


def subwindows_from_marks(
    marks: Sequence[tuple[float, float]], completions: Sequence[float], batch_size: int
) -> tuple[list[float], list[float]]:
    """Sub-windows between consecutive ``(t, cumulative energy)`` marks: lists of energies and images."""
    energies, imgs = [], []
    for (t0, e0), (t1, e1) in zip(marks, marks[1:], strict=False):
        i = images_at(t1, completions, batch_size) - images_at(t0, completions, batch_size)
        if t1 > t0 and i > 0:
            energies.append(e1 - e0)
            imgs.append(i)
    return energies, imgs


def marks_from_trace(trace: Sequence[Sample], duration_s: float, n: int = 20) -> list[tuple[float, float]]:
    """Fixed-length sub-window boundaries over a power trace: ``(t, cumulative J)`` at ``n + 1`` instants.

    The trace of every device is integrated (trapezoid) and the devices summed.
    """
    by_dev: dict[int, list[tuple[float, float]]] = {}
    for s in trace:
        if s.power_w is not None:
            by_dev.setdefault(s.device, []).append((s.t_s, s.power_w))
    if not by_dev or duration_s <= 0:
        return []
    edges = [duration_s * k / n for k in range(n + 1)]
    totals = [0.0] * len(edges)
    for pts in by_dev.values():
        pts.sort()
        if len(pts) < 2:
            return []
        cum = [0.0]
        for (ta, pa), (tb, pb) in zip(pts, pts[1:], strict=False):
            cum.append(cum[-1] + (tb - ta) * (pa + pb) / 2)
        times = [t for t, _ in pts]
        for j, t in enumerate(edges):
            totals[j] += _interp(t, times, cum)
    return list(zip(edges, totals, strict=True))


def _interp(t: float, xs: Sequence[float], ys: Sequence[float]) -> float:
    if t <= xs[0]:
        return ys[0]
    if t >= xs[-1]:
        return ys[-1]
    import bisect

    k = bisect.bisect_right(xs, t)
    x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
    return y0 + (y1 - y0) * (t - x0) / (x1 - x0) if x1 > x0 else y1


# --------------------------------------------------------------------------------------------- windows


@dataclass
class Segment:
    """One meter window of the measured loop."""

    result: WindowResult
    iterations: int
    completions: list[float]
    counter_marks: list[tuple[float, float]]


@dataclass
class BatchRun:
    """Raw outcome of the protocol for one batch (converted to a ``BatchMeasurement`` by :func:`to_measurement`)."""

    batch_size: int
    phase: str
    segments: list[Segment] = field(default_factory=list)
    warmup_s: float = 0.0
    warmup_iters: int = 0
    prepare_s: float = 0.0
    peak_memory_b: float | None = None
    ci95_rel: float | None = None
    subwindows: int = 0
    subwindow_source: str = ""
    inputs_created_in_window: int = 0
    #: How the scouting preparation differed from the full one (e.g. a dynamic-batch compile), or None.
    build: str | None = None

    @property
    def iterations(self) -> int:
        """Iterations in all segments."""
        return sum(s.iterations for s in self.segments)

    @property
    def images(self) -> int:
        """Images processed in all segments."""
        return self.iterations * self.batch_size

    @property
    def duration_s(self) -> float:
        """Total window time (s)."""
        return sum(s.result.duration_s for s in self.segments)

    @property
    def energy_j(self) -> float:
        """Total window energy (J)."""
        return sum(s.result.energy_j for s in self.segments)

    def counter_span(self) -> tuple[float, float, float] | None:
        """``(energy J, images, seconds)`` between the first and last counter marks of each segment, summed.

        Both ends are counter updates observed while work was running, so the span carries neither the
        quantisation of unaligned edges nor the idle tail of an edge that waits for an update after the
        device has drained. None without at least two marks in some segment.
        """
        e = imgs = secs = 0.0
        for s in self.segments:
            if len(s.counter_marks) < 2:
                continue
            (ta, ea), (tb, eb) = s.counter_marks[0], s.counter_marks[-1]
            e += eb - ea
            imgs += images_at(tb, s.completions, self.batch_size) - images_at(ta, s.completions, self.batch_size)
            secs += tb - ta
        return (e, imgs, secs) if imgs > 0 and secs > 0 else None

    def latencies_s(self) -> list[float]:
        """Per-iteration times: differences of consecutive completion times within each segment."""
        out: list[float] = []
        for s in self.segments:
            prev = 0.0
            for c in s.completions:
                out.append(max(c - prev, 0.0))
                prev = c
        return out

    def trace(self) -> list[Sample]:
        """All segments' samples on one time axis."""
        out: list[Sample] = []
        offset = 0.0
        for s in self.segments:
            out += [dataclasses.replace(x, t_s=x.t_s + offset) for x in s.result.trace]
            offset += s.result.duration_s
        return out


def _sum_or_none(values: Sequence[float | None]) -> float | None:
    return None if not values or any(v is None for v in values) else float(sum(values))  # type: ignore[arg-type]


def _counter_reader(meter: Meter) -> Callable[[], float] | None:
    if not getattr(meter, "has_counter", False) or not getattr(meter, "counter_supported", True):
        return None
    return lambda: meter.read_counter_j(None)


def run_segment(
    fn: Callable[[Any], Any],
    inputs: Sequence[Any],
    meter: Meter,
    *,
    batch_size: int,
    min_s: float,
    min_iters: int,
    start_iter: int = 0,
    load: float | None = None,
    timer_factory: Callable[[], CpuTimer | CudaTimer] = CpuTimer,
    clock: Callable[[], float] = time.perf_counter,
    span_grace_s: float = 1.0,
) -> Segment:
    """Run ``fn`` back to back inside one meter window until ``min_iters`` and ``min_s`` are both reached.

    The energy counter, where the meter has one, is polled after each launch; each change of its value is
    recorded as a ``(t, cumulative J)`` mark for counter-aligned sub-windows. With a counter, launching goes
    on past the minimum until the counter updates once more (at most ``span_grace_s``), so that the span
    between the first and last marks -- counter-aligned edges taken while the device is busy -- covers the
    minimum window.
    """
    n_buf = len(inputs)
    read = _counter_reader(meter)
    timer = timer_factory()
    marks: list[tuple[float, float]] = []
    i = 0
    done_at: float | None = None  # when the minimum was reached
    with meter.window(load=load) as w:
        timer.start()
        t0 = clock()
        m0 = meter.clock()
        last = read() if read else None
        while True:
            fn(inputs[(start_iter + i) % n_buf])
            timer.mark()
            i += 1
            now = clock()
            new_mark = False
            if read is not None:
                v = read()
                if v != last:
                    marks.append((now - t0, v))
                    last = v
                    new_mark = True
            if done_at is None and i >= min_iters and now - t0 >= min_s:
                done_at = now
                if read is None:
                    break
                continue
            if done_at is not None and ((new_mark and len(marks) >= 2) or now - done_at >= span_grace_s):
                break
    result = w.result
    assert result is not None
    # A meter that watched its counter on a thread (NVML) timed the changes better than this loop's polls,
    # which wait for launches to return: use its marks, moved onto this loop's time axis.
    watched = getattr(result, "counter_marks", ())
    if len(watched) >= 2:
        offset = m0 - float(w.state.get("t0", m0))
        marks = [(cm.t_s - offset, cm.energy_j) for cm in watched if cm.t_s - offset >= 0]
    return Segment(result, i, timer.completions(), marks)


def _subwindows(run: BatchRun) -> tuple[list[float], list[float], str]:
    energies: list[float] = []
    imgs: list[float] = []
    for seg in run.segments:
        e, i = subwindows_from_marks(seg.counter_marks, seg.completions, run.batch_size)
        energies += e
        imgs += i
    if len(energies) >= 3:
        return energies, imgs, "counter"
    energies, imgs = [], []
    for seg in run.segments:
        marks = marks_from_trace(seg.result.trace, seg.result.duration_s)
        e, i = subwindows_from_marks(marks, seg.completions, run.batch_size)
        energies += e
        imgs += i
    return energies, imgs, "trace" if energies else "none"


def _peak_memory_reset(runtime: Any) -> Callable[[], float | None]:
    torch = sys.modules.get("torch")
    if str(getattr(runtime, "device", "cpu")).startswith("cuda") and torch is not None and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
        return lambda: float(torch.cuda.max_memory_allocated())
    return lambda: None


def measure_batch(
    runtime: Any,
    meter: Meter,
    batch_size: int,
    plan: WindowPlan,
    *,
    should_stop: Callable[[], bool] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> BatchRun:
    """Measure one batch size with the protocol (see the module docstring).

    Args:
        runtime: A loaded runtime (``prepare``, ``make_inputs``, ``synchronize``, ``last_prepare_s``).
        meter: The meter (its idle baseline already measured).
        batch_size: The batch size.
        plan: Window parameters (:func:`plan_for`).
        should_stop: Polled between precision extensions; True ends the window early (Ctrl-C).
        clock: Monotonic clock for the loop's time checks.

    Returns:
        The :class:`BatchRun`. Exceptions (out of memory, compile errors) propagate to the caller.
    """
    peak = _peak_memory_reset(runtime)
    scout = plan.phase == "scout" and hasattr(runtime, "prepare_scout")
    fn = runtime.prepare_scout(batch_size) if scout else runtime.prepare(batch_size)
    run = BatchRun(
        batch_size=batch_size,
        phase=plan.phase,
        prepare_s=float(getattr(runtime, "last_prepare_s", 0.0)),
        build=getattr(runtime, "scout_build", None) if scout else None,
    )
    inputs = list(runtime.make_inputs(batch_size, n=2))
    load = load_hint(batch_size)

    t0 = clock()
    i = 0
    while i < plan.warmup_min_iters or clock() - t0 < plan.warmup_s:
        fn(inputs[i % len(inputs)])
        i += 1
    runtime.synchronize()
    run.warmup_s, run.warmup_iters = clock() - t0, i

    timer_factory = lambda: make_timer(runtime)  # noqa: E731
    seg_s, seg_iters = plan.min_window_s, plan.min_iters
    while True:
        seg = run_segment(
            fn,
            inputs,
            meter,
            batch_size=batch_size,
            min_s=seg_s,
            min_iters=seg_iters,
            start_iter=run.iterations,
            load=load,
            timer_factory=timer_factory,
            clock=clock,
        )
        run.segments.append(seg)
        energies, imgs, source = _subwindows(run)
        run.ci95_rel = ratio_ci95_rel(energies, imgs)
        run.subwindows, run.subwindow_source = len(energies), source
        if plan.precision is None or (run.ci95_rel is not None and run.ci95_rel <= plan.precision):
            break
        left = plan.max_window_s - run.duration_s
        if left <= 0 or (should_stop is not None and should_stop()):
            break
        # The half-width shrinks as 1/sqrt(time): extend by the estimated need, at least a quarter window.
        need = run.duration_s * ((run.ci95_rel / plan.precision) ** 2 - 1) if run.ci95_rel else plan.min_window_s
        seg_s = min(max(need, plan.min_window_s / 4), left)
        seg_iters = 1
    run.peak_memory_b = peak()
    del fn, inputs
    return run


def _device_fact(desc: dict[str, Any], key: str) -> Any:
    devices = desc.get("devices") or []
    if devices and isinstance(devices[0], dict) and devices[0].get(key) is not None:
        return devices[0][key]
    return desc.get(key)


def device_memory_b(runtime: Any) -> float | None:
    """Total memory of the runtime's CUDA device in bytes (None on the CPU or without torch)."""
    torch = sys.modules.get("torch")
    device = str(getattr(runtime, "device", "cpu"))
    if torch is None or not device.startswith("cuda") or not torch.cuda.is_available():
        return None
    return float(torch.cuda.get_device_properties(torch.device(device)).total_memory)


def device_facts(meter: Meter) -> dict[str, Any]:
    """``gpu_name``, ``gpu_uuid``, ``power_limit_w`` of the meter's (first) device, from ``describe()``."""
    try:
        desc = meter.describe()
    except Exception as e:  # facts are optional; the measurement is not
        return {"gpu_name": None, "gpu_uuid": None, "power_limit_w": None, "describe_error": str(e)}
    return {
        "gpu_name": _device_fact(desc, "name"),
        "gpu_uuid": _device_fact(desc, "uuid"),
        "power_limit_w": _device_fact(desc, "power_limit_w"),
    }


def host_memory() -> dict[str, Any]:
    """This process's resident set now and at its peak, and the machine's available memory, in bytes.

    Keys ``host_rss_b``, ``host_rss_peak_b`` (the kernel's high-water mark, ``VmHWM``), the resident set's parts
    ``host_rss_anon_b`` (the heap and other private memory), ``host_rss_file_b`` (mapped files and libraries)
    and ``host_rss_shmem_b`` (shared memory, where a driver's mappings of device memory would show), and
    ``host_available_b``. Kept per batch because a worker killed for host memory leaves no output: the rows
    before the kill show whether host memory grew with the batch, and :func:`host_memory_shortfall` projects
    it; the parts say what grew. Where shared memory reaches :data:`SHMEM_DETAIL_B`, ``host_shmem_mappings``
    also names what holds it (:func:`shared_mappings`), and :func:`pinned_host_memory` adds torch's own count of
    page-locked memory. Linux only (``/proc``); None elsewhere.
    """

    def fields_b(path: str) -> dict[str, float]:
        out: dict[str, float] = {}
        try:
            with open(path) as f:
                for line in f:
                    name, _, rest = line.partition(":")
                    parts = rest.split()
                    if len(parts) == 2 and parts[1] == "kB":  # the kernel reports kB
                        out[name] = float(parts[0]) * 1024
        except OSError:
            return {}
        return out

    status, meminfo = fields_b("/proc/self/status"), fields_b("/proc/meminfo")
    out: dict[str, Any] = {
        "host_rss_b": status.get("VmRSS"),
        "host_rss_peak_b": status.get("VmHWM"),
        "host_rss_anon_b": status.get("RssAnon"),
        "host_rss_file_b": status.get("RssFile"),
        "host_rss_shmem_b": status.get("RssShmem"),
        "host_available_b": meminfo.get("MemAvailable"),
    }
    if (status.get("RssShmem") or 0) >= SHMEM_DETAIL_B:  # reading smaps costs more: only where it tells something
        out["host_shmem_mappings"] = shared_mappings()
    out.update(pinned_host_memory())
    return out


def pinned_host_memory() -> dict[str, float]:
    """What torch's caching allocator of page-locked host memory holds now and held at most, in bytes.

    Keys ``host_pinned_b`` and ``host_pinned_peak_b``; empty where torch, CUDA or the statistics
    (``torch.cuda.host_memory_stats``, newer torch) are missing. Pinned memory is a shared mapping of
    ``/dev/zero`` to the kernel, so it also counts in ``host_rss_shmem_b``; a peak well above the current value
    shows that :func:`~joulebench.runtimes.base.empty_pinned_cache` gave it back.
    """
    torch = sys.modules.get("torch")
    stats_fn = getattr(getattr(torch, "cuda", None), "host_memory_stats", None)
    if stats_fn is None or not torch.cuda.is_initialized():
        return {}
    stats = stats_fn()
    pairs = (("host_pinned_b", "allocated_bytes.current"), ("host_pinned_peak_b", "allocated_bytes.peak"))
    return {key: float(stats[name]) for key, name in pairs if name in stats}


#: Shared memory from which :func:`host_memory` names the mappings that hold it (compile-fp16 workers on the H200
#: held up to 60 GB of it, torch-fp32 ones none).
SHMEM_DETAIL_B = 2**30


def shared_mappings(path: str = "/proc/self/smaps", top: int = 3) -> list[dict[str, Any]]:
    """The shared mappings of this process that hold the most resident memory, summed per name.

    Args:
        path: The kernel's per-mapping memory report.
        top: How many names to keep.

    Returns:
        ``[{"name", "rss_b", "mappings"}]``, largest first; ``name`` is the mapped file (``/dev/shm/…``,
        ``/memfd:… (deleted)``, a device such as ``/dev/nvidia-uvm``) or ``[shared anonymous]``. Empty where
        the report cannot be read or parsed.
    """
    sizes: dict[str, list[float]] = {}
    name: str | None = None
    try:
        with open(path) as f:
            for line in f:
                head = line.split(maxsplit=5)
                if len(head) >= 5 and "-" in head[0] and len(head[1]) == 4:  # a mapping: addr perms offset dev inode
                    shared = head[1][3] == "s"
                    name = (head[5].strip() or "[shared anonymous]") if len(head) > 5 else "[shared anonymous]"
                    name = name if shared else None
                elif name is not None and head[:1] == ["Rss:"] and len(head) >= 3 and head[2] == "kB":
                    sizes.setdefault(name, []).append(float(head[1]) * 1024)
    except (OSError, ValueError):  # diagnostics only: an unreadable report must not fail the measurement
        return []
    ranked = sorted(sizes.items(), key=lambda kv: -sum(kv[1]))[:top]
    return [{"name": n, "rss_b": sum(v), "mappings": len(v)} for n, v in ranked]


#: Share of the host's available memory a projected batch may take; the rest is headroom for the projection's
#: error and for other processes.
HOST_MEMORY_SHARE = 0.9


def host_memory_shortfall(rows: list[Any], batch: int, *, share: float = HOST_MEMORY_SHARE) -> str | None:
    """Why ``batch`` must not run because the worker's host memory would run out, or None.

    Some runtimes use host memory in proportion to the batch (seen on the H200 with resnet18d under
    compile-fp16: 14, 31 and 66 GB at batches 2,048, 4,096 and 8,192); the kernel's out-of-memory killer then
    ends the worker with SIGKILL and no output, losing the model. Host memory per image is taken from the two
    largest successful batches below ``batch`` that were each the largest so far when measured (the upward
    ladder: a smaller refinement batch measured later would read the larger one's peak and hide the growth),
    and the growth up to ``batch`` is compared with ``share`` of the memory available after the larger one.
    Memory that does not grow with the batch (torch, the model) projects no growth and never stops a batch.

    Args:
        rows: This task's measurements so far (``BatchMeasurement``).
        batch: The batch about to run.
        share: Share of the available memory the growth may take.

    Returns:
        A reason for an ``oom`` row (the projection, the memory available and what was done), or None.
    """
    known: dict[int, tuple[float, float]] = {}
    for r in rows:  # in the order measured
        ts = r.trace_summary or {}
        used = ts.get("host_rss_peak_b") or ts.get("host_rss_b")
        avail = ts.get("host_available_b")
        if r.status != "ok" or used is None or avail is None or (known and r.batch_size <= max(known)):
            continue
        known[r.batch_size] = (float(used), float(avail))
    known = {b: v for b, v in known.items() if b < batch}
    if len(known) < 2:
        return None
    a, b = sorted(known)[-2:]
    per_image = (known[b][0] - known[a][0]) / (b - a)
    growth = per_image * (batch - b)
    avail = known[b][1]
    if per_image <= 0 or growth <= share * avail:
        return None
    return (
        f"host memory: batch {batch} would need about {growth / 1e9:.0f} GB more host memory "
        f"({per_image / 1e6:.1f} MB per image from batches {a} to {b}), {avail / 1e9:.0f} GB available; not run"
    )


def to_measurement(run: BatchRun, base: dict[str, Any], meter: Meter, facts: dict[str, Any]) -> Any:
    """Build the ``BatchMeasurement`` row of a :class:`BatchRun`.

    Args:
        run: The protocol's outcome.
        base: Identity fields (``run_id``, ``model``, ``img_size``, ``runtime``, ``precision``).
        meter: The meter (name, idle baseline).
        facts: From :func:`device_facts`.
    """
    from joulebench.store.records import BatchMeasurement

    results = [s.result for s in run.segments]
    energy, duration, images = run.energy_j, run.duration_s, run.images
    idle = meter.idle_power_w
    lat = run.latencies_s()
    trace = run.trace()
    ts = summarize_trace(trace)
    # Simulated traces invent memory use: only a real trace may stand in for the allocator's peak.
    peak_b = run.peak_memory_b if run.peak_memory_b is not None or meter.simulated else ts.get("mem_used_b_max")
    # Energy per image, power and throughput from the counter-aligned span when there is one (see
    # BatchRun.counter_span); else from the whole window, with throughput from the iteration timeline.
    span = run.counter_span()
    if span is not None:
        span_e, span_i, span_t = span
        epi = span_e / span_i
        dyn = (span_e - idle * span_t) / span_i if idle is not None else None
        power, throughput = span_e / span_t, span_i / span_t
    else:
        busy = sum(s.completions[-1] for s in run.segments if s.completions) or duration
        epi = energy / images if images else None
        dyn = (energy - idle * duration) / images if images and idle is not None else None
        power = energy / duration if duration > 0 else None
        throughput = images / busy if busy > 0 else None
    methods = {r.method for r in results}
    notes = sorted({n for r in results for n in r.notes})
    ts.update(
        phase=run.phase,
        segments=len(run.segments),
        warmup_s=run.warmup_s,
        warmup_iters=run.warmup_iters,
        prepare_s=run.prepare_s,
        build=run.build,
        subwindows=run.subwindows,
        subwindow_source=run.subwindow_source,
        aligned=all(r.aligned for r in results),
        load_hint=load_hint(run.batch_size) if meter.simulated else None,
        epi_source="counter_span" if span is not None else "window",
        span_s=span[2] if span is not None else None,
        notes=notes,
        **host_memory(),
    )
    return BatchMeasurement(
        **base,
        batch_size=run.batch_size,
        status="ok",
        gpu_name=facts.get("gpu_name"),
        gpu_uuid=facts.get("gpu_uuid"),
        meter=meter.name,
        method=methods.pop() if len(methods) == 1 else "mixed",
        iterations=run.iterations,
        images=images,
        duration_s=duration,
        energy_j=energy,
        energy_per_image_j=epi,
        dynamic_energy_per_image_j=dyn,
        counter_energy_j=_sum_or_none([r.counter_energy_j for r in results]),
        sampled_energy_j=_sum_or_none([r.sampled_energy_j for r in results]),
        idle_power_w=idle,
        avg_power_w=power,
        power_limit_w=facts.get("power_limit_w"),
        throughput_ips=throughput,
        latency_mean_s=sum(lat) / len(lat) if lat else None,
        latency_p50_s=percentile(lat, 50),
        latency_p95_s=percentile(lat, 95),
        peak_memory_b=peak_b,
        temperature_max_c=ts.get("temperature_c_max"),
        throttle_reasons=ts.get("throttle_reasons"),
        ci95_rel=run.ci95_rel,
        trace_summary=ts,
        measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


__all__ = [
    "COOLDOWN_MAX_S",
    "THROTTLE_WARN_MASK",
    "BatchRun",
    "Cooldown",
    "CpuTimer",
    "CudaTimer",
    "WindowPlan",
    "cool_down",
    "device_facts",
    "device_memory_b",
    "load_hint",
    "measure_batch",
    "plan_for",
    "ratio_ci95_rel",
    "to_measurement",
]

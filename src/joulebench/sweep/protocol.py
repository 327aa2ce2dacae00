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
   after each launch (on CPU: ``perf_counter`` after each call, which is synchronous there). A fixed CPU loop
   timed before and after the window (``host_probe_s``) records the host's speed, which launch-bound windows follow.
4. Sub-windows: while the loop runs, the meter's cumulative energy counter is polled (one cheap driver call
   per launch); every change of its value is a sub-window boundary. Images completed by each boundary are
   interpolated from the iteration completion times, so every sub-window gives an energy per image. The 95%
   confidence interval of energy per image (ratio estimator over about ``sqrt(n)`` blocks of consecutive
   sub-windows, whose boundary errors cancel within a block: ``stats.block_ci95_rel``) is reported as ``ci95_rel``.
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

The statistics live in :mod:`~joulebench.sweep.stats`, the iteration timers in :mod:`~joulebench.sweep.timers`,
the wait for a cool card in :mod:`~joulebench.sweep.cooldown` and the host-memory probes in
:mod:`~joulebench.sweep.host_memory`; their names are re-exported here for existing imports.
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
from joulebench.sweep.cooldown import COOLDOWN_MAX_S, Cooldown, cool_down
from joulebench.sweep.device import device_facts, device_memory_b
from joulebench.sweep.host_cpu import CpuUsage, cpu_usage, host_cpu_summary, host_probe_s
from joulebench.sweep.host_memory import (
    HOST_MEMORY_SHARE,
    SHMEM_DETAIL_B,
    host_memory,
    host_memory_shortfall,
    pinned_host_memory,
    shared_mappings,
)
from joulebench.sweep.stats import (
    block_ci95_rel,
    images_at,
    marks_from_trace,
    percentile,
    ratio_ci95_rel,
    subwindows_from_marks,
    t975,
)
from joulebench.sweep.tasks import SweepOptions
from joulebench.sweep.timers import CpuTimer, CudaTimer, make_timer

#: NVML clock-throttle reasons that mean the card slowed down (thermal, hardware slowdown, power brake).
#: The software power cap (0x4) is left out: a card at its power limit under full load is normal.
THROTTLE_WARN_MASK = 0x8 | 0x20 | 0x40 | 0x80


#: Iterations a measured or warm-up loop keeps launched but unfinished (see ``CudaTimer.throttle``).
IN_FLIGHT = 2


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
    # A scout only ranks batches: past the first, one warm-up call (``prepare`` made one already) and two measured
    # iterations suffice where one iteration outlasts the minimum window; a large batch costs three iterations,
    # not five, and the counter still updates many times within them.
    return WindowPlan(
        opts.warmup_s if first else opts.warmup_s * f,
        min(opts.warmup_min_iters, 1) if not first else opts.warmup_min_iters,
        opts.min_window_s * f,
        max(2, math.ceil(opts.min_iters * f)),
        None,
        opts.min_window_s * f,
        phase,
    )


# --------------------------------------------------------------------------------------------- windows


@dataclass
class Segment:
    """One meter window of the measured loop."""

    result: WindowResult
    iterations: int
    completions: list[float]
    counter_marks: list[tuple[float, float]]
    #: Host time spent inside the launches (``fn`` calls), the rest being throttle waits and the loop's own work.
    launch_s: float = 0.0
    #: The launching thread's CPU use over the window (:mod:`joulebench.sweep.host_cpu`).
    cpu: CpuUsage | None = None
    #: The host's speed around the window: mean :func:`~joulebench.sweep.host_cpu.host_probe_s` before and after.
    probe_s: float | None = None


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
    launch_s = 0.0
    done_at: float | None = None  # when the minimum was reached
    probe0 = host_probe_s()  # outside the window: its CPU loop must not read as the card's
    with meter.window(load=load) as w:
        cpu0 = cpu_usage()
        timer.start()
        t0 = clock()
        m0 = meter.clock()
        last = read() if read else None
        while True:
            timer.throttle(IN_FLIGHT)
            a = clock()
            fn(inputs[(start_iter + i) % n_buf])
            launch_s += clock() - a
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
        cpu = cpu_usage() - cpu0
    result = w.result
    assert result is not None
    # A meter that watched its counter on a thread (NVML) timed the changes better than this loop's polls,
    # which wait for launches to return: use its marks, moved onto this loop's time axis.
    watched = getattr(result, "counter_marks", ())
    if len(watched) >= 2:
        offset = m0 - float(w.state.get("t0", m0))
        marks = [(cm.t_s - offset, cm.energy_j) for cm in watched if cm.t_s - offset >= 0]
    return Segment(result, i, timer.completions(), marks, launch_s, cpu, (probe0 + host_probe_s()) / 2)


def _subwindows(run: BatchRun) -> tuple[list[float], list[float], str]:
    for source, least in (("counter", 3), ("trace", 1)):  # the counter's marks where enough, else the trace's
        energies: list[float] = []
        imgs: list[float] = []
        for seg in run.segments:
            trace = source == "trace"
            marks = marks_from_trace(seg.result.trace, seg.result.duration_s) if trace else seg.counter_marks
            e, i = subwindows_from_marks(marks, seg.completions, run.batch_size)
            energies += e
            imgs += i
        if len(energies) >= least:
            return energies, imgs, source
    return [], [], "none"


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

    warm = make_timer(runtime)
    warm.start()
    t0 = clock()
    i = 0
    while i < plan.warmup_min_iters or clock() - t0 < plan.warmup_s:
        warm.throttle(IN_FLIGHT)
        fn(inputs[i % len(inputs)])
        warm.mark()
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
        run.ci95_rel = block_ci95_rel(energies, imgs)
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
    ts = summarize_trace(run.trace())
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
        **host_memory() | host_cpu_summary(run.segments, duration, run.iterations),
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


# The batch loop, then the names re-exported from the modules split off this one.
__all__ = [
    "THROTTLE_WARN_MASK", "BatchRun", "Segment", "WindowPlan", "device_facts", "device_memory_b", "load_hint",
    "measure_batch", "plan_for", "run_segment", "to_measurement",
    "COOLDOWN_MAX_S", "Cooldown", "cool_down",
    "HOST_MEMORY_SHARE", "SHMEM_DETAIL_B", "host_memory", "host_memory_shortfall", "pinned_host_memory",
    "shared_mappings",
    "block_ci95_rel", "images_at", "marks_from_trace", "percentile", "ratio_ci95_rel", "subwindows_from_marks", "t975",
    "CpuTimer", "CudaTimer", "make_timer",
]  # fmt: skip

"""How the launching thread spent a measured window: running on a CPU, waiting, or pre-empted.

At a batch small enough that one iteration's kernels take about as long as the host needs to launch them, the card
waits on the host and energy per image follows the host's speed. A window's GPU utilisation says *that* the card
waited; these figures say *why*: a thread busy for the whole window (``host_thread_busy_frac`` near 1) launches as
fast as it can, so the launches cost more CPU time than elsewhere; a thread often pre-empted (``host_preemptions``)
lost its CPU to other work on the machine; a thread that mostly waited blocked on something (a lock, a
synchronisation). ``host_process_cpu_s`` beyond the thread's own is what the process's other threads (the meter's
sampler, compile workers' helpers) ran meanwhile.

The host's own speed varies too: on a cloud GPU machine the same fixed pure-Python workload took nearly twice as long
for half a minute (other tenants sharing the CPUs' frequency budget would do that), and a launch-bound window's
launches slowed down with it (docs/validation/launch-bound-windows.md). :func:`host_probe_s` times such a workload
before and after every window (``host_probe_s``, lower is faster), so that two launch-bound readings can be compared
at the host speed each had.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

_RUSAGE_THREAD = getattr(resource, "RUSAGE_THREAD", None)  # Linux only


@dataclass(frozen=True)
class CpuUsage:
    """CPU time and context switches of this thread (and the process's CPU time) since some reference."""

    thread_cpu_s: float
    process_cpu_s: float
    #: Times the thread gave up its CPU to wait (a lock, I/O, a sleep); None where the platform does not count.
    voluntary_switches: int | None
    #: Times the scheduler took the CPU away from the thread for other work; None where not counted.
    involuntary_switches: int | None

    def __sub__(self, other: CpuUsage) -> CpuUsage:
        return CpuUsage(
            self.thread_cpu_s - other.thread_cpu_s,
            self.process_cpu_s - other.process_cpu_s,
            _diff(self.voluntary_switches, other.voluntary_switches),
            _diff(self.involuntary_switches, other.involuntary_switches),
        )


def _diff(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a - b


def cpu_usage() -> CpuUsage:
    """This thread's CPU time and context switches so far, and the process's CPU time (all its threads)."""
    if _RUSAGE_THREAD is not None:
        r = resource.getrusage(_RUSAGE_THREAD)
        return CpuUsage(r.ru_utime + r.ru_stime, time.process_time(), r.ru_nvcsw, r.ru_nivcsw)
    return CpuUsage(time.thread_time(), time.process_time(), None, None)


#: Loop length of :func:`host_probe_s`: about half a millisecond per pass on a current server core at full speed.
PROBE_LOOP = 10_000
PROBE_PASSES = 3


def host_probe_s(loop: int = PROBE_LOOP, passes: int = PROBE_PASSES) -> float:
    """Thread CPU seconds of a fixed pure-Python loop, the fastest of ``passes``: the host's single-thread speed.

    The launching thread's own CPU time, not wall time, so a pre-emption does not count; the fastest pass leaves out
    an interrupt. It compares the same host across windows (and processes of one Python build), not machines.
    """
    best = float("inf")
    for _ in range(passes):
        t0, acc = time.thread_time(), 0
        for i in range(loop):
            acc += i * i
        best = min(best, time.thread_time() - t0)
    return best


def _total(values: Iterable[int | None]) -> int | None:
    values = list(values)
    return None if not values or any(v is None for v in values) else sum(v for v in values if v is not None)


def host_cpu_summary(segments: Sequence[Any], window_s: float, iterations: int) -> dict[str, Any]:
    """Trace-summary keys for measured windows.

    Args:
        segments: The windows, each with ``launch_s`` (host time inside the measured function's calls) and ``cpu``
            (its :class:`CpuUsage`, end minus start, or None where none was taken).
        window_s: The windows' total duration.
        iterations: The iterations launched in them.

    Returns:
        ``host_launch_per_iter_s`` (a launch's mean host time: near the iteration time, the card waits on the host)
        and ``host_launch_frac`` (launch time over window time); with usages also ``host_thread_cpu_s``,
        ``host_thread_busy_frac`` (thread CPU time over window time; a CUDA synchronisation may spin, so it is near
        1 for a card-bound loop too), ``host_thread_cpu_per_iter_s``, ``host_process_cpu_s`` (all the process's
        threads), ``host_waits`` and ``host_preemptions`` (the launching thread's voluntary and involuntary
        context switches, None where not counted); with probes (segments' ``probe_s``) also ``host_probe_s``, their
        median (:func:`host_probe_s`).
    """
    launch_s = sum(s.launch_s for s in segments)
    usages = [s.cpu for s in segments if s.cpu is not None]
    out: dict[str, Any] = {
        "host_launch_per_iter_s": launch_s / iterations if iterations else None,
        "host_launch_frac": launch_s / window_s if window_s > 0 else None,
    }
    probes = [p for p in (getattr(s, "probe_s", None) for s in segments) if p is not None]
    if probes:
        out["host_probe_s"] = statistics.median(probes)
    if not usages:
        return out
    thread = sum(u.thread_cpu_s for u in usages)
    return out | {
        "host_thread_cpu_s": thread,
        "host_thread_busy_frac": thread / window_s if window_s > 0 else None,
        "host_thread_cpu_per_iter_s": thread / iterations if iterations else None,
        "host_process_cpu_s": sum(u.process_cpu_s for u in usages),
        "host_waits": _total(u.voluntary_switches for u in usages),
        "host_preemptions": _total(u.involuntary_switches for u in usages),
    }


__all__ = ["CpuUsage", "cpu_usage", "host_cpu_summary", "host_probe_s"]

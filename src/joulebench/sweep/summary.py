"""Per-model summary: from the batch measurements of one (model configuration, runtime) to a ModelSummary."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from joulebench.store.records import BatchMeasurement, Failure, ModelSummary
from joulebench.sweep.protocol import THROTTLE_WARN_MASK


def optimal(measurements: Sequence[BatchMeasurement]) -> BatchMeasurement | None:
    """The successful measurement with least energy per image, preferring full-protocol windows.

    Scouting windows (phase ``scout``) are short; they only decide the optimum when nothing was measured
    with the full protocol.
    """
    ok = [m for m in measurements if m.status == "ok" and m.energy_per_image_j is not None]
    full = [m for m in ok if (m.trace_summary or {}).get("phase", "full") != "scout"]
    pool = full or ok
    return min(pool, key=lambda m: (m.energy_per_image_j, m.batch_size)) if pool else None


def within_budget(measurements: Sequence[BatchMeasurement], budget_s: float | None) -> BatchMeasurement | None:
    """The largest successful batch whose p95 per-batch latency is within ``budget_s`` (None without budget)."""
    if budget_s is None:
        return None
    fits = [
        m
        for m in measurements
        if m.status == "ok" and m.latency_p95_s is not None and m.latency_p95_s <= budget_s and m.energy_per_image_j
    ]
    if not fits:
        return None
    # Several windows of the same batch (scout and full): take the full one.
    return max(fits, key=lambda m: (m.batch_size, (m.trace_summary or {}).get("phase") != "scout"))


#: Below this mean utilisation of the card (the driver's, sampled with the power) a window counts as launch-bound.
#: On an H100 the final windows of eager sweeps read 92.9 to 100 %, compiled finals that waited on the host (at 64
#: to 256) 35.8 to 66.9 %, the other compiled finals 94.4 to 100 % (docs/validation/launch-bound-windows.md).
LAUNCH_BOUND_UTIL_PCT = 85.0


def launch_bound(m: BatchMeasurement) -> float | None:
    """The card's mean utilisation (%) in ``m``'s window when the card waited on the host for much of it, else None.

    At such a batch the host launches kernels no faster than the card runs them, so energy per image follows the
    host's speed: another CPU, or the same one busier, reads differently. None under the simulated meter, whose
    utilisation follows the batch size, not the launches.
    """
    return launch_bound_util(m.trace_summary, m.method)


def launch_bound_util(trace_summary: dict[str, Any] | None, method: str | None) -> float | None:
    """:func:`launch_bound` of a stored row: its trace summary and measuring method."""
    if method == "simulated":
        return None
    util = (trace_summary or {}).get("gpu_util_pct_mean")
    return float(util) if util is not None and float(util) < LAUNCH_BOUND_UTIL_PCT else None


#: A launch-bound window taken while the host ran more than this much slower than at its fastest in the task read the
#: host's slow spell: the search measures such a final once more, and ``measure`` names the slowdown in its warning.
#: A cloud host's single-thread speed halved for half a minute (docs/validation/launch-bound-windows.md).
HOST_SLOW = 0.10


def host_slowdown(m: Any, measurements: Sequence[Any]) -> float | None:
    """How much slower the host ran around ``m``'s window than at its fastest in ``measurements`` (0.3: 30 %).

    From the windows' ``host_probe_s`` (:func:`~joulebench.sweep.host_cpu.host_probe_s`); None where ``m`` or all of
    them lack one (results stored before the probe, or a search's outcomes without a trace summary).
    """
    mine = _probe_s(m)
    probes = [p for p in map(_probe_s, measurements) if p]
    return float(mine) / min(probes) - 1.0 if mine and probes else None


def _probe_s(m: Any) -> float | None:
    """The host probe stored with a window (``trace_summary.host_probe_s``), or None."""
    return (getattr(m, "trace_summary", None) or {}).get("host_probe_s")


def throttled(m: BatchMeasurement) -> bool:
    """True if the card slowed down (thermal/hardware slowdown) during the window."""
    return bool((m.throttle_reasons or 0) & THROTTLE_WARN_MASK)


def summarize(
    base: dict[str, Any],
    measurements: Sequence[BatchMeasurement],
    failures: Sequence[Failure] = (),
    *,
    meter: str | None = None,
    gpu_name: str | None = None,
    gpu_uuid: str | None = None,
    idle_power_w: float | None = None,
    power_limit_w: float | None = None,
    latency_budget_s: float | None = None,
    load_s: float | None = None,
    gpu_seconds: float | None = None,
    error: str | None = None,
) -> ModelSummary:
    """Summarise one (model configuration, runtime).

    Args:
        base: Identity fields (``run_id``, ``model``, ``img_size``, ``runtime``, ``precision``).
        measurements: Every batch attempted.
        failures: The task's failures (the first explains a failed summary).
        meter: Meter name.
        gpu_name: Device name.
        gpu_uuid: Device UUID.
        idle_power_w: The idle baseline measured before the model.
        power_limit_w: The device's enforced power limit.
        latency_budget_s: Budget for the "largest batch within budget" figures.
        load_s: Time to build the model (added to the compile time).
        gpu_seconds: Wall time the task held the device.
        error: Forces status ``failed`` with this reason (a crashed worker, a timeout).

    Returns:
        The :class:`ModelSummary` (status ``failed`` when no batch was measured or ``error`` is given).
    """
    best = optimal(measurements)
    ok = [m for m in measurements if m.status == "ok"]
    b1 = [m for m in ok if m.batch_size == 1 and m.energy_per_image_j is not None]
    b1_row = min(b1, key=lambda m: (m.trace_summary or {}).get("phase") == "scout") if b1 else None
    budget = within_budget(measurements, latency_budget_s)
    prepare = sum(float((m.trace_summary or {}).get("prepare_s") or 0.0) for m in measurements)
    status = "ok" if best is not None and error is None else "failed"
    if status == "failed" and error is None:
        error = failures[0].reason if failures else "no batch size could be measured"
    plimit = power_limit_w if power_limit_w is not None else (best.power_limit_w if best else None)
    return ModelSummary(
        **base,
        status=status,
        error=error,
        gpu_name=gpu_name,
        gpu_uuid=gpu_uuid,
        node=socket.gethostname(),
        meter=meter,
        optimal_batch=best.batch_size if best else None,
        max_batch=max((m.batch_size for m in ok), default=None),
        energy_per_image_j=best.energy_per_image_j if best else None,
        ci95_rel=best.ci95_rel if best else None,
        dynamic_energy_per_image_j=best.dynamic_energy_per_image_j if best else None,
        throughput_ips=best.throughput_ips if best else None,
        latency_mean_s=best.latency_mean_s if best else None,
        latency_p50_s=best.latency_p50_s if best else None,
        latency_p95_s=best.latency_p95_s if best else None,
        avg_power_w=best.avg_power_w if best else None,
        power_limit_w=plimit,
        power_ratio=best.avg_power_w / plimit if best and best.avg_power_w is not None and plimit else None,
        idle_power_w=idle_power_w,
        peak_memory_b=best.peak_memory_b if best else None,
        energy_per_image_batch1_j=b1_row.energy_per_image_j if b1_row else None,
        latency_budget_s=latency_budget_s,
        budget_batch=budget.batch_size if budget else None,
        energy_per_image_budget_j=budget.energy_per_image_j if budget else None,
        compile_time_s=prepare + (load_s or 0.0),
        gpu_seconds=gpu_seconds,
        batches_measured=len(ok),
        throttled=any(throttled(m) for m in ok),
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


__all__ = ["HOST_SLOW", "LAUNCH_BOUND_UTIL_PCT", "launch_bound", "optimal", "summarize", "throttled", "within_budget"]

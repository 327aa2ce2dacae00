"""Rows of the results store. The sweep produces them; the store persists them; analyses read them.

All quantities are SI: joules, seconds, watts, bytes, images per second.
A model configuration is keyed on timm's ``arch.tag`` (``model``) plus ``img_size``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any


def config_hash(config: dict[str, Any]) -> str:
    """A short, stable hash of a protocol configuration (key order does not matter).

    Runs with the same hash measured under the same protocol, so their results can be reused on resume.
    """
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: The named protocol for trying joulebench (``measure --quick``): its results are labelled in every listing.
QUICK_PROTOCOL = "quick"


def protocol_of(config: dict[str, Any] | None) -> str:
    """The named protocol a run's stored configuration was measured with (``default`` when it names none)."""
    return str((config or {}).get("protocol") or "default")


@dataclass(frozen=True)
class RunRecord:
    """One invocation of a sweep (or of ``joulebench meter``) with its provenance.

    Attributes:
        run_id: Unique id (uuid4 hex).
        started_at: ISO-8601 UTC time.
        meter: Registered meter name (``sim`` marks simulated numbers).
        command: The command line or API call that produced the run.
        provenance: GPU name, UUID, memory, power limits, driver, CUDA, torch, timm, joulebench, host, CPU...
        config: Protocol settings (search, warm-up, window length, precision target, cooldown...).
    """

    run_id: str
    started_at: str
    meter: str
    command: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def config_hash(self) -> str:
        """:func:`config_hash` of ``config`` (the store keeps it to find finished work on resume)."""
        return config_hash(self.config)


@dataclass(frozen=True)
class BatchMeasurement:
    """One measured (model configuration, runtime, batch size) window, or a failed attempt at one.

    ``status`` is ``ok``, ``oom`` or ``error``; failed rows keep ``error`` and leave the figures None.
    """

    run_id: str
    model: str
    img_size: int
    runtime: str
    precision: str
    batch_size: int
    status: str = "ok"
    error: str | None = None
    gpu_name: str | None = None
    gpu_uuid: str | None = None
    meter: str | None = None
    method: str | None = None
    iterations: int | None = None
    images: int | None = None
    duration_s: float | None = None
    energy_j: float | None = None
    energy_per_image_j: float | None = None
    dynamic_energy_per_image_j: float | None = None
    counter_energy_j: float | None = None
    sampled_energy_j: float | None = None
    idle_power_w: float | None = None
    avg_power_w: float | None = None
    power_limit_w: float | None = None
    throughput_ips: float | None = None
    latency_mean_s: float | None = None
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    peak_memory_b: float | None = None
    temperature_max_c: float | None = None
    throttle_reasons: int | None = None
    ci95_rel: float | None = None
    trace_summary: dict[str, Any] = field(default_factory=dict)
    measured_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all fields."""
        return asdict(self)


#: A result whose energy per image has a 95 % confidence interval wider than this (relative half-width) is
#: flagged wherever results are listed.
WIDE_CI95_REL = 0.02


def wide_ci(ci95_rel: float | None) -> bool:
    """True when a relative 95 % confidence half-width is known and wider than :data:`WIDE_CI95_REL`."""
    return ci95_rel is not None and ci95_rel == ci95_rel and ci95_rel > WIDE_CI95_REL


@dataclass(frozen=True)
class ModelSummary:
    """The outcome for one (model configuration, runtime) within a run.

    ``status`` is ``ok`` or ``failed``; the optimal batch is the one with least energy per image.
    ``ci95_rel`` is the relative half-width of the 95 % confidence interval of ``energy_per_image_j``, from the
    counter-aligned sub-windows of the optimal batch's window (that batch row's ``ci95_rel``).
    """

    run_id: str
    model: str
    img_size: int
    runtime: str
    precision: str
    status: str = "ok"
    error: str | None = None
    gpu_name: str | None = None
    gpu_uuid: str | None = None
    node: str | None = None
    meter: str | None = None
    optimal_batch: int | None = None
    max_batch: int | None = None
    energy_per_image_j: float | None = None
    ci95_rel: float | None = None
    dynamic_energy_per_image_j: float | None = None
    throughput_ips: float | None = None
    latency_mean_s: float | None = None
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    avg_power_w: float | None = None
    power_limit_w: float | None = None
    power_ratio: float | None = None
    idle_power_w: float | None = None
    peak_memory_b: float | None = None
    energy_per_image_batch1_j: float | None = None
    latency_budget_s: float | None = None
    budget_batch: int | None = None
    energy_per_image_budget_j: float | None = None
    compile_time_s: float | None = None
    gpu_seconds: float | None = None
    batches_measured: int | None = None
    throttled: bool | None = None
    finished_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all fields."""
        return asdict(self)


@dataclass(frozen=True)
class Failure:
    """A failure with its reason: a batch that ran out of memory, a compile error, a crashed worker..."""

    run_id: str
    model: str
    img_size: int | None
    runtime: str
    stage: str
    reason: str
    batch_size: int | None = None
    detail: str | None = None
    occurred_at: str | None = None
    #: Seconds the task had held its device when it failed or was stopped (set for ``deadline`` stops).
    gpu_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all fields."""
        return asdict(self)

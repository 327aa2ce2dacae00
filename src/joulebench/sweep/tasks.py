"""The pure, picklable units of a sweep: protocol options, one task, one task's result.

Everything here is plain data (frozen dataclasses of str/int/float/bool/dict) so that a task can be
pickled for Ray, written as JSON for a worker subprocess, and hashed for resume.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from joulebench.errors import ConfigError
from joulebench.store.records import QUICK_PROTOCOL, BatchMeasurement, Failure, ModelSummary

#: Largest batch ever tried when neither ``--max-batch`` nor an out-of-memory error stops the doubling.
HARD_MAX_BATCH = 65536
#: Default batch ceiling for CPU runtimes, where "out of memory" is the kernel killing the process.
CPU_MAX_BATCH = 256
#: Options that arrived after the first stored results; ``to_config`` leaves them out while they are None.
ADDED_LATER = ("cooldown_to_c",)
#: Options only the scan search reads; ``to_config`` leaves them out for the other searches.
SCAN_OPTIONS = ("scan_rise", "scan_finalists", "scan_margin", "scan_max_iter_s")


@dataclass(frozen=True)
class SweepOptions:
    """Protocol settings of a sweep (everything that changes the numbers is part of the config hash).

    Attributes:
        meter: Registered meter name (``nvml``, ``smi``, ``sim``, ``rapl``).
        search: Registered batch-size search (``plateau`` or ``paper``).
        warmup_s: Warm-up before each full window (cuDNN/inductor algorithm selection, clocks settling); each scout
            after a model's first warms up ``scout_fraction`` of it.
        warmup_min_iters: Warm-up iterations at least, however long they take.
        min_window_s: A full window lasts at least this long ...
        min_iters: ... and at least this many iterations.
        precision: Target half-width of the 95% confidence interval of energy per image (fraction), or None
            to stop at the minimum window. The window is extended (up to ``max_window_s``) until it is met.
        max_window_s: Longest a window may be extended for ``precision``; None = 4 x ``min_window_s``.
        scout_fraction: Scouting windows of the plateau search last this fraction of the full window and
            warm-up (they only need to tell which way energy per image goes).
        cooldown_s: Idle pause between batches (lets the card cool down; 0 = none).
        cooldown_to_c: Wait, before each model's idle baseline and between batches, until the GPU is at most this
            hot (°C; at most ``COOLDOWN_MAX_S``), so that every window starts from a comparable temperature.
        idle_s: Duration of the idle-baseline measurement before each model.
        max_batch: Largest batch size to try; None = until out of memory (capped at 65536, 256 on CPU).
        start_batch: First batch size of the search (batch 1 is still measured once for the summary).
        latency_budget_s: Latency budget (per batch, p95) for the summary's "largest batch within budget".
        tf32: ``on``/``off`` to force TF32 matmuls for FP32 runtimes; None = the runtime's default.
        cuda_graphs: Capture the model in a CUDA graph where the runtime supports it.
        plateau_threshold: Relative improvement of energy per image below which a doubling "did not help".
        plateau_patience: Consecutive doublings without help that end the plateau search.
        static_scouts: Compile every scouted batch size statically (compile runtimes); default False reuses
            one dynamic-batch compilation for the scouting windows.
        scan_rise: Scan search: a scout this fraction above the best one counts as past the minimum.
        scan_finalists: Scan search: best scouted batches confirmed with full windows.
        scan_margin: Scan search: a scout more than this fraction above the best one is no finalist.
        scan_max_iter_s: Scan search: no scout whose one iteration would take longer than this (None: no limit).
        protocol: The named protocol (:data:`PROTOCOLS`) these settings started from; a protocol other than
            ``default`` enters the configuration, so its results never count as done for another protocol.
    """

    meter: str = "nvml"
    search: str = "scan"
    warmup_s: float = 1.0
    warmup_min_iters: int = 3
    min_window_s: float = 3.0
    min_iters: int = 5
    precision: float | None = 0.01
    max_window_s: float | None = 10.0
    scout_fraction: float = 0.2
    cooldown_s: float = 0.0
    idle_s: float = 2.0
    max_batch: int | None = None
    start_batch: int = 1
    latency_budget_s: float | None = 0.05
    tf32: str | None = None
    cuda_graphs: bool = False
    plateau_threshold: float = 0.01
    plateau_patience: int = 2
    static_scouts: bool = False
    cooldown_to_c: float | None = None
    scan_rise: float = 0.10
    scan_finalists: int = 3
    scan_margin: float = 0.08
    scan_max_iter_s: float | None = 1.5
    protocol: str = "default"

    def validate(self) -> None:
        """Check the values a user can set; raise one-line :class:`ConfigError` on nonsense.

        Raises:
            ConfigError: A value is out of range.
        """
        checks = [
            (self.warmup_s >= 0, f"--warmup must not be negative (got {self.warmup_s} s)"),
            (self.warmup_min_iters >= 0, "the warm-up needs a non-negative iteration count"),
            (self.min_window_s > 0, f"--min-window must be positive (got {self.min_window_s} s), e.g. 10s"),
            (self.min_iters >= 1, f"--min-iters must be at least 1 (got {self.min_iters})"),
            (
                self.precision is None or 0 < self.precision < 0.5,
                f"--precision must be between 0% and 50% (got {self.precision}); e.g. 1%",
            ),
            (
                self.max_window_s is None or self.max_window_s >= self.min_window_s,
                "the maximum window must not be shorter than --min-window",
            ),
            (0 < self.scout_fraction <= 1, "the scouting fraction must be in (0, 1]"),
            (self.cooldown_s >= 0, f"--cooldown must not be negative (got {self.cooldown_s} s)"),
            (
                self.cooldown_to_c is None or 0 < self.cooldown_to_c < 100,
                f"--cooldown takes a GPU temperature between 0 and 100 °C, e.g. 45C (got {self.cooldown_to_c} °C)",
            ),
            (
                self.cooldown_to_c is None or self.cooldown_s == 0,
                "--cooldown is either a pause (5s) or a temperature (45C), not both",
            ),
            (self.idle_s > 0, f"--idle must be positive (got {self.idle_s} s)"),
            (
                self.max_batch is None or 1 <= self.max_batch <= HARD_MAX_BATCH,
                f"--max-batch must be between 1 and {HARD_MAX_BATCH} (got {self.max_batch})",
            ),
            (
                self.start_batch >= 1 and (self.max_batch is None or self.start_batch <= self.max_batch),
                f"--start-batch must be between 1 and --max-batch (got {self.start_batch})",
            ),
            (
                self.latency_budget_s is None or self.latency_budget_s > 0,
                f"--latency-budget must be positive (got {self.latency_budget_s} s)",
            ),
            (self.tf32 in (None, "on", "off"), f"--tf32 must be 'on' or 'off' (got {self.tf32!r})"),
            (self.plateau_threshold >= 0, "the plateau threshold must not be negative"),
            (self.plateau_patience >= 1, "the plateau patience must be at least 1"),
            (self.scan_rise > 0, "the scan's rise threshold must be positive"),
            (self.scan_finalists >= 1, "the scan needs at least one finalist"),
            (self.scan_margin >= 0, "the scan's finalist margin must not be negative"),
            (self.scan_max_iter_s is None or self.scan_max_iter_s > 0, "the scan's iteration limit must be positive"),
            (self.protocol in PROTOCOLS, f"unknown protocol '{self.protocol}': choose one of {', '.join(PROTOCOLS)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    @property
    def effective_max_window_s(self) -> float:
        """The longest a window may become when extended for ``precision``."""
        return self.max_window_s if self.max_window_s is not None else 4 * self.min_window_s

    def to_config(self) -> dict[str, Any]:
        """The run's protocol configuration (stored on the RunRecord; its hash keys resume)."""
        d = asdict(self)
        # Options added after results were stored enter the configuration only when set: at their default they
        # change nothing, and their absence keeps the hash of those results, so they still resume.
        for name in ADDED_LATER:
            if d[name] is None:
                del d[name]
        if self.protocol == "default":  # named only when another: the default's stored hashes stay as they were
            del d["protocol"]
        if self.search != "scan":  # the scan's settings change nothing else, and older configurations lack them
            for name in SCAN_OPTIONS:
                del d[name]
        d["protocol_version"] = PROTOCOL_VERSION
        return d

    def runtime_options(self, accepted: Any = None) -> dict[str, Any]:
        """Options passed to ``get_runtime`` (only those set, so runtimes keep their defaults).

        Args:
            accepted: The runtime class's ``OPTIONS``; options that only some runtimes have (``scout_dynamic``)
                are passed only where accepted. None leaves them out.
        """
        opts: dict[str, Any] = {}
        if self.tf32 is not None:
            opts["tf32"] = self.tf32
        if self.cuda_graphs:
            opts["cuda_graphs"] = True
        if self.static_scouts and accepted is not None and "scout_dynamic" in accepted:
            opts["scout_dynamic"] = False
        return opts

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepOptions:
        """Inverse of ``asdict`` (unknown keys, such as ``protocol_version``, are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


#: Bumped when the protocol changes in a way that makes old results incomparable (it is in the config hash).
#: 2: the scan search, precision-bounded 3-10 s windows and 1 s warm-ups became the default.
PROTOCOL_VERSION = 2

#: Named protocols (``--protocol``): field values over the :class:`SweepOptions` defaults. ``paper`` is the
#: protocol of "The Hidden Joules": double to the memory limit, every batch measured in 10 s / 13-iteration
#: windows after a 3 s warm-up. ``quick`` is for trying joulebench (a tiny model on the CPU in seconds): 0.3 s
#: windows after 0.1 s warm-ups, no precision target, a 0.2 s idle baseline, no batch whose one iteration would
#: take over 0.1 s; its results are labelled as such
#: in every listing and never count as done for another protocol.
PROTOCOLS: dict[str, dict[str, Any]] = {
    "default": {},
    "paper": {
        "search": "paper",
        "warmup_s": 3.0,
        "min_window_s": 10.0,
        "min_iters": 13,
        "precision": None,
        "max_window_s": None,
    },
    QUICK_PROTOCOL: {
        "search": "scan",
        "warmup_s": 0.1,
        "warmup_min_iters": 1,
        "min_window_s": 0.3,
        "min_iters": 3,
        "precision": None,
        "max_window_s": None,
        "scout_fraction": 1.0,
        "idle_s": 0.2,
        "scan_max_iter_s": 0.1,
    },
}


def protocol_options(name: str, **overrides: Any) -> SweepOptions:
    """The :class:`SweepOptions` of protocol ``name``, with ``overrides`` (None values are ignored) on top.

    Raises:
        ConfigError: Unknown protocol name.
    """
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown protocol '{name}': choose one of {', '.join(PROTOCOLS)}")
    values = {**PROTOCOLS[name], **{k: v for k, v in overrides.items() if v is not None}}
    return SweepOptions(**values, protocol=name)


@dataclass(frozen=True)
class Task:
    """One (model configuration, runtime) to sweep: pure data, picklable, JSON-serialisable.

    Attributes:
        run_id: The sweep's run id (every row the task produces carries it).
        spec: The model spec's fields (``joulebench.models.resolve.ModelSpec`` as a dict).
        runtime: Registered runtime name (``torch-fp32``, ``compile-fp16``...).
        options: The protocol.
        runtime_options: Extra keyword arguments for ``get_runtime`` (tf32, cuda_graphs...).
        timeout_s: Wall-clock limit of the worker subprocess (None = no limit).
        resume: Batches an earlier, unfinished attempt stored (``BatchMeasurement`` dicts): the search takes
            them as measured instead of measuring them again (``Store.unfinished_batches``).
    """

    run_id: str
    spec: dict[str, Any]
    runtime: str
    options: SweepOptions = field(default_factory=SweepOptions)
    runtime_options: dict[str, Any] = field(default_factory=dict)
    timeout_s: float | None = 1800.0
    resume: tuple[dict[str, Any], ...] = ()

    @property
    def model(self) -> str:
        """The model configuration's key (timm ``arch.tag``)."""
        return str(self.spec["model"])

    @property
    def img_size(self) -> int:
        """The input side in pixels."""
        return int(self.spec["img_size"])

    @property
    def key(self) -> tuple[str, int, str]:
        """``(model, img_size, runtime)``, the resume key."""
        return (self.model, self.img_size, self.runtime)

    def label(self) -> str:
        """Short display name."""
        return f"{self.model}@{self.img_size} {self.runtime}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["spec"] = {k: list(v) if isinstance(v, tuple) else v for k, v in d["spec"].items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        """Inverse of :meth:`to_dict`."""
        return cls(
            run_id=d["run_id"],
            spec=dict(d["spec"]),
            runtime=d["runtime"],
            options=SweepOptions.from_dict(d["options"]),
            runtime_options=dict(d.get("runtime_options") or {}),
            timeout_s=d.get("timeout_s"),
            resume=tuple(d.get("resume") or ()),
        )

    def to_json(self) -> str:
        """The task as a JSON string."""
        return json.dumps(self.to_dict())

    def with_options(self, **changes: Any) -> Task:
        """A copy with some protocol options changed."""
        return replace(self, options=replace(self.options, **changes))

    def capped(self, max_batch: int) -> Task | None:
        """A copy whose batch search stops at ``max_batch`` (starting no higher), or None if that lowers nothing."""
        own = self.options.max_batch
        if own is not None and max_batch >= own:
            return None
        return self.with_options(max_batch=max_batch, start_batch=min(self.options.start_batch, max_batch))


@dataclass
class TaskResult:
    """Everything one task produced; the driver's sink writes it to the store in one transaction.

    Attributes:
        task: The task that ran.
        measurements: Every batch attempted (ok, oom or error), in the order measured.
        summary: The model's summary (``status`` ``failed`` with the reason when the task failed).
        failures: Failure rows (out-of-memory batches, compile errors, a crashed or hung worker).
        interrupted: True when the user stopped the sweep during this task (the driver does not save it).
        gpu_seconds: Wall time the task held its device.
    """

    task: Task
    measurements: list[BatchMeasurement] = field(default_factory=list)
    summary: ModelSummary | None = None
    failures: list[Failure] = field(default_factory=list)
    interrupted: bool = False
    gpu_seconds: float | None = None

    @property
    def ok(self) -> bool:
        """True when the model was measured (its summary has status ``ok``)."""
        return self.summary is not None and self.summary.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "task": self.task.to_dict(),
            "measurements": [m.to_dict() for m in self.measurements],
            "summary": self.summary.to_dict() if self.summary else None,
            "failures": [f.to_dict() for f in self.failures],
            "interrupted": self.interrupted,
            "gpu_seconds": self.gpu_seconds,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            task=Task.from_dict(d["task"]),
            measurements=[measurement_from_dict(m) for m in d.get("measurements") or []],
            summary=summary_from_dict(d["summary"]) if d.get("summary") else None,
            failures=[failure_from_dict(f) for f in d.get("failures") or []],
            interrupted=bool(d.get("interrupted")),
            gpu_seconds=d.get("gpu_seconds"),
        )


def _from_dict(cls, d: dict[str, Any]):
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


def measurement_from_dict(d: dict[str, Any]) -> BatchMeasurement:
    """Rebuild a :class:`BatchMeasurement` from its dict."""
    return _from_dict(BatchMeasurement, d)


def summary_from_dict(d: dict[str, Any]) -> ModelSummary:
    """Rebuild a :class:`ModelSummary` from its dict."""
    return _from_dict(ModelSummary, d)


def failure_from_dict(d: dict[str, Any]) -> Failure:
    """Rebuild a :class:`Failure` from its dict."""
    return _from_dict(Failure, d)

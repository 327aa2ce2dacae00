"""The sweep engine: for each (model configuration, runtime), search the batch size of least energy per image.

Layers (each usable alone)::

    search.py     which batch sizes to measure (``paper``, ``plateau``), pure logic over measure(batch, phase)
    protocol.py   how one batch is measured (warm-up, window, sub-windows, precision) -> BatchMeasurement
    summary.py    BatchMeasurements -> ModelSummary (optimal batch, batch 1, latency budget...)
    worker.py     one task in a fresh subprocess (crash/hang/OOM isolation, timeout, Ctrl-C)
    executors.py  who runs the tasks (``local``: one thread per GPU; ``ray``: a cluster, ray_executor.py)
    progress.py   the rich progress display
    tasks.py      the pure data: SweepOptions, Task, TaskResult

Task API (what an executor such as a future Ray executor builds on)
    ``Task`` (``tasks.py``): a frozen dataclass holding the model spec's fields (``spec`` dict), the runtime
    name, runtime options, the protocol (``SweepOptions``), the ``run_id`` and a timeout. Pure data:
    picklable and JSON round-trippable (``Task.to_dict`` / ``Task.from_dict``).

    ``run_task(task, device_index, *, on_event=None, stop=None, kill=None) -> TaskResult`` (``worker.py``,
    re-exported by ``executors.py``): runs the task in a fresh ``python -m joulebench.sweep.worker``
    subprocess pinned with ``CUDA_VISIBLE_DEVICES=device_index`` and bounded by ``task.timeout_s``. It ALWAYS
    returns a ``TaskResult(task, measurements, summary, failures, interrupted, gpu_seconds)``: a crash, a hang
    or an out-of-memory cascade becomes a ``Failure`` row (stage ``worker``/``timeout``, or ``crash`` with the
    batch the worker died at) plus a summary with status ``failed``, keeping the batches measured before it.
    ``stop`` (an Event) asks the worker to finish its current batch and return (``interrupted=True``); ``kill``
    kills it.

    Executors (``EXECUTORS`` registry, ``Executor.run(tasks, sink, on_event=, stop=)``) call
    ``sink(result)`` on the driver thread; the driver alone writes the store
    (``Store.save_task(measurements, summary, failures)``, one transaction per task).

Driver
    :func:`prepare_sweep` validates everything (options, models, runtimes, meter, devices) and writes nothing;
    :func:`run_sweep` records the run, skips finished work (``Store.finished_results``) unless ``force``, runs the
    tasks and saves each finished one. Interrupted tasks are not saved (a re-run measures them). With a
    deadline it starts only tasks expected to finish in time (:class:`TaskCosts`) and stops the rest at it. A
    task whose worker crashed at some batch in an earlier run (``Store.crash_ceilings``) searches only up to
    the largest batch that worked below it; within a run the executor retries such a crash at once.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shlex
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from joulebench.errors import ConfigError, MeterError
from joulebench.store.records import Failure
from joulebench.sweep.tasks import SweepOptions, Task, TaskResult


@dataclass
class SweepPlan:
    """A validated sweep, ready to run (nothing written yet).

    Attributes:
        tasks: One per (model configuration, runtime), run id already assigned.
        options: The protocol.
        devices: Device indices of the workers (``[None]`` = one unpinned worker).
        gpu_facts: ``gpu_uuid`` (or a simulated id), ``gpu_name`` and ``power_limit_w`` of those devices, in
            the same order, for resume; ``{}`` where unknown (a cluster picks the devices).
        per_board: Resume skips only work done on these very boards; False (default) skips work done on any
            GPU of the same model and power limit, so a sweep can move to another node of identical GPUs.
        run_id: The run's id.
        provenance: Facts about the machine and software.
        warnings: Things the user should know before the sweep starts.
        command: The command line that asked for the sweep.
    """

    tasks: list[Task]
    options: SweepOptions
    devices: list[int | None]
    gpu_facts: list[dict[str, Any]]
    run_id: str
    provenance: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    command: str = ""
    per_board: bool = False


@dataclass
class SweepReport:
    """What a sweep did."""

    run_id: str
    results: list[TaskResult] = field(default_factory=list)
    skipped: list[tuple[str, int, str]] = field(default_factory=list)
    #: True when the user (Ctrl-C) or an error stopped the sweep; the deadline does not count as interrupted.
    interrupted: bool = False
    #: Tasks not started because they were not expected to finish before the deadline (done on resume).
    deferred: list[tuple[str, int, str]] = field(default_factory=list)
    #: True when the deadline passed before the sweep ended; running tasks were asked to stop after their
    #: current batch (``stopped`` lists those that did; one already finishing is kept).
    deadline_reached: bool = False
    #: Finished results measured again because the current batch search would have continued them
    #: (``redo_stale``; :mod:`joulebench.sweep.stale`), with the batch it would have scouted next.
    stale: dict[tuple[str, int, str], int] = field(default_factory=dict)

    @property
    def stopped(self) -> list[tuple[str, int, str]]:
        """Keys of the tasks stopped before they finished (by Ctrl-C or the deadline); they are not saved."""
        return [r.task.key for r in self.results if r.interrupted]

    @property
    def summaries(self) -> list[Any]:
        """The summaries of the saved tasks."""
        return [r.summary for r in self.results if r.summary is not None and not r.interrupted]


def _minimal_provenance(meter_desc: dict[str, Any]) -> dict[str, Any]:
    from joulebench import __version__

    return {
        "joulebench": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": platform.node(),
        "cpu": platform.processor() or platform.machine(),
        "meter": meter_desc,
    }


def collect(meter: Any) -> dict[str, Any]:
    """Provenance from ``joulebench.provenance`` when present, else a minimal dict (always has the meter)."""
    try:
        desc = meter.describe()
    except Exception as e:  # facts are best-effort; the sweep must not die for them
        desc = {"meter": getattr(meter, "name", "?"), "describe_error": str(e)}
    try:
        from joulebench.provenance import collect_provenance
    except ImportError:
        return _minimal_provenance(desc)
    try:
        prov = dict(collect_provenance(meter))
    except Exception as e:  # provenance is recorded best-effort; the sweep must not die for it
        prov = _minimal_provenance(desc)
        prov["provenance_error"] = str(e)
    prov["meter_facts"] = desc
    return prov


def _device_facts(meter_name: str, devices: Sequence[int | None]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Facts of each device as the workers' meters will report them, and provenance from the first meter.

    Each device's facts are ``gpu_uuid``, ``gpu_name`` and ``power_limit_w``.
    """
    from joulebench.meters import get_meter
    from joulebench.sweep.protocol import device_facts
    from joulebench.sweep.worker import meter_kwargs

    facts: list[dict[str, Any]] = []
    prov: dict[str, Any] = {}
    for d in devices:
        meter = get_meter(meter_name, **meter_kwargs(meter_name, d, pinned=False))
        try:
            facts.append(device_facts(meter))
            prov = prov or collect(meter)
        finally:
            meter.close()
    return facts, prov


def _resume_queries(plan: SweepPlan) -> list[dict[str, Any]]:
    """``Store.finished_results`` filters, one per distinct device: by board, or by GPU model and power limit."""
    queries = []
    for f in plan.gpu_facts:
        if plan.per_board or f.get("gpu_uuid") is None or not f.get("gpu_name"):
            q = {"gpu_uuid": f.get("gpu_uuid")}
        else:
            q = {"gpu_uuid": None, "gpu_name": f["gpu_name"], "power_limit_w": f.get("power_limit_w")}
        if q not in queries:
            queries.append(q)
    return queries


def other_gpu_processes(devices: Sequence[int | None]) -> dict[int, list[int]]:
    """PIDs of other processes running on the given (CUDA-visible) GPUs, from NVML; empty if unknown."""
    try:
        from joulebench.meters.nvml import init_nvml, map_visible, parse_visible_devices
    except ImportError:
        return {}
    try:
        nv = init_nvml()
    except MeterError:
        return {}
    try:
        physical = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(nv.nvmlDeviceGetCount())]
        uuids = [str(nv.nvmlDeviceGetUUID(h)) for h in physical]
        visible = map_visible(parse_visible_devices(os.environ.get("CUDA_VISIBLE_DEVICES")), uuids)
        out: dict[int, list[int]] = {}
        for d in devices:
            idx = d or 0
            if idx >= len(visible):
                continue
            procs = nv.nvmlDeviceGetComputeRunningProcesses(physical[visible[idx]])
            pids = [p.pid for p in procs if p.pid != os.getpid()]
            if pids:
                out[idx] = pids
        return out
    except nv.NVMLError as e:  # advisory: an old driver without process listing must not stop the sweep
        warnings.warn(f"cannot list the processes on the GPU ({e}): --exclusive cannot check it", stacklevel=2)
        return {}
    finally:
        with contextlib.suppress(nv.NVMLError):  # shutting down a library we only peeked into
            nv.nvmlShutdown()


def prepare_sweep(
    models: Sequence[str],
    runtimes: Sequence[str],
    options: SweepOptions,
    *,
    gpus: Sequence[int] | None = None,
    pretrained_only: bool = False,
    img_size: int | str | None = None,
    input_shape: Sequence[int] | str | None = None,
    weights: str | None = None,
    timeout_s: float | None = 1800.0,
    exclusive: bool = False,
    command: str | None = None,
    executor: str = "local",
    per_board: bool = False,
) -> SweepPlan:
    """Validate a sweep and build its tasks; writes nothing.

    Args:
        models: Model names, tags, globs or ``module:factory`` paths.
        runtimes: Runtime names.
        options: The protocol.
        gpus: GPU indices to spread the tasks over (one worker each); None = one unpinned worker.
        pretrained_only: Globs expand to pretrained tags.
        img_size: Input side override.
        input_shape: Per-sample ``(C, H, W)`` (required for custom models).
        weights: Local weights file for a single model.
        timeout_s: Wall-clock limit of each task's worker.
        exclusive: Refuse to start when other processes use the GPUs (else warn).
        command: The command line to record.
        executor: Registered executor name; one that assigns devices itself (``ray``) is validated without
            this machine's GPUs (the cluster's nodes run the tasks; the driver may have none).
        per_board: Resume only what these very boards measured (default: what any GPU of the same model and
            power limit measured).

    Raises:
        ConfigError: Contradictory or invalid options, unknown models or runtimes, a runtime that cannot run.
        MeterError: The meter cannot work here.
    """
    from joulebench.meters import METERS
    from joulebench.meters import _load_builtin as _load_meters
    from joulebench.models.resolve import resolve_models
    from joulebench.runtimes import get_runtime, get_runtime_class
    from joulebench.sweep.search import get_search

    options.validate()
    get_search(options.search)
    _load_meters()
    meter_cls = METERS.get(options.meter)
    if options.cooldown_to_c is not None and not meter_cls.reads_temperature:
        readers = ", ".join(sorted(n for n in METERS.names() if METERS.get(n).reads_temperature))
        raise ConfigError(
            f"--cooldown {options.cooldown_to_c:g}C needs a meter that reads the temperature ({readers}); "
            f"--meter {options.meter} does not: give a pause instead, e.g. --cooldown 5s"
        )
    if not models:
        raise ConfigError("name at least one model, e.g. `joulebench measure resnet50.a1_in1k --runtime torch-fp16`")
    if not runtimes:
        raise ConfigError("name at least one runtime with --runtime, e.g. --runtime torch-fp16")
    if len(set(runtimes)) != len(runtimes):
        raise ConfigError(f"--runtime lists a runtime twice: {', '.join(runtimes)}")
    if timeout_s is not None and timeout_s <= 0:
        raise ConfigError(f"--timeout must be positive (got {timeout_s} s)")
    devices: list[int | None] = [None]
    if gpus:
        if len(set(gpus)) != len(gpus) or any(g < 0 for g in gpus):
            raise ConfigError(f"--gpus must list distinct non-negative indices, got {','.join(map(str, gpus))}")
        devices = list(gpus)
    rt_opts = {name: options.runtime_options(get_runtime_class(name).OPTIONS) for name in runtimes}
    device_types = {}
    from joulebench.sweep.executors import executor_class

    remote = getattr(executor_class(executor), "assigns_devices", False)
    if remote and gpus:
        raise ConfigError(f"--gpus pins local workers; --executor {executor} lets the cluster pick GPUs: drop --gpus")
    for name in runtimes:
        if remote:  # the nodes check their own devices; here only the name and its class
            device_types[name] = get_runtime_class(name).device_type
            continue
        rt = get_runtime(name, **rt_opts[name])  # unknown names, impossible options, unavailable backends: ConfigError
        device_types[name] = str(rt.device).split(":")[0]
    if gpus and all(t == "cpu" for t in device_types.values()) and not meter_cls.simulated:
        raise ConfigError("--gpus pins workers to GPUs, but every runtime given runs on the CPU; drop --gpus")
    if options.meter == "rapl" and any(t == "cuda" for t in device_types.values()):
        gpu_rts = ", ".join(n for n, t in device_types.items() if t == "cuda")
        raise ConfigError(f"--meter rapl measures the CPU package, but {gpu_rts} runs on the GPU; use --meter nvml")
    specs = resolve_models(
        list(models), pretrained_only=pretrained_only, img_size=img_size, input_shape=input_shape, weights=weights
    )
    if not specs:
        raise ConfigError(f"no model matches {' '.join(models)}; list names with `joulebench models list`")
    warnings: list[str] = []
    if not meter_cls.simulated and any(t == "cuda" for t in device_types.values()):
        busy = {} if remote else other_gpu_processes(devices)
        if busy:
            what = "; ".join(f"GPU {d}: pid {', '.join(map(str, p))}" for d, p in busy.items())
            if exclusive:
                raise ConfigError(f"other processes are using the GPU ({what}); stop them or drop --exclusive")
            warnings.append(f"warning: other processes are using the GPU ({what}): their energy is measured too")
    if meter_cls.simulated:
        warnings.append("note: --meter sim simulates energy (power follows a load hint); these are not measurements")
    if remote:  # resume counts work done on any device of the cluster (gpu_uuid None matches all)
        facts, prov = [{}], _minimal_provenance({"meter": options.meter, "executor": executor})
    else:
        facts, prov = _device_facts(options.meter, devices)
    run_id = uuid.uuid4().hex
    tasks = [
        Task(
            run_id=run_id,
            spec=_spec_dict(spec),
            runtime=name,
            options=options,
            runtime_options=rt_opts[name],
            timeout_s=timeout_s,
        )
        for spec in specs
        for name in runtimes
    ]
    cmd = command if command is not None else "joulebench " + shlex.join(sys.argv[1:])
    return SweepPlan(tasks, options, devices, facts, run_id, prov, warnings, cmd, per_board=per_board)


def _spec_dict(spec: Any) -> dict[str, Any]:
    from dataclasses import asdict

    d = asdict(spec)
    d["input_shape"] = list(d.get("input_shape") or ())
    return d


#: Seconds after a deadline at which tasks that did not stop after their batch are killed.
DEADLINE_GRACE_S = 10.0


def _workload(key: tuple[str, int, str]) -> tuple[str, int, str]:
    """``(arch, img_size, runtime)``: tags of one architecture at one size run the same computation."""
    model, size, runtime = key
    return (model.split(".")[0], size, runtime)


class TaskCosts:
    """What a task of each runtime costs, in seconds, to tell whether one still fits before a deadline.

    The estimate for a runtime is the 75th percentile of the GPU-seconds of its finished tasks under the same
    protocol: those stored before this sweep (same GPU model and meter) and those this sweep finishes. A
    runtime with none has no estimate, and its tasks are started. A task whose workload (another tag of its
    architecture at its size, on its runtime) has finished is expected to cost what the dearest of those did,
    plus :attr:`TWIN_MARGIN`, whether that is more or less than the runtime's estimate. A task that an earlier
    deadline (or its worker's time limit) stopped after S seconds needs more than S, and so do the other tags of
    its workload: their estimate is at least S (``stopped``).
    """

    PERCENTILE = 75.0
    #: A measured twin's cost times this. Of the 21 pairs measured twice in the H200 dataset, the second run cost
    #: 0.87-1.18 times the first, more (1.5-2.6) only where its search went to larger batches under a newer rule;
    #: of the first six tags measured after a twin, five cost 0.91-1.43 times it, and one 3.5 times, where noise of
    #: 2 % let its search go on (resnet18.a2 on compile-fp16): hence the dearest twin, not a typical one.
    TWIN_MARGIN = 1.25

    def __init__(
        self,
        history: dict[str, list[float]] | None = None,
        stopped: dict[tuple[str, int, str], float] | None = None,
        tasks: dict[tuple[str, int, str], list[float]] | None = None,
    ):
        self._seconds = {rt: list(v) for rt, v in (history or {}).items()}
        self.stopped = dict(stopped or {})
        self._twins: dict[tuple[str, int, str], list[float]] = {}
        for key, secs in (tasks or {}).items():
            self._twins.setdefault(_workload(key), []).extend(float(s) for s in secs)
        self._lock = threading.Lock()  # added and read on the executor's threads, one per device

    @classmethod
    def from_tasks(
        cls,
        tasks: dict[tuple[str, int, str], list[float]],
        stopped: dict[tuple[str, int, str], float] | None = None,
    ) -> TaskCosts:
        """Costs from finished tasks' GPU-seconds alone: each runtime's history is its tasks' seconds.

        Args:
            tasks: GPU-seconds per ``(model, img_size, runtime)`` (:meth:`Store.gpu_seconds_by_task`).
            stopped: Seconds a deadline or time limit let each stopped task run (:meth:`Store.deadline_stops`).
        """
        from joulebench.store.db import seconds_by_runtime

        return cls(seconds_by_runtime(tasks), stopped, tasks)

    def add(self, runtime: str, seconds: float | None, key: tuple[str, int, str] | None = None) -> None:
        """Record a finished task's GPU-seconds (``key``: the task's, so its workload's other tags learn it)."""
        if seconds is not None:
            with self._lock:
                self._seconds.setdefault(runtime, []).append(float(seconds))
                if key is not None:
                    self._twins.setdefault(_workload(key), []).append(float(seconds))

    def estimate(self, runtime: str) -> float | None:
        """The 75th percentile of the runtime's task costs (s), or None without any."""
        from joulebench.sweep.protocol import percentile

        with self._lock:
            xs = list(self._seconds.get(runtime, []))
        return percentile(xs, self.PERCENTILE)

    def twin_cost(self, task: Task) -> float | None:
        """The dearest finished task of ``task``'s workload (s), or None."""
        with self._lock:
            twins = list(self._twins.get(_workload(task.key), []))
        return max(twins) if twins else None

    def floor(self, task: Task) -> float | None:
        """The longest an earlier deadline or time limit let ``task``, or another tag of its workload, run (s)."""
        mine = _workload(task.key)
        stops = [s for key, s in self.stopped.items() if _workload(key) == mine]
        return max(stops) if stops else None

    def estimate_task(self, task: Task) -> float | None:
        """The twin's cost with its margin, else the runtime's estimate; at least :meth:`floor`."""
        twin = self.twin_cost(task)
        est = twin * self.TWIN_MARGIN if twin is not None else self.estimate(task.runtime)
        floor = self.floor(task)
        return floor if est is None else est if floor is None else max(est, floor)


def _deadline_stop(result: TaskResult) -> Failure:
    """The failure row that records a task stopped at the deadline, with how long it had run."""
    from joulebench.sweep.worker import task_failure

    seconds = float(result.gpu_seconds or 0.0)
    why = f"stopped at the deadline after {seconds:.0f} s; not saved, so the next run redoes it"
    return task_failure(result.task, "deadline", why, gpu_seconds=seconds)


def _capped(tasks: list[Task], ceilings: dict[tuple[str, int, str], tuple[int, int]], progress: Any) -> list[Task]:
    """``tasks`` with the batch search of those whose worker crashed in an earlier run capped below the crash."""
    out = []
    for t in tasks:
        worked, crashed = ceilings.get(t.key, (None, None))
        capped = None if worked is None else t.capped(worked)
        if capped is not None:
            progress.message(
                f"{t.label()}: searching up to batch {worked} only; its worker crashed at batch {crashed} in an "
                "earlier run (see `joulebench results --failures`)"
            )
        out.append(capped or t)
    return out


def _counting(runner: Callable[..., TaskResult], costs: TaskCosts) -> Callable[..., TaskResult]:
    """``runner`` that records each successful task's cost before its device asks for the next task."""

    def run(task: Task, device: Any, **kw: Any) -> TaskResult:
        result = runner(task, device, **kw)
        if not result.interrupted and result.summary is not None and result.summary.status == "ok":
            costs.add(task.runtime, result.gpu_seconds, task.key)
        return result

    return run


def run_sweep(
    plan: SweepPlan,
    db: str | Path,
    *,
    force: bool = False,
    redo_before: str | None = None,
    redo_stale: bool = False,
    executor: str = "local",
    progress: Any = None,
    runner: Callable[..., TaskResult] | None = None,
    executor_options: dict[str, Any] | None = None,
    deadline_s: float | None = None,
    deadline_grace_s: float = DEADLINE_GRACE_S,
    clock: Callable[[], float] = time.monotonic,
) -> SweepReport:
    """Run a prepared sweep, saving every finished task to the store at ``db``.

    Args:
        plan: From :func:`prepare_sweep`.
        db: SQLite results file (created if missing).
        force: Redo tasks already finished under the same protocol on the same devices.
        redo_before: Redo only the tasks whose results finished before this UTC time (ISO 8601 with seconds, as
            stored, e.g. ``2026-11-29T02:10:00+00:00``): a re-run after a protocol fix, which later runs resume.
        redo_stale: Also redo the finished results whose stored scouting ladder the current batch search would
            have continued (:func:`joulebench.sweep.stale.stale_results`): measured under an older rule.
        executor: Registered executor name.
        progress: A :class:`~joulebench.sweep.progress.Progress` (default: silent).
        runner: Replaces ``run_task`` (tests).
        executor_options: Keyword arguments of the executor (``ray``: ``address``, ``retries``).
        deadline_s: Seconds from now by which the sweep must end (a batch job's time limit). A task starts only
            if its runtime's estimated cost (:class:`TaskCosts`) fits in the time left, else it is deferred to a
            later run; at the deadline, running tasks stop after their current batch, as on Ctrl-C.
        deadline_grace_s: Seconds after the deadline at which tasks still running are killed (a compile or a
            long batch cannot stop midway; a stopped task is not saved, so waiting for it gains nothing).
        clock: Monotonic clock for the deadline (tests).

    Returns:
        The :class:`SweepReport`.

    Raises:
        ConfigError: A deadline that is not positive, or an executor that cannot keep one.
    """
    from joulebench.store.db import Store
    from joulebench.store.records import RunRecord, config_hash
    from joulebench.sweep.executors import executor_class, get_executor, run_task
    from joulebench.sweep.progress import Progress

    progress = progress or Progress()
    if deadline_s is not None:
        if deadline_s <= 0:
            raise ConfigError(f"--deadline must be positive (got {deadline_s} s), e.g. 55min")
        if not executor_class(executor).admits:
            raise ConfigError(
                f"--deadline needs the local executor; --executor {executor} hands tasks to a cluster scheduler: "
                "give the job its time limit there instead"
            )
    ends_at = None if deadline_s is None else clock() + deadline_s
    config = plan.options.to_config()
    protocol = config_hash(config)
    store = Store(db)
    report = SweepReport(plan.run_id)
    try:
        todo = plan.tasks
        names = {f.get("gpu_name") for f in plan.gpu_facts}
        gpu_name = names.pop() if len(names) == 1 else None
        ceilings = store.crash_ceilings(protocol, meter=plan.options.meter, gpu_name=gpu_name)
        if not force:
            from joulebench.store.db import finished_keys
            from joulebench.sweep.stale import stale_hint, stale_message, stale_results

            finished = [  # read once: what to skip and which of it to judge stale
                r
                for q in _resume_queries(plan)
                for r in store.finished_results(**q, config_hash=protocol, meter=plan.options.meter)
            ]
            # this sweep's tasks only: judging a key reads its ladder, so the work scales with the sweep
            done = finished_keys(finished, redo_before) & {t.key for t in plan.tasks}
            stale = stale_results(store, finished, ceilings, done)
            stale = {t.key: stale[t.key] for t in plan.tasks if t.key in stale}  # in the plan's order
            if redo_stale:
                report.stale = stale
                done -= set(stale)
                if stale:
                    progress.message(stale_message(stale))
            elif stale:  # skipped without a word, they would stay cut short: say so and how to redo them
                progress.message(stale_hint(stale))
            todo = [t for t in plan.tasks if t.key not in done]
            report.skipped = [t.key for t in plan.tasks if t.key in done]
        for w in plan.warnings:
            progress.message(w)
        if not todo:
            progress.start(0, len(report.skipped))
            progress.stop()
            return report
        todo = _capped(todo, ceilings, progress)
        costs = None
        if ends_at is not None:
            filters = {"meter": plan.options.meter, "gpu_name": gpu_name}
            by_task = store.gpu_seconds_by_task(protocol, **filters)  # one read: per runtime and per workload
            costs = TaskCosts.from_tasks(by_task, store.deadline_stops(protocol, **filters))
            runner = _counting(runner or run_task, costs)
        # Before the run is recorded: a missing extra or an unreachable cluster leaves no empty run behind.
        ex = get_executor(executor, plan.devices, **(executor_options or {}), **({"runner": runner} if runner else {}))
        store.add_run(
            RunRecord(
                run_id=plan.run_id,
                started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                meter=plan.options.meter,
                command=plan.command,
                provenance=plan.provenance,
                config=config,
            )
        )
        stop = threading.Event()

        def sink(result: TaskResult) -> None:
            report.results.append(result)
            if not result.interrupted:
                store.save_task(result.measurements, result.summary, result.failures)
            elif report.deadline_reached and result.gpu_seconds is not None:
                # its results are not kept, but how long it ran is: the next run plans for at least that much
                store.save_task([], None, [_deadline_stop(result)])
            progress.finished(result)

        def admit(task: Task) -> bool:
            left = ends_at - clock()
            need = costs.estimate_task(task)
            return left > 0 and (need is None or need <= left)

        def deferred(task: Task) -> None:
            report.deferred.append(task.key)
            need, floor, twin = costs.estimate_task(task), costs.floor(task), costs.twin_cost(task)
            who = "it" if floor is None or costs.stopped.get(task.key) == floor else "another tag of its workload"
            if floor is not None and floor >= deadline_s:
                why = (
                    f"a deadline or the worker's time limit stopped {who} after {floor:.0f} s before, more than this "
                    f"whole run's {deadline_s:.0f} s; give it a longer --deadline or none"
                )
            elif floor is not None and need == floor:  # the stop, not the runtime's estimate, holds it back
                why = f"needs more than {floor:.0f} s: a deadline or time limit stopped {who} that late before"
                why += "; left for a re-run"
            else:
                why = "no time left" if need is None else f"needs about {need:.0f} s"
                if twin is not None:
                    why += f" (its workload took {twin:.0f} s under this or another tag)"
                why += "; left for a re-run"
            progress.message(f"deadline: not starting {task.label()} ({why})")

        kill = threading.Event()
        grace = threading.Timer(deadline_grace_s, kill.set)
        grace.daemon = True

        def at_deadline() -> None:
            report.deadline_reached = True
            stop.set()
            grace.start()

        extra = {} if ends_at is None else {"admit": admit, "on_deferred": deferred, "kill": kill}
        timer = None if ends_at is None else threading.Timer(max(ends_at - clock(), 0.0), at_deadline)
        progress.start(len(todo), len(report.skipped))
        status = "failed"
        try:
            if timer is not None:
                timer.daemon = True
                timer.start()
            ex.run(todo, sink, on_event=progress.event, stop=stop, **extra)
            report.interrupted = stop.is_set() and not report.deadline_reached
            status = "interrupted" if report.interrupted else "deadline" if report.deadline_reached else "ok"
        finally:
            if timer is not None:
                timer.cancel()
                grace.cancel()
            progress.stop()
            store.finish_run(plan.run_id, status)
        return report
    finally:
        store.close()


__all__ = [
    "SweepOptions",
    "SweepPlan",
    "SweepReport",
    "Task",
    "TaskCosts",
    "TaskResult",
    "prepare_sweep",
    "run_sweep",
]

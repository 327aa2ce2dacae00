"""Preparing a sweep: validate models, runtimes, meter and devices into a :class:`SweepPlan`; write nothing."""

from __future__ import annotations

import contextlib
import os
import platform
import shlex
import sys
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from joulebench.errors import ConfigError, MeterError
from joulebench.sweep.search import SEARCH_REVISION
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
    #: Tasks skipped because another live sweep on the same store was measuring them (its run ends them).
    claimed_elsewhere: list[tuple[str, int, str]] = field(default_factory=list)

    @property
    def stopped(self) -> list[tuple[str, int, str]]:
        """Keys of the tasks stopped before they finished (by Ctrl-C or the deadline): no summary, batches kept."""
        return [r.task.key for r in self.results if r.interrupted]

    @property
    def summaries(self) -> list[Any]:
        """The summaries of the saved tasks."""
        return [r.summary for r in self.results if r.summary is not None and not r.interrupted]


def _minimal_provenance(meter_desc: dict[str, Any]) -> dict[str, Any]:
    from joulebench import __version__

    return {
        "joulebench": __version__,
        "search_revision": SEARCH_REVISION,
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
    prov["search_revision"] = SEARCH_REVISION  # the search's code changes without its options: say which one ran
    return prov


def _device_facts(meter_name: str, devices: Sequence[int | None]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Facts of each device as the workers' meters will report them, and provenance from the first meter.

    Each device's facts are ``gpu_uuid``, ``gpu_name`` and ``power_limit_w``.
    """
    from joulebench.meters import get_meter
    from joulebench.sweep.device import device_facts
    from joulebench.sweep.execution import meter_kwargs

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
    from joulebench.models.resolve import resolve_models

    meter_cls, devices = _check_options(models, runtimes, options, gpus, timeout_s)
    rt_opts, device_types, remote = _check_runtimes(runtimes, options, gpus, executor, meter_cls)
    specs = resolve_models(
        list(models), pretrained_only=pretrained_only, img_size=img_size, input_shape=input_shape, weights=weights
    )
    if not specs:
        raise ConfigError(f"no model matches {' '.join(models)}; list names with `joulebench models list`")
    warnings = _gpu_warnings(meter_cls, device_types, devices, remote=remote, exclusive=exclusive)
    if remote:  # resume counts work done on any device of the cluster (gpu_uuid None matches all)
        facts, prov = [{}], _minimal_provenance({"meter": options.meter, "executor": executor})
    else:
        facts, prov = _device_facts(options.meter, devices)
    run_id = uuid.uuid4().hex
    tasks = _build_tasks(run_id, specs, runtimes, options, rt_opts, timeout_s)
    cmd = command if command is not None else "joulebench " + shlex.join(sys.argv[1:])
    return SweepPlan(tasks, options, devices, facts, run_id, prov, warnings, cmd, per_board=per_board)


def _check_options(
    models: Sequence[str],
    runtimes: Sequence[str],
    options: SweepOptions,
    gpus: Sequence[int] | None,
    timeout_s: float | None,
) -> tuple[Any, list[int | None]]:
    """Check the protocol, the meter and the command-line choices; return the meter class and the devices.

    Raises:
        ConfigError: Contradictory or invalid options.
    """
    from joulebench.meters import METERS
    from joulebench.meters import _load_builtin as _load_meters
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
    return meter_cls, devices


def _check_runtimes(
    runtimes: Sequence[str],
    options: SweepOptions,
    gpus: Sequence[int] | None,
    executor: str,
    meter_cls: Any,
) -> tuple[dict[str, dict[str, Any]], dict[str, str], bool]:
    """Check that each runtime can run here (on the executor's devices) with the meter.

    Returns:
        Each runtime's options, each runtime's device type (``cuda``, ``cpu``...), and whether the executor
        assigns devices itself (a cluster), so that this machine's devices are not checked.

    Raises:
        ConfigError: An unknown runtime, impossible options, an unavailable backend, or a runtime the meter or
            ``--gpus`` does not fit.
    """
    from joulebench.runtimes import get_runtime, get_runtime_class
    from joulebench.sweep.executors import executor_class

    rt_opts = {name: options.runtime_options(get_runtime_class(name).OPTIONS) for name in runtimes}
    device_types = {}
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
    return rt_opts, device_types, remote


def _gpu_warnings(
    meter_cls: Any, device_types: dict[str, str], devices: list[int | None], *, remote: bool, exclusive: bool
) -> list[str]:
    """The warnings to print before the sweep: other processes on the GPUs, a simulated meter.

    Raises:
        ConfigError: Other processes use the GPUs and ``exclusive`` is set.
    """
    notes: list[str] = []
    if not meter_cls.simulated and any(t == "cuda" for t in device_types.values()):
        busy = {} if remote else other_gpu_processes(devices)
        if busy:
            what = "; ".join(f"GPU {d}: pid {', '.join(map(str, p))}" for d, p in busy.items())
            if exclusive:
                raise ConfigError(f"other processes are using the GPU ({what}); stop them or drop --exclusive")
            notes.append(f"warning: other processes are using the GPU ({what}): their energy is measured too")
    if meter_cls.simulated:
        notes.append("note: --meter sim simulates energy (power follows a load hint); these are not measurements")
    return notes


def _build_tasks(
    run_id: str,
    specs: Sequence[Any],
    runtimes: Sequence[str],
    options: SweepOptions,
    rt_opts: dict[str, dict[str, Any]],
    timeout_s: float | None,
) -> list[Task]:
    """One task per (model configuration, runtime), models first."""
    return [
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


def _spec_dict(spec: Any) -> dict[str, Any]:
    from dataclasses import asdict

    d = asdict(spec)
    d["input_shape"] = list(d.get("input_shape") or ())
    return d


__all__ = ["SweepPlan", "SweepReport", "collect", "other_gpu_processes", "prepare_sweep"]

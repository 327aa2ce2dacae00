"""One task measured in this process: the worker's body, from its meter to its summary.

:func:`execute_task` runs a task here (the worker subprocess calls it; tests call it in-process);
:class:`TaskExecution` holds the state one task's batches share. :func:`task_failure` and :func:`failed_result`
build the failure rows and failed results that the process supervisor (``process.py``) also reports.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib
import importlib.util
import os
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any

from joulebench.errors import JoulebenchError
from joulebench.store.records import BatchMeasurement, Failure
from joulebench.sweep.tasks import CPU_MAX_BATCH, HARD_MAX_BATCH, Task, TaskResult

if TYPE_CHECKING:
    from joulebench.sweep.cooldown import Cooldown

Emit = Callable[[dict[str, Any]], None]

#: Meters that measure every device they see (no per-device selection): here, all CPU packages.
_WHOLE_MACHINE_METERS = {"rapl"}
#: Environment variable telling a worker which ``--gpus`` entry it serves.
DEVICE_ENV = "JOULEBENCH_DEVICE_INDEX"
#: Tail of a crashed worker's output kept in the failure's detail.
_TAIL_CHARS = 4000


def meter_kwargs(meter_name: str, device_index: int | None, *, pinned: bool) -> dict[str, Any]:
    """Constructor arguments that point a meter at the worker's device.

    Args:
        meter_name: Registered meter name.
        device_index: The sweep's device index (``--gpus`` entry), or None.
        pinned: True inside a worker whose ``CUDA_VISIBLE_DEVICES`` shows only that device (index 0 then);
            simulated meters ignore the environment and keep the sweep's index, so ids stay distinct.
    """
    from joulebench.meters import METERS, _load_builtin

    if meter_name in _WHOLE_MACHINE_METERS:
        return {}
    _load_builtin()
    simulated = meter_name in METERS and METERS.get(meter_name).simulated
    if simulated or not pinned:
        return {"device": device_index or 0}
    return {"device": 0}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:500]


def _base(task: Task, precision: str) -> dict[str, Any]:
    return {
        "run_id": task.run_id,
        "model": task.model,
        "img_size": task.img_size,
        "runtime": task.runtime,
        "precision": precision,
    }


def _precision_of(runtime_name: str) -> str:
    try:
        from joulebench.runtimes import get_runtime_class

        return get_runtime_class(runtime_name).precision
    except Exception:  # an unknown runtime is reported by the task's own failure
        return "?"


def task_failure(
    task: Task,
    stage: str,
    reason: str,
    batch: int | None = None,
    detail: str | None = None,
    gpu_seconds: float | None = None,
) -> Failure:
    """A ``failures`` row of ``task``, stamped now."""
    return Failure(
        run_id=task.run_id,
        model=task.model,
        img_size=task.img_size,
        runtime=task.runtime,
        stage=stage,
        reason=reason,
        batch_size=batch,
        detail=detail,
        occurred_at=_now(),
        gpu_seconds=gpu_seconds,
    )


def failed_result(
    task: Task,
    stage: str,
    reason: str,
    *,
    detail: str | None = None,
    measurements: list[BatchMeasurement] | None = None,
    failures: list[Failure] | None = None,
    gpu_seconds: float | None = None,
    batch: int | None = None,
) -> TaskResult:
    """A TaskResult for a task that failed as a whole (crash, hang, setup error), keeping partial rows."""
    from joulebench.sweep.summary import summarize

    measurements = list(measurements or [])
    # a worker killed at its time limit needed longer than it ran: the row keeps that, for the deadline planner
    held = gpu_seconds if stage == "timeout" else None
    failures = [*(failures or []), task_failure(task, stage, reason, batch, detail, gpu_seconds=held)]
    first = next((m for m in measurements if m.gpu_uuid), None)
    summary = summarize(
        _base(task, _precision_of(task.runtime)),
        measurements,
        failures,
        meter=task.options.meter,
        gpu_name=first.gpu_name if first else None,
        gpu_uuid=first.gpu_uuid if first else None,
        latency_budget_s=task.options.latency_budget_s,
        gpu_seconds=gpu_seconds,
        error=reason,
    )
    return TaskResult(task, measurements, summary, failures, gpu_seconds=gpu_seconds)


def _with_cooldown(row: BatchMeasurement, cooldown: Any) -> BatchMeasurement:
    """The row with the wait before it in its trace summary (a note when the card did not get cool enough)."""
    ts = dict(row.trace_summary or {})
    ts.update(cooldown.record())
    note = cooldown.note()
    if note:
        ts["notes"] = [*ts.get("notes", []), note]
    return dataclasses.replace(row, trace_summary=ts)


# ------------------------------------------------------------------------------------------ the body


def resumed_batches(task: Task) -> dict[tuple[int, str], BatchMeasurement]:
    """The task's stored batches from an unfinished attempt, by ``(batch_size, phase)``."""
    from joulebench.sweep.tasks import measurement_from_dict

    out: dict[tuple[int, str], BatchMeasurement] = {}
    for d in task.resume:
        m = measurement_from_dict(d)
        out[(m.batch_size, str((m.trace_summary or {}).get("phase", "full")))] = m
    return out


def import_frameworks(modules: tuple[str, ...] = ()) -> None:
    """Import torch, timm and ``modules`` where installed: host work that leaves the GPU idle (no CUDA context yet).

    The worker does it inside its idle-baseline window, so the baseline and the imports overlap instead of adding
    up; a framework that is missing is reported by the runtime that needs it, as before.

    Args:
        modules: Further modules the task's runtime imports before its first build (``Runtime.host_modules``).
    """
    for name in ("torch", "timm", *modules):
        if importlib.util.find_spec(name.partition(".")[0]) is not None:
            importlib.import_module(name)


def runtime_host_modules(runtime: str) -> tuple[str, ...]:
    """The ``host_modules`` of the runtime registered as ``runtime`` (none for a name not registered here)."""
    from joulebench.runtimes import get_runtime_class, runtime_names

    return get_runtime_class(runtime).host_modules if runtime in runtime_names() else ()


def runtime_worker_start(runtime: str) -> str:
    """How ``--worker-start auto`` starts ``runtime``'s workers: its class's ``worker_start`` (unknown: ``fork``)."""
    from joulebench.runtimes import get_runtime_class, runtime_names

    return get_runtime_class(runtime).worker_start if runtime in runtime_names() else "fork"


class TaskExecution:
    """One task measured in this process, from its meter to its summary.

    The state its batches share lives here rather than in closures: the meter and the runtime, the device's facts,
    the rows so far, the batches kept from an unfinished earlier attempt, whether the next batch is the first, and
    the last cooldown wait (recorded on the next measurement). Build one per task and call :meth:`run` once.

    Args:
        task: The task.
        emit: Receives progress events and every row as soon as it exists.
        should_stop: Polled between batches; True ends the search after the current batch.
        t_start: Monotonic time the device was taken (for GPU-seconds); default: now.
        freeze_after_load: This process exists for the task (the worker): see :meth:`_freeze`.
        worker_start: How this process started (``fork`` or ``fresh``), recorded in every row's trace summary: a
            launch-bound window reads differently in a forked worker; None in-process.
    """

    def __init__(
        self,
        task: Task,
        *,
        emit: Emit | None = None,
        should_stop: Callable[[], bool] | None = None,
        t_start: float | None = None,
        freeze_after_load: bool = False,
        worker_start: str | None = None,
    ) -> None:
        self.task = task
        self.freeze_after_load = freeze_after_load
        self.worker_start = worker_start
        self.opts = task.options
        self.emit: Emit = emit or (lambda ev: None)
        self.stop: Callable[[], bool] = should_stop or (lambda: False)
        self.t0 = time.monotonic() if t_start is None else t_start
        self.base = _base(task, _precision_of(task.runtime))
        self.measurements: list[BatchMeasurement] = []
        self.failures: list[Failure] = []
        self.meter: Any = None
        self.runtime: Any = None
        self.facts: dict[str, Any] = {}
        self.stage = "meter"  # the step under way: a setup error is reported as failing there
        self.stored: dict[tuple[int, str], BatchMeasurement] = {}
        self.first = True  # the first batch gets the first batch's plan and no pause before it
        self.cooled: Cooldown | None = None  # the last wait, recorded on the next measurement

    def run(self) -> TaskResult:
        """Measure the task: idle baseline, model load, batch search, summary.

        Returns:
            The :class:`TaskResult`; errors become failure rows, never exceptions.
        """
        try:
            idle_w = self._measure_idle()
            max_batch = self._load()
            self.stage = "search"
            self.stored = resumed_batches(self.task)
            self._search(max_batch)
            return self._result(idle_w)
        except Exception as e:  # setup failures (meter, model, runtime) become a failed summary
            detail = None if isinstance(e, JoulebenchError) else traceback.format_exc()[-_TAIL_CHARS:]
            return failed_result(
                self.task,
                self.stage,
                _short(e),
                detail=detail,
                measurements=self.measurements,
                failures=self.failures,
                gpu_seconds=time.monotonic() - self.t0,
            )
        finally:
            self._close()

    def _measure_idle(self) -> float:
        """Open the meter, wait for the card to cool (if asked) and return the idle power in watts."""
        from joulebench.meters import get_meter
        from joulebench.sweep.device import device_facts

        index = os.environ.get(DEVICE_ENV)
        kwargs = meter_kwargs(self.opts.meter, int(index) if index else None, pinned=index is not None)
        self.meter = get_meter(self.opts.meter, align=True, **kwargs)
        self.facts = device_facts(self.meter)
        if self.opts.cooldown_to_c is not None:  # the previous model's heat must not raise this one's idle baseline
            self.stage = "cooldown"
            self.wait_until_cool()
        self.stage = "idle"
        self.emit({"type": "stage", "stage": "idle"})
        modules = runtime_host_modules(self.task.runtime)
        return self.meter.measure_idle(self.opts.idle_s, meanwhile=partial(import_frameworks, modules))

    def _load(self) -> int:
        """Build the runtime, load the model into it and return the largest batch the search may try."""
        from joulebench.models.resolve import ModelSpec
        from joulebench.runtimes import get_runtime

        self.stage = "load"
        self.emit({"type": "stage", "stage": "load"})
        spec_fields = dict(self.task.spec)
        spec_fields["input_shape"] = tuple(spec_fields.get("input_shape") or ())
        spec = ModelSpec(**spec_fields)
        self.runtime = get_runtime(self.task.runtime, **self.task.runtime_options)
        self.base["precision"] = self.runtime.precision
        self.runtime.load(spec)
        if self.freeze_after_load:
            self._freeze()
        cpu = not str(self.runtime.device).startswith("cuda")
        return self.opts.max_batch or (CPU_MAX_BATCH if cpu else HARD_MAX_BATCH)

    @staticmethod
    def _freeze() -> None:
        """Collect once, then take every object alive (the imports, the model) out of the collector's sight.

        They live as long as the worker does; each batch's ``runtime.release()`` then collects only what batches
        made, instead of walking torch's and timm's objects every time (0.2 s a batch on a two-core CPU), and the
        worker exits sooner. Never in a process that outlives the task (tests run tasks in-process).
        """
        gc.collect()
        gc.freeze()

    def _search(self, max_batch: int) -> None:
        """Run the task's batch search over :meth:`measure`, then batch 1 if the search did not measure it."""
        from joulebench.sweep.device import device_memory_b
        from joulebench.sweep.search import get_search, search_kwargs

        search = get_search(self.opts.search)
        search(
            self.measure,
            max_batch=max_batch,
            start=self.opts.start_batch,
            should_stop=self.stop,
            ahead=self.compile_ahead,
            **search_kwargs(self.opts, device_memory_b(self.runtime)),
        )
        if not self.stop() and not any(m.batch_size == 1 for m in self.measurements):
            self.measure(1, "scout")  # the summary reports batch 1; it is cheap

    def compile_ahead(self, batches: list[int], phase: str) -> None:
        """The search's hint of what it measures next: the runtime may start compiling it in child processes.

        Worth it while the worker compiles something else meanwhile (batch 1, before the first scouts), or for two
        programs or more (the finalists: the worker waits for them all, then loads each from the cache).
        """
        todo = [b for b in batches if (b, phase) not in self.stored]
        beside = not self.measurements and self.opts.start_batch == 1 and (1, phase) not in self.stored
        if todo and (beside or len(todo) > 1):
            self.runtime.compile_ahead(todo, scout=phase == "scout")

    def _result(self, idle_w: float) -> TaskResult:
        """The task's result: every row so far and the summary of them."""
        from joulebench.sweep.summary import summarize

        gpu_s = time.monotonic() - self.t0
        summary = summarize(
            self.base,
            self.measurements,
            self.failures,
            meter=self.meter.name,
            gpu_name=self.facts.get("gpu_name"),
            gpu_uuid=self.facts.get("gpu_uuid"),
            idle_power_w=idle_w,
            power_limit_w=self.facts.get("power_limit_w"),
            latency_budget_s=self.opts.latency_budget_s,
            load_s=getattr(self.runtime, "load_s", None),
            gpu_seconds=gpu_s,
        )
        return TaskResult(
            self.task, self.measurements, summary, self.failures, interrupted=self.stop(), gpu_seconds=gpu_s
        )

    def _close(self) -> None:
        if self.runtime is not None:
            try:
                self.runtime.close()
            except Exception as e:  # closing must not hide the task's outcome
                print(f"joulebench worker: closing the runtime failed: {e}", file=sys.stderr)
        if self.meter is not None:
            self.meter.close()

    def add_failure(self, failure: Failure) -> None:
        """Keep ``failure`` and send it on at once, so it survives a worker that dies later."""
        self.failures.append(failure)
        self.emit({"type": "failure", "row": failure.to_dict()})

    def wait_until_cool(self) -> None:
        """Wait for the card to cool to ``cooldown_to_c``; the wait is recorded on the next measurement."""
        from joulebench.sweep.cooldown import cool_down

        self.emit({"type": "stage", "stage": "cooldown"})
        self.cooled = cool_down(self.meter, self.opts.cooldown_to_c, should_stop=self.stop)

    def unmeasured(self, batch: int, status: str, reason: str, phase: str) -> BatchMeasurement:
        """The row of a batch that gave no measurement (``status`` ``oom`` or ``error``), with its reason."""
        return BatchMeasurement(
            **self.base,
            batch_size=batch,
            status=status,
            error=reason,
            gpu_name=self.facts.get("gpu_name"),
            gpu_uuid=self.facts.get("gpu_uuid"),
            meter=self.meter.name,
            trace_summary={"phase": phase},
            measured_at=_now(),
        )

    def measure(self, batch: int, phase: str) -> BatchMeasurement:
        """Measure ``batch`` in search ``phase`` (the search's callback) and keep its row; a failure is a row too."""
        from joulebench.sweep.host_memory import host_memory_shortfall

        if (batch, phase) in self.stored:  # measured by an earlier attempt that did not finish: kept, not redone
            row = self.stored.pop((batch, phase))
            self.measurements.append(row)
            self.emit({"type": "resumed", "batch": batch, "phase": phase})
            return row
        short = host_memory_shortfall(self.measurements, batch)
        if short is not None:  # a row in place of a SIGKILL that would lose the whole model
            row = self.unmeasured(batch, "oom", short, phase)
            self.add_failure(task_failure(self.task, "oom", short, batch))
            return self._keep(row)
        if not self.first:
            self._pause()
        self.emit({"type": "batch", "batch": batch, "phase": phase})
        row = self._measure_batch(batch, phase)
        if self.cooled is not None:
            row = _with_cooldown(row, self.cooled)
            self.cooled = None
        return self._keep(row)

    def _pause(self) -> None:
        """The pause between two batches: a fixed sleep, a wait for the card to cool, or both (as asked)."""
        if self.opts.cooldown_s > 0:
            time.sleep(self.opts.cooldown_s)
        if self.opts.cooldown_to_c is not None:
            self.wait_until_cool()

    def _measure_batch(self, batch: int, phase: str) -> BatchMeasurement:
        """Measure one batch with its phase's plan; an error becomes an ``oom``/``error`` row and a failure."""
        from joulebench.sweep.protocol import measure_batch, plan_for, to_measurement

        plan = plan_for(self.opts, phase, first=self.first)
        self.first = False
        try:
            run = measure_batch(self.runtime, self.meter, batch, plan, should_stop=self.stop)
            return to_measurement(run, self.base, self.meter, self.facts)
        except Exception as e:  # one batch failing (OOM, compile error) must not end the model
            oom = self.runtime.is_oom(e)
            reason = f"out of memory at batch {batch}" if oom else _short(e)
            row = self.unmeasured(batch, "oom" if oom else "error", reason, phase)
            detail = None if oom else traceback.format_exc()[-_TAIL_CHARS:]
            self.add_failure(task_failure(self.task, "oom" if oom else "batch", reason, batch, detail))
            return row
        finally:
            self.runtime.release()

    def _keep(self, row: BatchMeasurement) -> BatchMeasurement:
        if self.worker_start is not None:
            ts = {**(row.trace_summary or {}), "worker_start": self.worker_start}
            row = dataclasses.replace(row, trace_summary=ts)
        self.measurements.append(row)
        self.emit({"type": "measurement", "row": row.to_dict()})
        return row


def execute_task(
    task: Task,
    *,
    emit: Emit | None = None,
    should_stop: Callable[[], bool] | None = None,
    t_start: float | None = None,
    freeze_after_load: bool = False,
    worker_start: str | None = None,
) -> TaskResult:
    """Measure one (model configuration, runtime) in this process: idle baseline, search, summary.

    Args:
        task: The task.
        emit: Receives progress events and every row as soon as it exists.
        should_stop: Polled between batches; True ends the search after the current batch.
        t_start: Monotonic time the device was taken (for GPU-seconds); default: now.
        freeze_after_load: True in a process that ends with the task (the worker subprocess): the objects alive
            after the model is loaded are left out of garbage collection (:meth:`TaskExecution._freeze`).
        worker_start: How the worker process started (``fork``, ``fresh``), kept in each row's trace summary.

    Returns:
        The :class:`TaskResult`; errors become failure rows, never exceptions.
    """
    execution = TaskExecution(
        task,
        emit=emit,
        should_stop=should_stop,
        t_start=t_start,
        freeze_after_load=freeze_after_load,
        worker_start=worker_start,
    )
    return execution.run()

"""The ``ray`` executor: a sweep's tasks as Ray tasks across many GPUs and machines.

One Ray task per (model configuration, runtime) reserves ``num_gpus=1`` (``num_cpus=1`` for CPU runtimes),
so it owns one GPU for the whole model. Inside it, the same ``run_task`` as the local executor runs the
model in a fresh worker subprocess; Ray has already set ``CUDA_VISIBLE_DEVICES`` to the GPU it granted,
which the subprocess inherits. Results come back to the driver as they finish (a ``ray.wait`` loop) and
only the driver calls ``sink`` (which writes the store), so a local SQLite file keeps working.

Faults: a task whose Ray worker dies (process killed, node lost, Ray's out-of-memory killer) is submitted
again, preferring a node where it has not died yet, up to ``retries`` times; after that it becomes a failed
:class:`~joulebench.sweep.tasks.TaskResult` with a ``Failure(stage="ray")`` naming every attempt's reason.
A model whose worker subprocess died at a batch above some that worked (``Failure(stage="crash")``) is submitted
once more with its search capped below the crash, as the local executor does, and saved as one result.

Progress and Ctrl-C travel through one small actor (:class:`_Channel`, no CPU reserved): tasks post their
worker's events to it and poll it for a stop request, so ``--executor ray`` shows the same progress as a
local sweep and the first Ctrl-C ends every running model after its current batch.

Ray is optional (``pip install 'joulebench[ray]'``) and imported only when this executor runs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from joulebench.errors import ConfigError, MissingDependencyError
from joulebench.sweep.execution import failed_result
from joulebench.sweep.executors import EXECUTORS, Executor, OnEvent, Sink
from joulebench.sweep.process import merge_attempts, retry_after_crash, retry_note, run_task
from joulebench.sweep.ray_task import POLL_S, _Channel, _ray_task, stamp_provenance
from joulebench.sweep.tasks import Task, TaskResult

#: Seconds the driver waits for running tasks to stop after the second Ctrl-C before force-cancelling them.
KILL_GRACE_S = 30.0
#: Default number of re-submissions of a task whose worker died.
DEFAULT_RETRIES = 2


def import_ray() -> Any:
    """Import Ray, or explain how to install it.

    Raises:
        MissingDependencyError: Ray is not installed.
    """
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("ray", "ray", "--executor ray") from None
    return ray


def _retryable_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """Ray errors that mean "the worker or its node went away", not "the task's code failed"."""
    ex = ray.exceptions
    names = (
        "WorkerCrashedError",  # the worker process died (SIGKILL, segfault, kernel OOM killer)
        "NodeDiedError",  # the node was lost
        "OutOfMemoryError",  # Ray's memory monitor killed the worker
        "ObjectLostError",  # the result died with its node before the driver fetched it
        "RaySystemError",
        "RuntimeEnvSetupError",  # a node whose environment cannot be set up: another node may work
        "LocalRayletDiedError",
    )
    return tuple(getattr(ex, n) for n in names if hasattr(ex, n))


def task_needs_gpu(task: Task) -> bool:
    """True when the task's runtime runs on a GPU (so its Ray task reserves ``num_gpus=1``).

    Uses the runtime class's ``device_type``; a runtime that picks its device from an execution provider
    option (ONNX Runtime's ``provider``) follows that provider's table.
    """
    from joulebench.runtimes import get_runtime_class

    cls = get_runtime_class(task.runtime)
    provider = task.runtime_options.get("provider")
    table = getattr(__import__(cls.__module__, fromlist=["PROVIDERS"]), "PROVIDERS", None)
    if provider and isinstance(table, dict) and provider in table:
        return table[provider][1] == "cuda"
    return getattr(cls, "device_type", "cuda") == "cuda"


# ------------------------------------------------------------------------------------------ the driver


@dataclass
class _Attempt:
    task: Task
    token: int
    number: int  # 0 = first try
    node_id: str | None = None  # where it started (reported by the task)
    device: Any = None
    reasons: list[str] = field(default_factory=list)
    died_on: list[str] = field(default_factory=list)
    first: TaskResult | None = None  # the crashed attempt this one retries below its crash, if any
    why: str | None = None  # that retry's reason, shown when it starts


@EXECUTORS.register("ray")
class RayExecutor(Executor):
    """Runs each task as a Ray task on a Ray cluster; results stream back to the driver's ``sink``.

    Args:
        devices: Ignored: Ray decides which GPU runs a task (``--gpus`` is for the local executor).
        runner: ``runner(task, device_index, on_event=, stop=, kill=) -> TaskResult``; must be picklable
            (a module-level function) because it travels to the Ray workers.
        address: Ray cluster to join: ``auto`` (the one started on this machine with ``ray start``),
            ``ray://host:10001`` (Ray Client), ``host:6379``; None = join ``$RAY_ADDRESS`` if set, else
            start a private local cluster.
        retries: How many times a task whose worker died is submitted again before it is recorded failed.
        cpus_per_gpu_task: CPUs reserved beside the GPU of a GPU task (the measuring loop and the sampler).
        init_kwargs: Extra ``ray.init`` arguments (tests start a small local cluster with fake GPUs).
    """

    #: Ray, not the driver, picks each task's GPU: resume must count work done on any device of the cluster.
    assigns_devices = True
    #: The CLI options this executor takes (``measure --address ... --retries ...``).
    OPTIONS = ("address", "retries")

    def __init__(
        self,
        devices: Sequence[int | None] = (None,),
        runner: Callable[..., TaskResult] = run_task,
        *,
        address: str | None = None,
        retries: int = DEFAULT_RETRIES,
        cpus_per_gpu_task: float = 1.0,
        init_kwargs: dict[str, Any] | None = None,
    ):
        super().__init__(devices, runner)
        import_ray()  # fail before the sweep records its run, with the install command
        if any(d is not None for d in self.devices):
            raise ConfigError("--gpus pins local workers; with --executor ray, Ray assigns the GPUs: drop --gpus")
        if retries < 0:
            raise ConfigError(f"--retries must not be negative (got {retries})")
        self.address = address
        self.retries = retries
        self.cpus_per_gpu_task = cpus_per_gpu_task
        self.init_kwargs = dict(init_kwargs or {})

    # -- connection

    def _connect(self, ray: Any) -> bool:
        """Join or start the cluster; True when this call started the connection (so it shuts it down)."""
        if ray.is_initialized():
            return False
        # Worker logs stay in Ray's log folder: failures reach the store as Failure rows, and the progress stays clean.
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if self.address is None and not os.environ.get("RAY_ADDRESS"):
            kwargs["object_store_memory"] = 200 * 1024**2  # results are small; leave memory to the models
        kwargs.update(self.init_kwargs)
        if self.address is not None:
            kwargs["address"] = self.address
        try:
            ray.init(**kwargs)
        except ConnectionError as e:
            raise ConfigError(
                f"cannot reach the Ray cluster at {self.address or '$RAY_ADDRESS'}: {e}. Start it with "
                "`ray start --head` (see docs/DISTRIBUTED.md) or pass --address host:6379 / ray://host:10001"
            ) from None
        return True

    def _check_resources(self, ray: Any, needs_gpu: dict[tuple[str, int, str], bool]) -> None:
        total = ray.cluster_resources()
        if any(needs_gpu.values()) and total.get("GPU", 0) < 1:
            names = sorted({k[2] for k, g in needs_gpu.items() if g})
            raise ConfigError(
                f"the Ray cluster has no GPU, but {', '.join(names)} needs one: start the nodes with GPUs "
                "(`ray start --num-gpus N`) or use a CPU runtime such as cpu-fp32"
            )
        if not all(needs_gpu.values()) and total.get("CPU", 0) < 1:
            raise ConfigError(
                "the Ray cluster has no CPU for the CPU runtimes: start a node with `--num-cpus 1` or more"
            )

    def _options(self, ray: Any, attempt: _Attempt, gpu: bool) -> dict[str, Any]:
        opts: dict[str, Any] = {
            "num_gpus": 1 if gpu else 0,
            "num_cpus": self.cpus_per_gpu_task if gpu else 1,
            "max_retries": 0,  # the driver retries, steering away from nodes where the task died
            "retry_exceptions": False,
            "name": f"joulebench:{attempt.task.label()}",
        }
        if attempt.died_on:
            other = self._other_node(ray, attempt.died_on, gpu)
            if other is not None:
                from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

                opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=other, soft=True)
        return opts

    @staticmethod
    def _other_node(ray: Any, avoid: list[str], gpu: bool) -> str | None:
        """An alive node with the resource, where the task has not died yet; the most spare first."""
        resource = "GPU" if gpu else "CPU"
        candidates = [
            n
            for n in ray.nodes()
            if n.get("Alive") and n.get("Resources", {}).get(resource, 0) >= 1 and n.get("NodeID") not in avoid
        ]
        if not candidates:
            return None
        return max(candidates, key=lambda n: n["Resources"][resource])["NodeID"]

    # -- the loop

    def run(
        self,
        tasks: Sequence[Task],
        sink: Sink,
        *,
        on_event: OnEvent | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """Run every task on the Ray cluster; call ``sink(result)`` here, on the driver, as each finishes.

        The first Ctrl-C (or ``stop`` set) cancels tasks not yet started and asks running ones to end after
        their current batch; a second Ctrl-C kills the running workers.

        Raises:
            MissingDependencyError: Ray is not installed.
            ConfigError: The cluster cannot be reached or lacks the resources the tasks need.
        """
        ray = import_ray()
        stop = stop or threading.Event()
        needs_gpu = {t.key: task_needs_gpu(t) for t in tasks}
        started = self._connect(ray)
        try:
            self._check_resources(ray, needs_gpu)
            self._loop(ray, list(tasks), sink, on_event, stop, needs_gpu)
        finally:
            if started:
                ray.shutdown()

    def _loop(
        self,
        ray: Any,
        tasks: list[Task],
        sink: Sink,
        on_event: OnEvent | None,
        stop: threading.Event,
        needs_gpu: dict[tuple[str, int, str], bool],
    ) -> None:
        _RayLoop(self, ray, sink, on_event, stop, needs_gpu).run(tasks)

    def _cancel_queued(self, ray: Any, pending: dict[Any, _Attempt], by_token: dict[int, _Attempt]) -> None:
        """Cancel tasks that have not started (they report ``task_start`` when they do)."""
        for ref, attempt in list(pending.items()):
            if attempt.node_id is None:
                ray.cancel(ref)

    def _collect(self, ray: Any, ref: Any, attempt: _Attempt, retryable: tuple[type[BaseException], ...]) -> Any:
        """The task's result; None when its worker died (retryable); a failed result for a code error."""
        try:
            return ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            out = failed_result(attempt.task, "interrupted", "interrupted: the sweep was stopped before it ran")
            out.interrupted = True  # not saved: a re-run measures it
            return out
        except retryable as e:
            where = f" on {attempt.device or attempt.node_id or 'an unknown node'}"
            attempt.reasons.append(f"attempt {attempt.number + 1}{where}: {type(e).__name__}: {_first_line(e)}")
            return None
        except ray.exceptions.RayTaskError as e:  # our own code raised: retrying would fail the same way
            cause = e.cause if getattr(e, "cause", None) is not None else e
            return failed_result(attempt.task, "ray", f"{type(cause).__name__}: {_first_line(cause)}", detail=str(e))

    def _gave_up(self, attempt: _Attempt, *, interrupted: bool) -> TaskResult:
        n = attempt.number + 1
        reason = f"the Ray worker died {n} time(s) (--retries {self.retries}): " + "; ".join(attempt.reasons)
        out = failed_result(attempt.task, "ray", reason[:2000], detail="\n".join(attempt.reasons))
        out.interrupted = interrupted
        return out


class _RayLoop:
    """One ``RayExecutor.run``'s driver loop: submit, collect, retry and stop, with the state they share.

    State: the attempts in flight (``pending``, by Ray reference; ``by_token``, by the token their events carry),
    the next retry's token, and the stop level (0 = run, 1 = finish current batch, 2 = kill).
    """

    def __init__(
        self,
        executor: RayExecutor,
        ray: Any,
        sink: Sink,
        on_event: OnEvent | None,
        stop: threading.Event,
        needs_gpu: dict[tuple[str, int, str], bool],
    ) -> None:
        self.executor, self.ray, self.sink, self.on_event = executor, ray, sink, on_event
        self.stop_event, self.needs_gpu = stop, needs_gpu
        self.channel = ray.remote(num_cpus=0)(_Channel).remote()
        self.remote = ray.remote(_ray_task)
        self.retryable = _retryable_errors(ray)
        self.by_token: dict[int, _Attempt] = {}
        self.pending: dict[Any, _Attempt] = {}
        self.next_token = 0
        self.level = 0
        self.kill_requested_at: float | None = None

    def run(self, tasks: list[Task]) -> None:
        """Submit every task, then wait, relay events and collect results until none is in flight."""
        for i, t in enumerate(tasks):
            self.submit(_Attempt(t, token=i, number=0))
        self.next_token = len(tasks)
        while self.pending:
            try:
                self.step()
            except KeyboardInterrupt:
                self.interrupt()
            except BaseException:
                # The sink failed (store unwritable...): nothing more can be saved, so free the cluster's GPUs.
                self.cancel_all()
                raise

    def step(self) -> None:
        """One turn: apply a stop request, force-cancel after the kill grace, then collect what finished."""
        if self.stop_event.is_set() and self.level == 0:
            self.stop()
        if (
            self.level >= 2
            and self.kill_requested_at is not None
            and time.monotonic() - self.kill_requested_at > KILL_GRACE_S
        ):
            self.kill_requested_at = None
            self.cancel_all()
        done, _ = self.ray.wait(list(self.pending), num_returns=1, timeout=POLL_S)
        self.relay()
        for ref in done:
            self.collect(ref)

    def submit(self, attempt: _Attempt) -> None:
        self.by_token[attempt.token] = attempt
        opts = self.executor._options(self.ray, attempt, self.needs_gpu[attempt.task.key])
        ref = self.remote.options(**opts).remote(attempt.task, attempt.token, self.channel, self.executor.runner)
        self.pending[ref] = attempt

    def relay(self) -> None:
        """Pass the tasks' posted events on to ``on_event``, noting where each attempt started."""
        for token, device, ev in self.ray.get(self.channel.drain.remote()):
            attempt = self.by_token.get(token)
            if attempt is None:
                continue
            if ev.get("type") == "task_start":
                attempt.node_id, attempt.device = ev.get("node_id"), device
                if attempt.why:
                    ev = {**ev, "retry": attempt.why}
            if self.on_event is not None:
                self.on_event(device, attempt.task, ev)

    def collect(self, ref: Any) -> None:
        """Take one finished attempt: retry it, re-submit it below its crash, or hand its result to the sink."""
        attempt = self.pending.pop(ref)
        result = self.executor._collect(self.ray, ref, attempt, self.retryable)
        if result is None:  # the worker died: try again, elsewhere if possible
            if self.level == 0 and attempt.number < self.executor.retries:
                self.retry(attempt)
                return
            result = self.executor._gave_up(attempt, interrupted=self.level > 0)
        below = None if self.level > 0 or attempt.first is not None else retry_after_crash(result)
        if below is not None:
            why = retry_note(result, below)
            self.submit(_Attempt(below, token=self.next_token, number=0, first=result, why=why))
            self.next_token += 1
            return
        self.sink(result if attempt.first is None else merge_attempts(attempt.first, result))

    def retry(self, attempt: _Attempt) -> None:
        """Submit a dead worker's attempt again, steering away from the nodes where it died."""
        retry = _Attempt(
            attempt.task,
            token=self.next_token,
            number=attempt.number + 1,
            reasons=attempt.reasons,
            died_on=attempt.died_on + ([attempt.node_id] if attempt.node_id else []),
            first=attempt.first,
            why=attempt.why,
        )
        self.next_token += 1
        self.submit(retry)

    def stop(self) -> None:
        """First stop request: running tasks end after their current batch; queued ones are cancelled."""
        self.level = 1
        self.ray.get(self.channel.set_stop.remote(1))
        self.relay()  # learn which tasks have started: only the others are cancelled
        self.executor._cancel_queued(self.ray, self.pending, self.by_token)

    def interrupt(self) -> None:
        """Ctrl-C: the first one stops the sweep; one after a stop kills the running workers after a grace."""
        self.stop_event.set()
        if self.level >= 1:
            self.level = 2
            self.kill_requested_at = time.monotonic()
            self.ray.get(self.channel.set_stop.remote(2))

    def cancel_all(self) -> None:
        for ref in list(self.pending):
            self.ray.cancel(ref, force=True)


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0][:300] if lines else ""


__all__ = ["DEFAULT_RETRIES", "RayExecutor", "import_ray", "stamp_provenance", "task_needs_gpu"]

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
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from joulebench.errors import ConfigError, MissingDependencyError
from joulebench.sweep.execution import failed_result
from joulebench.sweep.executors import EXECUTORS, Executor, OnEvent, Sink
from joulebench.sweep.process import merge_attempts, retry_after_crash, retry_note, run_task
from joulebench.sweep.tasks import Task, TaskResult

#: Seconds between a running task's posts of its events (and checks for a stop request).
POLL_S = 0.5
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


def _node_label(node_id: str | None) -> str:
    """``hostname/node-id-prefix``: readable, and still distinct when containers share a hostname."""
    host = socket.gethostname()
    return f"{host}/{node_id[:12]}" if node_id else host


def _uuid_of(gpu_id: Any) -> str | None:
    """The UUID of the GPU Ray granted (``ray.get_gpu_ids()`` gives indices as the node sees them, or UUIDs)."""
    text = str(gpu_id)
    if text.startswith(("GPU-", "MIG-")):
        return text
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return str(pynvml.nvmlDeviceGetUUID(pynvml.nvmlDeviceGetHandleByIndex(int(text))))
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # a fake GPU resource or a node without NVML: the meter's own UUID (if any) stays
        return None


def stamp_provenance(result: TaskResult, node: str, gpu_uuid: str | None) -> TaskResult:
    """Name the node (and, where the meter did not, the GPU UUID) on the summary and every row.

    Args:
        result: The task's result.
        node: ``hostname/node-id`` of the Ray node it ran on.
        gpu_uuid: UUID of the GPU Ray granted, or None (CPU task, fake GPU resource).

    Returns:
        The same result, with ``summary.node`` set and missing ``gpu_uuid`` filled in.
    """
    if result.summary is not None:
        result.summary = replace(result.summary, node=node, gpu_uuid=result.summary.gpu_uuid or gpu_uuid)
    if gpu_uuid is not None:
        result.measurements = [m if m.gpu_uuid else replace(m, gpu_uuid=gpu_uuid) for m in result.measurements]
    return result


# ------------------------------------------------------------------------------------------ inside Ray


class _Channel:
    """Driver <-> tasks: event mailbox and stop level (0 = run, 1 = finish current batch, 2 = kill)."""

    def __init__(self) -> None:
        self._events: list[tuple[int, Any, dict[str, Any]]] = []
        self._stop = 0

    def post(self, token: int, device: Any, events: list[dict[str, Any]]) -> int:
        self._events.extend((token, device, ev) for ev in events)
        return self._stop

    def drain(self) -> list[tuple[int, Any, dict[str, Any]]]:
        out, self._events = self._events, []
        return out

    def set_stop(self, level: int) -> None:
        self._stop = max(self._stop, level)

    def stop_level(self) -> int:
        return self._stop


def _ray_task(task: Task, token: int, channel: Any, runner: Callable[..., TaskResult]) -> TaskResult:
    """Body of one Ray task: run ``runner`` on the granted device, relaying events and stop requests."""
    import ray

    ctx = ray.get_runtime_context()
    node_id = ctx.get_node_id()
    gpu_ids = list(ray.get_gpu_ids())
    node = _node_label(node_id)
    # The progress line of this task: host and GPU; CPU tasks share the "cpu" line, as locally.
    device = f"{socket.gethostname()}:{gpu_ids[0]}" if gpu_ids else None
    pending: list[dict[str, Any]] = [{"type": "task_start", "node_id": node_id, "node": node, "gpu_ids": gpu_ids}]
    lock = threading.Lock()
    stop, kill = threading.Event(), threading.Event()
    box: dict[str, Any] = {}

    def on_event(ev: dict[str, Any]) -> None:
        with lock:
            pending.append(ev)

    def work() -> None:
        try:
            # device None: the subprocess inherits the CUDA_VISIBLE_DEVICES that Ray set for this GPU.
            box["result"] = runner(task, None, on_event=on_event, stop=stop, kill=kill)
        except BaseException as e:  # reaches the driver as a RayTaskError with this traceback
            box["error"] = e

    th = threading.Thread(target=work, name="joulebench-ray-task", daemon=True)
    th.start()
    try:
        while True:
            finished = not th.is_alive()
            with lock:
                batch, pending[:] = list(pending), []
            if batch or not finished:
                try:
                    level = ray.get(channel.post.remote(token, device, batch), timeout=10)
                except Exception:  # the driver's channel is gone or slow: keep measuring, events are cosmetic
                    level = 0
                if level >= 1:
                    stop.set()
                if level >= 2:
                    kill.set()
            if finished:
                break
            th.join(POLL_S)
    except KeyboardInterrupt:  # ray.cancel(): never leave the worker subprocess running on a GPU Ray thinks free
        kill.set()
        th.join(60)
        raise
    if "error" in box:
        raise box["error"]
    gpu_uuid = _uuid_of(gpu_ids[0]) if gpu_ids else None
    return stamp_provenance(box["result"], node, gpu_uuid)


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
        channel = ray.remote(num_cpus=0)(_Channel).remote()
        remote = ray.remote(_ray_task)
        retryable = _retryable_errors(ray)
        by_token: dict[int, _Attempt] = {}
        pending: dict[Any, _Attempt] = {}

        def submit(attempt: _Attempt) -> None:
            by_token[attempt.token] = attempt
            opts = self._options(ray, attempt, needs_gpu[attempt.task.key])
            pending[remote.options(**opts).remote(attempt.task, attempt.token, channel, self.runner)] = attempt

        for i, t in enumerate(tasks):
            submit(_Attempt(t, token=i, number=0))
        next_token = len(tasks)
        level = 0
        kill_requested_at: float | None = None

        def relay() -> None:
            for token, device, ev in ray.get(channel.drain.remote()):
                attempt = by_token.get(token)
                if attempt is None:
                    continue
                if ev.get("type") == "task_start":
                    attempt.node_id, attempt.device = ev.get("node_id"), device
                    if attempt.why:
                        ev = {**ev, "retry": attempt.why}
                if on_event is not None:
                    on_event(device, attempt.task, ev)

        while pending:
            try:
                if stop.is_set() and level == 0:
                    level = 1
                    ray.get(channel.set_stop.remote(1))
                    relay()  # learn which tasks have started: only the others are cancelled
                    self._cancel_queued(ray, pending, by_token)
                if level >= 2 and kill_requested_at is not None and time.monotonic() - kill_requested_at > KILL_GRACE_S:
                    kill_requested_at = None
                    for ref in list(pending):
                        ray.cancel(ref, force=True)
                done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
                relay()
                for ref in done:
                    attempt = pending.pop(ref)
                    result = self._collect(ray, ref, attempt, retryable)
                    if result is None:  # the worker died: try again, elsewhere if possible
                        if level == 0 and attempt.number < self.retries:
                            retry = _Attempt(
                                attempt.task,
                                token=next_token,
                                number=attempt.number + 1,
                                reasons=attempt.reasons,
                                died_on=attempt.died_on + ([attempt.node_id] if attempt.node_id else []),
                                first=attempt.first,
                                why=attempt.why,
                            )
                            next_token += 1
                            submit(retry)
                            continue
                        result = self._gave_up(attempt, interrupted=level > 0)
                    below = None if level > 0 or attempt.first is not None else retry_after_crash(result)
                    if below is not None:
                        submit(_Attempt(below, token=next_token, number=0, first=result, why=retry_note(result, below)))
                        next_token += 1
                        continue
                    sink(result if attempt.first is None else merge_attempts(attempt.first, result))
            except KeyboardInterrupt:
                stop.set()
                if level >= 1:
                    level = 2
                    kill_requested_at = time.monotonic()
                    ray.get(channel.set_stop.remote(2))
            except BaseException:
                # The sink failed (store unwritable...): nothing more can be saved, so free the cluster's GPUs.
                for ref in list(pending):
                    ray.cancel(ref, force=True)
                raise

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


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0][:300] if lines else ""


__all__ = ["DEFAULT_RETRIES", "RayExecutor", "import_ray", "stamp_provenance", "task_needs_gpu"]

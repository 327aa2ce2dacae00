"""Executors: who runs the tasks of a sweep, and where. Registered by name in :data:`EXECUTORS`.

An executor receives pure :class:`~joulebench.sweep.tasks.Task` objects and hands every
:class:`~joulebench.sweep.tasks.TaskResult` to ``sink`` **on the calling (driver) thread**: the driver
alone writes the store. ``run_task(task, device_index)`` is the unit of work; it runs one task in a fresh
worker subprocess with a timeout and always returns a TaskResult.

* ``local``: one thread per device, all pulling from one queue; each thread launches worker subprocesses
  pinned to its GPU with ``CUDA_VISIBLE_DEVICES``. Devices ``[None]`` = one worker that inherits the
  environment (CPU runtimes, the simulated meter). With ``worker_start="fork"`` (on Linux) the workers are forked
  from one zygote (:mod:`joulebench.sweep.zygote`) that imported torch and timm once for the run; ``"fresh"``, or a
  zygote that cannot start, starts each as a new Python process; ``"auto"`` (the default) asks each task's runtime
  (``Runtime.worker_start``: compiled runtimes start fresh). A worker that died at a
  batch larger than some that worked is retried once at once on the same device, its search capped below the crash
  (:func:`~joulebench.sweep.process.retry_after_crash`); the sink gets one result with both attempts' rows.
* ``ray``: the same ``run_task`` as a Ray remote function with ``num_gpus=1`` (fresh workers).
"""

from __future__ import annotations

import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from joulebench.errors import ConfigError
from joulebench.registry import Registry
from joulebench.sweep.process import merge_attempts, retry_after_crash, retry_note, run_task
from joulebench.sweep.tasks import Task, TaskResult

if TYPE_CHECKING:
    from joulebench.sweep.zygote import Zygote

Sink = Callable[[TaskResult], None]
#: ``on_event(device_index, task, event)`` -- progress events of the workers (called on the driver thread).
OnEvent = Callable[[Any, Task, dict[str, Any]], None]
#: How the local executor starts a worker: as its runtime asks, forked from the run's zygote, or as a new process.
WORKER_STARTS = ("auto", "fork", "fresh")


class Executor(ABC):
    """Runs tasks and feeds their results to a sink on the driver thread.

    Args:
        devices: Device indices to use (one task at a time on each); ``[None]`` = no pinning.
        runner: ``runner(task, device_index, on_event=..., stop=..., kill=...) -> TaskResult`` (tests swap it).
    """

    #: True when :meth:`run` takes ``admit`` (a deadline needs to decide, per task, whether it may still start).
    admits: bool = False
    #: True when :meth:`run` takes ``on_message(text)``: warnings for the user (called on the driver thread).
    says: bool = False

    def __init__(self, devices: Sequence[int | None] = (None,), runner: Callable[..., TaskResult] = run_task):
        self.devices = list(devices) or [None]
        self.runner = runner

    @abstractmethod
    def run(
        self,
        tasks: Sequence[Task],
        sink: Sink,
        *,
        on_event: OnEvent | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """Run ``tasks``; call ``sink(result)`` for each on this thread. ``stop`` set = no new tasks.

        Executors whose ``admits`` is True also take ``admit(task) -> bool``, asked just before a task would
        start; a task it refuses is not run and goes to ``on_deferred(task)`` (on this thread); and ``kill``, an
        event that, once set, kills the running tasks' workers now (what a deadline does to the ones that did not
        stop after their batch). Those whose ``says`` is True take ``on_message(text)``: warnings for the user, such
        as workers starting fresh because the zygote could not start (on this thread).
        """


EXECUTORS: Registry[type[Executor]] = Registry("executor")


def check_worker_start(value: str) -> str:
    """``value`` if it names a way to start workers (:data:`WORKER_STARTS`).

    Raises:
        ConfigError: It names none.
    """
    if value not in WORKER_STARTS:
        raise ConfigError(f"--worker-start must be one of {', '.join(WORKER_STARTS)} (got '{value}')")
    return value


@EXECUTORS.register("local")
class LocalExecutor(Executor):
    """One thread per device pulling tasks from one queue; each task in a worker process of its own.

    Args:
        devices: Device indices to use (one task at a time on each); ``[None]`` = no pinning.
        runner: Runs one task (see :class:`Executor`); one with ``takes_launcher`` is given the zygote.
        worker_start: ``auto`` (each task as its runtime's ``worker_start`` says), ``fork`` (workers forked from a
            zygote that imported torch and timm once; Linux, else fresh) or ``fresh`` (each a new Python process).

    Raises:
        ConfigError: An unknown ``worker_start``.
    """

    admits = True
    says = True
    OPTIONS = ("worker_start",)

    def __init__(
        self,
        devices: Sequence[int | None] = (None,),
        runner: Callable[..., TaskResult] = run_task,
        worker_start: str = "auto",
    ) -> None:
        super().__init__(devices, runner)
        self.worker_start = check_worker_start(worker_start)

    def forks(self, task: Task) -> bool:
        """Whether ``task``'s worker is to be forked from the zygote (``worker_start``, or its runtime's choice)."""
        from joulebench.sweep.execution import runtime_worker_start

        if self.worker_start == "auto":
            return runtime_worker_start(task.runtime) == "fork"
        return self.worker_start == "fork"

    def start_zygote(self, say: Callable[[str], None], tasks: Sequence[Task] = ()) -> Zygote | None:
        """The run's zygote, started; None when no task forks (asked, unsupported, or it failed: ``say``)."""
        from joulebench.sweep.zygote import Zygote, ZygoteError, fork_unsupported

        if not any(self.forks(t) for t in tasks) or not getattr(self.runner, "takes_launcher", False):
            return None  # fresh workers as asked, or a runner that starts none
        if fork_unsupported():
            return None  # a platform that cannot fork them
        zygote = Zygote()
        try:
            zygote.start()
        except ZygoteError as e:
            say(f"warning: {e}; each worker starts as a fresh process (slower: it imports torch and timm itself)")
            return None
        return zygote

    def run(
        self,
        tasks: Sequence[Task],
        sink: Sink,
        *,
        on_event: OnEvent | None = None,
        stop: threading.Event | None = None,
        admit: Callable[[Task], bool] | None = None,
        on_deferred: Callable[[Task], None] | None = None,
        kill: threading.Event | None = None,
        on_message: Callable[[str], None] | None = None,
    ) -> None:
        """Run every task (see :class:`Executor`). KeyboardInterrupt on this thread sets ``stop`` and waits."""
        stop = stop or threading.Event()
        say = on_message or (lambda text: None)
        try:
            zygote = self.start_zygote(say, tasks)
        except KeyboardInterrupt:  # Ctrl-C while the zygote imports: nothing started, nothing to run
            stop.set()
            return
        todo: queue.Queue[Task] = queue.Queue()
        for t in tasks:
            todo.put(t)
        run = _LocalRun(self.runner, todo, stop, kill or threading.Event(), admit, zygote, self.forks)
        try:
            run.drain(self.devices, sink, on_event, on_deferred, say)
        finally:
            if zygote is not None:
                zygote.close()


class _LocalRun:
    """One :meth:`LocalExecutor.run`: its queue, its device threads and the messages they send the driver thread.

    Args:
        runner: Runs one task.
        todo: The tasks not yet started.
        stop: Set: no new tasks (the running ones finish their batch).
        kill: Set: the running tasks' workers are killed.
        admit: Asked before each task starts (a deadline), or None.
        zygote: The run's zygote, or None (fresh workers).
        forks: Whether a task's worker is forked from ``zygote`` (else it starts fresh).
    """

    def __init__(
        self,
        runner: Callable[..., TaskResult],
        todo: queue.Queue[Task],
        stop: threading.Event,
        kill: threading.Event,
        admit: Callable[[Task], bool] | None,
        zygote: Zygote | None,
        forks: Callable[[Task], bool],
    ) -> None:
        self.runner = runner
        self.todo = todo
        self.stop = stop
        self.kill = kill
        self.admit = admit
        self.zygote = zygote
        self.forks = forks
        self.inbox: queue.Queue[tuple[str, Any, Any, Any]] = queue.Queue()

    def attempt(self, task: Task, device: int | None, start: dict[str, Any]) -> TaskResult:
        """Run ``task`` once on ``device`` (``start``: extra fields of its ``task_start`` event)."""
        inbox = self.inbox
        inbox.put(("event", device, task, {"type": "task_start", **start}))
        zygote = self.zygote if self.zygote is not None and self.forks(task) else None
        extra = {} if zygote is None else {"launcher": zygote}
        result = self.runner(
            task,
            device,
            on_event=lambda ev: inbox.put(("event", device, task, ev)),
            stop=self.stop,
            kill=self.kill,
            **extra,
        )
        failure = None if zygote is None else zygote.failure_once()
        if failure is not None:
            inbox.put(("message", device, None, f"warning: {failure}; the next workers start as fresh processes"))
        return result

    def work(self, device: int | None) -> None:
        """A device's thread: take tasks until none is left or the run stops; retry a crash once at once."""
        admit, inbox = self.admit, self.inbox
        try:
            while not self.stop.is_set():
                try:
                    task = self.todo.get_nowait()
                except queue.Empty:
                    return
                if admit is not None and not admit(task):
                    inbox.put(("deferred", device, task, None))
                    continue
                result = self.attempt(task, device, {})
                retry = None if self.stop.is_set() else retry_after_crash(result)
                if retry is not None and (admit is None or admit(retry)):
                    why = {"retry": retry_note(result, retry)}
                    result = merge_attempts(result, self.attempt(retry, device, why))
                    retry = None
                inbox.put(("result", device, task, result))
                if retry is not None:  # no time left for it: the crash row caps the next run instead
                    inbox.put(("deferred", device, retry, None))
        except BaseException as e:  # a bug in the runner must reach the driver, not die with the thread
            inbox.put(("error", device, None, e))
        finally:
            inbox.put(("done", device, None, None))

    def drain(
        self,
        devices: Sequence[int | None],
        sink: Sink,
        on_event: OnEvent | None,
        on_deferred: Callable[[Task], None] | None,
        say: Callable[[str], None],
    ) -> None:
        """Start a thread per device and hand what they send to the callbacks, on this thread, until all end."""
        threads = [
            threading.Thread(target=self.work, args=(d,), name=f"joulebench-gpu-{d}", daemon=True) for d in devices
        ]
        for th in threads:
            th.start()
        running = len(threads)
        error: BaseException | None = None
        while running:
            try:
                try:
                    kind, device, task, payload = self.inbox.get(timeout=0.2)
                except queue.Empty:
                    continue
                if kind == "event" and on_event is not None:
                    on_event(device, task, payload)
                elif kind == "result":
                    sink(payload)
                elif kind == "deferred" and on_deferred is not None:
                    on_deferred(task)
                elif kind == "message":
                    say(payload)
                elif kind == "error":
                    error = error or payload
                    self.stop.set()
                elif kind == "done":
                    running -= 1
            except KeyboardInterrupt:
                # First Ctrl-C: workers finish their current batch. Second: kill them.
                (self.kill if self.stop.is_set() else self.stop).set()
        for th in threads:
            th.join(timeout=5)
        if error is not None:
            raise error


#: Modules that register further executors when imported (their heavy dependencies stay lazy).
_OPTIONAL = ("joulebench.sweep.ray_executor",)


def _load_optional() -> None:
    import importlib

    for mod in _OPTIONAL:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:  # a real import error inside the module must not be hidden
                raise


def executor_names() -> list[str]:
    """Registered executor names."""
    _load_optional()
    return EXECUTORS.names()


def executor_class(name: str) -> type[Executor]:
    """The executor class registered as ``name`` (optional executors are loaded on demand).

    Raises:
        ConfigError: Unknown executor name.
    """
    if name not in EXECUTORS:
        _load_optional()
    return EXECUTORS.get(name)


def get_executor(name: str, devices: Sequence[int | None] = (None,), **kwargs: Any) -> Executor:
    """Instantiate the executor registered as ``name``.

    Raises:
        ConfigError: Unknown executor name.
    """
    if name not in EXECUTORS:
        _load_optional()
    return EXECUTORS.get(name)(devices, **kwargs)


__all__ = [
    "EXECUTORS",
    "WORKER_STARTS",
    "check_worker_start",
    "Executor",
    "LocalExecutor",
    "executor_names",
    "get_executor",
    "run_task",
]

"""Executors: who runs the tasks of a sweep, and where. Registered by name in :data:`EXECUTORS`.

An executor receives pure :class:`~joulebench.sweep.tasks.Task` objects and hands every
:class:`~joulebench.sweep.tasks.TaskResult` to ``sink`` **on the calling (driver) thread**: the driver
alone writes the store. ``run_task(task, device_index)`` is the unit of work; it runs one task in a fresh
worker subprocess with a timeout and always returns a TaskResult.

* ``local``: one thread per device, all pulling from one queue; each thread launches worker subprocesses
  pinned to its GPU with ``CUDA_VISIBLE_DEVICES``. Devices ``[None]`` = one worker that inherits the
  environment (CPU runtimes, the simulated meter). A worker that died at a batch larger than some that worked
  is retried once at once on the same device, its search capped below the crash
  (:func:`~joulebench.sweep.process.retry_after_crash`); the sink gets one result with both attempts' rows.
* ``ray`` (planned): the same ``run_task`` as a Ray remote function with ``num_gpus=1``.
"""

from __future__ import annotations

import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from joulebench.registry import Registry
from joulebench.sweep.process import merge_attempts, retry_after_crash, retry_note, run_task
from joulebench.sweep.tasks import Task, TaskResult

Sink = Callable[[TaskResult], None]
#: ``on_event(device_index, task, event)`` -- progress events of the workers (called on the driver thread).
OnEvent = Callable[[Any, Task, dict[str, Any]], None]


class Executor(ABC):
    """Runs tasks and feeds their results to a sink on the driver thread.

    Args:
        devices: Device indices to use (one task at a time on each); ``[None]`` = no pinning.
        runner: ``runner(task, device_index, on_event=..., stop=..., kill=...) -> TaskResult`` (tests swap it).
    """

    #: True when :meth:`run` takes ``admit`` (a deadline needs to decide, per task, whether it may still start).
    admits: bool = False

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
        stop after their batch).
        """


EXECUTORS: Registry[type[Executor]] = Registry("executor")


@EXECUTORS.register("local")
class LocalExecutor(Executor):
    """One thread per device pulling tasks from one queue; each task in a fresh worker subprocess."""

    admits = True

    def _attempt(
        self,
        task: Task,
        device: int | None,
        inbox: queue.Queue,
        stop: threading.Event,
        kill: threading.Event,
        start: dict[str, Any],
    ) -> TaskResult:
        inbox.put(("event", device, task, {"type": "task_start", **start}))
        return self.runner(
            task,
            device,
            on_event=lambda ev: inbox.put(("event", device, task, ev)),
            stop=stop,
            kill=kill,
        )

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
    ) -> None:
        """Run every task (see :class:`Executor`). KeyboardInterrupt on this thread sets ``stop`` and waits."""
        stop = stop or threading.Event()
        kill = kill or threading.Event()
        todo: queue.Queue[Task] = queue.Queue()
        for t in tasks:
            todo.put(t)
        inbox: queue.Queue[tuple[str, Any, Any, Any]] = queue.Queue()

        def work(device: int | None) -> None:
            try:
                while not stop.is_set():
                    try:
                        task = todo.get_nowait()
                    except queue.Empty:
                        return
                    if admit is not None and not admit(task):
                        inbox.put(("deferred", device, task, None))
                        continue
                    result = self._attempt(task, device, inbox, stop, kill, {})
                    retry = None if stop.is_set() else retry_after_crash(result)
                    if retry is not None and (admit is None or admit(retry)):
                        why = {"retry": retry_note(result, retry)}
                        result = merge_attempts(result, self._attempt(retry, device, inbox, stop, kill, why))
                        retry = None
                    inbox.put(("result", device, task, result))
                    if retry is not None:  # no time left for it: the crash row caps the next run instead
                        inbox.put(("deferred", device, retry, None))
            except BaseException as e:  # a bug in the runner must reach the driver, not die with the thread
                inbox.put(("error", device, None, e))
            finally:
                inbox.put(("done", device, None, None))

        threads = [
            threading.Thread(target=work, args=(d,), name=f"joulebench-gpu-{d}", daemon=True) for d in self.devices
        ]
        for th in threads:
            th.start()
        running = len(threads)
        error: BaseException | None = None
        while running:
            try:
                try:
                    kind, device, task, payload = inbox.get(timeout=0.2)
                except queue.Empty:
                    continue
                if kind == "event" and on_event is not None:
                    on_event(device, task, payload)
                elif kind == "result":
                    sink(payload)
                elif kind == "deferred" and on_deferred is not None:
                    on_deferred(task)
                elif kind == "error":
                    error = error or payload
                    stop.set()
                elif kind == "done":
                    running -= 1
            except KeyboardInterrupt:
                # First Ctrl-C: workers finish their current batch. Second: kill them.
                (kill if stop.is_set() else stop).set()
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


__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "executor_names", "get_executor", "run_task"]

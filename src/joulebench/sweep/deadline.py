"""Deadlines: what a task costs, so that a sweep starts only what fits before ``--deadline``."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from joulebench.store.records import Failure
from joulebench.sweep.tasks import Task, TaskResult

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
        from joulebench.sweep.stats import percentile

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


def deadline_stop(result: TaskResult) -> Failure:
    """The failure row that records a task stopped at the deadline: how long it ran, where, and what it kept.

    Its measured batches were stored as they came; the next run of the same protocol resumes from them.
    """
    from joulebench.sweep.execution import task_failure

    seconds = float(result.gpu_seconds or 0.0)
    # a worker killed after the grace period names the batch it was busy with (a compile, a long window)
    at = next((f.batch_size for f in result.failures if f.stage == "interrupted" and f.batch_size is not None), None)
    where = f" at batch {at}" if at is not None else ""
    kept = len(result.measurements)
    then = (
        f"its {kept} measured batch{'es' if kept > 1 else ''} are kept for the next run to resume from"
        if kept
        else "nothing was measured yet, so the next run starts it again"
    )
    why = f"stopped at the deadline after {seconds:.0f} s{where}; {then}"
    return task_failure(result.task, "deadline", why, gpu_seconds=seconds)


def count_costs(runner: Callable[..., TaskResult], costs: TaskCosts) -> Callable[..., TaskResult]:
    """``runner`` that records each successful task's cost before its device asks for the next task.

    It keeps ``runner``'s attributes (``takes_launcher``: it still forwards a zygote to ``run_task``).
    """

    @functools.wraps(runner)
    def run(task: Task, device: Any, **kw: Any) -> TaskResult:
        result = runner(task, device, **kw)
        if not result.interrupted and result.summary is not None and result.summary.status == "ok":
            costs.add(task.runtime, result.gpu_seconds, task.key)
        return result

    return run


class DeadlineGate:
    """Keeps a sweep within ``--deadline``: admits a task only if it is expected to fit, stops the rest at it.

    Args:
        costs: What tasks cost (:class:`TaskCosts`).
        ends_at: The deadline on ``clock``'s time axis.
        deadline_s: The whole run's time limit (for messages).
        grace_s: Seconds after the deadline at which tasks still running are killed.
        report: The sweep's report (``deferred``, ``deadline_reached``).
        progress: The display (messages).
        clock: Monotonic clock.
    """

    def __init__(
        self,
        costs: TaskCosts,
        ends_at: float,
        deadline_s: float,
        grace_s: float,
        report: Any,
        progress: Any,
        clock: Callable[[], float],
    ):
        self.costs = costs
        self.ends_at = ends_at
        self.deadline_s = deadline_s
        self.report = report
        self.progress = progress
        self.clock = clock
        self.kill = threading.Event()
        self._grace = threading.Timer(grace_s, self.kill.set)
        self._grace.daemon = True
        self._timer: threading.Timer | None = None
        self._stop: threading.Event | None = None

    def executor_options(self, stop: threading.Event) -> dict[str, Any]:
        """The executor's ``admit``, ``on_deferred`` and ``kill``; ``stop`` is set at the deadline."""
        self._stop = stop
        return {"admit": self.admit, "on_deferred": self.deferred, "kill": self.kill}

    def admit(self, task: Task) -> bool:
        """True if ``task`` is expected to finish before the deadline."""
        left = self.ends_at - self.clock()
        need = self.costs.estimate_task(task)
        return left > 0 and (need is None or need <= left)

    def deferred(self, task: Task) -> None:
        """Record a task not started, and say why."""
        self.report.deferred.append(task.key)
        self.progress.message(f"deadline: not starting {task.label()} ({self._why(task)})")

    def _why(self, task: Task) -> str:
        costs = self.costs
        need, floor, twin = costs.estimate_task(task), costs.floor(task), costs.twin_cost(task)
        who = "it" if floor is None or costs.stopped.get(task.key) == floor else "another tag of its workload"
        if floor is not None and floor >= self.deadline_s:
            return (
                f"a deadline or the worker's time limit stopped {who} after {floor:.0f} s before, more than this "
                f"whole run's {self.deadline_s:.0f} s; give it a longer --deadline or none"
            )
        if floor is not None and need == floor:  # the stop, not the runtime's estimate, holds it back
            return f"needs more than {floor:.0f} s: a deadline or time limit stopped {who} that late before" + (
                "; left for a re-run"
            )
        why = "no time left" if need is None else f"needs about {need:.0f} s"
        if twin is not None:
            why += f" (its workload took {twin:.0f} s under this or another tag)"
        return why + "; left for a re-run"

    def start(self) -> None:
        """Start the timer that stops the sweep at the deadline."""
        self._timer = threading.Timer(max(self.ends_at - self.clock(), 0.0), self._at_deadline)
        self._timer.daemon = True
        self._timer.start()

    def _at_deadline(self) -> None:
        self.report.deadline_reached = True
        if self._stop is not None:
            self._stop.set()
        self._grace.start()

    def cancel(self) -> None:
        """Cancel the timers (the sweep ended)."""
        if self._timer is not None:
            self._timer.cancel()
        self._grace.cancel()


__all__ = ["DEADLINE_GRACE_S", "DeadlineGate", "TaskCosts", "count_costs", "deadline_stop"]

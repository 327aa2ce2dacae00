"""Running a prepared sweep: skip what is done, run the tasks, save each result as it arrives."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from joulebench.errors import ConfigError
from joulebench.sweep.deadline import DEADLINE_GRACE_S, TaskCosts, count_costs, deadline_stop
from joulebench.sweep.plan import SweepPlan, SweepReport
from joulebench.sweep.resume import capped_tasks, resume_queries
from joulebench.sweep.tasks import Task, TaskResult


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
                for q in resume_queries(plan)
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
        todo = capped_tasks(todo, ceilings, progress)
        costs = None
        if ends_at is not None:
            filters = {"meter": plan.options.meter, "gpu_name": gpu_name}
            by_task = store.gpu_seconds_by_task(protocol, **filters)  # one read: per runtime and per workload
            costs = TaskCosts.from_tasks(by_task, store.deadline_stops(protocol, **filters))
            runner = count_costs(runner or run_task, costs)
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
                store.save_task([], None, [deadline_stop(result)])
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


__all__ = ["run_sweep"]

"""Running a prepared sweep: skip what is done, resume what was cut short, run the tasks, save as they go.

Every batch is stored the moment its worker reports it (:class:`~joulebench.sweep.resume.BatchWriter`), so a
task stopped by ``--deadline``, ``--timeout``, Ctrl-C, SIGTERM or a killed worker loses nothing: the next run
of the same protocol on the same GPU model hands those batches back to the task (``Task.resume``), whose search
takes them as measured. A task's summary is written once its search completes. Each task is claimed in the store
just before it starts (:mod:`joulebench.sweep.claims`), so that a second sweep on the same store skips it.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from joulebench.errors import ConfigError
from joulebench.sweep.claims import Admission, TaskClaims
from joulebench.sweep.deadline import DEADLINE_GRACE_S, DeadlineGate, TaskCosts, count_costs, deadline_stop
from joulebench.sweep.plan import SweepPlan, SweepReport
from joulebench.sweep.resume import BatchWriter, capped_tasks, resume_queries, with_stored_batches
from joulebench.sweep.tasks import Task, TaskResult


def _check_deadline(deadline_s: float | None, executor: str) -> None:
    from joulebench.sweep.executors import executor_class

    if deadline_s is None:
        return
    if deadline_s <= 0:
        raise ConfigError(f"--deadline must be positive (got {deadline_s} s), e.g. 55min")
    if not executor_class(executor).admits:
        raise ConfigError(
            f"--deadline needs the local executor; --executor {executor} hands tasks to a cluster scheduler: "
            "give the job its time limit there instead"
        )


class SweepRun:
    """One run of a prepared sweep against one store (what :func:`run_sweep` does, step by step)."""

    def __init__(self, plan: SweepPlan, store: Any, progress: Any, *, force: bool, redo_before: str | None):
        from joulebench.store.records import config_hash

        self.plan = plan
        self.store = store
        self.progress = progress
        self.force = force
        self.redo_before = redo_before
        self.config = plan.options.to_config()
        self.protocol = config_hash(self.config)
        self.report = SweepReport(plan.run_id)
        names = {f.get("gpu_name") for f in plan.gpu_facts}
        self.gpu_name = names.pop() if len(names) == 1 else None
        self.ceilings = store.crash_ceilings(self.protocol, meter=plan.options.meter, gpu_name=self.gpu_name)
        self.writer: BatchWriter | None = None
        self.claims: TaskClaims | None = None
        self.seen: set[tuple[tuple[str, int, str], str]] = set()

    def select(self, redo_stale: bool, min_change: float = 0.0) -> list[Task]:
        """The tasks to run: finished ones skipped unless forced (stale ones said or redone), crash caps applied.

        Args:
            redo_stale: Redo the stale results (see :func:`run_sweep`).
            min_change: Of those, redo only the ones expected to read at least this fraction lower.
        """
        from joulebench.store.db import finished_keys
        from joulebench.sweep.stale import stale_hint, stale_kept_message, stale_message, stale_with_changes

        plan, report = self.plan, self.report
        todo = plan.tasks
        finished = self.finished_results(self.store)  # read once: what to skip and which of it to judge stale
        # what another sweep finishes from now on is done, even when forced or redone (see finished_by)
        self.seen = {((r["model"], r["img_size"], r["runtime"]), r["run_id"]) for r in finished}
        if not self.force:
            # this sweep's tasks only: judging a key reads its ladder, so the work scales with the sweep
            done = finished_keys(finished, self.redo_before) & {t.key for t in plan.tasks}
            judged = stale_with_changes(self.store, finished, self.ceilings, done)
            # largest expected change first, so that a deadline leaves the results that matter least
            order = sorted((t for t in plan.tasks if t.key in judged), key=lambda t: -judged[t.key][1])
            stale = {t.key: judged[t.key][0] for t in order}
            if redo_stale:
                report.stale = {k: nxt for k, nxt in stale.items() if judged[k][1] >= min_change}
                done -= set(report.stale)
                if report.stale:
                    self.progress.message(stale_message(report.stale))
                if len(report.stale) < len(stale):
                    self.progress.message(stale_kept_message(len(stale) - len(report.stale), min_change))
            elif stale:  # skipped without a word, they would stay cut short: say so and how to redo them
                self.progress.message(stale_hint(stale))
            # redone stale results first, in their order; the rest in the plan's
            todo = [t for t in order if t.key not in done]
            todo += [t for t in plan.tasks if t.key not in done and t.key not in stale]
            report.skipped = [t.key for t in plan.tasks if t.key in done]
        for w in plan.warnings:
            self.progress.message(w)
        todo = capped_tasks(todo, self.ceilings, self.progress)
        if todo and not self.force:
            stored = self.store.unfinished_batches(
                self.protocol, meter=plan.options.meter, gpu_name=self.gpu_name, since=self.redo_before
            )
            todo = with_stored_batches(todo, stored, self.progress)
        return todo

    def task_costs(self) -> TaskCosts:
        """What tasks cost on this protocol and GPU model, for the deadline."""
        filters = {"meter": self.plan.options.meter, "gpu_name": self.gpu_name}
        by_task = self.store.gpu_seconds_by_task(self.protocol, **filters)  # one read: per runtime and per workload
        return TaskCosts.from_tasks(by_task, self.store.deadline_stops(self.protocol, **filters))

    def record_run(self) -> None:
        """Store the run, so that its batches can be saved as they arrive."""
        from joulebench.store.records import RunRecord

        plan = self.plan
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.store.add_run(
            RunRecord(
                run_id=plan.run_id,
                started_at=started,
                meter=plan.options.meter,
                command=plan.command,
                provenance=plan.provenance,
                config=self.config,
            )
        )

    def claim_scope(self) -> str | None:
        """What this run's claims hold for besides protocol and meter: its GPU model, or boards (``--per-board``)."""
        if self.plan.per_board:
            return "boards " + ",".join(sorted(str(f.get("gpu_uuid")) for f in self.plan.gpu_facts))
        return self.gpu_name

    def open_claims(self, db: Path) -> TaskClaims:
        """The run's claims on the store (after :meth:`record_run`)."""
        meter = self.plan.options.meter
        self.claims = TaskClaims(
            db, self.plan.run_id, config_hash=self.protocol, meter=meter, scope=self.claim_scope(),
            finished_by=self.finished_by,
        )  # fmt: skip
        return self.claims

    def finished_results(self, store: Any) -> list[dict[str, Any]]:
        """The finished results that count as done for this sweep (its protocol, meter and GPUs)."""
        meter = self.plan.options.meter
        return [
            r
            for q in resume_queries(self.plan)
            for r in store.finished_results(**q, config_hash=self.protocol, meter=meter)
        ]

    def finished_by(self, store: Any, task: Task) -> str | None:
        """The id of another run that finished ``task`` after :meth:`select` read the store, or None."""
        for r in self.finished_results(store):
            key = (r["model"], r["img_size"], r["runtime"])
            if key == task.key and r["run_id"] != self.plan.run_id and (key, r["run_id"]) not in self.seen:
                return str(r["run_id"])
        return None

    def on_event(self, device: Any, task: Task, event: dict[str, Any]) -> None:
        """A worker's event: a measured batch is stored at once, then the display hears of it."""
        if event.get("type") == "measurement" and self.writer is not None:
            self.writer.put(event["row"])
        self.progress.event(device, task, event)

    def sink(self, result: TaskResult) -> None:
        """A finished (or stopped) task, on the driver thread: its summary once complete, every row it measured."""
        self.report.results.append(result)
        if self.writer is not None:
            self.writer.flush()  # its rows first, so that save_task below replaces them rather than racing them
        own = [m for m in result.measurements if m.run_id == self.plan.run_id]  # resumed rows are stored already
        if not result.interrupted:
            self.store.save_task(own, result.summary, result.failures)
        elif self.report.deadline_reached and result.gpu_seconds is not None:
            # how long it ran is kept too: the next run plans for at least that much. The task's rows go with it,
            # since saving a task replaces its rows of this run: without them its stored batches would be deleted
            self.store.save_task(own, None, [deadline_stop(result)])
        if self.claims is not None:  # saved: another sweep now finds it done
            self.claims.release(result.task.key)
        self.progress.finished(result)


def run_sweep(
    plan: SweepPlan,
    db: str | Path,
    *,
    force: bool = False,
    redo_before: str | None = None,
    redo_stale: bool = False,
    stale_min_change: float = 0.0,
    executor: str = "local",
    progress: Any = None,
    runner: Callable[..., TaskResult] | None = None,
    executor_options: dict[str, Any] | None = None,
    deadline_s: float | None = None,
    deadline_grace_s: float = DEADLINE_GRACE_S,
    clock: Callable[[], float] = time.monotonic,
) -> SweepReport:
    """Run a prepared sweep, storing every batch as it is measured and each task's summary when it completes.

    Args:
        plan: From :func:`prepare_sweep`.
        db: SQLite results file (created if missing).
        force: Redo tasks already finished under the same protocol on the same devices (stored batches of
            unfinished attempts are not reused either).
        redo_before: Redo only the tasks whose results finished before this UTC time (ISO 8601 with seconds, as
            stored, e.g. ``2026-11-29T02:10:00+00:00``): a re-run after a protocol fix, which later runs resume.
        redo_stale: Also redo the finished results whose stored scouting ladder the current batch search would
            have continued (:func:`joulebench.sweep.stale.stale_with_changes`): measured under an older rule,
            largest expected change first.
        stale_min_change: With ``redo_stale``, redo only the results expected to read at least this fraction lower
            at the batch the current rule would scout next; the others count as finished.
        executor: Registered executor name.
        progress: A :class:`~joulebench.sweep.progress.Progress` (default: silent).
        runner: Replaces ``run_task`` (tests).
        executor_options: Keyword arguments of the executor (``local``: ``worker_start``; ``ray``: ``address``,
            ``retries``).
        deadline_s: Seconds from now by which the sweep must end (a batch job's time limit). A task starts only
            if its runtime's estimated cost (:class:`TaskCosts`) fits in the time left, else it is deferred to a
            later run; at the deadline, running tasks stop after their current batch, as on Ctrl-C, and the
            next run resumes them from their stored batches.
        deadline_grace_s: Seconds after the deadline at which tasks still running are killed (a compile or a
            long batch cannot stop midway).
        clock: Monotonic clock for the deadline (tests).

    Returns:
        The :class:`SweepReport`.

    Raises:
        ConfigError: A deadline that is not positive, or an executor that cannot keep one.
    """
    from joulebench.store.db import Store
    from joulebench.sweep.executors import get_executor, run_task
    from joulebench.sweep.progress import Progress

    progress = progress or Progress()
    _check_deadline(deadline_s, executor)
    ends_at = None if deadline_s is None else clock() + deadline_s
    store = Store(db)
    try:
        sweep = SweepRun(plan, store, progress, force=force, redo_before=redo_before)
        todo = sweep.select(redo_stale, stale_min_change)
        if not todo:
            progress.start(0, len(sweep.report.skipped))
            progress.stop()
            return sweep.report
        gate = None
        if ends_at is not None:
            gate = DeadlineGate(
                sweep.task_costs(), ends_at, deadline_s, deadline_grace_s, sweep.report, progress, clock
            )
            runner = count_costs(runner or run_task, gate.costs)
        # Before the run is recorded: a missing extra or an unreachable cluster leaves no empty run behind.
        ex = get_executor(executor, plan.devices, **(executor_options or {}), **({"runner": runner} if runner else {}))
        sweep.record_run()
        return _execute(sweep, ex, todo, gate, Path(db))
    finally:
        store.close()


def _execute(sweep: SweepRun, ex: Any, todo: list[Task], gate: DeadlineGate | None, db: Path) -> SweepReport:
    """Run the tasks on the executor, with the batch writer and the deadline's timer; record how the run ended."""
    report, progress = sweep.report, sweep.progress
    stop = threading.Event()
    extra = {} if gate is None else gate.executor_options(stop)
    admission = Admission(sweep.open_claims(db), report, progress, gate)
    status = "failed"
    sweep.writer = BatchWriter(db)
    try:
        if ex.admits:
            extra.update(admit=admission.admit, on_deferred=admission.deferred)
        else:  # it cannot ask before each task: claim them all now
            todo = admission.claim_all(todo)
        if getattr(ex, "says", False):  # e.g. workers starting fresh because the zygote could not start
            extra["on_message"] = progress.message
        progress.start(len(todo), len(report.skipped))
        if gate is not None:
            gate.start()
        ex.run(todo, sweep.sink, on_event=sweep.on_event, stop=stop, **extra)
        report.interrupted = stop.is_set() and not report.deadline_reached
        status = "interrupted" if report.interrupted else "deadline" if report.deadline_reached else "ok"
    finally:
        if gate is not None:
            gate.cancel()
        _release_claims(sweep)
        sweep.writer.close()
        for problem in sweep.writer.errors:
            progress.message(f"warning: {problem}")
        progress.stop()
        sweep.store.finish_run(sweep.plan.run_id, status)
    return report


def _release_claims(sweep: SweepRun) -> None:
    """Release the run's claims as it ends; a failure is said (its claims lapse with the run's status anyway)."""
    from joulebench.errors import StoreError

    claims = sweep.claims
    if claims is None:
        return
    try:
        claims.close()
    except StoreError as e:
        claims.errors.append(f"claims not released ({e}); they lapse as the run is marked finished")
    for problem in claims.errors:
        sweep.progress.message(f"warning: {problem}")


class TerminateAsInterrupt:
    """Within the block, SIGTERM (a batch scheduler, ``timeout``, ``kill``) is handled as Ctrl-C is.

    The signal raises ``KeyboardInterrupt`` on the main thread, where the executor turns it into a stop: the
    workers finish or are stopped, the run is marked interrupted and the task folders are removed. ``received``
    tells the caller to exit with 143 (128 + SIGTERM) rather than 130. Off the main thread it does nothing.
    """

    def __init__(self) -> None:
        self.received = False
        self._previous: Any = None

    def _on_term(self, signum: int, frame: Any) -> None:
        self.received = True
        raise KeyboardInterrupt

    def __enter__(self) -> TerminateAsInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._on_term)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


__all__ = ["SweepRun", "TerminateAsInterrupt", "run_sweep"]

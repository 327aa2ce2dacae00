"""Two sweeps on one store: each task is claimed just before it starts, so no task is measured twice.

The second sweep **skips** a task that another live sweep has claimed (it does not wait for it) and says which
run holds it; running the same command again after that run ends measures whatever it left. A task that another
sweep finished after this one read the store is skipped as done. Claims live in the store
(:mod:`joulebench.store.claims`); :class:`TaskClaims` takes them for one run from the executor's threads, keeps
them alive with a heartbeat and releases them as tasks are saved and when the run ends, Ctrl-C and SIGTERM
included (a killed process's claims die with it).
"""

from __future__ import annotations

import os
import platform
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from joulebench.store.claims import Claim, Holder
from joulebench.sweep.tasks import Task

#: Seconds between heartbeats of a run's claims (well inside :data:`~joulebench.store.claims.CLAIM_STALE_S`).
HEARTBEAT_S = 30.0

#: ``finished_by(store, task)``: the id of another run that finished ``task`` after this sweep read the store, or None.
FinishedBy = Callable[[Any, Task], "str | None"]


def claimed_message(task: Task, holder: Holder) -> str:
    """What the sweep says of a task it skips because another live sweep is measuring it."""
    where = f"process {holder.pid} on {holder.host}" if holder.pid is not None else f"host {holder.host}"
    return (
        f"{task.label()}: skipped: another sweep (run {holder.run_id}, {where}, since {holder.claimed_at}) is "
        "measuring it on this results file; run the same command again after it finishes to measure what it leaves"
    )


def finished_message(task: Task, run_id: str) -> str:
    """What the sweep says of a task another sweep finished while this one ran."""
    return f"{task.label()}: skipped: another sweep (run {run_id}) measured it while this one ran"


class TaskClaims:
    """One run's claims on the tasks it measures, taken and released from any thread.

    Args:
        db: The results file (the run must be recorded in it).
        run_id: The claiming run.
        config_hash: Its protocol.
        meter: Its meter.
        scope: The GPU model (or boards) its results are kept apart by; see :class:`Claim`.
        finished_by: Tells whether another run finished a task after this sweep read the store (asked after claiming).
        heartbeat_s: Seconds between heartbeats.
    """

    def __init__(
        self,
        db: str | Path,
        run_id: str,
        *,
        config_hash: str | None,
        meter: str | None,
        scope: str | None,
        finished_by: FinishedBy | None = None,
        heartbeat_s: float = HEARTBEAT_S,
    ):
        self.db = Path(db)
        self.run_id = run_id
        self.config_hash, self.meter, self.scope = config_hash, meter, scope
        self.finished_by = finished_by
        self.host, self.pid = platform.node(), os.getpid()
        #: Why a task was refused, by key: the live :class:`Holder`, or the id of the run that finished it.
        self.refused: dict[tuple[str, int, str], Holder | str] = {}
        self.errors: list[str] = []
        self._lock = threading.Lock()  # one store operation at a time; each opens its own connection
        self._done = threading.Event()
        self._heart = threading.Thread(target=self._beat, args=(heartbeat_s,), name="joulebench-claims", daemon=True)
        self._heart.start()

    def _store(self) -> Any:
        from joulebench.store.db import Store

        return Store(self.db)

    def claim(self, task: Task) -> bool:
        """Claim ``task`` for this run: False (and why in :attr:`refused`) if another sweep has it or finished it."""
        claim = Claim(
            task.model, task.img_size, task.runtime, self.config_hash, self.meter, self.scope,
            self.run_id, self.host, self.pid,
        )  # fmt: skip
        with self._lock, self._store() as store:
            holder = store.claim_task(claim)
            if holder is not None:
                self.refused[task.key] = holder
                return False
            # Claimed: whoever finished it before releasing its claim has stored the result by now.
            other = self.finished_by(store, task) if self.finished_by is not None else None
            if other is not None:
                store.release_claims(self.run_id, [task.key])
                self.refused[task.key] = other
                return False
        return True

    def message(self, task: Task) -> str | None:
        """Why ``task`` was refused, as the sweep says it, or None if it was not."""
        why = self.refused.get(task.key)
        if why is None:
            return None
        return finished_message(task, why) if isinstance(why, str) else claimed_message(task, why)

    def release(self, key: tuple[str, int, str]) -> None:
        """Release the claim on one task (its result is saved)."""
        with self._lock, self._store() as store:
            store.release_claims(self.run_id, [key])

    def close(self) -> None:
        """Stop the heartbeat and release every claim of this run."""
        self._done.set()
        self._heart.join(timeout=5)
        with self._lock, self._store() as store:
            store.release_claims(self.run_id)

    def _beat(self, every_s: float) -> None:
        while not self._done.wait(every_s):
            try:
                with self._lock, self._store() as store:
                    store.refresh_claims(self.run_id)
            except Exception as e:  # a missed beat is retried; claims go stale only after minutes of them
                self.errors.append(f"claims not refreshed: {e}")


class Admission:
    """The executor's ``admit`` and ``on_deferred``: the deadline's gate first (if any), then the task's claim.

    Args:
        claims: The run's :class:`TaskClaims`.
        report: The sweep's report (``claimed_elsewhere``, ``skipped``).
        progress: The display (messages).
        gate: The :class:`~joulebench.sweep.deadline.DeadlineGate`, or None without a deadline.
    """

    def __init__(self, claims: TaskClaims, report: Any, progress: Any, gate: Any = None):
        self.claims, self.report, self.progress, self.gate = claims, report, progress, gate

    def admit(self, task: Task) -> bool:
        """True if ``task`` may start now: it fits before the deadline and this run holds its claim."""
        if self.gate is not None and not self.gate.admit(task):
            return False  # not claimed: a task the deadline defers is free for another sweep
        return self.claims.claim(task)

    def deferred(self, task: Task) -> None:
        """A task not started (on the driver thread): say why, and list it in the report."""
        message = self.claims.message(task)
        if message is None:
            if self.gate is not None:
                self.gate.deferred(task)
            return
        self.progress.message(message)
        done = isinstance(self.claims.refused[task.key], str)
        (self.report.skipped if done else self.report.claimed_elsewhere).append(task.key)

    def claim_all(self, tasks: list[Task]) -> list[Task]:
        """For executors that cannot ask before each task: claim them all now; the tasks this run holds."""
        out = []
        for t in tasks:
            if self.admit(t):
                out.append(t)
            else:
                self.deferred(t)
        return out


__all__ = ["HEARTBEAT_S", "Admission", "TaskClaims", "claimed_message", "finished_message"]

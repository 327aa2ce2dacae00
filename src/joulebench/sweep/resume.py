"""Resume: which stored results a sweep skips, where an earlier crash caps a search, and batches kept as measured.

:class:`BatchWriter` stores each batch the moment a worker reports it, on a thread of its own with its own
connection (the store's connections belong to one thread each; SQLite's WAL lets the driver's connection write
beside it). :func:`with_stored_batches` hands the batches of an unfinished earlier attempt back to its task.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from pathlib import Path
from typing import Any

from joulebench.sweep.plan import SweepPlan
from joulebench.sweep.tasks import Task


def resume_queries(plan: SweepPlan) -> list[dict[str, Any]]:
    """``Store.finished_results`` filters, one per distinct device: by board, or by GPU model and power limit."""
    queries = []
    for f in plan.gpu_facts:
        if plan.per_board or f.get("gpu_uuid") is None or not f.get("gpu_name"):
            q = {"gpu_uuid": f.get("gpu_uuid")}
        else:
            q = {"gpu_uuid": None, "gpu_name": f["gpu_name"], "power_limit_w": f.get("power_limit_w")}
        if q not in queries:
            queries.append(q)
    return queries


def capped_tasks(tasks: list[Task], ceilings: dict[tuple[str, int, str], tuple[int, int]], progress: Any) -> list[Task]:
    """``tasks`` with the batch search of those whose worker crashed in an earlier run capped below the crash."""
    out = []
    for t in tasks:
        worked, crashed = ceilings.get(t.key, (None, None))
        capped = None if worked is None else t.capped(worked)
        if capped is not None:
            progress.message(
                f"{t.label()}: searching up to batch {worked} only; its worker crashed at batch {crashed} in an "
                "earlier run (see `joulebench results --failures`)"
            )
        out.append(capped or t)
    return out


def with_stored_batches(
    tasks: list[Task], stored: dict[tuple[str, int, str], list[dict[str, Any]]], progress: Any
) -> list[Task]:
    """``tasks`` with the batches their unfinished earlier attempts stored (``Store.unfinished_batches``)."""
    out = []
    for t in tasks:
        rows = stored.get(t.key)
        if rows:
            progress.message(f"{t.label()}: resuming from {len(rows)} batch(es) an unfinished earlier run measured")
            t = dataclasses.replace(t, resume=tuple(rows))
        out.append(t)
    return out


class BatchWriter:
    """Stores batch measurements as they arrive, from any thread, on a writer thread with its own connection.

    Args:
        db: The results file (the run must already be recorded in it).
    """

    _CLOSE = object()

    def __init__(self, db: str | Path):
        self.db = Path(db)
        self.errors: list[str] = []
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="joulebench-batch-writer", daemon=True)
        self._thread.start()

    def put(self, row: dict[str, Any]) -> None:
        """Queue one ``BatchMeasurement`` dict for storing."""
        self._queue.put(row)

    def flush(self) -> None:
        """Wait until every queued row is stored."""
        self._queue.join()

    def close(self) -> None:
        """Store what is queued, then end the writer thread."""
        self._queue.put(self._CLOSE)
        self._thread.join()

    def _work(self) -> None:
        from joulebench.store.db import Store
        from joulebench.sweep.tasks import measurement_from_dict

        with Store(self.db) as store:
            while True:
                row = self._queue.get()
                try:
                    if row is self._CLOSE:
                        return
                    store.add_measurement(measurement_from_dict(row))
                except Exception as e:  # the task's own save at its end stores the row again; say what failed
                    self.errors.append(f"batch {row.get('batch_size')} of {row.get('model')} not saved at once: {e}")
                finally:
                    self._queue.task_done()


__all__ = ["BatchWriter", "capped_tasks", "resume_queries", "with_stored_batches"]

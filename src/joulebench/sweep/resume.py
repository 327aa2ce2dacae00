"""Resume: which stored results a sweep skips, and where an earlier crash caps a task's search."""

from __future__ import annotations

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


__all__ = ["capped_tasks", "resume_queries"]

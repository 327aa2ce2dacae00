"""What the sweep asks the results store: finished work, its cost, crash ceilings and stopped tasks.

These are policy queries of :mod:`joulebench.sweep` (resume, the deadline planner, the batch-search caps), kept
apart from the storage engine in :mod:`joulebench.store.db`. :class:`SweepQueries` is a mixin of
:class:`~joulebench.store.db.Store`, so they are called as ``store.done_keys(...)``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

#: Failure stages of a task stopped while it ran (at a sweep's deadline, or its worker at ``--timeout``): it needs
#: longer than its row's ``gpu_seconds`` (:meth:`Store.deadline_stops`).
STOP_STAGES = ("deadline", "timeout")


class SweepQueries:
    """The sweep's queries over a store's connection (``_require()`` gives it; :class:`Store` provides it)."""

    if TYPE_CHECKING:

        def _require(self) -> sqlite3.Connection: ...  # the open connection, from Store

    def done_keys(
        self,
        gpu_uuid: str | None,
        config_hash: str | None = None,
        *,
        meter: str | None = None,
        gpu_name: str | None = None,
        power_limit_w: float | None = None,
        finished_since: str | None = None,
    ) -> set[tuple[str, int, str]]:
        """(model, img_size, runtime) of every successfully finished summary, to skip on resume.

        Args:
            gpu_uuid: Only results from this device (board); None = from any device.
            config_hash: Only results of runs with this protocol (:func:`joulebench.store.records.config_hash`).
            meter: Only results from this meter (keeps simulated numbers from counting as done on hardware).
            gpu_name: Only results from GPUs of this model (``NVIDIA H200``), whichever board.
            power_limit_w: Only results measured under this power limit (within 0.5 W).
            finished_since: Only results finished at or after this UTC time (ISO 8601, as stored): older ones are
                to be measured again.
        """
        rows = self.finished_results(gpu_uuid, config_hash, meter=meter, gpu_name=gpu_name, power_limit_w=power_limit_w)
        return finished_keys(rows, finished_since)

    def finished_results(
        self,
        gpu_uuid: str | None,
        config_hash: str | None = None,
        *,
        meter: str | None = None,
        gpu_name: str | None = None,
        power_limit_w: float | None = None,
    ) -> list[dict[str, Any]]:
        """Every successfully finished summary matching the filters, with its run's protocol configuration.

        Args: as in :meth:`done_keys`.

        Returns:
            Rows of ``model``, ``img_size``, ``runtime``, ``run_id``, ``finished_at``, ``gpu_name``, ``meter`` and
            ``config`` (the run's ``SweepOptions.to_config()``, decoded; None if unreadable) and ``gpu_memory_b``
            (the device's memory as the run's provenance gives it, or None), in the order saved.
        """
        where, params = self._finished(gpu_uuid, config_hash, meter, gpu_name, power_limit_w)
        cols = "t.model, t.img_size, t.runtime, t.run_id, t.finished_at, COALESCE(t.gpu_name, r.gpu_name), " + (
            "COALESCE(t.meter, r.meter), r.config, r.provenance"
        )
        runs: dict[str, tuple[Any, Any]] = {}  # one decoded configuration and device memory per run
        out = []
        for m, s, rt, run_id, at, gpu, run_meter, config, provenance in self._require().execute(
            f"SELECT {cols} {where} ORDER BY t.id", params
        ):
            if run_id not in runs:
                runs[run_id] = (_decoded(config), (_decoded(provenance) or {}).get("gpu_memory_b"))
            row = {"model": m, "img_size": s, "runtime": rt, "run_id": run_id, "finished_at": at, "gpu_name": gpu}
            out.append({**row, "meter": run_meter, "config": runs[run_id][0], "gpu_memory_b": runs[run_id][1]})
        return out

    def scout_ladder(
        self, run_id: str, model: str, img_size: int, runtime: str, *, with_latency: bool = False
    ) -> list[tuple[Any, ...]]:
        """``(batch_size, status, energy_per_image_j)`` of one task's scouting windows, in the order measured.

        With ``with_latency``, each tuple also carries the window's mean iteration time (``latency_mean_s``) and
        peak memory (``peak_memory_b``): what the scan's time limit and memory prediction read.
        """
        sql = (
            "SELECT batch_size, status, energy_per_image_j, trace_summary, latency_mean_s, peak_memory_b "
            "FROM measurements WHERE run_id = ? AND model = ? AND img_size = ? AND runtime = ? ORDER BY id"
        )
        out: list[tuple[Any, ...]] = []
        for b, status, energy, trace, latency, peak in self._require().execute(sql, (run_id, model, img_size, runtime)):
            phase = (_decoded(trace) or {}).get("phase")
            if phase == "scout":
                head = (int(b), str(status), energy)
                out.append((*head, latency, peak) if with_latency else head)
        return out

    def gpu_seconds_by_runtime(
        self, config_hash: str | None = None, *, meter: str | None = None, gpu_name: str | None = None
    ) -> dict[str, list[float]]:
        """GPU-seconds of every successfully finished summary, by runtime: what a task has cost.

        Filters as in :meth:`done_keys`.
        """
        return seconds_by_runtime(self.gpu_seconds_by_task(config_hash, meter=meter, gpu_name=gpu_name))

    def gpu_seconds_by_task(
        self, config_hash: str | None = None, *, meter: str | None = None, gpu_name: str | None = None
    ) -> dict[tuple[str, int, str], list[float]]:
        """GPU-seconds of every successfully finished summary, by ``(model, img_size, runtime)``.

        Filters as in :meth:`done_keys`.
        """
        where, params = self._finished(None, config_hash, meter, gpu_name, None)
        out: dict[tuple[str, int, str], list[float]] = {}
        for m, size, rt, sec in self._require().execute(
            f"SELECT t.model, t.img_size, t.runtime, t.gpu_seconds {where}", params
        ):
            if sec is not None:
                out.setdefault((m, int(size), rt), []).append(float(sec))
        return out

    def deadline_stops(
        self, config_hash: str | None = None, *, meter: str | None = None, gpu_name: str | None = None
    ) -> dict[tuple[str, int, str], float]:
        """(model, img_size, runtime) -> the longest a task ran before a deadline or its time limit stopped it (s).

        From ``failures`` rows of stage ``deadline`` and ``timeout`` (the worker killed at ``--timeout``); either
        way the task needs longer than it ran. Filters as in :meth:`done_keys` (on the run's columns).
        """
        where, params = self._of_runs(config_hash, meter, gpu_name)
        sql = (
            "SELECT f.model, f.img_size, f.runtime, MAX(f.gpu_seconds) FROM failures f "
            f"JOIN runs r ON r.run_id = f.run_id WHERE f.stage IN {STOP_STAGES!r} AND f.gpu_seconds IS NOT NULL"
            f"{where} GROUP BY f.model, f.img_size, f.runtime"
        )
        return {(m, s, rt): float(sec) for m, s, rt, sec in self._require().execute(sql, params)}

    @staticmethod
    def _of_runs(config_hash: str | None, meter: str | None, gpu_name: str | None) -> tuple[str, list[Any]]:
        """`` AND ...`` conditions on the joined run ``r`` (protocol, meter, GPU model), and their parameters."""
        where, params = "", []
        for column, value in (("r.config_hash", config_hash), ("r.meter", meter), ("r.gpu_name", gpu_name)):
            if value is not None:
                where += f" AND {column} = ?"
                params.append(value)
        return where, params

    def unfinished_batches(
        self,
        config_hash: str | None = None,
        *,
        meter: str | None = None,
        gpu_name: str | None = None,
        since: str | None = None,
    ) -> dict[tuple[str, int, str], list[dict[str, Any]]]:
        """(model, img_size, runtime) -> the batches measured by attempts that never finished, to resume from.

        An attempt is unfinished when its run holds no successful summary of that key (stopped by a deadline,
        ``--timeout``, Ctrl-C or SIGTERM, or its worker killed). Where several attempts measured the same batch in
        the same search phase, the latest row is kept. Filters as in :meth:`deadline_stops`; ``since`` keeps only
        rows measured at or after that UTC time (ISO 8601, as stored).
        """
        sql = (
            "SELECT m.* FROM measurements m JOIN runs r ON r.run_id = m.run_id WHERE NOT EXISTS (SELECT 1 FROM "
            "summaries t WHERE t.run_id = m.run_id AND t.model = m.model AND t.img_size = m.img_size AND "
            "t.runtime = m.runtime AND t.status = 'ok')"
        )
        where, params = self._of_runs(config_hash, meter, gpu_name)
        if since is not None:
            where += " AND m.measured_at >= ?"
            params.append(since)
        cur = self._require().execute(sql + where + " ORDER BY m.measured_at, m.id", params)
        names = [d[0] for d in cur.description]
        latest: dict[tuple[str, int, str], dict[tuple[int, str], dict[str, Any]]] = {}
        for values in cur:
            row = dict(zip(names, values, strict=True))
            row.pop("id", None)
            ts = (
                json.loads(row["trace_summary"])
                if isinstance(row.get("trace_summary"), str)
                else row.get("trace_summary")
            )
            row["trace_summary"] = ts or {}
            phase = str((ts or {}).get("phase", "full"))
            latest.setdefault((row["model"], row["img_size"], row["runtime"]), {})[(row["batch_size"], phase)] = row
        return {key: list(rows.values()) for key, rows in latest.items()}

    def crash_ceilings(
        self, config_hash: str | None = None, *, meter: str | None = None, gpu_name: str | None = None
    ) -> dict[tuple[str, int, str], tuple[int, int]]:
        """(model, img_size, runtime) -> (largest batch that worked, batch its worker crashed at).

        From ``failures`` rows of stage ``crash`` and the same attempt's ``ok`` measurements below that batch (the
        lowest such ceiling where a task crashed more than once); filters as in :meth:`deadline_stops`. A crash
        with nothing working below it bounds nothing and is left out.
        """
        sql = (
            "SELECT f.model, f.img_size, f.runtime, f.batch_size, (SELECT MAX(m.batch_size) FROM measurements m "
            "WHERE m.run_id = f.run_id AND m.model = f.model AND m.img_size = f.img_size AND m.runtime = f.runtime "
            "AND m.status = 'ok' AND m.batch_size < f.batch_size) FROM failures f JOIN runs r ON r.run_id = f.run_id "
            "WHERE f.stage = 'crash' AND f.batch_size IS NOT NULL"
        )
        where, params = self._of_runs(config_hash, meter, gpu_name)
        sql += where
        out: dict[tuple[str, int, str], tuple[int, int]] = {}
        for m, s, rt, crashed, worked in self._require().execute(sql, params):
            if worked is not None and ((m, s, rt) not in out or worked < out[(m, s, rt)][0]):
                out[(m, s, rt)] = (int(worked), int(crashed))
        return out

    @staticmethod
    def _finished(
        gpu_uuid: str | None,
        config_hash: str | None,
        meter: str | None,
        gpu_name: str | None,
        power_limit_w: float | None,
    ) -> tuple[str, list[Any]]:
        """FROM and WHERE of the successfully finished summaries that match the filters, and its parameters."""
        sql = "FROM summaries t JOIN runs r ON r.run_id = t.run_id WHERE t.status = 'ok'"
        params: list[Any] = []
        if gpu_uuid is not None:
            sql += " AND COALESCE(t.gpu_uuid, r.gpu_uuid) = ?"
            params.append(gpu_uuid)
        if gpu_name is not None:
            sql += " AND COALESCE(t.gpu_name, r.gpu_name) = ?"
            params.append(gpu_name)
        if power_limit_w is not None:
            sql += " AND ABS(COALESCE(t.power_limit_w, r.power_limit_w) - ?) < 0.5"
            params.append(float(power_limit_w))
        if config_hash is not None:
            sql += " AND r.config_hash = ?"
            params.append(config_hash)
        if meter is not None:
            sql += " AND COALESCE(t.meter, r.meter) = ?"
            params.append(meter)
        return sql, params


def _decoded(text: str | None) -> dict[str, Any] | None:
    """A stored JSON object (a run's configuration or provenance, a window's trace summary), or None if unreadable."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def seconds_by_runtime(by_task: Mapping[tuple[str, int, str], list[float]]) -> dict[str, list[float]]:
    """:meth:`Store.gpu_seconds_by_task` regrouped by runtime (what :meth:`Store.gpu_seconds_by_runtime` returns)."""
    out: dict[str, list[float]] = {}
    for (_, _, runtime), secs in by_task.items():
        out.setdefault(runtime, []).extend(secs)
    return out


def finished_keys(rows: Iterable[Mapping[str, Any]], since: str | None = None) -> set[tuple[str, int, str]]:
    """(model, img_size, runtime) of :meth:`Store.finished_results` rows, those finished before ``since`` left out.

    Args:
        rows: Rows as :meth:`Store.finished_results` returns them.
        since: UTC time (ISO 8601, as stored); None keeps every row.
    """
    return {
        (r["model"], r["img_size"], r["runtime"])
        for r in rows
        if since is None or (r["finished_at"] is not None and r["finished_at"] >= since)
    }

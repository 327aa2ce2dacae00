"""Claims: the tasks live sweeps are measuring, so that two sweeps on one store never measure a task twice.

A sweep claims a task (model, image size, runtime, under one protocol, meter and GPU scope) just before it starts
it and releases the claim once the task's result is saved or the sweep ends. Claiming is one ``BEGIN IMMEDIATE``
transaction: it fails while another run holds a live claim on the same task, so of two sweeps exactly one gets
it. A claim is dead, and taken over, when its run is no longer ``running`` in ``runs``, its process is gone (on
the same host), or its heartbeat is older than :data:`CLAIM_STALE_S` (a host that died or lost the file).
:class:`ClaimQueries` is a mixin of :class:`~joulebench.store.db.Store`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from joulebench.store.rows import now_utc

#: Seconds after its last heartbeat at which a claim counts as dead (its sweep refreshes it far more often).
CLAIM_STALE_S = 300.0

#: The columns that name a claimed task: one live claim per such key.
CLAIM_KEY = ("model", "img_size", "runtime", "config_hash", "meter", "scope")


@dataclass(frozen=True)
class Claim:
    """One sweep's claim on a task.

    Attributes:
        scope: What the results are kept apart by besides the protocol: the GPU model, or the boards with
            per-board results (None when the sweep spans several GPU models).
    """

    model: str
    img_size: int | None
    runtime: str
    config_hash: str | None
    meter: str | None
    scope: str | None
    run_id: str
    host: str
    pid: int


@dataclass(frozen=True)
class Holder:
    """The live run that holds a task another sweep asked for: its id, host, process and since when."""

    run_id: str
    host: str | None
    pid: int | None
    claimed_at: str | None


def pid_alive(pid: int | None) -> bool:
    """True unless ``pid`` is known to be gone on this host (unknown counts as alive)."""
    if pid is None or os.name == "nt":  # os.kill on Windows would end the process: rely on heartbeats there
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def claim_alive(row: dict[str, Any], run_status: str | None, *, host: str, now: datetime, stale_s: float) -> bool:
    """Whether a stored claim still holds: its run is running, its process alive, its heartbeat recent."""
    if run_status != "running":
        return False
    if row.get("host") == host and not pid_alive(row.get("pid")):
        return False
    try:
        beat = datetime.fromisoformat(str(row.get("heartbeat_at")))
    except ValueError:
        return False
    return (now - beat).total_seconds() <= stale_s


class ClaimQueries:
    """Claiming, releasing and refreshing tasks (``_transaction()`` comes from :class:`Store`)."""

    if TYPE_CHECKING:

        def _transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

        def _require(self) -> sqlite3.Connection: ...

    def claim_task(self, claim: Claim, *, stale_s: float = CLAIM_STALE_S) -> Holder | None:
        """Claim a task for ``claim.run_id``, unless another run holds a live claim on it.

        Dead claims on the task are removed; a claim the run holds already is refreshed.

        Returns:
            None when the task is now this run's; else the :class:`Holder` of the live claim.
        """
        now = now_utc()
        key = [getattr(claim, c) for c in CLAIM_KEY]
        match = " AND ".join(f"c.{c} IS ?" for c in CLAIM_KEY)
        with self._transaction() as conn:
            cur = conn.execute(
                f"SELECT c.rowid, c.run_id, c.host, c.pid, c.claimed_at, c.heartbeat_at, r.status FROM claims c "
                f"LEFT JOIN runs r ON r.run_id = c.run_id WHERE {match}",
                key,
            )
            names = [d[0] for d in cur.description]
            for values in cur.fetchall():
                row = dict(zip(names, values, strict=True))
                if row["run_id"] == claim.run_id:
                    continue
                if claim_alive(row, row["status"], host=claim.host, now=datetime.fromisoformat(now), stale_s=stale_s):
                    return Holder(row["run_id"], row["host"], row["pid"], row["claimed_at"])
                conn.execute("DELETE FROM claims WHERE rowid = ?", (row["rowid"],))
            own = " AND ".join(f"{c} IS ?" for c in CLAIM_KEY)
            conn.execute(f"DELETE FROM claims WHERE run_id = ? AND {own}", [claim.run_id, *key])  # refreshed below
            row = {**asdict(claim), "claimed_at": now, "heartbeat_at": now}
            cols, marks = ", ".join(row), ", ".join("?" * len(row))
            conn.execute(f"INSERT INTO claims ({cols}) VALUES ({marks})", list(row.values()))
        return None

    def release_claims(self, run_id: str, keys: Iterable[tuple[str, int | None, str]] | None = None) -> int:
        """Release ``run_id``'s claims on ``keys`` (``(model, img_size, runtime)``), or all of them; how many."""
        with self._transaction() as conn:
            if keys is None:
                return conn.execute("DELETE FROM claims WHERE run_id = ?", (run_id,)).rowcount
            sql = "DELETE FROM claims WHERE run_id = ? AND model = ? AND img_size IS ? AND runtime = ?"
            return sum(conn.execute(sql, (run_id, *k)).rowcount for k in keys)

    def refresh_claims(self, run_id: str) -> int:
        """Renew the heartbeat of every claim ``run_id`` holds; how many it holds."""
        with self._transaction() as conn:
            return conn.execute("UPDATE claims SET heartbeat_at = ? WHERE run_id = ?", (now_utc(), run_id)).rowcount

    def claims(self) -> list[dict[str, Any]]:
        """Every stored claim, live or dead, oldest first."""
        cur = self._require().execute("SELECT * FROM claims ORDER BY claimed_at, rowid")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, values, strict=True)) for values in cur]


__all__ = ["CLAIM_STALE_S", "Claim", "ClaimQueries", "Holder", "claim_alive", "pid_alive"]

"""The SQLite results store: one file, a versioned schema, all-or-nothing writes, safe with several writers.

Every write runs in its own ``BEGIN IMMEDIATE`` transaction that is committed or rolled back as a whole, so
a crash or Ctrl-C never leaves half of a model's results behind. The file is in WAL mode with a busy
timeout, and taking the write lock is retried a bounded number of times, so several sweep processes can
write to the same file at once.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from joulebench.errors import ConfigError, StoreError
from joulebench.store import schema
from joulebench.store.claims import ClaimQueries
from joulebench.store.queries import STOP_STAGES, SweepQueries, finished_keys, seconds_by_runtime  # noqa: F401 (moved)
from joulebench.store.reads import _DB_HINT, FILTERS, TableReads  # noqa: F401 (FILTERS moved)
from joulebench.store.records import BatchMeasurement, Failure, ModelSummary, RunRecord
from joulebench.store.rows import now_utc, record_row, run_row, scalar, to_json, window_row

if TYPE_CHECKING:
    from joulebench.meters.base import WindowResult

log = logging.getLogger(__name__)

_SQLITE_MAGIC = b"SQLite format 3\x00"

_LOCK_ATTEMPTS = 5

#: How many connections this process holds on each file (by resolved path). Closing any descriptor of a file drops
#: every POSIX lock the process holds on it, SQLite's included: another process closing the file would then think
#: itself the last user and delete the WAL under the open connections. So the header is read only by the first.
_OPEN_FILES: dict[str, int] = {}
_OPEN_LOCK = threading.Lock()


def _is_busy(e: sqlite3.Error) -> bool:
    msg = str(e).lower()
    return "locked" in msg or "busy" in msg


class Store(TableReads, SweepQueries, ClaimQueries):
    """The results database.

    Args:
        path: The SQLite file. Created (with its directory) when missing and ``create`` is true.
        create: Create the file if it does not exist; otherwise a missing file is a :class:`StoreError`.
        readonly: Open without write access (no migration, no file created); see :meth:`open_readonly`.
        busy_timeout_s: How long one attempt waits for another process's write lock.

    Raises:
        StoreError: The file is not a joulebench database, was written by a newer joulebench, cannot
            be created or written, or (``create=False``) does not exist. Nothing is changed then.

    A ``Store`` holds one connection; use it from one thread, and open a new one in each process.
    Filtered reads come from :class:`~joulebench.store.reads.TableReads`, the sweep's queries (finished work, costs,
    crash ceilings) from :class:`~joulebench.store.queries.SweepQueries`, the claims of running sweeps from
    :class:`~joulebench.store.claims.ClaimQueries`; this class is the engine they share.
    """

    def __init__(self, path: str | Path, create: bool = True, *, readonly: bool = False, busy_timeout_s: float = 30.0):
        self.path = Path(path)
        self.readonly = readonly
        self.busy_timeout_s = busy_timeout_s
        self._conn: sqlite3.Connection | None = None
        self._conn = self._connect(create and not readonly)
        try:
            self._prepare()
        except BaseException:
            self.close()
            raise

    @classmethod
    def open_readonly(cls, path: str | Path) -> Store:
        """Open an existing database for reading only; never creates or changes the file."""
        return cls(path, create=False, readonly=True)

    # -- opening ------------------------------------------------------------------------------------------

    def _connect(self, create: bool) -> sqlite3.Connection:
        path = self.path
        if path.is_dir():
            raise StoreError(
                f"{path} is a directory, not a results file: name a file inside it, e.g. --db {path}/joulebench.db"
            )
        if path.exists() and not self._held():
            try:
                with open(path, "rb") as f:
                    head = f.read(len(_SQLITE_MAGIC))
            except OSError as e:
                raise StoreError(f"cannot read {path} ({e.strerror}): check its permissions, or {_DB_HINT}") from None
            if head and head != _SQLITE_MAGIC:
                raise StoreError(f"{path} is not a joulebench results database: it is not an SQLite file; {_DB_HINT}")
            if not head and self.readonly:
                raise StoreError(self._no_results_message())
        elif not create:
            raise StoreError(self._no_results_message())
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(
                    f"cannot create the directory {path.parent} for the results file {path} ({e.strerror or e}): "
                    f"create it yourself or {_DB_HINT}"
                ) from None
        try:
            if self.readonly:
                uri = f"file:{quote(str(path.resolve()))}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout_s, isolation_level=None)
            else:
                conn = sqlite3.connect(str(path), timeout=self.busy_timeout_s, isolation_level=None)
        except sqlite3.Error as e:
            raise self._unwritable(e) from None
        with _OPEN_LOCK:
            key = str(path.resolve())
            _OPEN_FILES[key] = _OPEN_FILES.get(key, 0) + 1
        return conn

    def _held(self) -> bool:
        """True when this process already holds a connection on the file (see :data:`_OPEN_FILES`)."""
        with _OPEN_LOCK:
            return _OPEN_FILES.get(str(self.path.resolve()), 0) > 0

    def _no_results_message(self) -> str:
        return (
            f"there are no results at {self.path} yet: measure something first, e.g. "
            "`joulebench measure resnet50.a1_in1k --runtime torch-fp32` (it creates the file), or point --db / "
            "$JOULEBENCH_DB at an existing results file"
        )

    def _unwritable(self, e: sqlite3.Error) -> StoreError:
        return StoreError(
            f"cannot write the results file {self.path} ({e}): make sure it and its directory "
            f"{self.path.parent} are writable, or {_DB_HINT}"
        )

    def _state(self) -> tuple[int, int, list[str]]:
        conn = self._require()
        # One read transaction, so the three reads see the same snapshot while another process creates the file.
        own_txn = not conn.in_transaction
        try:
            if own_txn:
                conn.execute("BEGIN")
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
        except sqlite3.DatabaseError as e:
            if isinstance(e, sqlite3.OperationalError) and _is_busy(e):
                raise self._locked(e) from None
            raise StoreError(
                f"{self.path} is not a joulebench results database: SQLite cannot read it ({e}); {_DB_HINT}"
            ) from None
        finally:
            if own_txn and conn.in_transaction:
                conn.execute("ROLLBACK")
        return app_id, version, tables

    def _check(self, app_id: int, version: int, tables: list[str]) -> str:
        """Classify the file as ``new``, ``older``, ``current``; raise for foreign or newer files."""
        from joulebench import __version__

        if app_id != schema.APPLICATION_ID:
            if app_id == 0 and not tables:
                return "new"
            what = f"its tables are {', '.join(tables)}" if tables else f"its application id is {app_id:#x}"
            raise StoreError(
                f"{self.path} is not a joulebench results database: it is an SQLite file of another "
                f"application ({what}); {_DB_HINT}"
            )
        if version > schema.SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer joulebench: its schema version is {version}, but joulebench "
                f"{__version__} reads schema versions up to {schema.SCHEMA_VERSION}; upgrade joulebench "
                f"(`pip install -U joulebench`) or {_DB_HINT}"
            )
        return "older" if version < schema.SCHEMA_VERSION else "current"

    def _prepare(self) -> None:
        from joulebench import __version__

        conn = self._require()
        kind = self._check(*self._state())
        if self.readonly:
            if kind == "new":
                raise StoreError(self._no_results_message())
            if kind == "older" and not schema.readable_as_is(conn.execute("PRAGMA user_version").fetchone()[0]):
                raise StoreError(
                    f"{self.path} has the older schema version {conn.execute('PRAGMA user_version').fetchone()[0]}: "
                    "open it once with write access (any `joulebench results`, `export` or `measure` does) "
                    "to upgrade it"
                )
            return
        try:
            if kind == "new":
                # WAL lets readers proceed while one process writes; it cannot be switched inside a transaction.
                self._retry(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.OperationalError as e:
            if _is_busy(e):
                raise self._locked(e) from None
            raise self._unwritable(e) from None
        if kind == "current":
            return
        with self._transaction():
            # Another process may have created or migrated the file since we looked: decide again under the lock.
            app_id, version, tables = self._state()
            kind = self._check(app_id, version, tables)
            if kind == "new":
                schema.create_schema(conn, __version__, now_utc())
            elif kind == "older":
                schema.migrate(conn, version, __version__, now_utc())

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the store {self.path} is closed: open a new Store")
        return self._conn

    def _locked(self, e: sqlite3.Error) -> StoreError:
        waited = getattr(e, "waited_s", None)
        how_long = f" for {waited:.1f} s" if waited is not None else ""
        return StoreError(
            f"{self.path} stayed locked by another process ({e}){how_long}: wait for it to finish, or {_DB_HINT}"
        )

    # -- transactions -------------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One all-or-nothing write: ``BEGIN IMMEDIATE`` (retried while another writer holds the lock)."""
        conn = self._require()
        if self.readonly:
            raise StoreError(f"{self.path} was opened read-only: open it with Store(path) to write")
        try:
            self._retry(lambda: conn.execute("BEGIN IMMEDIATE"))
        except sqlite3.OperationalError as e:
            raise (self._locked(e) if _is_busy(e) else self._unwritable(e)) from e
        try:
            yield conn
            self._retry(lambda: conn.execute("COMMIT"))
        except BaseException as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error as rb:  # the original error matters more; the file stays consistent anyway
                    log.warning("rollback on %s failed after %r: %s", self.path, exc, rb)
            if isinstance(exc, sqlite3.OperationalError):
                raise (self._locked(exc) if _is_busy(exc) else self._unwritable(exc)) from exc
            raise

    def _retry(self, op) -> None:
        """Run ``op``, retrying while the file is locked: at least ``_LOCK_ATTEMPTS`` times and ``busy_timeout_s``.

        SQLite's busy handler already waits inside ``BEGIN IMMEDIATE``; switching the journal mode fails at once
        while another process creates the file, hence the time bound too.
        """
        start = time.monotonic()
        attempt = 0
        while True:
            try:
                op()
                return
            except sqlite3.OperationalError as e:
                attempt += 1
                waited = time.monotonic() - start
                if not _is_busy(e) or (attempt >= _LOCK_ATTEMPTS and waited >= self.busy_timeout_s):
                    if _is_busy(e):
                        e.waited_s = waited  # for the error message
                    raise
                time.sleep(min(0.02 * 2**attempt, 0.5) * random.uniform(0.5, 1.5))

    # -- writes -------------------------------------------------------------------------------------------

    def add_run(self, run: RunRecord) -> None:
        """Record a run (status ``running``); adding the same run id again updates its provenance and config."""
        row = run_row(run, status="running")
        cols = list(row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in ("run_id", "status", "finished_at"))
        with self._transaction() as conn:
            conn.execute(
                f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                f"ON CONFLICT (run_id) DO UPDATE SET {updates}",
                list(row.values()),
            )

    def finish_run(self, run_id: str, status: str = "ok") -> None:
        """Mark a run finished with ``status`` (``ok``, ``failed``, ``interrupted``, ``deadline``) and the time now.

        Raises:
            StoreError: If there is no such run.
        """
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?", (status, now_utc(), run_id)
            )
            if cur.rowcount == 0:
                raise StoreError(f"there is no run {run_id} in {self.path}: record it with add_run() first")

    def save_task(
        self,
        measurements: Sequence[BatchMeasurement],
        summary: ModelSummary | None,
        failures: Sequence[Failure],
    ) -> None:
        """Save the results of one (model configuration, runtime) task in one transaction.

        Rows already stored for the same ``(run_id, model, img_size, runtime)`` are replaced, so a retried
        task never leaves duplicates. Either everything is written or, on any error, nothing changes.

        Raises:
            StoreError: If a row's run was not recorded with :meth:`add_run`, or the file cannot be written.
        """
        rows: list[tuple[str, Any]] = [("measurements", m) for m in measurements]
        if summary is not None:
            rows.append(("summaries", summary))
        rows += [("failures", f) for f in failures]
        if not rows:
            return
        keys = {(r.run_id, r.model, r.img_size, r.runtime) for _, r in rows}
        with self._transaction() as conn:
            for run_id in sorted({k[0] for k in keys}):
                if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
                    raise StoreError(f"run {run_id} is not in {self.path}: record it with add_run() before save_task()")
            for key in keys:
                for table in ("measurements", "summaries", "failures"):
                    conn.execute(
                        f"DELETE FROM {table} WHERE run_id = ? AND model = ? AND img_size IS ? AND runtime = ?", key
                    )
            for table in ("measurements", "summaries", "failures"):
                self._insert(conn, table, [record_row(table, r) for t, r in rows if t == table])

    def add_measurement(self, m: BatchMeasurement) -> None:
        """Store one batch measurement the moment it exists (the sweep's per-batch save).

        :meth:`save_task` later replaces the task's rows of the same run with the complete list, so a row saved
        here is never duplicated; until then it survives a stopped or killed task.

        Raises:
            StoreError: If the row's run was not recorded with :meth:`add_run`, or the file cannot be written.
        """
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (m.run_id,)).fetchone() is None:
                raise StoreError(f"run {m.run_id} is not in {self.path}: record it with add_run() first")
            self._insert(conn, "measurements", [record_row("measurements", m)])

    def save_window(self, run: RunRecord, label: str, result: WindowResult, exit_code: int | None = None) -> int:
        """Save one ad-hoc ``joulebench meter`` window (and its run, if not stored yet, as finished).

        Args:
            run: The run the window belongs to.
            label: What was measured (the command line or a user label).
            result: The meter's window result.
            exit_code: Exit status of the measured command, or None for a Python callable.

        Returns:
            The window's id.
        """
        row = window_row(run.run_id, label, result, exit_code)
        run_values = run_row(run, status="ok" if exit_code in (0, None) else "failed")
        run_values["finished_at"] = now_utc()
        with self._transaction() as conn:
            conn.execute(
                f"INSERT INTO runs ({', '.join(run_values)}) VALUES ({', '.join('?' * len(run_values))}) "
                "ON CONFLICT (run_id) DO NOTHING",
                list(run_values.values()),
            )
            cur = conn.execute(
                f"INSERT INTO windows ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                [scalar(v) for v in row.values()],
            )
            return int(cur.lastrowid)

    def insert_rows(self, rows: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """Insert rows as :meth:`rows` returns them (JSON columns as dicts) in one transaction, runs first.

        For importing (:mod:`joulebench.store.bundle`): rows are stored as given, run status and times included;
        ``window_id`` is assigned anew. Either every row is written or none.

        Raises:
            StoreError: A row's run is not stored, or the file cannot be written.
        """
        ordered = sorted(rows, key=lambda t: t != "runs")
        with self._transaction() as conn:
            for table in ordered:
                cols = [c for c in self.columns(table) if c != "window_id"]
                json_cols = schema.JSON_COLUMNS[table]
                values = [
                    [to_json(r.get(c), f"{c} of {table}") if c in json_cols else scalar(r.get(c)) for c in cols]
                    for r in rows[table]
                ]
                try:
                    conn.executemany(
                        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", values
                    )
                except sqlite3.IntegrityError as e:
                    raise StoreError(f"cannot import {table} into {self.path} ({e}): its runs must be stored") from None

    def _insert(self, conn: sqlite3.Connection, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        cols = list(rows[0])
        conn.executemany(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [[r[c] for c in cols] for r in rows],
        )

    def meta(self) -> dict[str, str]:
        """The ``meta`` table: which joulebench created the file, when, and its schema version."""
        return dict(self._require().execute("SELECT key, value FROM meta"))

    def integrity_check(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check`` (``['ok']`` when the file is sound)."""
        return [r[0] for r in self._require().execute("PRAGMA integrity_check")]

    # -- lifetime -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            with _OPEN_LOCK:
                key = str(self.path.resolve())
                _OPEN_FILES[key] -= 1
                if not _OPEN_FILES[key]:
                    del _OPEN_FILES[key]

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}{', readonly' if self.readonly else ''})"


_RECORD_CLASSES = {"summaries": ModelSummary, "measurements": BatchMeasurement, "failures": Failure, "runs": RunRecord}


def as_records(table: str, rows: Iterable[dict[str, Any]]) -> list[Any]:
    """Turn rows of ``summaries``, ``measurements``, ``failures`` or ``runs`` back into record dataclasses."""
    cls = _RECORD_CLASSES.get(table)
    if cls is None:
        raise ConfigError(f"rows of '{table}' have no record class: use summaries, measurements, failures or runs")
    names = {f.name for f in fields(cls)}
    return [cls(**{k: v for k, v in r.items() if k in names}) for r in rows]

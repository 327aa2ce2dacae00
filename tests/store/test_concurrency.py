"""Several processes writing at once, interrupted writes and a held write lock never corrupt the store."""

from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
import threading

import pytest

from factories import run, task
from joulebench.errors import StoreError
from joulebench.store import SCHEMA_VERSION, Store
from joulebench.store import db as store_db

TASKS_PER_WRITER = 40
SHARED_RESAVES = 10


def _writer(path: str, writer: int, start: mp.Event) -> None:
    start.wait(30)
    # Both writers also create the file at the same time: the schema must be created exactly once.
    with Store(path) as s:
        s.add_run(run(f"run{writer}"))
        s.add_run(run("shared"))
        for j in range(TASKS_PER_WRITER):
            s.save_task(*task(run_id=f"run{writer}", model=f"model{j}.w{writer}", batches=(1, 2, 4)))
            if j % (TASKS_PER_WRITER // SHARED_RESAVES) == 0:
                # The same task saved by both processes over and over: never duplicated.
                s.save_task(*task(run_id="shared", model="shared.tag", batches=(1, 2, 4, 8), scale=writer + 1))
        s.finish_run(f"run{writer}", "ok")


@pytest.mark.slow
def test_two_processes_writing_at_once(tmp_path):
    path = str(tmp_path / "shared.db")
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(path, i, start)) for i in range(2)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    with Store.open_readonly(path) as s:
        assert s.integrity_check() == ["ok"]
        assert s.count("summaries") == 2 * TASKS_PER_WRITER + 1
        assert s.count("measurements") == 2 * TASKS_PER_WRITER * 3 + 4
        assert s.count("failures") == 2 * TASKS_PER_WRITER + 1
        for i in range(2):
            assert s.count("summaries", run_id=f"run{i}") == TASKS_PER_WRITER
            assert s.runs(run_id=f"run{i}")[0]["status"] == "ok"
        shared = s.measurements(model="shared.tag")
        assert [m["batch_size"] for m in shared] == [1, 2, 4, 8]
        # all four rows come from one writer's save, never a mix of two
        assert len({m["energy_per_image_j"] * m["batch_size"] ** 0.5 for m in shared}) == 1
        assert s.meta()["schema_version"] == str(SCHEMA_VERSION)


def _die_mid_task(path: str) -> None:
    real_insert = Store._insert

    def insert_then_die(self, conn, table, rows):
        real_insert(self, conn, table, rows)
        if table == "summaries":  # measurements and summary written, failures not yet: the process dies
            os._exit(7)

    Store._insert = insert_then_die
    with Store(path) as s:
        s.save_task(*task(batches=(16, 32), scale=5.0))
        s.save_task(*task(model="new.tag"))


def _rows(s: Store) -> tuple:
    return s.measurements(), s.summaries(), s.failures()


def test_process_killed_mid_transaction_leaves_previous_rows(tmp_path):
    path = str(tmp_path / "r.db")
    with Store(path) as s:
        s.add_run(run())
        s.save_task(*task())
        before = _rows(s)
    ctx = mp.get_context("spawn")
    p = ctx.Process(target=_die_mid_task, args=(path,))
    p.start()
    p.join(60)
    assert p.exitcode == 7
    with Store(path) as s:
        assert s.integrity_check() == ["ok"]
        assert _rows(s) == before
        assert s.measurements(model="new.tag") == []
        s.save_task(*task(model="after.tag"))  # the store is still writable
        assert len(s.summaries()) == 2


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_interrupt_mid_save_rolls_back(tmp_path, monkeypatch, exc):
    with Store(tmp_path / "r.db") as s:
        s.add_run(run())
        s.save_task(*task())
        before = _rows(s)
        real_insert = Store._insert

        def insert_then_raise(self, conn, table, rows):
            real_insert(self, conn, table, rows)
            if table == "measurements":
                raise exc("Ctrl-C")

        monkeypatch.setattr(Store, "_insert", insert_then_raise)
        with pytest.raises(exc):
            s.save_task(*task(batches=(128,), scale=9.0))
        monkeypatch.undo()
        assert _rows(s) == before
        s.save_task(*task(model="next.tag"))  # no transaction was left open
        assert len(s.summaries()) == 2


def test_constraint_violation_mid_task_rolls_back(tmp_path):
    with Store(tmp_path / "r.db") as s:
        s.add_run(run())
        s.save_task(*task())
        before = _rows(s)
        ms, summary, failures = task(batches=(2, 4))
        bad = [ms[0], type(ms[1])(**{**ms[1].to_dict(), "model": None})]  # NOT NULL fails on the second row
        with pytest.raises(sqlite3.IntegrityError):
            s.save_task(bad, summary, failures)
        assert _rows(s) == before


def _hold_write_lock(path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO meta (key, value) VALUES ('holder', 'x')")
    return conn


def test_lock_held_too_long_is_a_store_error(tmp_path, monkeypatch):
    path = tmp_path / "r.db"
    with Store(path) as s:
        s.add_run(run())
    holder = _hold_write_lock(path)
    monkeypatch.setattr(store_db, "_LOCK_ATTEMPTS", 2)
    try:
        with Store(path, busy_timeout_s=0.05) as s:
            with pytest.raises(StoreError, match="stayed locked by another process"):
                s.save_task(*task())
            assert s.summaries() == []
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_writer_waits_for_a_lock_that_is_released(tmp_path):
    path = tmp_path / "r.db"
    with Store(path) as s:
        s.add_run(run())
    holder = _hold_write_lock(path)
    release = threading.Timer(0.1, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        with Store(path, busy_timeout_s=0.5) as s:
            s.save_task(*task())
            assert len(s.summaries()) == 1
            assert s.meta()["holder"] == "x"
    finally:
        release.join()
        holder.close()

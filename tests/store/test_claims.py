"""Claims: one live sweep at a time holds a task; dead claims (run over, process gone, heartbeat old) are taken over."""

from __future__ import annotations

import dataclasses
import os
import platform
import sqlite3
import subprocess
import sys

from factories import run
from joulebench.store import Store
from joulebench.store.claims import Claim, Holder
from joulebench.store.schema import SCHEMA_VERSION

HOST = platform.node()


def _claim(run_id: str, model: str = "resnet50.a1_in1k", **kw) -> Claim:
    base = dict(
        model=model, img_size=224, runtime="torch-fp32", config_hash="abc", meter="nvml", scope="NVIDIA H200",
        run_id=run_id, host=HOST, pid=os.getpid(),
    )  # fmt: skip
    return Claim(**{**base, **kw})


def _store(tmp_path, *run_ids: str) -> Store:
    store = Store(tmp_path / f"{'-'.join(run_ids)}.db")
    for r in run_ids:
        store.add_run(run(run_id=r))
    return store


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_task_claimed_by_a_live_run_is_refused_to_another_until_released(tmp_path):
    with _store(tmp_path, "a", "b") as store:
        assert store.claim_task(_claim("a")) is None
        held = store.claim_task(_claim("b"))
        assert isinstance(held, Holder) and held.run_id == "a" and held.host == HOST and held.pid == os.getpid()
        assert store.claim_task(_claim("a")) is None  # its own claim again: still its
        assert [c["run_id"] for c in store.claims()] == ["a"]
        assert store.release_claims("a", [("resnet50.a1_in1k", 224, "torch-fp32")]) == 1
        assert store.claim_task(_claim("b")) is None
        assert [c["run_id"] for c in store.claims()] == ["b"]


def test_claims_on_other_tasks_protocols_or_gpus_do_not_collide(tmp_path):
    with _store(tmp_path, "a", "b") as store:
        assert store.claim_task(_claim("a")) is None
        for other in (
            {"model": "vit_base"}, {"img_size": 288}, {"runtime": "compile-fp16"}, {"config_hash": "def"},
            {"meter": "sim"}, {"scope": "NVIDIA H100"},
        ):  # fmt: skip
            assert store.claim_task(_claim("b", **other)) is None, other
        assert store.release_claims("b") == 6 and len(store.claims()) == 1


def test_a_claim_dies_with_its_run_its_process_or_its_heartbeat(tmp_path):
    with _store(tmp_path, "a", "b") as store:
        store.claim_task(_claim("a"))
        store.finish_run("a", "interrupted")  # the run ended without releasing (a crash after its last save)
        assert store.claim_task(_claim("b")) is None
        assert [c["run_id"] for c in store.claims()] == ["b"]  # the dead claim is gone

    with _store(tmp_path, "c", "d") as store:
        store.claim_task(_claim("c", pid=_dead_pid()))  # killed with -9: still 'running', its process gone
        assert store.claim_task(_claim("d")) is None

    with _store(tmp_path, "e", "f") as store:
        elsewhere = _claim("e", host="another-host", pid=1)  # its pid means nothing here: only its heartbeat counts
        store.claim_task(elsewhere)
        assert store.claim_task(_claim("f")).run_id == "e"
        store._require().execute("UPDATE claims SET heartbeat_at = '2026-01-01T00:00:00+00:00' WHERE run_id = 'e'")
        assert store.claim_task(_claim("f")) is None  # minutes without a heartbeat: its host died or lost the file


def test_a_heartbeat_keeps_a_claim_alive(tmp_path):
    with _store(tmp_path, "a", "b") as store:
        store.claim_task(_claim("a", host="another-host"))
        store._require().execute("UPDATE claims SET heartbeat_at = '2026-01-01T00:00:00+00:00'")
        assert store.refresh_claims("a") == 1
        assert store.claim_task(_claim("b")).run_id == "a"


def test_a_schema_3_store_gains_the_claims_table_and_reads_as_it_is(tmp_path):
    old = tmp_path / "v3.db"
    with Store(old) as s:
        s.add_run(run())
    conn = sqlite3.connect(old)
    conn.execute("DROP TABLE claims")
    conn.execute("PRAGMA user_version = 3")
    conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with Store.open_readonly(old) as s:  # only sweeps use claims: read without write access
        assert [r["run_id"] for r in s.runs()] == ["run1"]
    with Store(old) as s:
        assert s.meta()["schema_version"] == str(SCHEMA_VERSION) and "migrated_to_4" in s.meta()
        assert s.claims() == []
        s.add_run(dataclasses.replace(run(), run_id="a"))
        assert s.claim_task(_claim("a")) is None


def test_opening_the_file_again_in_this_process_keeps_its_wal_from_another_process(tmp_path):
    # Claims open a connection per operation beside the sweep's. Reading the file's header with open() and
    # closing it would drop this process's SQLite locks, and another process closing the file would then delete
    # the WAL under the sweep's open connections (a "disk I/O error" at its next write).
    db = tmp_path / "r.db"
    with Store(db) as held:
        held.add_run(run(run_id="a"))
        with Store(db) as again:
            again.claims()
        other = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT 1 FROM runs').fetchall()"
        subprocess.run([sys.executable, "-c", other + "; c.close()", str(db)], check=True)
        assert db.with_name("r.db-wal").exists()
        held.add_run(run(run_id="b"))
        assert {r["run_id"] for r in held.runs()} == {"a", "b"}

"""The SQLite store: round trips, replace-on-resave, resume keys, filters, schema versions, bad files."""

from __future__ import annotations

import dataclasses
import sqlite3

import pandas as pd
import pytest

from factories import full, run, task
from joulebench.errors import ConfigError, StoreError
from joulebench.meters.base import DeviceReading, Sample, WindowResult
from joulebench.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    BatchMeasurement,
    Failure,
    ModelSummary,
    RunRecord,
    Store,
    as_records,
    config_hash,
    schema,
)


@pytest.fixture
def db(tmp_path):
    return tmp_path / "results.db"


@pytest.fixture
def store(db):
    with Store(db) as s:
        s.add_run(run())
        yield s


def test_new_file_is_marked_as_joulebench_with_schema_version(db):
    Store(db).close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    conn.close()
    from joulebench import __version__

    assert meta["created_by"] == __version__
    assert meta["schema_version"] == str(SCHEMA_VERSION)


def test_creates_missing_parent_directories(tmp_path):
    path = tmp_path / "a" / "b" / "results.db"
    with Store(path) as s:
        assert s.summaries() == []
    assert path.is_file()


def test_run_round_trip_with_promoted_provenance(store):
    r = run()
    (row,) = store.runs()
    assert RunRecord(**{f.name: row[f.name] for f in dataclasses.fields(RunRecord)}) == r
    assert row["gpu_name"] == "NVIDIA H200"
    assert row["gpu_uuid"] == "GPU-aaaa"
    assert row["power_limit_w"] == 700.0
    assert (row["driver"], row["torch"], row["timm"], row["joulebench"], row["host"]) == (
        "570.86",
        "2.11.0",
        "1.0.29",
        "0.1.0",
        "node-1",
    )
    assert row["config_hash"] == config_hash(r.config) == r.config_hash
    assert row["status"] == "running" and row["finished_at"] is None


def test_nested_provenance_keys_are_promoted(db):
    r = RunRecord("r9", "2026-01-01T00:00:00+00:00", "nvml", provenance={"gpu": {"name": "NVIDIA A100", "uuid": "G"}})
    with Store(db) as s:
        s.add_run(r)
        (row,) = s.runs()
    assert (row["gpu_name"], row["gpu_uuid"]) == ("NVIDIA A100", "G")


def test_config_hash_ignores_key_order():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_add_run_again_updates_but_keeps_status(store):
    store.finish_run("run1", "interrupted")
    store.add_run(run(command="again"))
    (row,) = store.runs()
    assert row["command"] == "again"
    assert row["status"] == "interrupted"


def test_finish_run_sets_status_and_time(store):
    store.finish_run("run1", "ok")
    (row,) = store.runs()
    assert row["status"] == "ok" and row["finished_at"]


def test_finish_unknown_run_is_an_error(store):
    with pytest.raises(StoreError, match="no run nope"):
        store.finish_run("nope")


@pytest.mark.parametrize("cls", [BatchMeasurement, ModelSummary, Failure])
def test_every_record_field_round_trips(store, cls):
    rec = full(cls, run_id="run1", model="m.tag", img_size=224, runtime="torch-fp32")
    args = {
        BatchMeasurement: ([rec], None, []),
        ModelSummary: ([], rec, []),
        Failure: ([], None, [rec]),
    }[cls]
    store.save_task(*args)
    table = {BatchMeasurement: "measurements", ModelSummary: "summaries", Failure: "failures"}[cls]
    (row,) = store.rows(table)
    assert row == rec.to_dict()
    assert as_records(table, [row]) == [rec]


def test_bools_and_nones_round_trip(store):
    ms, summary, _ = task()
    summary = dataclasses.replace(summary, throttled=False, error=None)
    store.save_task(ms, summary, [])
    (row,) = store.summaries()
    assert row["throttled"] is False and row["error"] is None
    assert [m["trace_summary"] for m in store.measurements()] == [{"samples": 1}, {"samples": 8}, {"samples": 64}]


def test_numpy_values_are_stored_as_numbers(store):
    np = pytest.importorskip("numpy")
    ms, summary, _ = task()
    summary = dataclasses.replace(summary, optimal_batch=np.int64(64), energy_per_image_j=np.float32(0.5))
    m = dataclasses.replace(ms[0], trace_summary={"x": np.float64(1.5), "arr": np.arange(3)})
    store.save_task([m], summary, [])
    (row,) = store.summaries()
    assert row["optimal_batch"] == 64 and isinstance(row["optimal_batch"], int)
    assert row["energy_per_image_j"] == 0.5
    assert store.measurements()[0]["trace_summary"] == {"x": 1.5, "arr": [0, 1, 2]}


def test_save_task_requires_a_recorded_run(db):
    with Store(db) as s:
        ms, summary, failures = task(run_id="ghost")
        with pytest.raises(StoreError, match="run ghost is not in .*add_run"):
            s.save_task(ms, summary, failures)
        assert s.measurements() == [] and s.summaries() == []


def test_resave_replaces_rows_of_the_same_task(store):
    store.save_task(*task(batches=(1, 2, 4, 8)))
    store.save_task(*task(model="other.tag"))
    ms, summary, _ = task(batches=(16, 32), scale=2.0)
    store.save_task(ms, summary, [])
    rows = store.measurements(model="resnet50.a1_in1k")
    assert [r["batch_size"] for r in rows] == [16, 32]
    (s,) = store.summaries(model="resnet50.a1_in1k")
    assert s["optimal_batch"] == 32
    assert store.failures(model="resnet50.a1_in1k") == []
    # other tasks are untouched
    assert len(store.measurements(model="other.tag")) == 3
    assert len(store.failures(model="other.tag")) == 1


def test_same_model_other_run_size_or_runtime_is_not_replaced(store):
    store.add_run(run("run2"))
    store.save_task(*task())
    store.save_task(*task(run_id="run2"))
    store.save_task(*task(img=288))
    store.save_task(*task(runtime="torch-fp16"))
    assert len(store.summaries()) == 4
    assert len(store.measurements()) == 12


def test_failure_without_image_size_is_replaced_on_resave(store):
    f = Failure("run1", "broken.tag", None, "torch-fp32", stage="resolve", reason="unknown model")
    store.save_task([], None, [f])
    store.save_task([], None, [f])
    assert store.failures() == [f.to_dict()]


def test_empty_save_task_does_nothing(store):
    store.save_task([], None, [])
    assert store.summaries() == []


def test_done_keys(store):
    store.add_run(run("run2", uuid="GPU-bbbb", gpu="NVIDIA H100", config={"search": "paper"}))
    store.add_run(run("run3", meter="sim"))
    store.save_task(*task(model="a.x"))
    store.save_task(*task(model="b.x", status="failed"))
    store.save_task(*task(run_id="run2", model="c.x", uuid="GPU-bbbb", gpu="NVIDIA H100"))
    store.save_task(*task(run_id="run3", model="d.x", meter="sim"))
    store.save_task(*task(model="e.x", img=288, runtime="torch-fp16"))
    assert store.done_keys("GPU-aaaa") == {
        ("a.x", 224, "torch-fp32"),
        ("d.x", 224, "torch-fp32"),
        ("e.x", 288, "torch-fp16"),
    }
    assert store.done_keys("GPU-bbbb") == {("c.x", 224, "torch-fp32")}
    assert store.done_keys("GPU-aaaa", meter="nvml") == {("a.x", 224, "torch-fp32"), ("e.x", 288, "torch-fp16")}
    assert store.done_keys(None, config_hash({"search": "paper"})) == {("c.x", 224, "torch-fp32")}
    assert store.done_keys("GPU-aaaa", config_hash({"search": "paper"})) == set()
    assert ("b.x", 224, "torch-fp32") not in store.done_keys(None)


def test_done_keys_by_gpu_model_and_power_limit(store):
    store.add_run(run("run2", uuid="GPU-bbbb"))  # another H200 board
    store.add_run(run("run3", uuid="GPU-cccc", gpu="NVIDIA H100"))
    store.save_task(*task(model="a.x"))
    store.save_task(*task(run_id="run2", model="b.x", uuid="GPU-bbbb"))
    store.save_task(*task(run_id="run3", model="c.x", uuid="GPU-cccc", gpu="NVIDIA H100"))
    h200 = {("a.x", 224, "torch-fp32"), ("b.x", 224, "torch-fp32")}
    assert store.done_keys(None, gpu_name="NVIDIA H200") == h200
    assert store.done_keys(None, gpu_name="NVIDIA H200", power_limit_w=700.2) == h200
    assert store.done_keys(None, gpu_name="NVIDIA H200", power_limit_w=500.0) == set()  # a capped card differs
    assert store.done_keys(None, gpu_name="NVIDIA H100") == {("c.x", 224, "torch-fp32")}
    assert store.done_keys("GPU-bbbb", gpu_name="NVIDIA H200") == {("b.x", 224, "torch-fp32")}


def test_done_keys_uses_the_runs_gpu_when_the_summary_lacks_it(store):
    ms, summary, _ = task(uuid=None)
    store.save_task(ms, summary, [])
    assert store.done_keys("GPU-aaaa") == {("resnet50.a1_in1k", 224, "torch-fp32")}


@pytest.fixture
def filled(store):
    store.add_run(run("run2", meter="sim", gpu="NVIDIA A100-SXM4-80GB", uuid="GPU-c"))
    store.save_task(*task(model="resnet50.a1_in1k"))
    store.save_task(*task(model="resnet50.tv_in1k", runtime="torch-fp16"))
    store.save_task(*task(model="resnet18.a1_in1k", status="failed"))
    store.save_task(*task(run_id="run2", model="vit_small_patch16_224.augreg_in21k", meter="sim", gpu=None, uuid=None))
    return store


def _models(rows):
    return sorted(r["model"] for r in rows)


def test_filters(filled):
    s = filled
    assert _models(s.summaries(model="resnet50*")) == ["resnet50.a1_in1k", "resnet50.tv_in1k"]
    assert _models(s.summaries(model="resnet50")) == ["resnet50.a1_in1k", "resnet50.tv_in1k"]
    assert _models(s.summaries(model="RESNET18*")) == ["resnet18.a1_in1k"]
    assert _models(s.summaries(model="resnet5")) == []
    assert _models(s.summaries(model="*in21k")) == ["vit_small_patch16_224.augreg_in21k"]
    assert _models(s.summaries(runtime="torch-fp16")) == ["resnet50.tv_in1k"]
    assert _models(s.summaries(status="failed")) == ["resnet18.a1_in1k"]
    assert _models(s.summaries(gpu="a100")) == ["vit_small_patch16_224.augreg_in21k"]  # from the run
    assert len(s.summaries(gpu="H200")) == 3
    assert _models(s.summaries(meter="sim")) == ["vit_small_patch16_224.augreg_in21k"]
    assert _models(s.summaries(run_id="run2")) == ["vit_small_patch16_224.augreg_in21k"]
    assert _models(s.summaries(model="resnet*", runtime="torch-fp32", status="ok")) == ["resnet50.a1_in1k"]
    assert len(s.measurements(model="resnet50.a1_in1k")) == 3
    assert [m["batch_size"] for m in s.measurements(model="resnet50.a1_in1k")] == [1, 8, 64]
    assert _models(s.failures(meter="sim")) == ["vit_small_patch16_224.augreg_in21k"]
    assert len(s.failures(gpu="h200")) == 3
    assert [r["run_id"] for r in s.runs(meter="sim")] == ["run2"]
    assert len(s.summaries(limit=2)) == 2
    assert s.count("summaries", model="resnet*") == 3
    assert s.summaries(gpu="%") == []  # LIKE wildcards are taken literally


def test_bad_filters_are_config_errors(filled):
    with pytest.raises(ConfigError, match="unknown filter 'colour'"):
        filled.summaries(colour="red")
    with pytest.raises(ConfigError, match="'status' does not apply to failures"):
        filled.failures(status="ok")
    with pytest.raises(ConfigError, match="unknown table 'nope'"):
        filled.rows("nope")


def test_frames(filled):
    df = filled.summaries_frame(model="resnet*")
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == Store.columns("summaries")
    assert sorted(df["model"]) == ["resnet18.a1_in1k", "resnet50.a1_in1k", "resnet50.tv_in1k"]
    mf = filled.measurements_frame(model="resnet50.a1_in1k")
    assert mf["batch_size"].tolist() == [1, 8, 64]
    assert mf["energy_per_image_j"].tolist() == pytest.approx([0.01, 0.01 / 8**0.5, 0.01 / 8])
    empty = filled.summaries_frame(model="nothing*")
    assert empty.empty and list(empty.columns) == Store.columns("summaries")
    assert len(filled.failures_frame()) == 4 and len(filled.runs_frame()) == 2 and filled.windows_frame().empty


def _window(meter="nvml"):
    return WindowResult(
        meter=meter,
        method="counter",
        energy_j=12.5,
        duration_s=2.5,
        counter_energy_j=12.5,
        sampled_energy_j=12.25,
        idle_power_w=1.5,
        aligned=True,
        started_at=1_700_000_000.25,
        devices=(DeviceReading(0, "GPU-aaaa", 12.5, "counter", 12.5, 12.25),),
        trace=(Sample(0.0, 0, 4.0, throttle_reasons=4), Sample(1.0, 0, 6.0), Sample(2.0, 0, 5.0)),
    )


def test_window_round_trip(db):
    w = _window()
    r = run("meter-run", command="joulebench meter -- python train.py")
    with Store(db) as s:
        wid = s.save_window(r, "python train.py", w, exit_code=3)
        (row,) = s.windows()
        (run_row,) = s.runs()
    assert row["window_id"] == wid
    assert (row["run_id"], row["label"], row["exit_code"]) == ("meter-run", "python train.py", 3)
    for name in ("meter", "method", "energy_j", "duration_s", "counter_energy_j", "sampled_energy_j", "idle_power_w"):
        assert row[name] == getattr(w, name), name
    assert row["avg_power_w"] == w.avg_power_w
    assert row["dynamic_energy_j"] == pytest.approx(w.dynamic_energy_j)
    assert row["idle_energy_j"] == pytest.approx(w.idle_energy_j)
    assert row["aligned"] is True and row["started_at"] == w.started_at
    assert row["trace_summary"] == w.trace_summary()
    assert row["devices"] == [dataclasses.asdict(d) for d in w.devices]
    assert run_row["status"] == "failed" and run_row["finished_at"]


def test_windows_of_one_run_share_it(db):
    r = run("meter-run")
    with Store(db) as s:
        s.save_window(r, "a", _window(), 0)
        s.save_window(r, "b", _window(), 0)
        assert [w["label"] for w in s.windows(run_id="meter-run")] == ["a", "b"]
        assert len(s.runs()) == 1 and s.runs()[0]["status"] == "ok"


def test_window_with_zero_duration_stores_null_power(db):
    w = dataclasses.replace(_window(), duration_s=0.0, idle_power_w=None)
    with Store(db) as s:
        s.save_window(run(), "x", w, None)
        (row,) = s.windows()
    assert row["avg_power_w"] is None and row["dynamic_energy_j"] is None and row["exit_code"] is None


def test_unserialisable_json_is_a_store_error_and_writes_nothing(store):
    ms, summary, failures = task()
    bad = dataclasses.replace(ms[1], trace_summary={"x": object()})
    with pytest.raises(StoreError, match="cannot store trace_summary"):
        store.save_task([ms[0], bad, ms[2]], summary, failures)
    assert store.measurements() == [] and store.summaries() == []


def test_readonly_store_reads_and_refuses_writes(db):
    with Store(db) as s:
        s.add_run(run())
        s.save_task(*task())
    before = db.read_bytes()
    with Store.open_readonly(db) as ro:
        assert len(ro.summaries()) == 1
        with pytest.raises(StoreError, match="read-only"):
            ro.add_run(run("x"))
    assert db.read_bytes() == before


@pytest.mark.parametrize("opener", [lambda p: Store(p, create=False), Store.open_readonly])
def test_missing_file_is_not_created_without_create(tmp_path, opener):
    path = tmp_path / "none.db"
    with pytest.raises(StoreError, match="no results at .*none.db yet.*joulebench measure"):
        opener(path)
    assert not path.exists()


def test_text_file_is_not_a_joulebench_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("model,energy\nresnet,1\n")
    with pytest.raises(StoreError, match="notes.db is not a joulebench results database: .*use --db"):
        Store(path)
    assert path.read_text() == "model,energy\nresnet,1\n"


def test_foreign_sqlite_database_is_left_untouched(tmp_path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.execute("INSERT INTO users VALUES ('ada')")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    for opener in (Store, Store.open_readonly):
        with pytest.raises(StoreError, match="is not a joulebench results database: .*tables are users.*use --db"):
            opener(path)
    assert path.read_bytes() == before
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["users"]
    conn.close()


def test_other_application_id_is_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.close()
    with pytest.raises(StoreError, match="not a joulebench results database.*application id is 0x4d2"):
        Store(path)


def test_empty_file_becomes_a_database(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    with Store(path) as s:
        assert s.meta()["schema_version"] == str(SCHEMA_VERSION)


def test_newer_schema_is_refused_naming_both_versions(db):
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    before = db.read_bytes()
    for opener in (Store, Store.open_readonly):
        with pytest.raises(StoreError) as e:
            opener(db)
        msg = str(e.value)
        assert f"schema version is {SCHEMA_VERSION + 5}" in msg
        assert f"up to {SCHEMA_VERSION}" in msg
        assert "upgrade joulebench" in msg
    assert db.read_bytes() == before


def test_older_schema_is_migrated_in_order(db, monkeypatch):
    with Store(db) as s:
        s.add_run(run())
        s.save_task(*task())
    calls = []

    now = SCHEMA_VERSION

    def step_1(conn):
        calls.append(now + 1)
        conn.execute("ALTER TABLE summaries ADD COLUMN note TEXT")

    def step_2(conn):
        calls.append(now + 2)
        conn.execute("UPDATE summaries SET note = 'migrated'")

    monkeypatch.setattr(schema, "SCHEMA_VERSION", now + 2)
    monkeypatch.setattr(schema, "MIGRATIONS", {now: step_1, now + 1: step_2})
    with pytest.raises(StoreError, match=f"older schema version {now}"):
        Store.open_readonly(db)
    with Store(db) as s:
        assert s.meta()["schema_version"] == str(now + 2)
        assert f"migrated_to_{now + 2}" in s.meta()
    with Store(db):
        pass  # already current: migrations do not run twice
    assert calls == [now + 1, now + 2]
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == now + 2
    assert conn.execute("SELECT note FROM summaries").fetchall() == [("migrated",)]
    conn.close()


def test_failed_migration_changes_nothing(db, monkeypatch):
    Store(db).close()
    before_tables = sqlite3.connect(db).execute("SELECT name FROM sqlite_master ORDER BY name").fetchall()

    def broken(conn):
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("bug in migration")

    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(schema, "MIGRATIONS", {SCHEMA_VERSION: broken})
    with pytest.raises(RuntimeError, match="bug in migration"):
        Store(db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT name FROM sqlite_master ORDER BY name").fetchall() == before_tables
    conn.close()


def test_unwritable_location_names_path_and_fix(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    path = blocker / "sub" / "results.db"  # a directory cannot be created below a file
    with pytest.raises(StoreError) as e:
        Store(path)
    assert str(blocker / "sub") in str(e.value) and "--db" in str(e.value)


def test_directory_as_database_is_refused(tmp_path):
    with pytest.raises(StoreError, match="is a directory.*--db"):
        Store(tmp_path)


def test_closed_store_says_so(db):
    s = Store(db)
    s.close()
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.summaries()


def test_version_1_database_gains_the_failures_gpu_seconds_column(tmp_path):
    # schema 1 is schema 3 without failures.gpu_seconds and summaries.ci95_rel: make one, with a run and a failure
    old = tmp_path / "v1.db"
    with Store(old) as s:
        s.add_run(run())
        s.save_task(*task())
    conn = sqlite3.connect(old)
    conn.execute("ALTER TABLE failures DROP COLUMN gpu_seconds")
    conn.execute("ALTER TABLE summaries DROP COLUMN ci95_rel")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.commit()
    before = conn.execute("SELECT model, stage, reason FROM failures").fetchall()
    conn.close()
    assert before
    with Store.open_readonly(old) as s:  # only a column was added since: read as it is, without writing
        fails = s.failures()
        assert [(f["model"], f["stage"], f["reason"]) for f in fails] == before
        assert all(f["gpu_seconds"] is None for f in fails) and len(s.summaries()) == 1
    assert sqlite3.connect(old).execute("PRAGMA user_version").fetchone()[0] == 1
    with Store(old) as s:
        assert s.meta()["schema_version"] == str(SCHEMA_VERSION) == "4" and "migrated_to_2" in s.meta()
        fails = s.failures()
        assert [(f["model"], f["stage"], f["reason"]) for f in fails] == before
        assert all(f["gpu_seconds"] is None for f in fails)


def test_crash_ceilings_are_the_largest_batch_that_worked_below_each_crash(tmp_path):
    from joulebench.store.records import BatchMeasurement, Failure

    def attempt(store, run_id, model, worked, crashed):
        base = dict(run_id=run_id, model=model, img_size=224, runtime="compile-fp16")
        rows = [BatchMeasurement(**base, precision="fp16", batch_size=b, energy_per_image_j=0.1) for b in worked]
        rows.append(BatchMeasurement(**base, precision="fp16", batch_size=crashed * 2, status="oom"))  # not "worked"
        crash = Failure(**base, stage="crash", reason="worker crashed", batch_size=crashed, occurred_at="now")
        store.save_task(rows, None, [crash])

    with Store(tmp_path / "jb.db") as store:
        store.add_run(run("r1", config={"search": "plateau"}))
        store.add_run(run("r2", config={"search": "plateau"}))
        store.add_run(run("r3", gpu="NVIDIA A100", config={"search": "plateau"}))
        attempt(store, "r1", "a", [1, 2, 8], 16)
        attempt(store, "r2", "a", [1, 4], 8)  # crashed lower the second time: the lower ceiling holds
        attempt(store, "r1", "b", [], 1)  # nothing worked: no ceiling
        attempt(store, "r3", "c", [1, 2], 4)
        store.save_task([], None, [Failure("r1", "d", 224, "compile-fp16", "worker", "exit status 1", batch_size=None)])
        key = ("a", 224, "compile-fp16")
        assert store.crash_ceilings(gpu_name="NVIDIA H200") == {key: (4, 8)}
        assert store.crash_ceilings(meter="nvml") == {key: (4, 8), ("c", 224, "compile-fp16"): (2, 4)}
        assert store.crash_ceilings(config_hash="another-protocol") == {}

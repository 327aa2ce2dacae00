"""Nothing measured is lost: every batch is stored as it is measured, and a stopped task resumes from them."""

from __future__ import annotations

import pytest

from joulebench.store.db import Store
from joulebench.sweep import prepare_sweep, run_sweep
from joulebench.sweep.tasks import SweepOptions, TaskResult
from joulebench.sweep.worker import execute_task

OPTS = SweepOptions(
    meter="sim", warmup_s=0.01, min_window_s=0.05, min_iters=2, precision=None, idle_s=0.05, max_batch=8
)


class InProcess:
    """A runner that measures in this process, stopping after ``stop_after`` new batches (a deadline, Ctrl-C)."""

    def __init__(self, stop_after: int | None = None):
        self.stop_after = stop_after
        self.measured: list[tuple[int, str]] = []
        self.resumed: list[tuple[int, str]] = []

    def __call__(self, task, device, on_event=None, stop=None, kill=None) -> TaskResult:
        def emit(ev):
            if ev["type"] == "measurement":
                self.measured.append((ev["row"]["batch_size"], ev["row"]["trace_summary"]["phase"]))
            if ev["type"] == "resumed":
                self.resumed.append((ev["batch"], ev["phase"]))
            if on_event is not None:
                on_event(ev)  # the executor binds the device and task

        def should_stop() -> bool:
            return self.stop_after is not None and len(self.measured) >= self.stop_after

        return execute_task(task, emit=emit, should_stop=should_stop)


@pytest.mark.slow
def test_a_stopped_task_keeps_its_batches_and_the_next_run_resumes_from_them(tmp_path):
    db = tmp_path / "r.db"
    first = InProcess(stop_after=3)
    report = run_sweep(prepare_sweep(["test_vit"], ["cpu-fp32"], OPTS, img_size=64), db, runner=first)
    assert report.results[0].interrupted and len(first.measured) == 3
    with Store(db) as store:
        assert store.summaries() == []  # no summary until the search completes
        kept = [(r["batch_size"], r["trace_summary"]["phase"]) for r in store.measurements()]
    assert kept == first.measured  # ... but every batch it measured is stored

    second = InProcess()
    report = run_sweep(prepare_sweep(["test_vit"], ["cpu-fp32"], OPTS, img_size=64), db, runner=second)
    [summary] = report.summaries
    assert second.resumed == first.measured  # taken as measured, not measured again
    assert not set(second.measured) & set(first.measured)
    with Store(db) as store:
        rows = store.measurements()
        [stored] = store.summaries()
    pairs = [(r["batch_size"], r["trace_summary"]["phase"]) for r in rows]
    assert sorted(pairs) == sorted(first.measured + second.measured)  # each batch once, none lost
    assert stored["optimal_batch"] == summary.optimal_batch and stored["status"] == "ok"


@pytest.mark.slow
def test_force_measures_everything_again(tmp_path):
    db = tmp_path / "r.db"
    run_sweep(prepare_sweep(["test_vit"], ["cpu-fp32"], OPTS, img_size=64), db, runner=InProcess(stop_after=2))
    again = InProcess()
    run_sweep(prepare_sweep(["test_vit"], ["cpu-fp32"], OPTS, img_size=64), db, runner=again, force=True)
    assert again.resumed == [] and len(again.measured) > 2


def _stored_batches(db) -> int:
    import sqlite3

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute("SELECT COUNT(*) FROM measurements").fetchone()[0]
    except sqlite3.OperationalError:  # the tables are not created yet
        return 0
    finally:
        con.close()


@pytest.mark.slow
def test_sigterm_is_handled_as_ctrl_c(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    db, tmp = tmp_path / "r.db", tmp_path / "tmp"
    tmp.mkdir()
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src, "TMPDIR": str(tmp), "JOULEBENCH_DB": ""}
    cmd = [sys.executable, "-m", "joulebench", "measure", "test_vit", "test_resnet", "--runtime", "cpu-fp32",
           "--meter", "sim", "--img-size", "64", "--min-window", "1s", "--warmup", "0.1s", "--idle", "0.1s",
           "--max-batch", "64", "--db", str(db)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until a batch is stored, then stop it as a scheduler would
        time.sleep(0.2)
        if db.exists() and _stored_batches(db):
            break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "interrupted" in err and "SIGTERM" in err
    with Store(db) as store:
        [run] = store.runs()
        assert run["status"] == "interrupted" and store.measurements()
    assert not list(tmp.glob("joulebench-task-*"))  # the worker's task folders are gone

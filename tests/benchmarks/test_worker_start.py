"""benchmarks/worker_start.py: per task, the time from hand-over to the first window; the table of both modes."""

from __future__ import annotations

import json

import pytest

from benchmark_script import load_benchmark
from joulebench.store.records import ModelSummary
from joulebench.sweep.tasks import Task, TaskResult


@pytest.fixture
def script():
    return load_benchmark("worker_start")


def test_each_task_is_timed_from_its_hand_over_to_its_first_window(script, monkeypatch):
    clock = iter([11.0, 12.5, 13.0, 20.0, 20.5, 21.0])
    monkeypatch.setattr(script.time, "monotonic", lambda: next(clock))
    timed = script.ModeRun("fork", t0=10.0)
    task = Task(run_id="r", spec={"model": "m", "img_size": 64}, runtime="cpu-fp32")
    for ev in ["task_start", "measurement", "measurement", "task_start", "stage", "measurement"]:
        timed.on_event(None, task, {"type": ev})  # at 11, 12.5, 13, 20, 20.5, 21
    summary = ModelSummary("r", "m", 64, "cpu-fp32", "fp32", status="ok")
    timed.results = [TaskResult(task, summary=summary, gpu_seconds=s) for s in (2.0, 4.0)]
    row = timed.row()
    assert row["before_first_task_s"] == 1.0 and row["first_window_s_mean"] == 1.25 and row["first_window_s_max"] == 1.5
    assert row["gpu_s_mean"] == 3.0 and row["gpu_s_max"] == 4.0 and row["ok"] == 2
    lines = script.table([row, {**row, "mode": "fresh", "wall_s": None}]).splitlines()
    assert lines[0].split()[:3] == ["mode", "tasks", "ok"] and set(lines[1]) == {"-"}
    assert lines[2].split()[:4] == ["fork", "2", "2", "1.00"] and lines[3].split()[-1] == "-"


@pytest.mark.slow
def test_the_benchmark_runs_both_modes_on_the_cpu(script, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OUT", str(tmp_path))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert script.main(["--tasks", "1", "--max-batch", "2"]) == 0
    rows = json.loads((tmp_path / "worker_start.json").read_text())["rows"]
    assert [(r["mode"], r["tasks"], r["ok"]) for r in rows] == [("fork", 1, 1), ("fresh", 1, 1)]
    assert rows[0]["messages"] == [] and "GPU-s/task mean" in capsys.readouterr().out

"""Worker supervision (crash, hang, partial rows), the task API's round trips and the local executor."""

from __future__ import annotations

import json
import pickle
import stat
import sys
import threading
import time
from pathlib import Path

from joulebench.store.records import BatchMeasurement, ModelSummary
from joulebench.sweep.executors import EXECUTORS, get_executor
from joulebench.sweep.tasks import SweepOptions, Task, TaskResult
from joulebench.sweep.worker import run_task

SPEC = {
    "model": "test_vit.r160_in1k",
    "arch": "test_vit",
    "tag": "r160_in1k",
    "img_size": 64,
    "input_shape": [3, 64, 64],
    "custom": False,
    "weights": None,
    "default_img_size": 160,
}


def _task(timeout_s=30.0, **opts):
    return Task(
        run_id="run1", spec=SPEC, runtime="cpu-fp32", options=SweepOptions(meter="sim", **opts), timeout_s=timeout_s
    )


def _fake_python(tmp_path: Path, body: str) -> str:
    """An executable standing in for the worker's interpreter (args: -m module TASK --event-fd N)."""
    path = tmp_path / "fakepython"
    path.write_text(f"#!{sys.executable}\nimport os, sys, json, time\nfd = int(sys.argv[-1])\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_task_round_trips_through_json_and_pickle():
    t = _task(max_batch=8, precision=0.01, tf32="off")
    assert Task.from_dict(json.loads(t.to_json())) == t
    assert pickle.loads(pickle.dumps(t)) == t
    assert t.key == ("test_vit.r160_in1k", 64, "cpu-fp32")
    r = TaskResult(t, [BatchMeasurement("run1", t.model, 64, "cpu-fp32", "fp32", 4, energy_per_image_j=0.1)])
    r.summary = ModelSummary("run1", t.model, 64, "cpu-fp32", "fp32", optimal_batch=4)
    back = TaskResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back.measurements == r.measurements and back.summary == r.summary and back.task == t


def test_a_crashing_worker_becomes_a_failure_row(tmp_path):
    res = run_task(_task(), python=_fake_python(tmp_path, "os._exit(7)"))
    assert not res.ok and res.summary.status == "failed"
    assert "exit status 7" in res.summary.error
    assert [f.stage for f in res.failures] == ["worker"]


def test_rows_streamed_before_a_crash_are_kept(tmp_path):
    row = BatchMeasurement("run1", SPEC["model"], 64, "cpu-fp32", "fp32", 2, energy_per_image_j=0.5).to_dict()
    body = (
        f"os.write(fd, (json.dumps({{'type': 'measurement', 'row': {row!r}}}) + '\\n').encode())\n"
        "os.kill(os.getpid(), 9)"
    )
    res = run_task(_task(), python=_fake_python(tmp_path, body))
    assert [m.batch_size for m in res.measurements] == [2]
    assert "signal 9" in res.summary.error
    # the partial batch still shows in the failed summary's figures
    assert res.summary.optimal_batch == 2 and res.summary.status == "failed"


def test_a_hanging_worker_is_killed_at_the_timeout(tmp_path):
    res = run_task(_task(timeout_s=1.0), python=_fake_python(tmp_path, "time.sleep(120)"))
    assert res.failures[-1].stage == "timeout"
    assert "timeout" in res.summary.error and res.summary.status == "failed"


def test_stop_interrupts_a_worker(tmp_path):
    stop = threading.Event()
    stop.set()
    body = "import signal\nsignal.signal(signal.SIGINT, lambda *a: os._exit(0))\ntime.sleep(120)"
    res = run_task(_task(), python=_fake_python(tmp_path, body), stop=stop)
    assert res.interrupted


def test_kill_ends_a_worker_that_ignores_the_stop_request(tmp_path):
    # A worker inside torch.compile cannot stop after a batch; the deadline's grace period sets ``kill``.
    stop, kill = threading.Event(), threading.Event()

    def ready(ev):  # the worker ignores SIGINT from now on: ask it to stop, then kill it half a second later
        stop.set()
        threading.Timer(0.5, kill.set).start()

    body = (
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        'os.write(fd, b\'{"type": "compiling"}\\n\')\ntime.sleep(120)'
    )
    t0 = time.monotonic()
    res = run_task(_task(), python=_fake_python(tmp_path, body), on_event=ready, stop=stop, kill=kill)
    assert res.interrupted and res.failures[-1].stage == "interrupted"
    assert "killed before it stopped" in res.summary.error
    assert time.monotonic() - t0 < 30  # not the 60 s the stop request alone would wait


def test_local_executor_spreads_tasks_over_devices_and_sinks_on_the_caller_thread():
    seen_devices: list[int | None] = []
    sink_threads: set[str] = set()
    lock = threading.Lock()

    def runner(task, device, on_event=None, stop=None, kill=None):
        with lock:
            seen_devices.append(device)
        on_event({"type": "batch", "batch": 1})
        return TaskResult(task, summary=ModelSummary(task.run_id, task.model, 64, task.runtime, "fp32"))

    tasks = [Task(run_id="r", spec={**SPEC, "model": f"m{i}"}, runtime="cpu-fp32") for i in range(6)]
    results: list[TaskResult] = []
    events: list[tuple] = []

    def sink(r):
        sink_threads.add(threading.current_thread().name)
        results.append(r)

    ex = get_executor("local", [0, 1, 2], runner=runner)
    ex.run(tasks, sink, on_event=lambda d, t, ev: events.append((d, t.model, ev["type"])))
    assert sorted(r.task.model for r in results) == [f"m{i}" for i in range(6)]
    assert sink_threads == {threading.current_thread().name}
    assert set(seen_devices) <= {0, 1, 2} and len(seen_devices) == 6
    assert {e[2] for e in events} == {"task_start", "batch"}
    assert "local" in EXECUTORS


def test_worker_env_pins_the_device(monkeypatch):
    from joulebench.sweep.worker import DEVICE_ENV, _worker_env

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    env = _worker_env(3)
    assert env["CUDA_VISIBLE_DEVICES"] == "3" and env[DEVICE_ENV] == "3"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
    assert _worker_env(1)["CUDA_VISIBLE_DEVICES"] == "6"  # indices are as the driver sees them

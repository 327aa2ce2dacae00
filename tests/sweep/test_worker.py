"""Worker supervision (crash, hang, partial rows), the task API's round trips and the local executor."""

from __future__ import annotations

import json
import pickle
import stat
import sys
import threading
import time
from pathlib import Path

import pytest

from joulebench.store.records import BatchMeasurement, ModelSummary
from joulebench.sweep.executors import EXECUTORS, get_executor
from joulebench.sweep.tasks import SweepOptions, Task, TaskResult
from joulebench.sweep.worker import failed_result, merge_attempts, retry_after_crash, run_task

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


@pytest.mark.slow
def test_a_hanging_worker_is_killed_at_the_timeout(tmp_path):
    res = run_task(_task(timeout_s=1.0), python=_fake_python(tmp_path, "time.sleep(120)"))
    assert res.failures[-1].stage == "timeout"
    assert "timeout" in res.summary.error and res.summary.status == "failed"
    # the row keeps how long the worker ran, so the next run's deadline planner knows it needs longer
    assert res.failures[-1].gpu_seconds == res.gpu_seconds and 1.0 < res.gpu_seconds < 60.0


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


def _row(batch, status="ok", measured_at=None):
    return BatchMeasurement(
        "run1", SPEC["model"], 64, "cpu-fp32", "fp32", batch, status=status, energy_per_image_j=0.5,
        measured_at=measured_at,
    )  # fmt: skip


def _crashed_at(task, batch, worked=(1, 2, 4)):
    rows = [_row(b) for b in worked]
    return failed_result(
        task, "crash", f"worker crashed at batch {batch}", measurements=rows, gpu_seconds=5.0, batch=batch
    )


def test_a_worker_killed_while_measuring_a_batch_records_that_batch(tmp_path):
    rows = [_row(b).to_dict() for b in (1, 2)]
    body = "".join(
        f"os.write(fd, (json.dumps({ev!r}) + '\\n').encode())\n"
        for ev in [
            {"type": "batch", "batch": 1, "phase": "scout"},
            {"type": "measurement", "row": rows[0]},
            {"type": "batch", "batch": 2, "phase": "scout"},
            {"type": "measurement", "row": rows[1]},
            {"type": "batch", "batch": 4, "phase": "scout"},
        ]
    )
    res = run_task(_task(), python=_fake_python(tmp_path, body + "os.kill(os.getpid(), 9)"))
    [crash] = res.failures
    assert crash.stage == "crash" and crash.batch_size == 4
    assert crash.reason.startswith("worker crashed (killed by signal 9) at batch 4 (scout) before finishing; a SIGKILL")
    retry = retry_after_crash(res)
    assert retry.options.max_batch == 2 and retry.options.start_batch == 1 and retry.key == res.task.key
    # a worker that exits between batches has no batch to blame: a plain worker failure, not retried
    res = run_task(_task(), python=_fake_python(tmp_path, body.rsplit("os.write", 1)[0] + "os._exit(3)"))
    assert [(f.stage, f.batch_size) for f in res.failures] == [("worker", None)]
    assert "SIGKILL" not in res.failures[0].reason and retry_after_crash(res) is None


def test_a_crash_is_retried_only_below_batches_that_worked_and_only_lower_than_the_task_cap():
    assert retry_after_crash(_crashed_at(_task(), 8)).options.max_batch == 4
    assert retry_after_crash(_crashed_at(_task(), 4)).options.max_batch == 2  # a crash in the full phase at 4
    assert retry_after_crash(_crashed_at(_task(), 1, worked=())) is None  # nothing ran: the model itself fails
    assert retry_after_crash(_crashed_at(_task(max_batch=4), 8)) is None  # already capped there: no second retry
    capped = retry_after_crash(_crashed_at(_task(max_batch=16, start_batch=8), 16, worked=(1, 2)))
    assert capped.options.max_batch == 2 and capped.options.start_batch == 2
    ok = TaskResult(_task(), [_row(1)], ModelSummary("run1", SPEC["model"], 64, "cpu-fp32", "fp32", status="ok"))
    assert retry_after_crash(ok) is None


def test_merging_attempts_keeps_every_row_the_retry_summary_and_both_costs():
    first = _crashed_at(_task(), 8)
    retry_task = retry_after_crash(first)
    second = TaskResult(
        retry_task,
        [_row(1, measured_at="later"), _row(4, measured_at="later")],  # measured again (not resumed)
        ModelSummary("run1", SPEC["model"], 64, "cpu-fp32", "fp32", status="ok"),
        gpu_seconds=7.0,
    )
    merged = merge_attempts(first, second)
    assert merged.ok and merged.task == first.task  # saved under the task as planned, not the capped copy
    assert [m.batch_size for m in merged.measurements] == [1, 2, 4, 1, 4]
    assert [f.stage for f in merged.failures] == ["crash"]
    assert merged.gpu_seconds == 12.0 and merged.summary.gpu_seconds == 12.0
    second.interrupted = True
    assert merge_attempts(first, second) is first  # an interrupted retry is not saved; the crash row is


def test_local_executor_retries_a_crash_at_once_on_the_same_device_unless_no_time_is_left():
    calls: list[tuple[int | None, int | None]] = []

    def runner(task, device, on_event=None, stop=None, kill=None):
        calls.append((device, task.options.max_batch))
        if task.options.max_batch is None:
            return _crashed_at(task, 8)
        summary = ModelSummary("run1", task.model, 64, task.runtime, "fp32", status="ok")
        return TaskResult(task, [_row(4)], summary, gpu_seconds=1.0)

    results, events = [], []
    get_executor("local", [3], runner=runner).run(
        [_task()], results.append, on_event=lambda d, t, ev: events.append(ev)
    )
    assert calls == [(3, None), (3, 4)]
    [res] = results
    assert res.ok and [f.stage for f in res.failures] == ["crash"] and res.gpu_seconds == 6.0
    assert [ev.get("retry") for ev in events] == [None, "max batch 4: the worker crashed at batch 8"]

    calls.clear()
    results, deferred = [], []
    get_executor("local", [3], runner=runner).run(
        [_task()], results.append, admit=lambda t: t.options.max_batch is None, on_deferred=deferred.append
    )
    assert calls == [(3, None)] and not results[0].ok  # the crash is saved; its retry waits for the next run
    assert [t.options.max_batch for t in deferred] == [4]

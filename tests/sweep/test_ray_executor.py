"""The ``ray`` executor on a small local Ray cluster with fake GPUs: streaming, retries, resume, provenance."""

from __future__ import annotations

import functools
import inspect
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from joulebench.errors import ConfigError, MissingDependencyError
from joulebench.store.db import Store
from joulebench.store.records import BatchMeasurement, ModelSummary
from joulebench.sweep import SweepOptions, prepare_sweep, run_sweep
from joulebench.sweep.executors import EXECUTORS, get_executor
from joulebench.sweep.ray_executor import RayExecutor, import_ray, stamp_provenance, task_needs_gpu
from joulebench.sweep.tasks import Task, TaskResult

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow  # a local Ray cluster per module, and workers as subprocesses

# Short windows: these tests check the plumbing, not the numbers.
FAST = SweepOptions(
    meter="sim",
    warmup_s=0.0,
    warmup_min_iters=1,
    min_window_s=0.02,
    min_iters=1,
    idle_s=0.02,
    max_batch=1,
    latency_budget_s=None,
)


@pytest.fixture(scope="module")
def cluster():
    """One local Ray cluster for the module: 2 CPUs, 2 fake GPUs, no dashboard, a small object store."""
    # The runners below live in this test module, which Ray workers cannot import: ship them by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(
        num_cpus=2,
        num_gpus=2,
        include_dashboard=False,
        object_store_memory=100 * 1024**2,
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        yield ray
    finally:
        ray.shutdown()


# ------------------------------------------------------------------------------------ runners (in Ray)


def _ok_result(task: Task, gpu_uuid: str | None = "SIM-0", **trace) -> TaskResult:
    """A finished result without running a model (for the tests that exercise only the executor)."""
    base = dict(run_id=task.run_id, model=task.model, img_size=task.img_size, runtime=task.runtime, precision="fp32")
    m = BatchMeasurement(
        **base, batch_size=1, gpu_uuid=gpu_uuid, meter="sim", energy_per_image_j=1.0, trace_summary=trace
    )
    s = ModelSummary(**base, status="ok", gpu_uuid=gpu_uuid, meter="sim", optimal_batch=1, energy_per_image_j=1.0)
    return TaskResult(task, [m], s, [])


def kill_first_attempt(task, device_index, *, marker_dir, inner=None, **kw):
    """Kill this Ray worker the first time a task runs (marker file), then run it normally."""
    marker = Path(marker_dir) / f"{task.model}-{task.runtime}.attempts"
    with marker.open("a") as f:
        f.write(f"{os.getpid()}\n")
    if len(marker.read_text().splitlines()) == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    if inner is None:
        from joulebench.sweep.worker import run_task

        return run_task(task, device_index, **kw)
    return inner(task, device_index, **kw)


def always_kill(task, device_index, **kw):
    os.kill(os.getpid(), signal.SIGKILL)


def fake_run(task, device_index, *, marker_dir=None, hold_s=0.0, holds=None, stop=None, **kw):
    """Pretend to measure for ``hold_s`` (per model: ``holds``), noting the run and the GPU Ray granted.

    Like ``run_task``, a set ``stop`` ends it early with an interrupted result.
    """
    if marker_dir is not None:
        with (Path(marker_dir) / f"{task.model}-{task.runtime}.runs").open("a") as f:
            f.write("run\n")
    hold = (holds or {}).get(task.model.split(".")[0], hold_s)
    t0 = time.time()
    while time.time() - t0 < hold:
        if stop is not None and stop.is_set():
            out = _ok_result(task)
            out.interrupted = True
            return out
        time.sleep(0.05)
    return _ok_result(
        task,
        gpu_uuid=None if task.runtime != "cpu-fp32" else "SIM-0",
        cvd=os.environ.get("CUDA_VISIBLE_DEVICES"),
        t0=t0,
        t1=time.time(),
    )


def crash_above_two(task, device_index, **kw):
    """Die at batch 4 (as run_task reports a worker killed there) unless the search is capped below it."""
    if task.options.max_batch is None:
        from joulebench.sweep.worker import failed_result

        rows = [_ok_result(task).measurements[0], replace(_ok_result(task).measurements[0], batch_size=2)]
        return failed_result(task, "crash", "worker crashed at batch 4", measurements=rows, gpu_seconds=3.0, batch=4)
    out = _ok_result(task, cap=task.options.max_batch)
    out.gpu_seconds = 2.0
    return out


def raising_run(task, device_index, **kw):
    raise RuntimeError("a bug in the runner")


# ------------------------------------------------------------------------------------ helpers


def _tasks(models, runtime="cpu-fp32", run_id="r1"):
    return [
        Task(run_id=run_id, spec={"model": m, "img_size": 32}, runtime=runtime, options=FAST, timeout_s=60)
        for m in models
    ]


def _prepare(models, runtimes, options, **kw):
    """``prepare_sweep`` as ``measure --executor ray`` calls it (once the sweep takes ``executor``)."""
    if "executor" in inspect.signature(prepare_sweep).parameters:
        kw["executor"] = "ray"
    return prepare_sweep(models, runtimes, options, **kw)


def _summaries(db):
    with Store(db) as store:
        return store.summaries()


# ------------------------------------------------------------------------------------ tests


def test_registered_and_ray_missing_is_a_clear_error(monkeypatch):
    assert "ray" in EXECUTORS
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees when it is not installed
    with pytest.raises(MissingDependencyError) as e:
        import_ray()
    assert "pip install 'joulebench[ray]'" in str(e.value)
    with pytest.raises(MissingDependencyError, match=r"--executor ray needs the Python package 'ray'"):
        get_executor("ray", [None])


def test_task_resources_follow_the_runtime():
    cpu, gpu = _tasks(["a"])[0], _tasks(["a"], runtime="torch-fp16")[0]
    onnx_cpu = Task(
        run_id="r", spec={"model": "a", "img_size": 32}, runtime="onnxruntime", runtime_options={"provider": "cpu"}
    )
    assert not task_needs_gpu(cpu)
    assert task_needs_gpu(gpu)
    assert not task_needs_gpu(onnx_cpu)


def test_retry_prefers_a_node_where_the_task_has_not_died():
    nodes = [
        {"NodeID": "a", "Alive": True, "Resources": {"GPU": 8.0, "CPU": 8.0}},
        {"NodeID": "b", "Alive": True, "Resources": {"GPU": 4.0, "CPU": 8.0}},
        {"NodeID": "c", "Alive": False, "Resources": {"GPU": 8.0}},
        {"NodeID": "d", "Alive": True, "Resources": {"CPU": 8.0}},
    ]

    class FakeRay:
        @staticmethod
        def nodes():
            return nodes

    assert RayExecutor._other_node(FakeRay, ["a"], gpu=True) == "b"
    assert RayExecutor._other_node(FakeRay, ["a", "b"], gpu=True) is None  # only a dead node is left
    assert RayExecutor._other_node(FakeRay, ["a", "b"], gpu=False) == "d"


def test_provenance_names_node_and_keeps_the_meters_uuid():
    t = _tasks(["a"])[0]
    r = stamp_provenance(_ok_result(t, gpu_uuid=None), "host/abc", "GPU-1234")
    assert r.summary.node == "host/abc" and r.summary.gpu_uuid == "GPU-1234"
    assert r.measurements[0].gpu_uuid == "GPU-1234"
    r = stamp_provenance(_ok_result(t, gpu_uuid="GPU-meter"), "host/abc", "GPU-other")
    assert r.summary.gpu_uuid == "GPU-meter" and r.measurements[0].gpu_uuid == "GPU-meter"


def test_gpu_tasks_each_own_one_gpu_and_stream_back(cluster):
    tasks = _tasks(["m0", "m1", "m2", "m3"], runtime="torch-fp32")
    got: list[TaskResult] = []
    events: list[tuple] = []
    runner = functools.partial(fake_run, hold_s=1.0)
    RayExecutor(runner=runner, retries=0).run(
        tasks, got.append, on_event=lambda d, t, e: events.append((d, t.model, e))
    )
    assert sorted(r.task.model for r in got) == ["m0", "m1", "m2", "m3"]
    node_id = ray.get_runtime_context().get_node_id()
    spans = []
    for r in got:
        assert r.summary.node == f"{socket.gethostname()}/{node_id[:12]}"
        cvd = r.measurements[0].trace_summary["cvd"]
        assert cvd in ("0", "1")  # Ray pinned the worker subprocess to one GPU
        spans.append((r.measurements[0].trace_summary["t0"], r.measurements[0].trace_summary["t1"], cvd))
    # Tasks that overlapped in time held different GPUs.
    for a in spans:
        for b in spans:
            if a is not b and a[0] < b[1] and b[0] < a[1]:
                assert a[2] != b[2]
    starts = [e for e in events if e[2]["type"] == "task_start"]
    assert len(starts) == 4 and all(d is not None for d, _, _ in starts)


def test_gpu_sweep_on_a_cluster_without_gpu_is_refused(cluster, monkeypatch):
    monkeypatch.setattr(cluster, "cluster_resources", lambda: {"CPU": 2.0})
    with pytest.raises(ConfigError, match="no GPU"):
        RayExecutor(runner=fake_run).run(_tasks(["a"], runtime="torch-fp16"), lambda r: None)


def test_worker_that_keeps_dying_is_recorded_failed_with_the_reason(cluster, tmp_path):
    db = tmp_path / "jb.db"
    from joulebench.store.records import RunRecord

    with Store(db) as store:
        store.add_run(RunRecord(run_id="r1", started_at="2026-01-01T00:00:00", meter="sim"))
        ex = RayExecutor(runner=always_kill, retries=1)
        ex.run(_tasks(["doomed"]), lambda r: store.save_task(r.measurements, r.summary, r.failures))
        (s,) = store.summaries()
        (f,) = store.failures()
    assert s["status"] == "failed" and "died 2 time(s)" in s["error"]
    assert f["stage"] == "ray" and "WorkerCrashedError" in f["reason"]


def test_a_crash_at_a_batch_is_retried_once_below_it_and_saved_as_one_result(cluster):
    got: list[TaskResult] = []
    events: list[dict] = []
    tasks = [replace(t, options=replace(FAST, max_batch=None)) for t in _tasks(["greedy"])]
    RayExecutor(runner=crash_above_two, retries=0).run(tasks, got.append, on_event=lambda d, t, e: events.append(e))
    (r,) = got
    assert r.ok and r.task == tasks[0] and r.measurements[-1].trace_summary == {"cap": 2}
    assert [m.batch_size for m in r.measurements] == [1, 2, 1] and [f.stage for f in r.failures] == ["crash"]
    assert r.gpu_seconds == 5.0
    starts = [e for e in events if e["type"] == "task_start"]
    assert [e.get("retry") for e in starts] == [None, "max batch 2: the worker crashed at batch 4"]


def test_runner_exception_is_a_failure_not_a_retry(cluster):
    got: list[TaskResult] = []
    RayExecutor(runner=raising_run, retries=3).run(_tasks(["buggy"]), got.append)
    (r,) = got
    assert r.summary.status == "failed" and "a bug in the runner" in r.summary.error
    assert [f.stage for f in r.failures] == ["ray"]


@pytest.mark.slow
def test_killed_worker_is_retried_and_every_model_stored_once(cluster, tmp_path):
    """End to end: real worker subprocesses, CPU runtime, sim meter; each task's first Ray worker is killed."""
    db = tmp_path / "jb.db"
    plan = _prepare(["test_vit", "test_resnet"], ["cpu-fp32"], FAST, timeout_s=240)
    runner = functools.partial(kill_first_attempt, marker_dir=str(tmp_path))
    report = run_sweep(plan, db, executor="ray", runner=runner)
    rows = _summaries(db)
    assert sorted(r["model"] for r in rows) == sorted(t.model for t in plan.tasks)  # each exactly once
    assert all(r["status"] == "ok" and r["node"] and r["gpu_uuid"] == "SIM-0" for r in rows), rows
    for t in plan.tasks:  # killed once, then run again
        assert len((tmp_path / f"{t.model}-cpu-fp32.attempts").read_text().splitlines()) == 2
    with Store(db) as store:
        assert store.count("measurements") >= len(plan.tasks)
        assert store.failures() == []
    assert not report.interrupted


def test_stopped_driver_resumes_without_redoing_or_losing_work(cluster, tmp_path):
    db = tmp_path / "jb.db"
    models = ["test_vit", "test_resnet", "test_convnext"]
    first = _prepare(models, ["cpu-fp32"], FAST)

    class StopAfterFirst:
        """A progress display whose user presses Ctrl-C once the first model is saved."""

        def __init__(self):
            self.n = 0

        def start(self, total, skipped=0):
            pass

        def event(self, device, task, ev):
            pass

        def finished(self, result):
            self.n += 1
            if self.n == 1:
                raise KeyboardInterrupt

        def message(self, text):
            pass

        def stop(self):
            pass

    # The first model finishes quickly; the others are still running (or queued) when Ctrl-C comes.
    runner = functools.partial(fake_run, marker_dir=str(tmp_path), hold_s=30.0, holds={"test_vit": 0.2})
    report = run_sweep(first, db, executor="ray", runner=runner, progress=StopAfterFirst())
    assert report.interrupted
    saved = {r["model"] for r in _summaries(db)}
    assert saved == {"test_vit.r160_in1k"}  # interrupted models were not saved

    again = _prepare(models, ["cpu-fp32"], FAST)  # a new driver process would do the same
    runner = functools.partial(fake_run, marker_dir=str(tmp_path), hold_s=0.2)
    report2 = run_sweep(again, db, executor="ray", runner=runner)
    assert {k[0] for k in report2.skipped} == saved
    rows = _summaries(db)
    assert sorted(r["model"] for r in rows) == sorted(t.model for t in again.tasks)  # none lost, none twice
    for m in saved:  # finished work was not measured again
        assert len((tmp_path / f"{m}-cpu-fp32.runs").read_text().splitlines()) == 1


def test_stop_reaches_running_tasks_which_return_unsaved(cluster):
    """``stop`` (Ctrl-C) reaches a running task through the channel; its interrupted result is marked so."""
    got: list[TaskResult] = []
    stop = threading.Event()

    def on_event(device, task, ev):
        if ev["type"] == "task_start":  # the user presses Ctrl-C once the model is running
            stop.set()

    RayExecutor(runner=wait_for_stop, retries=0).run(_tasks(["slow"]), got.append, on_event=on_event, stop=stop)
    (r,) = got
    assert r.interrupted and r.summary.error == "stopped"


def wait_for_stop(task, device_index, *, stop, kill, **kw):
    """Runs until asked to stop, then returns an interrupted result (as run_task does)."""
    from joulebench.sweep.worker import failed_result

    deadline = time.time() + 60
    while not stop.is_set() and time.time() < deadline:
        time.sleep(0.05)
    out = failed_result(task, "interrupted", "stopped")
    out.interrupted = True
    return out

"""--deadline: start only the tasks expected to finish in time, stop the rest at the deadline."""

from __future__ import annotations

import threading
import time

import pytest

from joulebench.store.db import Store
from joulebench.store.records import BatchMeasurement, ModelSummary, RunRecord, config_hash
from joulebench.sweep import TaskCosts, prepare_sweep, run_sweep
from joulebench.sweep.executors import LocalExecutor
from joulebench.sweep.tasks import SweepOptions, Task, TaskResult

OPTS = SweepOptions(meter="sim", min_window_s=0.2, warmup_s=0.05, min_iters=3, idle_s=0.1, max_batch=4)
MODELS = ["test_vit", "test_resnet", "test_convnext"]


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _ok(task: Task, seconds: float, interrupted: bool = False) -> TaskResult:
    base = dict(run_id=task.run_id, model=task.model, img_size=task.img_size, runtime=task.runtime, precision="fp32")
    m = BatchMeasurement(**base, batch_size=1, meter="sim", energy_per_image_j=1.0)
    s = ModelSummary(**base, status="ok", meter="sim", optimal_batch=1, energy_per_image_j=1.0, gpu_seconds=seconds)
    return TaskResult(task, [m], s, [], interrupted=interrupted, gpu_seconds=seconds)


def _progress(messages: list[str]):
    """A progress sink that keeps the sweep's messages and ignores the rest."""
    progress = type("P", (), {})()
    progress.message = messages.append
    for name in ("start", "stop", "event"):
        setattr(progress, name, lambda *a, **k: None)
    progress.finished = lambda result: None
    return progress


def _until_stopped(seconds: float):
    """A runner whose task waits for the deadline's stop, then returns unfinished after ``seconds``."""

    def runner(task, device, on_event=None, stop=None, kill=None):
        assert stop.wait(30), "the deadline never stopped the task"
        return _ok(task, seconds, interrupted=True)

    return runner


def _seed(db, plan, seconds):
    """Results of an earlier sweep under the same protocol, on the same GPU model, costing ``seconds`` each."""
    gpu = plan.gpu_facts[0]["gpu_name"]
    with Store(db) as store:
        store.add_run(RunRecord(run_id="old", started_at="2026-11-01T00:00:00", meter="sim", config=OPTS.to_config()))
        for i, s in enumerate(seconds):
            base = dict(run_id="old", model=f"old{i}", img_size=32, runtime="cpu-fp32", precision="fp32")
            store.save_task([], ModelSummary(**base, status="ok", meter="sim", gpu_name=gpu, gpu_seconds=s), [])


def test_costs_are_the_75th_percentile_per_runtime():
    costs = TaskCosts({"a": [100.0, 120.0, 140.0]})
    assert costs.estimate("a") == pytest.approx(130.0) and costs.estimate("b") is None
    costs.add("a", 100.0)
    costs.add("b", 7.0)
    assert costs.estimate("a") == pytest.approx(125.0) and costs.estimate("b") == 7.0


def test_the_store_lists_what_tasks_cost_under_one_protocol(tmp_path):
    plan = prepare_sweep(MODELS[:1], ["cpu-fp32"], OPTS)
    _seed(tmp_path / "jb.db", plan, [100.0, 120.0])
    with Store(tmp_path / "jb.db") as store:
        assert store.gpu_seconds_by_runtime(config_hash(OPTS.to_config()), meter="sim") == {"cpu-fp32": [100.0, 120.0]}
        assert store.gpu_seconds_by_runtime("another-protocol") == {}
        assert store.gpu_seconds_by_runtime(meter="nvml") == {}


def test_a_task_that_would_not_finish_in_time_is_deferred(tmp_path):
    db = tmp_path / "jb.db"
    plan = prepare_sweep(MODELS, ["cpu-fp32"], OPTS)
    _seed(db, plan, [100.0, 120.0, 140.0])  # estimate 130 s, then 125 s once the first new task took 100 s
    clock = FakeClock()
    ran = []

    def runner(task, device, on_event=None, stop=None, kill=None):
        ran.append(task.model)
        clock.t += 100.0
        return _ok(task, 100.0)

    report = run_sweep(plan, db, runner=runner, deadline_s=250.0, clock=clock)
    # 250 s left >= 130: start; 150 s left >= 125: start; 50 s left < 125: defer.
    assert ran == [t.model for t in plan.tasks[:2]]
    assert report.deferred == [plan.tasks[2].key] and not report.deadline_reached and not report.interrupted
    with Store(db) as store:
        assert {k[0] for k in store.done_keys(None)} == {*ran, "old0", "old1", "old2"}
    # the deferred task is simply not done: the next run does it
    again = run_sweep(prepare_sweep(MODELS, ["cpu-fp32"], OPTS), db, runner=runner)
    assert [r.task.key for r in again.results] == [plan.tasks[2].key]


def test_without_any_cost_known_tasks_start_and_learn_their_cost(tmp_path):
    plan = prepare_sweep(MODELS, ["cpu-fp32"], OPTS)
    clock = FakeClock()

    def runner(task, device, on_event=None, stop=None, kill=None):
        clock.t += 100.0
        return _ok(task, 100.0)

    report = run_sweep(plan, tmp_path / "jb.db", runner=runner, deadline_s=150.0, clock=clock)
    assert len(report.results) == 1 and report.deferred == [t.key for t in plan.tasks[1:]]


def test_at_the_deadline_running_tasks_stop_and_are_not_saved(tmp_path):
    db = tmp_path / "jb.db"
    plan = prepare_sweep(MODELS[:1], ["cpu-fp32"], OPTS)

    t0 = time.monotonic()
    report = run_sweep(plan, db, runner=_until_stopped(0.3), deadline_s=0.3)
    assert report.deadline_reached and not report.interrupted and report.stopped == [plan.tasks[0].key]
    assert time.monotonic() - t0 < 10
    with Store(db) as store:
        assert store.done_keys(None) == set()
        assert [r["status"] for r in store.runs()] == ["deadline"]


def test_a_task_that_cannot_stop_after_its_batch_is_killed_a_grace_period_after_the_deadline(tmp_path):
    # What the H200's fifth-session third call showed: a worker in the middle of torch.compile cannot stop after
    # a batch, and the sweep waited for it past the deadline until the shell's safety-net timeout sent SIGINT.
    db = tmp_path / "jb.db"
    plan = prepare_sweep(MODELS[:1], ["cpu-fp32"], OPTS)
    seen = {}

    def runner(task, device, on_event=None, stop=None, kill=None):
        assert kill.wait(30), "the deadline's grace period never killed the task"
        seen["stop_was_set"] = stop.is_set()
        return _ok(task, 0.5, interrupted=True)

    t0 = time.monotonic()
    report = run_sweep(plan, db, runner=runner, deadline_s=0.2, deadline_grace_s=0.3)
    assert seen == {"stop_was_set": True}
    assert report.deadline_reached and not report.interrupted and report.stopped == [plan.tasks[0].key]
    assert time.monotonic() - t0 < 10
    with Store(db) as store:
        assert store.done_keys(None) == set()


def test_a_sweep_that_ends_before_its_deadline_kills_nothing(tmp_path):
    plan = prepare_sweep(MODELS[:1], ["cpu-fp32"], OPTS)
    kills = []

    def runner(task, device, on_event=None, stop=None, kill=None):
        kills.append(kill)
        return _ok(task, 0.1)

    report = run_sweep(plan, tmp_path / "jb.db", runner=runner, deadline_s=0.3, deadline_grace_s=0.0)
    time.sleep(0.6)  # past the deadline and its grace: the cancelled timers must not fire
    assert not report.deadline_reached and not kills[0].is_set()


def test_a_task_that_finishes_after_the_deadline_passed_is_kept_and_nothing_counts_as_interrupted(tmp_path):
    # What the H200's third dataset call showed: the deadline passed while a worker was already returning its
    # result. The sweep reached its deadline but stopped nothing, and the finished result is saved.
    db = tmp_path / "jb.db"
    plan = prepare_sweep(MODELS[:1], ["cpu-fp32"], OPTS)

    def runner(task, device, on_event=None, stop=None, kill=None):
        assert stop.wait(30), "the deadline never fired"
        return _ok(task, 0.3)  # finished anyway: not interrupted

    report = run_sweep(plan, db, runner=runner, deadline_s=0.3)
    assert report.deadline_reached and not report.interrupted and report.stopped == []
    assert [s.model for s in report.summaries] == [plan.tasks[0].model]
    with Store(db) as store:
        assert {k[0] for k in store.done_keys(None)} == {plan.tasks[0].model}
        assert [r["status"] for r in store.runs()] == ["deadline"]


def test_the_local_executor_asks_before_each_task_and_reports_the_refused():
    tasks = [Task(run_id="r", spec={"model": m, "img_size": 32}, runtime=rt) for m in "ab" for rt in ("x", "y")]
    got, deferred = [], []
    lock = threading.Lock()

    def runner(task, device, **kw):
        with lock:
            got.append(task.key)
        return _ok(task, 1.0)

    LocalExecutor([0, 1], runner=runner).run(
        tasks, lambda r: None, admit=lambda t: t.runtime == "x", on_deferred=lambda t: deferred.append(t.key)
    )
    assert sorted(got) == [("a", 32, "x"), ("b", 32, "x")]
    assert sorted(deferred) == [("a", 32, "y"), ("b", 32, "y")]


def test_when_the_time_is_up_nothing_more_starts_even_without_an_estimate(tmp_path):
    plan = prepare_sweep(MODELS[:2], ["cpu-fp32"], OPTS)
    clock = FakeClock()
    messages = []

    class Recorder:
        def start(self, total, skipped=0): ...
        def event(self, device, task, ev): ...
        def finished(self, result): ...
        def stop(self): ...

        def message(self, text):
            messages.append(text)

    def runner(task, device, on_event=None, stop=None, kill=None):
        clock.t += 1000.0  # a task that took far longer than the deadline, and reports no cost
        out = _ok(task, None)
        out.summary = None
        return out

    report = run_sweep(plan, tmp_path / "jb.db", runner=runner, deadline_s=60.0, clock=clock, progress=Recorder())
    assert report.deferred == [plan.tasks[1].key]
    assert any("not starting test_resnet" in m and "no time left" in m for m in messages)


def test_a_task_stopped_at_the_deadline_is_remembered_and_planned_for(tmp_path):
    # A task that a deadline stopped after 200 s needs more than 200 s: the next run must not start it with
    # less time left (it would be stopped again), and a run shorter than that must say it can never fit.
    db = tmp_path / "jb.db"
    plan = prepare_sweep(MODELS[:1], ["cpu-fp32"], OPTS)

    run_sweep(plan, db, runner=_until_stopped(200.0), deadline_s=0.3)
    key = plan.tasks[0].key
    with Store(db) as store:
        (row,) = store.failures()
        assert (row["stage"], row["gpu_seconds"], row["model"]) == ("deadline", 200.0, key[0])
        assert "stopped at the deadline after 200 s" in row["reason"]
        assert store.done_keys(None) == set()  # still to do
        assert store.deadline_stops(config_hash(OPTS.to_config()), meter="sim") == {key: 200.0}
        assert store.deadline_stops("another-protocol") == {}

    messages, ran = [], []
    progress = _progress(messages)

    def runner(task, device, on_event=None, stop=None, kill=None):
        ran.append(task.key)
        return _ok(task, 250.0)

    # Other tasks cost 10 s, but this one needs more than 200: with 150 s it waits for a longer run ...
    _seed(db, plan, [10.0, 10.0])
    again = run_sweep(prepare_sweep(MODELS[:1], ["cpu-fp32"], OPTS), db, runner=runner, deadline_s=150.0,
                      clock=FakeClock(), progress=progress)  # fmt: skip
    assert ran == [] and again.deferred == [key]
    assert any("more than this whole run's 150 s" in m and "longer --deadline" in m for m in messages)
    # ... and with 300 s it starts
    again = run_sweep(prepare_sweep(MODELS[:1], ["cpu-fp32"], OPTS), db, runner=runner, deadline_s=300.0,
                      clock=FakeClock(), progress=progress)  # fmt: skip
    assert ran == [key] and again.deferred == []


def test_an_interrupted_task_is_not_recorded_as_a_deadline_stop(tmp_path):
    db = tmp_path / "jb.db"
    plan = prepare_sweep(MODELS[:1], ["cpu-fp32"], OPTS)

    def runner(task, device, on_event=None, stop=None, kill=None):
        return _ok(task, 5.0, interrupted=True)  # the user pressed Ctrl-C: nothing was learnt about its length

    run_sweep(plan, db, runner=runner, deadline_s=100.0)
    with Store(db) as store:
        assert store.failures() == [] and store.deadline_stops() == {}


def test_task_estimate_is_at_least_how_long_a_deadline_let_it_run():
    plan = prepare_sweep(MODELS[:2], ["cpu-fp32"], OPTS)
    a, b = plan.tasks
    costs = TaskCosts({"cpu-fp32": [100.0]}, {a.key: 300.0})
    assert costs.estimate_task(a) == 300.0 and costs.estimate_task(b) == 100.0
    assert TaskCosts({}, {a.key: 40.0}).estimate_task(a) == 40.0 and TaskCosts().estimate_task(a) is None
    assert TaskCosts({"cpu-fp32": [100.0]}, {a.key: 40.0}).estimate_task(a) == 100.0


def test_a_task_killed_at_its_time_limit_needs_longer_next_time(tmp_path):
    # The worker limit stopped it after 900 s: like a deadline stop, the next run plans for more than that.
    from joulebench.sweep.worker import failed_result

    db = tmp_path / "jb.db"
    plan = prepare_sweep(MODELS[:2], ["cpu-fp32"], OPTS)
    task, other = plan.tasks
    killed = failed_result(task, "timeout", "timeout: the worker ran longer than 900 s", gpu_seconds=900.0)
    crashed = failed_result(other, "worker", "worker crashed (exit status 1) before finishing", gpu_seconds=5.0)
    with Store(db) as store:
        # provenance carries the GPU model, which the next run's planner filters on
        run = RunRecord(plan.run_id, "2026-11-29", "sim", provenance=plan.provenance, config=OPTS.to_config())
        store.add_run(run)
        store.save_task(killed.measurements, killed.summary, killed.failures)
        store.save_task(crashed.measurements, crashed.summary, crashed.failures)
        assert store.deadline_stops(config_hash(OPTS.to_config()), meter="sim") == {task.key: 900.0}  # not the crash
    messages = []
    progress = _progress(messages)
    _seed(db, plan, [10.0, 10.0])
    again = run_sweep(prepare_sweep(MODELS[:1], ["cpu-fp32"], OPTS), db, runner=lambda *a, **k: None,
                      deadline_s=600.0, clock=FakeClock(), progress=progress)  # fmt: skip
    assert again.deferred == [task.key]
    assert any("a deadline or the worker's time limit stopped it after 900 s" in m for m in messages)


def test_a_tag_of_a_measured_workload_is_expected_to_cost_what_its_twin_did():
    plan = prepare_sweep(MODELS[:2], ["cpu-fp32"], OPTS)
    vit, resnet = plan.tasks
    twin = ("test_vit.other_in1k", vit.img_size, "cpu-fp32")  # another tag of test_vit at the same size
    costs = TaskCosts({"cpu-fp32": [100.0, 120.0, 140.0]}, tasks={twin: [30.0, 40.0]})
    assert costs.twin_cost(vit) == 40.0 and costs.estimate_task(vit) == pytest.approx(50.0)  # the dearer, +25 %
    assert costs.twin_cost(resnet) is None and costs.estimate_task(resnet) == pytest.approx(130.0)  # the runtime's
    dear = TaskCosts({"cpu-fp32": [100.0]}, tasks={twin: [400.0]})
    assert dear.estimate_task(vit) == pytest.approx(500.0)  # above the runtime's estimate too
    other_size = TaskCosts({"cpu-fp32": [100.0]}, tasks={("test_vit.other_in1k", 224, "cpu-fp32"): [10.0]})
    assert other_size.estimate_task(vit) == pytest.approx(100.0)  # another input size is another workload
    costs.add("cpu-fp32", 80.0, resnet.key)
    assert costs.twin_cost(resnet) == 80.0  # its own finished run counts as well (a re-measurement)
    # a deadline that stopped one tag after 300 s holds back the others: they need more than that too
    stopped = TaskCosts({"cpu-fp32": [100.0]}, {twin: 300.0}, tasks={twin: [40.0]})
    assert stopped.floor(vit) == 300.0 and stopped.estimate_task(vit) == 300.0
    # from the tasks alone, the runtime's history is every task's seconds: the twin's 30 and 40 s, and 200 s
    from_tasks = TaskCosts.from_tasks({twin: [30.0, 40.0], resnet.key: [200.0]}, {twin: 45.0})
    assert from_tasks.estimate("cpu-fp32") == pytest.approx(120.0)  # 75th percentile of 30, 40, 200
    assert from_tasks.estimate_task(vit) == pytest.approx(50.0) and from_tasks.floor(vit) == 45.0


def test_the_store_lists_what_each_task_cost(tmp_path):
    plan = prepare_sweep(MODELS[:1], ["cpu-fp32"], OPTS)
    _seed(tmp_path / "jb.db", plan, [100.0, 120.0])
    with Store(tmp_path / "jb.db") as store:
        got = store.gpu_seconds_by_task(config_hash(OPTS.to_config()), meter="sim")
        assert got == {("old0", 32, "cpu-fp32"): [100.0], ("old1", 32, "cpu-fp32"): [120.0]}
        assert store.gpu_seconds_by_task("another-protocol") == {}


def test_a_sweep_fits_in_a_task_whose_twin_was_cheap(tmp_path):
    # Other tasks cost 100-140 s, but another tag of test_vit's workload took 40 s: with 60 s left test_vit
    # starts (50 s expected) and test_resnet, with no twin, waits for a longer run.
    db = tmp_path / "jb.db"
    plan = prepare_sweep(MODELS[:2], ["cpu-fp32"], OPTS)
    vit = plan.tasks[0]
    _seed(db, plan, [100.0, 120.0, 140.0])
    gpu = plan.gpu_facts[0]["gpu_name"]
    with Store(db) as store:
        base = dict(run_id="old", model="test_vit.other_in1k", img_size=vit.img_size, runtime="cpu-fp32")
        twin = ModelSummary(**base, precision="fp32", status="ok", meter="sim", gpu_name=gpu, gpu_seconds=40.0)
        store.save_task([], twin, [])
    messages, ran = [], []
    progress = _progress(messages)

    def runner(task, device, on_event=None, stop=None, kill=None):
        ran.append(task.key)
        return _ok(task, 45.0)

    report = run_sweep(plan, db, runner=runner, deadline_s=60.0, clock=FakeClock(), progress=progress)
    assert ran == [vit.key] and report.deferred == [plan.tasks[1].key]
    # the runtime's estimate now counts the twin's 40 s and test_vit's 45 s too: p75 of 40-140 s is 120 s
    assert any("test_resnet" in m and "needs about 120 s; left" in m for m in messages)
    # with less than the twin's cost and margin left, it waits, and the message says where the 50 s come from
    messages.clear()
    again = run_sweep(prepare_sweep(["test_vit"], ["cpu-fp32"], OPTS), db, runner=runner, deadline_s=48.0,
                      force=True, clock=FakeClock(), progress=progress)  # fmt: skip
    assert again.deferred == [vit.key]
    assert any("needs about 56 s (its workload took 45 s under this or another tag)" in m for m in messages)


def test_a_deadline_stop_says_where_the_task_was_and_which_batches_it_keeps():
    import signal

    from joulebench.sweep.deadline import deadline_stop
    from joulebench.sweep.process import _WorkerWatch

    task = Task(run_id="r", spec={"model": "m.tag", "img_size": 32}, runtime="compile-fp16", options=OPTS)
    bare = deadline_stop(TaskResult(task, [], None, interrupted=True, gpu_seconds=135.0))
    assert (
        bare.reason == "stopped at the deadline after 135 s; nothing was measured yet, so the next run starts it again"
    )

    # a worker that outlived the grace period was killed while busy with batch 64 (a compile, a long window)
    watch = _WorkerWatch(task, lambda ev: None, threading.Event(), threading.Event())
    base = dict(run_id="r", model="m.tag", img_size=32, runtime="compile-fp16", precision="fp16", status="ok")
    watch.measurements = [BatchMeasurement(**base, batch_size=b) for b in (1, 2, 8)]  # streamed, stored at once
    watch._take(b'{"type": "batch", "batch": 64, "phase": "scout"}\n')
    # what the supervisor sets when it kills a worker that did not stop on its own (``_ended``)
    watch.stage, watch.reason = "interrupted", "interrupted: the worker was killed before it stopped on its own"
    killed = watch.crashed(-signal.SIGKILL, 135.0, "")
    assert killed.interrupted and killed.failures[-1].batch_size == 64
    assert killed.failures[-1].reason.endswith("(at batch 64, scout)")
    stop = deadline_stop(killed)
    assert stop.reason == (
        "stopped at the deadline after 135 s at batch 64; its 3 measured batches are kept for the next run to"
        " resume from"
    )


def test_a_task_stopped_at_the_deadline_keeps_the_batches_it_measured(tmp_path):
    # Batches are stored as the worker reports them; recording the deadline stop replaces the task's rows of this
    # run, so it must carry them, or the next run would find nothing to resume from.
    db = tmp_path / "jb.db"
    plan = prepare_sweep(MODELS[:1], ["cpu-fp32"], OPTS)

    def runner(task, device, on_event=None, stop=None, kill=None):
        base = dict(run_id=task.run_id, model=task.model, img_size=task.img_size, runtime=task.runtime)
        rows = [
            BatchMeasurement(**base, precision="fp32", batch_size=b, meter="sim", energy_per_image_j=1.0 / b)
            for b in (1, 2)
        ]
        for m in rows:
            on_event({"type": "measurement", "row": m.to_dict()})
        assert stop.wait(30), "the deadline never stopped the task"
        return TaskResult(task, rows, None, [], interrupted=True, gpu_seconds=50.0)

    run_sweep(plan, db, runner=runner, deadline_s=0.3)
    with Store(db) as store:
        assert [r["batch_size"] for r in store.measurements()] == [1, 2]
        (row,) = store.failures()
        assert row["stage"] == "deadline" and "its 2 measured batches are kept" in row["reason"]
        stored = store.unfinished_batches(config_hash(OPTS.to_config()), meter="sim")
    assert sorted(m["batch_size"] for m in stored[plan.tasks[0].key]) == [1, 2]  # where the next run resumes

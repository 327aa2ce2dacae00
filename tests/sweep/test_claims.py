"""Two sweeps on one store never measure the same (model, runtime) twice: the second skips what the first holds."""

from __future__ import annotations

import platform
import threading
import time

from joulebench.store.db import Store
from joulebench.store.records import BatchMeasurement, ModelSummary
from joulebench.store.rows import now_utc
from joulebench.sweep import prepare_sweep, run_sweep
from joulebench.sweep.tasks import SweepOptions, Task, TaskResult

OPTS = SweepOptions(meter="sim", min_window_s=0.2, warmup_s=0.05, min_iters=3, idle_s=0.1, max_batch=4)
MODELS = ["test_vit", "test_resnet", "test_convnext"]


def _ok(task: Task) -> TaskResult:
    base = dict(run_id=task.run_id, model=task.model, img_size=task.img_size, runtime=task.runtime, precision="fp32")
    m = BatchMeasurement(**base, batch_size=1, meter="sim", energy_per_image_j=1.0)
    done = dict(status="ok", optimal_batch=1, energy_per_image_j=1.0, gpu_seconds=0.01, finished_at=now_utc())
    s = ModelSummary(**base, meter="sim", **done)
    return TaskResult(task, [m], s, [], gpu_seconds=0.01)


class Recorder:
    """A runner that records what it measures (across sweeps), optionally holding its first task until told."""

    def __init__(self, measured: list, hold: threading.Event | None = None, pause_s: float = 0.0):
        self.measured, self.hold, self.pause_s = measured, hold, pause_s
        self.started = threading.Event()

    def __call__(self, task, device, on_event=None, stop=None, kill=None) -> TaskResult:
        self.measured.append(task.key)
        self.started.set()
        if self.hold is not None:
            assert self.hold.wait(30), "the other sweep never finished"
            self.hold = None
        time.sleep(self.pause_s)
        return _ok(task)


class Messages:
    """A progress sink that keeps the sweep's messages and ignores the rest."""

    def __init__(self):
        self.lines: list[str] = []

    def message(self, text: str) -> None:
        self.lines.append(text)

    def __getattr__(self, name):
        return lambda *a, **k: None


def _plan(models=MODELS):
    return prepare_sweep(models, ["cpu-fp32"], OPTS, img_size=32)


def test_a_second_sweep_skips_the_task_the_first_is_measuring_and_the_first_skips_what_the_second_did(tmp_path):
    db, measured = tmp_path / "r.db", []
    second_done = threading.Event()
    first = Recorder(measured, hold=second_done)  # holds its first task until the second sweep has ended
    out: dict[str, object] = {}
    thread = threading.Thread(target=lambda: out.update(first=run_sweep(_plan(), db, runner=first)))
    thread.start()
    assert first.started.wait(30)
    said = Messages()
    second = run_sweep(_plan(), db, runner=Recorder(measured), progress=said)
    second_done.set()
    thread.join(30)
    first_report = out["first"]

    held = measured[0]
    assert sorted(measured) == sorted(t.key for t in _plan().tasks)  # each (model, runtime) measured once
    assert second.claimed_elsewhere == [held] and held not in [s.model for s in second.summaries]
    [line] = [m for m in said.lines if "skipped" in m]
    assert f"run {first_report.run_id}" in line and "run the same command again after it finishes" in line
    # the first sweep, released, finds the others finished by the second since it started: done, not redone
    assert sorted(first_report.skipped) == sorted(k for k in measured if k != held)
    assert [s.model for s in first_report.summaries] == [held[0]]
    with Store(db) as store:
        assert sorted((s["model"], s["run_id"]) for s in store.summaries()) == sorted(
            [(held[0], first_report.run_id)] + [(k[0], second.run_id) for k in measured if k != held]
        )
        assert store.claims() == []  # every claim released as its task was saved or its run ended


def test_two_sweeps_at_once_measure_every_task_exactly_once(tmp_path):
    db, measured = tmp_path / "r.db", []
    reports = []
    threads = [
        threading.Thread(target=lambda: reports.append(run_sweep(_plan(), db, runner=Recorder(measured, pause_s=0.1))))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(reports) == 2
    assert sorted(measured) == sorted(t.key for t in _plan().tasks)
    assert sorted(s.model for r in reports for s in r.summaries) == sorted(k[0] for k in measured)


def test_a_claim_left_by_a_dead_sweep_does_not_block_the_next(tmp_path):
    from joulebench.store.claims import Claim
    from joulebench.store.records import RunRecord, config_hash

    db, measured = tmp_path / "r.db", []
    plan = _plan(["test_vit"])
    [task] = plan.tasks
    with Store(db) as store:  # a sweep killed with -9 on this host: its run still 'running', its process gone
        store.add_run(RunRecord(run_id="ghost", started_at="2026-11-01T00:00:00", meter="sim", config=OPTS.to_config()))
        gpu = plan.gpu_facts[0]["gpu_name"]
        ghost = Claim(
            task.model, task.img_size, task.runtime, config_hash(OPTS.to_config()), "sim", gpu, "ghost",
            platform.node(), 2**22 + 12345,
        )  # fmt: skip
        assert store.claim_task(ghost) is None
    report = run_sweep(plan, db, runner=Recorder(measured))
    assert measured == [task.key] and report.claimed_elsewhere == []


def test_a_forced_sweep_measures_again_what_was_finished_before_it_read_the_store(tmp_path):
    db, measured = tmp_path / "r.db", []
    run_sweep(_plan(["test_vit"]), db, runner=Recorder(measured))
    again = run_sweep(_plan(["test_vit"]), db, runner=Recorder(measured), force=True)
    assert len(measured) == 2 and len(again.summaries) == 1 and again.skipped == []

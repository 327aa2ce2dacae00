"""Nothing measured is lost: every batch is stored as it is measured, and a stopped task resumes from them."""

from __future__ import annotations

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


def test_force_measures_everything_again(tmp_path):
    db = tmp_path / "r.db"
    run_sweep(prepare_sweep(["test_vit"], ["cpu-fp32"], OPTS, img_size=64), db, runner=InProcess(stop_after=2))
    again = InProcess()
    run_sweep(prepare_sweep(["test_vit"], ["cpu-fp32"], OPTS, img_size=64), db, runner=again, force=True)
    assert again.resumed == [] and len(again.measured) > 2

"""Progress: the rich display names the GPU a worker is pinned to (nothing if unpinned); --json logs plain lines."""

from __future__ import annotations

import dataclasses
import io
from datetime import datetime, timezone

from rich.console import Console

from factories import full
from joulebench.store.records import BatchMeasurement, ModelSummary
from joulebench.sweep.progress import QuietProgress, RichProgress, make_progress
from joulebench.sweep.tasks import Task, TaskResult

TASK = Task(run_id="r", spec={"model": "resnet50.a1_in1k", "img_size": 224}, runtime="torch-fp32")


def _lines(device):
    p = RichProgress()
    p.console = Console(file=io.StringIO(), width=200)
    p.start(total=1)
    try:
        p.event(device, TASK, {"type": "batch", "batch": 64, "phase": "scout"})
        return [p._progress.tasks[t].description for t in p._lines.values()]
    finally:
        p.stop()


def test_a_pinned_worker_shows_its_gpu():
    assert _lines(2) == ["  gpu 2: resnet50.a1_in1k@224 torch-fp32: batch 64 (scout)"]


def test_an_unpinned_worker_is_not_called_cpu():
    # Without --gpus the worker runs on the runtime's default device, which is a GPU on a GPU machine.
    assert _lines(None) == ["  resnet50.a1_in1k@224 torch-fp32: batch 64 (scout)"]


def _summary(status, **kw):
    base = dict(run_id="r", model="resnet50.a1_in1k", img_size=224, runtime="torch-fp32", precision="fp32")
    return ModelSummary(**base, status=status, meter="nvml", **kw)


def test_the_quiet_log_tells_each_start_and_outcome_with_its_cost(capsys):
    at = datetime(2026, 11, 28, 23, 5, 12, tzinfo=timezone.utc)
    assert isinstance(make_progress(quiet=True, terminal=True), QuietProgress)
    assert isinstance(make_progress(quiet=False, terminal=False), QuietProgress)  # a log file: lines, not a display
    assert isinstance(make_progress(quiet=False, terminal=True), RichProgress)
    p = QuietProgress(clock=lambda: at)
    p.start(total=3, skipped=2)
    p.event(1, TASK, {"type": "task_start"})
    p.event(1, TASK, {"type": "batch", "batch": 64, "phase": "scout"})  # not logged: a line per task, not per batch
    p.finished(TaskResult(TASK, [], _summary("ok", optimal_batch=256, energy_per_image_j=0.0459), gpu_seconds=72.4))
    p.finished(TaskResult(TASK, [], _summary("failed", error="out of memory at batch 1"), gpu_seconds=None))
    p.finished(TaskResult(TASK, [], None, interrupted=True, gpu_seconds=30.0))
    kept = [full(BatchMeasurement, batch_size=b) for b in (1, 2)]  # stored as measured: where a re-run resumes
    p.finished(TaskResult(TASK, kept, None, interrupted=True, gpu_seconds=40.0))
    p.message("deadline: not starting x")
    assert capsys.readouterr().err.splitlines() == [
        "skipping 2 model/runtime pair(s) already measured (use --force, or --redo-before TIME, to measure again)",
        "2026-11-28T23:05:12+00:00 start gpu 1: resnet50.a1_in1k@224 torch-fp32",
        "2026-11-28T23:05:12+00:00 done resnet50.a1_in1k@224 torch-fp32: batch 256, 45.9 mJ/img (72 GPU-s)",
        "2026-11-28T23:05:12+00:00 failed resnet50.a1_in1k@224 torch-fp32: out of memory at batch 1",
        "2026-11-28T23:05:12+00:00 interrupted resnet50.a1_in1k@224 torch-fp32 (30 GPU-s): no result yet,"
        " re-run to measure",
        "2026-11-28T23:05:12+00:00 interrupted resnet50.a1_in1k@224 torch-fp32 (40 GPU-s): no result yet,"
        " 2 measured batches kept; re-run to resume",
        "deadline: not starting x",
    ]


def _final(batch, util, phase="full", probe=None):
    from factories import full
    from joulebench.store.records import BatchMeasurement

    return full(
        BatchMeasurement, run_id="r", model="resnet50.a1_in1k", img_size=224, runtime="torch-fp32",
        batch_size=batch, status="ok", energy_per_image_j=0.01 * batch**-0.1,
        trace_summary={"phase": phase, "gpu_util_pct_mean": util} | ({"host_probe_s": probe} if probe else {}),
    )  # fmt: skip


def test_a_launch_bound_choice_is_named_with_the_cards_utilisation(capsys):
    at = datetime(2026, 11, 28, 23, 5, 12, tzinfo=timezone.utc)
    p = QuietProgress(clock=lambda: at)
    ok = _summary("ok", optimal_batch=128, energy_per_image_j=0.0061)
    # the chosen batch (least energy in full) waited on the host; a launch-bound scout elsewhere does not count
    rows = [_final(8, 40.0, "scout"), _final(128, 49.2), _final(64, 97.0)]
    p.finished(TaskResult(TASK, rows, ok, gpu_seconds=60.0))
    busy = [_final(128, 96.0), _final(64, 40.0)]  # the card busy at the chosen batch: no warning
    p.finished(TaskResult(TASK, busy, ok, gpu_seconds=60.0))
    no_util = [dataclasses.replace(r, trace_summary={"phase": "full"}) for r in busy]  # a meter without utilisation
    p.finished(TaskResult(TASK, no_util, ok, gpu_seconds=60.0))
    simulated = [dataclasses.replace(r, method="simulated") for r in rows]  # its utilisation follows the batch size
    p.finished(TaskResult(TASK, simulated, ok, gpu_seconds=60.0))
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == (
        "2026-11-28T23:05:12+00:00 done resnet50.a1_in1k@224 torch-fp32: batch 128, 6.1 mJ/img (60 GPU-s)"
        " (launch-bound: the card was busy 49 % of batch 128's window, so its energy per image depends on this"
        " host's CPU)"
    )
    assert all(line.endswith("6.1 mJ/img (60 GPU-s)") for line in lines[1:]) and len(lines) == 4


def test_a_launch_bound_choice_says_how_much_slower_the_host_ran_then(capsys):
    at = datetime(2026, 11, 28, 23, 5, 12, tzinfo=timezone.utc)
    p = QuietProgress(clock=lambda: at)
    ok = _summary("ok", optimal_batch=128, energy_per_image_j=0.0061)
    slow = [_final(8, 40.0, "scout", probe=0.0020), _final(128, 49.2, probe=0.0031), _final(64, 97.0, probe=0.0021)]
    p.finished(TaskResult(TASK, slow, ok, gpu_seconds=60.0))
    steady = [_final(128, 49.2, probe=0.0021), _final(64, 97.0, probe=0.0020)]  # 5 %: within the probe's own noise
    p.finished(TaskResult(TASK, steady, ok, gpu_seconds=60.0))
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith(
        "so its energy per image depends on this host's CPU, which ran 55 % slower then than at its fastest in this"
        " task)"
    )
    assert lines[1].endswith("depends on this host's CPU)")

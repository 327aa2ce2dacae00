"""The rich progress display names the GPU a worker is pinned to, and nothing for an unpinned worker."""

from __future__ import annotations

import io

from rich.console import Console

from joulebench.sweep.progress import RichProgress
from joulebench.sweep.tasks import Task

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

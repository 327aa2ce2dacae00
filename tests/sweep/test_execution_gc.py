"""A worker takes what is alive once its model is loaded out of garbage collection; a task run in-process does not."""

from __future__ import annotations

import pytest

from joulebench.sweep import execution
from joulebench.sweep.tasks import SweepOptions, Task

SPEC = {"model": "test_vit.r160_in1k", "arch": "test_vit", "tag": "r160_in1k", "img_size": 32}
SPEC |= {"input_shape": [3, 32, 32], "custom": False, "weights": None, "default_img_size": 160}


@pytest.mark.slow
def test_the_worker_freezes_once_after_the_load_and_an_in_process_task_never(monkeypatch):
    pytest.importorskip("timm")
    events: list[dict] = []
    frozen: list[list[str]] = []  # the stages seen when gc.freeze was called
    monkeypatch.setattr(execution.gc, "freeze", lambda: frozen.append([e["stage"] for e in events if "stage" in e]))
    opts = SweepOptions(meter="sim", warmup_s=0.01, min_window_s=0.05, min_iters=2, idle_s=0.05, max_batch=2)
    task = Task(run_id="r", spec=SPEC, runtime="cpu-fp32", options=opts)
    assert execution.execute_task(task, emit=events.append).summary.status == "ok"
    assert frozen == []  # a test process outlives its tasks: nothing of it is frozen
    events.clear()
    result = execution.execute_task(task, emit=events.append, freeze_after_load=True)
    assert result.summary.status == "ok", result.summary.error
    assert frozen == [["idle", "load"]]  # after the model is built, before the first batch
    assert result.measurements and all(m.status == "ok" for m in result.measurements)

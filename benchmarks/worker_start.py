"""What a worker's start costs: forked from the run's zygote against a fresh Python subprocess, per task.

Runs ``--tasks`` identical tasks of one model through the local executor, once with ``--worker-start fork`` and once
with ``fresh`` (``--order`` says which goes first), and prints per mode: the wait before the first task starts (the
zygote importing torch and timm; nothing for fresh workers), the mean and largest GPU-seconds of a task (from its
worker's start or fork to its exit), the mean and largest time from a task's hand-over to its first measured window,
and the run's wall time. Nothing is stored.

On a CPU (simulated energy, a tiny timm model; the default)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python3 benchmarks/worker_start.py --tasks 4

On a GPU::

    PYTHONPATH=src python3 benchmarks/worker_start.py --model resnet50.a1_in1k --runtime torch-fp32 --meter nvml \\
        --gpu 0 --tasks 8 --protocol default --max-batch 64

Writes ``worker_start.json`` under ``$OUT`` when that is set.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from joulebench.cli.measure import build_options  # noqa: E402
from joulebench.sweep import prepare_sweep  # noqa: E402
from joulebench.sweep.executors import WORKER_STARTS, get_executor  # noqa: E402
from joulebench.sweep.tasks import Task, TaskResult  # noqa: E402


@dataclass
class ModeRun:
    """One executor run of the tasks with one way of starting workers, timed from the driver's side."""

    mode: str
    t0: float = field(default_factory=time.monotonic)
    first_start: float | None = None  # the first task's hand-over
    starts: list[float] = field(default_factory=list)
    first_windows: list[float | None] = field(default_factory=list)  # per task: hand-over to first measurement
    results: list[TaskResult] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    wall_s: float | None = None

    def on_event(self, device: Any, task: Task, ev: dict[str, Any]) -> None:
        """Timestamps of each task's hand-over and first measured window (tasks run one after another)."""
        now = time.monotonic()
        if ev.get("type") == "task_start":
            self.first_start = now if self.first_start is None else self.first_start
            self.starts.append(now)
            self.first_windows.append(None)
        elif ev.get("type") == "measurement" and self.first_windows and self.first_windows[-1] is None:
            self.first_windows[-1] = now - self.starts[-1]

    def row(self) -> dict[str, Any]:
        """The table's row of this mode."""
        gpu_s = [r.gpu_seconds for r in self.results if r.gpu_seconds is not None]
        windows = [w for w in self.first_windows if w is not None]
        return {
            "mode": self.mode,
            "tasks": len(self.results),
            "ok": sum(r.ok for r in self.results),
            "before_first_task_s": None if self.first_start is None else self.first_start - self.t0,
            "gpu_s_mean": mean(gpu_s) if gpu_s else None,
            "gpu_s_max": max(gpu_s) if gpu_s else None,
            "first_window_s_mean": mean(windows) if windows else None,
            "first_window_s_max": max(windows) if windows else None,
            "wall_s": self.wall_s,
            "messages": self.messages,
        }


def run_mode(mode: str, tasks: list[Task], devices: list[int | None]) -> ModeRun:
    """Run ``tasks`` on one device with workers started as ``mode`` says."""
    timed = ModeRun(mode)
    ex = get_executor("local", devices, worker_start=mode)
    ex.run(tasks, timed.results.append, on_event=timed.on_event, on_message=timed.messages.append)
    timed.wall_s = time.monotonic() - timed.t0
    return timed


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a fixed-width table (seconds)."""

    def cell(v: Any) -> str:
        return "-" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)

    cols = [
        ("mode", "mode"), ("tasks", "tasks"), ("ok", "ok"), ("before_first_task_s", "before 1st task s"),
        ("gpu_s_mean", "GPU-s/task mean"), ("gpu_s_max", "max"), ("first_window_s_mean", "to 1st window s mean"),
        ("first_window_s_max", "max"), ("wall_s", "wall s"),
    ]  # fmt: skip
    cells = [[title for _, title in cols]] + [[cell(r[key]) for key, _ in cols] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def _tasks(a: argparse.Namespace) -> tuple[list[Task], list[int | None]]:
    """``a.tasks`` copies of the model's task, and the device they run on."""
    opts = build_options(
        meter=a.meter, search=None, tf32=None, cuda_graphs=False, warmup=None, min_iters=None, min_window=None,
        precision=None, max_window=None, cooldown="0s", idle=None, max_batch=a.max_batch, latency_budget="50ms",
        protocol=a.protocol,
    )  # fmt: skip
    gpus = None if a.gpu is None else [a.gpu]
    plan = prepare_sweep([a.model], [a.runtime], opts, gpus=gpus, img_size=a.img_size, command="worker_start")
    return [plan.tasks[0]] * a.tasks, list(plan.devices)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, default=4, help="tasks per mode (default 4)")
    p.add_argument("--model", default="test_vit", help="timm model (default test_vit, a tiny one)")
    p.add_argument("--img-size", type=int, default=None, help="input side (default: 64 for test_* models)")
    p.add_argument("--runtime", default="cpu-fp32")
    p.add_argument("--meter", default="sim", help="sim (default), nvml, smi or rapl")
    p.add_argument("--gpu", type=int, default=None, help="GPU index to pin the workers to (default: none)")
    p.add_argument("--protocol", default="quick", help="quick (default), default or paper")
    p.add_argument("--max-batch", type=int, default=8, help="largest batch of each task's search (default 8)")
    p.add_argument("--order", default="fork,fresh", help="modes in the order they run (default fork,fresh)")
    a = p.parse_args(argv)
    modes = [m.strip() for m in a.order.split(",") if m.strip()]
    if a.tasks < 1 or not modes or any(m not in WORKER_STARTS for m in modes):
        p.error(f"--tasks must be at least 1 and --order a list of {', '.join(WORKER_STARTS)}")
    if a.img_size is None and a.model.startswith("test_"):
        a.img_size = 64
    tasks, devices = _tasks(a)
    rows = [run_mode(mode, tasks, devices).row() for mode in modes]
    print(f"{a.tasks} tasks of {tasks[0].label()} ({a.meter} meter, {a.protocol} protocol, max batch {a.max_batch})")
    print(table(rows))
    for r in rows:
        for m in r["messages"]:
            print(f"{r['mode']}: {m}")
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "worker_start.json").write_text(json.dumps({"args": vars(a), "rows": rows}, indent=2))
    return 0 if all(r["ok"] == r["tasks"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

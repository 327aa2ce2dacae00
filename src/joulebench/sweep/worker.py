"""The worker subprocess: ``python -m joulebench.sweep.worker TASK.json --event-fd N`` measures one task.

:func:`main` (:func:`run_worker`) runs the task with ``execution.py``'s ``execute_task`` and streams its events as
JSON lines; ``process.py`` starts and supervises it (``run_task``), as a fresh subprocess or a child forked from the
zygote (``zygote.py``), which calls :func:`run_worker` itself. The names of both modules are re-exported here, so
``from joulebench.sweep.worker import run_task`` (and the rest) keeps working.
"""

from __future__ import annotations

import time

_T_START = time.monotonic()  # the worker holds its device from process start: GPU-seconds count from here

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from joulebench.sweep.execution import (  # noqa: E402
    DEVICE_ENV,
    Emit,
    TaskExecution,
    execute_task,
    failed_result,
    meter_kwargs,
    resumed_batches,
    task_failure,
)
from joulebench.sweep.process import (  # noqa: E402
    _kill_group,
    _worker_env,
    merge_attempts,
    retry_after_crash,
    retry_note,
    run_task,
)
from joulebench.sweep.tasks import Task  # noqa: E402

__all__ = [
    "DEVICE_ENV",
    "Emit",
    "TaskExecution",
    "_kill_group",
    "_worker_env",
    "execute_task",
    "failed_result",
    "main",
    "merge_attempts",
    "meter_kwargs",
    "resumed_batches",
    "retry_after_crash",
    "retry_note",
    "run_task",
    "run_worker",
    "task_failure",
]


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m joulebench.sweep.worker TASK.json --event-fd N``."""
    p = argparse.ArgumentParser(prog="joulebench.sweep.worker", description="Run one joulebench sweep task.")
    p.add_argument("task", help="JSON file with the task")
    p.add_argument("--event-fd", type=int, default=None, help="file descriptor for JSON-line events")
    args = p.parse_args(argv)
    return run_worker(Path(args.task), args.event_fd, t_start=_T_START, worker_start="fresh")


def run_worker(task_file: Path, event_fd: int | None, *, t_start: float, worker_start: str = "fresh") -> int:
    """Measure the task in ``task_file`` in this process, which exists for it, streaming its events.

    Args:
        task_file: The task's JSON file.
        event_fd: File descriptor for the JSON-line events (closed at the end); None = standard output.
        t_start: Monotonic time this process took its device (its start, or its fork from the zygote).
        worker_start: ``fresh`` (a process of its own) or ``fork`` (a child of the zygote), kept in every row.

    Returns:
        The exit status (0: the result was sent; a failed task is a result too).
    """
    task = Task.from_dict(json.loads(Path(task_file).read_text()))
    out = os.fdopen(event_fd, "w", buffering=1) if event_fd is not None else sys.stdout
    lock = threading.Lock()

    def emit(ev: dict[str, Any]) -> None:
        with lock:
            out.write(json.dumps(ev, default=str) + "\n")
            out.flush()

    stop = threading.Event()

    def on_sigint(signum: int, frame: Any) -> None:
        stop.set()  # finish the current batch, then return what we have

    signal.signal(signal.SIGINT, on_sigint)
    emit({"type": "start", "pid": os.getpid()})
    result = execute_task(
        task, emit=emit, should_stop=stop.is_set, t_start=t_start, freeze_after_load=True, worker_start=worker_start
    )
    emit({"type": "result", "result": result.to_dict()})
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

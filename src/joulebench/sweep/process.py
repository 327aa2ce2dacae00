"""Run one task in a fresh worker subprocess: isolation from crashes, hangs and out-of-memory cascades.

``run_task(task, device_index)`` starts ``python -m joulebench.sweep.worker TASK.json --event-fd N`` in a
new session (its own process group), pinned to one GPU with ``CUDA_VISIBLE_DEVICES`` when
``device_index`` is given, and supervises it:

* the worker streams JSON events on a pipe: ``batch`` (a batch is starting), ``row`` (a measurement or a
  failure, so nothing measured is lost if it dies later) and finally ``result`` (the whole TaskResult);
* a worker that exits without a result (segfault, ``os._exit``, killed by the kernel) becomes a
  ``Failure(stage="worker")`` with its exit status and the tail of its output, and a failed summary; when it
  died while measuring a batch, ``Failure(stage="crash")`` carrying that batch size instead;
* :func:`retry_after_crash` turns a crash above batches that worked into a retry capped at the largest of them
  (the executor runs it at once, :func:`merge_attempts` joins the two), as an out-of-memory batch caps a search;
* a worker running longer than ``task.timeout_s`` has its process group killed: ``Failure(stage="timeout")``;
* ``stop`` (a ``threading.Event``, set on Ctrl-C) sends SIGINT to the worker, which finishes the current
  batch and returns what it has, marked ``interrupted``; a second stop request kills it.

``run_task`` always returns a :class:`TaskResult`. The worker's body is ``execution.py``'s ``execute_task``.
Given a ``launcher`` (the run's :class:`~joulebench.sweep.zygote.Zygote`), the worker is forked from it instead of
started fresh: the same process of its own, in its own session, with the same environment, log and events, without
importing torch and timm again; GPU-seconds then count from the fork. When the zygote can no longer fork, the
worker starts fresh.
"""

from __future__ import annotations

import dataclasses
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from joulebench.store.records import BatchMeasurement, Failure
from joulebench.sweep.execution import _TAIL_CHARS, DEVICE_ENV, Emit, failed_result
from joulebench.sweep.tasks import Task, TaskResult, failure_from_dict, measurement_from_dict

if TYPE_CHECKING:
    from joulebench.sweep.zygote import ForkedWorker, Zygote


def _worker_env(device_index: int | None) -> dict[str, str]:
    env = dict(os.environ)
    if device_index is not None:
        # --gpus indices are as this process sees them: map through an existing CUDA_VISIBLE_DEVICES.
        parent = [e.strip() for e in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if e.strip()]
        env["CUDA_VISIBLE_DEVICES"] = parent[device_index] if device_index < len(parent) else str(device_index)
        env[DEVICE_ENV] = str(device_index)
    src = str(Path(__file__).resolve().parents[2])  # make the worker import this same joulebench
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _kill_group(proc: subprocess.Popen | ForkedWorker, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # already gone


def run_task(
    task: Task,
    device_index: int | None = None,
    *,
    on_event: Emit | None = None,
    stop: threading.Event | None = None,
    kill: threading.Event | None = None,
    python: str | None = None,
    launcher: Zygote | None = None,
) -> TaskResult:
    """Run ``task`` in a worker process of its own and always return a :class:`TaskResult`.

    Args:
        task: The task (its ``timeout_s`` bounds the worker's wall time).
        device_index: GPU to pin the worker to (``CUDA_VISIBLE_DEVICES``); None = inherit.
        on_event: Receives the worker's progress events (called on this thread).
        stop: Set it to stop after the current batch (Ctrl-C); the worker is killed if it lingers.
        kill: Set it to kill the worker now (a second Ctrl-C, or the end of a deadline's grace period).
        python: Interpreter for the worker (default: this one).
        launcher: The zygote to fork the worker from (None, or a zygote that no longer forks: a fresh process).

    Returns:
        The worker's result, or a failed result describing a crash or a timeout.
    """
    watch = _WorkerWatch(task, on_event or (lambda ev: None), stop, kill)
    with tempfile.TemporaryDirectory(prefix="joulebench-task-") as tmp:
        task_file = Path(tmp) / "task.json"
        task_file.write_text(task.to_json())
        log_path = Path(tmp) / "worker.log"
        r_fd, w_fd = os.pipe()
        with open(log_path, "wb") as log:
            proc = _launch(task_file, w_fd, log, device_index, python, launcher)
            watch.t0 = getattr(proc, "started_at", watch.t0)  # a forked worker holds its device from the fork
            with os.fdopen(r_fd, "rb", buffering=0) as events:
                watch.follow(proc, events)
            rc = _reap(proc)
        gpu_s = time.monotonic() - watch.t0
        if watch.result is not None and watch.reason is None:
            return watch.finished(watch.result, gpu_s)
        tail = log_path.read_text(errors="replace")[-_TAIL_CHARS:] if log_path.exists() else ""
    return watch.crashed(rc, gpu_s, tail)


#: ``run_task`` takes ``launcher``: an executor may fork its workers from a zygote (other runners are not sent one).
run_task.takes_launcher = True  # type: ignore[attr-defined]


def _launch(
    task_file: Path,
    w_fd: int,
    log: IO[bytes],
    device_index: int | None,
    python: str | None,
    launcher: Zygote | None,
) -> subprocess.Popen | ForkedWorker:
    """Start the worker on ``task_file``, its events on ``w_fd`` (closed here: the worker holds it now).

    Forked from ``launcher`` when one is given and still forks; a fresh subprocess otherwise.
    """
    try:
        forked = _fork(launcher, task_file, w_fd, log, device_index)
    except BaseException:
        os.close(w_fd)
        raise
    if forked is None:
        return _start_worker(task_file, w_fd, log, device_index, python)
    os.close(w_fd)
    return forked


def _fork(
    launcher: Zygote | None, task_file: Path, w_fd: int, log: IO[bytes], device_index: int | None
) -> ForkedWorker | None:
    """The worker forked from ``launcher``; None without one, or when it no longer forks (its ``failure`` says why)."""
    from joulebench.sweep.zygote import ZygoteError

    if launcher is None:
        return None
    try:
        return launcher.spawn(task_file, w_fd, log.fileno(), _worker_env(device_index))
    except ZygoteError:
        return None  # the executor reports launcher.failure once; this worker starts fresh


def _start_worker(
    task_file: Path, w_fd: int, log: IO[bytes], device_index: int | None, python: str | None
) -> subprocess.Popen:
    """Start the worker on ``task_file`` as a fresh subprocess, its events on ``w_fd`` (closed here)."""
    try:
        return subprocess.Popen(
            [python or sys.executable, "-m", "joulebench.sweep.worker", str(task_file)] + ["--event-fd", str(w_fd)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_worker_env(device_index),
            pass_fds=(w_fd,),
            start_new_session=True,  # Ctrl-C reaches the driver only; it decides what the worker does
        )
    finally:
        os.close(w_fd)


def _reap(proc: subprocess.Popen | ForkedWorker) -> int | None:
    """The worker's exit status, once it has exited (killed if it does not within 30 s); None when unknown."""
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        _kill_group(proc, signal.SIGKILL)
        return proc.wait()


class _WorkerWatch:
    """One worker watched from start to exit: its events, its time limit and the requests to stop or kill it.

    Args:
        task: The worker's task.
        on_event: Receives each event the worker sends.
        stop: Set to stop the worker after its current batch.
        kill: Set to kill the worker now.
    """

    def __init__(self, task: Task, on_event: Emit, stop: threading.Event | None, kill: threading.Event | None) -> None:
        self.task = task
        self.on_event = on_event
        self.stop = stop
        self.kill = kill
        self.t0 = time.monotonic()
        self.measurements: list[BatchMeasurement] = []
        self.failures: list[Failure] = []
        self.result: TaskResult | None = None
        self.reason: str | None = None  # set when the supervisor ended the worker itself
        self.stage = "worker"
        self.in_flight: tuple[int, str] | None = None  # (batch, phase) announced and not yet measured
        self.interrupt_sent_at: float | None = None
        self.buf = b""

    def follow(self, proc: subprocess.Popen | ForkedWorker, events: Any) -> None:
        """Read the worker's events until it closes its end or the supervisor ends it."""
        while True:
            if self._ended(proc):
                break
            ready, _, _ = select.select([events], [], [], 0.2)
            if not ready:
                continue
            chunk = events.read(65536)
            if not chunk:
                break  # EOF: the worker closed its end (exited)
            self._take(chunk)

    def _ended(self, proc: subprocess.Popen | ForkedWorker) -> bool:
        """Apply the time limit and the stop and kill requests; True when the worker was killed."""
        now = time.monotonic()
        task = self.task
        if task.timeout_s is not None and now - self.t0 > task.timeout_s:
            _kill_group(proc, signal.SIGKILL)
            self.stage = "timeout"
            self.reason = f"timeout: the worker ran longer than {task.timeout_s:g} s and was killed"
            return True
        if self.kill is not None and self.kill.is_set():
            _kill_group(proc, signal.SIGKILL)
            self.stage, self.reason = "interrupted", "interrupted: the worker was killed before it stopped on its own"
            return True
        if self.stop is not None and self.stop.is_set():
            if self.interrupt_sent_at is None:
                _kill_group(proc, signal.SIGINT)
                self.interrupt_sent_at = now
            elif now - self.interrupt_sent_at > max(task.options.min_window_s * 8, 60.0):
                _kill_group(proc, signal.SIGKILL)
                self.stage, self.reason = "interrupted", "interrupted: the worker did not stop and was killed"
                return True
        return False

    def _take(self, chunk: bytes) -> None:
        """Handle the complete JSON lines in ``chunk`` (with what was left of the last one)."""
        self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn line from a dying worker carries nothing usable
            kind = ev.get("type")
            if kind == "batch":
                self.in_flight = (int(ev["batch"]), str(ev.get("phase") or ""))
            elif kind == "measurement":
                self.in_flight = None
                self.measurements.append(measurement_from_dict(ev["row"]))
            elif kind == "failure":
                self.failures.append(failure_from_dict(ev["row"]))
            elif kind == "result":
                self.result = TaskResult.from_dict(ev["result"])
            self.on_event(ev)

    def finished(self, result: TaskResult, gpu_s: float) -> TaskResult:
        """The worker's own ``result``, with the task as sent and the GPU-seconds as the supervisor counted them."""
        result.task = self.task
        result.gpu_seconds = gpu_s
        if result.summary is not None:
            result.summary = dataclasses.replace(result.summary, gpu_seconds=gpu_s)
        return result

    def crashed(self, rc: int | None, gpu_s: float, tail: str) -> TaskResult:
        """A failed result for a worker that gave no result or was ended: why, and every row it sent."""
        batch = None
        stage, reason = self.stage, self.reason
        if reason is None:
            how = f"killed by signal {-rc}" if rc is not None and rc < 0 else f"exit status {rc}"
            if rc is None:  # a forked worker whose zygote ended before reporting its exit
                how = "exit status unknown: the fork server that started it ended"
            reason = f"worker crashed ({how}) before finishing"
            if self.in_flight is not None:
                batch = self.in_flight[0]
                stage = "crash"
                reason = f"worker crashed ({how}) at batch {batch} ({self.in_flight[1]}) before finishing"
            if rc == -signal.SIGKILL:  # the supervisor's own kills set a reason above, so this one came from outside
                reason += "; a SIGKILL that joulebench did not send usually means the machine ran out of memory"
        elif self.in_flight is not None:  # ended by the supervisor: say what the worker was busy with
            batch = self.in_flight[0]
            reason = f"{reason} (at batch {batch}, {self.in_flight[1]})"
        out = failed_result(
            self.task,
            stage,
            reason,
            detail=tail or None,
            measurements=self.measurements,
            failures=self.failures,
            gpu_seconds=gpu_s,
            batch=batch,
        )
        out.interrupted = stage == "interrupted" or bool(self.stop is not None and self.stop.is_set())
        return out


def retry_after_crash(result: TaskResult) -> Task | None:
    """The task again with its batch search capped below the batch its worker died at, or None.

    A worker that dies while measuring a batch larger than some that worked (the process killed for memory, a
    driver fault at a size never tried) leaves no summary, yet those smaller batches show the model runs. As an
    out-of-memory batch bounds a search, the crash bounds it: the retry searches up to the largest batch that
    worked below the crash. None when the crash was not at a batch, nothing smaller worked, or the cap would not
    lower the task's own ``max_batch``. Executors retry a task once: a retry that crashes too is saved as it is.
    """
    crash = None if result.ok or result.interrupted else _crash_batch(result)
    if crash is None:
        return None
    worked = [m.batch_size for m in result.measurements if m.status == "ok" and m.batch_size < crash]
    capped = result.task.capped(max(worked)) if worked else None
    if capped is None:
        return None
    # the batches that worked are kept: the retry's search takes them as measured instead of scouting again
    kept = tuple(m.to_dict() for m in result.measurements if m.batch_size < crash)
    return dataclasses.replace(capped, resume=capped.resume + kept)


def _crash_batch(result: TaskResult) -> int | None:
    """The batch the worker of ``result`` died at (its last ``crash`` failure row), or None."""
    return next((f.batch_size for f in reversed(result.failures) if f.stage == "crash" and f.batch_size), None)


def retry_note(first: TaskResult, retry: Task) -> str:
    """Why ``retry`` (from :func:`retry_after_crash` on ``first``) runs, for the progress line of its start."""
    return f"max batch {retry.options.max_batch}: the worker crashed at batch {_crash_batch(first)}"


def merge_attempts(first: TaskResult, retry: TaskResult) -> TaskResult:
    """One result for a task and its retry: every row of both (once), the retry's summary, the cost of both.

    An interrupted retry is not saved (like any interrupted task), so the first attempt's result stands alone and
    the crash it records still caps the next run's search.
    """
    if retry.interrupted:
        return first
    from dataclasses import replace

    seconds = (first.gpu_seconds or 0.0) + (retry.gpu_seconds or 0.0)
    summary = retry.summary if retry.summary is None else replace(retry.summary, gpu_seconds=seconds)
    return TaskResult(
        first.task,
        # the retry hands back the first attempt's rows it resumed: the same rows, kept once
        [*first.measurements, *(m for m in retry.measurements if m not in first.measurements)],
        summary,
        [*first.failures, *retry.failures],
        gpu_seconds=seconds,
    )

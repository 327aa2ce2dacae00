"""A fork server for workers: torch and timm are imported once per run, and each task runs in a child forked from it.

A fresh worker subprocess spends seconds importing torch and timm before it measures anything, holding its device
all that time. :class:`Zygote` starts ``python -m joulebench.sweep.zygote_server`` once per local executor run: a
process that imports the worker's modules, torch and timm **without initialising CUDA** (no ``torch.cuda`` call at
all: even ``is_available()`` initialises the driver, after which CUDA fails in forked children), then forks one child
per task. Each child is one process per model, as a fresh worker is: in a new session (its process group is killed
as a whole), with the task's environment (``CUDA_VISIBLE_DEVICES``) set before anything touches CUDA, its output in
the task's log, its events on the task's pipe, and GPU-seconds counted from the fork.

The parent (:func:`joulebench.sweep.process.run_task`) sends each request as one datagram on a Unix socket with three
file descriptors: its end of a per-task socket, the events pipe and the log. On the per-task socket the zygote
answers with the child's pid and fork time (:class:`ForkedWorker`), then, once it reaped the child, its exit status
as ``subprocess`` gives it (negative: killed by that signal). It exits when its standard input (a pipe from the
parent) closes, so it never outlives the run. This module is the parent's side; ``zygote_server.py`` the zygote's.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

from joulebench.errors import JoulebenchError

#: Longest wait for the zygote's imports (torch and timm on a slow file system); past it workers start fresh.
ZYGOTE_START_S = 300.0
#: Longest wait for the zygote to answer a request to fork.
_ANSWER_S = 30.0


class ZygoteError(JoulebenchError):
    """The fork server cannot start, or stopped forking workers (workers then start as fresh processes)."""


def fork_unsupported() -> str | None:
    """Why workers cannot be forked from a zygote on this platform, or None when they can.

    Linux only: elsewhere either ``fork`` is missing (Windows) or forking a process that imported torch is unsafe
    (macOS's system libraries), and there is no CUDA to save import time for.
    """
    if not sys.platform.startswith("linux"):
        return f"forked workers need Linux (this is {sys.platform})"
    if not hasattr(os, "fork") or not hasattr(socket, "send_fds"):
        return "this Python cannot fork or pass file descriptors"
    return None


# ------------------------------------------------------------------------------------------ the parent's side


class ForkedWorker:
    """The parent's handle on a child of the zygote: ``pid`` and ``wait`` as :class:`subprocess.Popen` has them.

    Args:
        conn: The parent's end of the task's socket, on which the zygote reports the child's exit.
        pid: The child's pid (also its process group's and session's id).
        started_at: ``time.monotonic()`` of the fork: the child holds its device from then.
    """

    def __init__(self, conn: socket.socket, pid: int, started_at: float) -> None:
        self.conn = conn
        self.pid = pid
        self.started_at = started_at
        self.returncode: int | None = None
        self.lost = False  # the zygote ended before it reported the exit: the status is unknown
        self._buf = b""

    @classmethod
    def answer(cls, conn: socket.socket) -> ForkedWorker:
        """The worker the zygote forked, from its answer on ``conn``.

        Raises:
            ZygoteError: The zygote could not fork, ended, or did not answer in time.
        """
        handle = cls(conn, 0, 0.0)
        try:
            msg = handle._message(time.monotonic() + _ANSWER_S)
        except subprocess.TimeoutExpired:
            msg = {"error": f"no answer within {_ANSWER_S:g} s"}
        if msg is None or "pid" not in msg:
            conn.close()
            why = (msg or {}).get("error") or "it ended or did not answer"
            raise ZygoteError(f"the fork server did not start a worker: {why}")
        handle.pid, handle.started_at = int(msg["pid"]), float(msg["t0"])
        return handle

    def wait(self, timeout: float | None = None) -> int | None:
        """The child's exit status once the zygote has reaped it; None when the zygote ended first.

        Raises:
            subprocess.TimeoutExpired: Not exited within ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None and not self.lost:
            msg = self._message(deadline)
            if msg is None:
                self.lost = True
            elif "exit" in msg:
                self.returncode = int(msg["exit"])
        self.conn.close()
        return self.returncode

    def _message(self, deadline: float | None) -> dict[str, Any] | None:
        """The zygote's next JSON line; None at the end of the socket.

        Raises:
            subprocess.TimeoutExpired: Nothing complete before ``deadline``.
        """
        while b"\n" not in self._buf:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(f"forked worker {self.pid}", 0.0)
            self.conn.settimeout(left)
            try:
                chunk = self.conn.recv(4096)
            except TimeoutError:
                continue  # the loop raises TimeoutExpired
            except OSError:
                return None
            if not chunk:
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)


class Zygote:
    """The fork server, seen from the sweep: start it once, ask it for one worker per task, close it.

    Args:
        python: Interpreter of the zygote (default: this one).
        start_timeout_s: Longest wait for its imports.
    """

    def __init__(self, python: str | None = None, *, start_timeout_s: float = ZYGOTE_START_S) -> None:
        self.python = python or sys.executable
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen | None = None
        self.control: socket.socket | None = None
        self.failure: str | None = None  # why it stopped forking workers
        self._failure_said = False
        self._lock = threading.Lock()
        self._tmp = tempfile.TemporaryDirectory(prefix="joulebench-zygote-")
        self.log_path = Path(self._tmp.name) / "zygote.log"

    def start(self) -> None:
        """Start the zygote and wait until it has imported what its children need.

        Raises:
            ZygoteError: It exited or did not get ready in time (the message has the tail of its output).
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        ready_r, ready_w = os.pipe()
        try:
            try:
                self._launch((theirs.fileno(), ready_w))
            finally:  # the zygote holds them now; ours would hide its end (no EOF on the ready pipe)
                theirs.close()
                os.close(ready_w)
            self.control = ours
            self._await_ready(ready_r)
        except OSError as e:  # no such interpreter, no file descriptors left...
            ours.close()
            self.close(at_once=True)
            raise ZygoteError(f"the fork server could not start: {e}") from e
        except BaseException:  # not ready in time, or Ctrl-C while it imports: it is not waited for
            ours.close()
            self.close(at_once=True)
            raise
        finally:
            os.close(ready_r)

    def _launch(self, fds: tuple[int, int]) -> None:
        """Start ``python -m joulebench.sweep.zygote_server`` with its control socket and ready pipe (``fds``)."""
        from joulebench.sweep.process import _worker_env

        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    self.python,
                    "-m",
                    "joulebench.sweep.zygote_server",
                    "--control-fd",
                    str(fds[0]),
                    "--ready-fd",
                    str(fds[1]),
                ],
                stdin=subprocess.PIPE,  # the lifeline: the zygote exits when this closes
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_worker_env(None),
                pass_fds=fds,
                start_new_session=True,  # Ctrl-C reaches the driver only
            )

    def _await_ready(self, ready_r: int) -> None:
        """Wait for the zygote's ``ready``; raise :class:`ZygoteError` when it ends or takes too long."""
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ZygoteError(
                    f"the fork server did not import torch and timm within {self.start_timeout_s:g} s{self._tail()}"
                )
            if select.select([ready_r], [], [], min(left, 1.0))[0]:
                if os.read(ready_r, 16).startswith(b"ready"):
                    return
                try:
                    status = self.proc.wait(timeout=10) if self.proc is not None else None
                except subprocess.TimeoutExpired:
                    status = None  # closed its end without exiting: close() kills it
                raise ZygoteError(f"the fork server exited (status {status}) before it was ready{self._tail()}")

    def _tail(self) -> str:
        text = self.log_path.read_text(errors="replace").strip() if self.log_path.exists() else ""
        return f": {text.splitlines()[-1]}" if text else ""

    def spawn(self, task_file: Path, event_fd: int, log_fd: int, env: dict[str, str]) -> ForkedWorker:
        """Fork a worker for the task in ``task_file``, its events on ``event_fd``, its output on ``log_fd``.

        Args:
            task_file: The task's JSON file.
            event_fd: Write end of the events pipe (the caller still closes its own copy).
            log_fd: The task's log file.
            env: The worker's whole environment (``_worker_env``): the child takes it before anything runs.

        Raises:
            ZygoteError: The zygote no longer forks workers (:attr:`failure` says why from then on).
        """
        if self.failure is not None:
            raise ZygoteError(self.failure)
        if self.control is None or self.proc is None or self.proc.poll() is not None:
            self._fail("the fork server ended" + ("" if self.proc is None else f" (status {self.proc.returncode})"))
        request = json.dumps({"task_file": str(task_file), "env": env, "cwd": os.getcwd()}).encode()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self._lock:
                socket.send_fds(self.control, [request], [theirs.fileno(), event_fd, log_fd])
        except OSError as e:
            ours.close()
            self._fail(f"the fork server stopped taking tasks ({e})")
        finally:
            theirs.close()
        try:
            return ForkedWorker.answer(ours)
        except ZygoteError as e:
            self._fail(str(e))

    def _fail(self, why: str) -> NoReturn:
        self.failure = why
        raise ZygoteError(why)

    def failure_once(self) -> str | None:
        """Why the zygote stopped forking workers, the first time it is asked after that happened; else None."""
        with self._lock:
            if self.failure is None or self._failure_said:
                return None
            self._failure_said = True
            return self.failure

    def close(self, *, at_once: bool = False) -> None:
        """End the zygote and remove its log.

        Args:
            at_once: Kill it (it may still be importing) rather than let it exit as its standard input closes.
        """
        proc, self.proc = self.proc, None
        if self.control is not None:
            self.control.close()
            self.control = None
        if proc is not None:
            if at_once:
                proc.kill()
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._tmp.cleanup()

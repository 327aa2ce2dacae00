"""A fork server for workers: torch and timm are imported once per run, and each task runs in a child forked from it.

A fresh worker subprocess spends seconds importing torch and timm before it measures anything, holding its device
all that time. :class:`Zygote` starts ``python -m joulebench.sweep.zygote`` once per local executor run; that process
imports the worker's modules, torch and timm **without initialising CUDA** (no ``torch.cuda`` call at all: even
``is_available()`` initialises the driver, after which CUDA fails in forked children), then forks one child per
task. Each child is one process per model, as a fresh worker is: in a new session (its process group is killed as a
whole), with the task's environment (``CUDA_VISIBLE_DEVICES``) set before anything touches CUDA, its output in the
task's log, its events on the task's pipe, and GPU-seconds counted from the fork.

The parent (:func:`joulebench.sweep.process.run_task`) sends each request as one datagram on a Unix socket with three
file descriptors: its end of a per-task socket, the events pipe and the log. On the per-task socket the zygote
answers with the child's pid and fork time (:class:`ForkedWorker`), then, once it reaped the child, its exit status
as ``subprocess`` gives it (negative: killed by that signal). It exits when its standard input (a pipe from the
parent) closes, so it never outlives the run.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

from joulebench.errors import JoulebenchError

#: Longest wait for the zygote's imports (torch and timm on a slow file system); past it workers start fresh.
ZYGOTE_START_S = 300.0
#: Longest wait for the zygote to answer a request to fork.
_ANSWER_S = 30.0
#: Modules the zygote imports for its children (none of them touches CUDA on import).
PRELOAD = (
    "joulebench.sweep.worker", "joulebench.sweep.protocol", "joulebench.sweep.search", "joulebench.sweep.summary",
    "joulebench.sweep.device", "joulebench.models.resolve", "joulebench.runtimes", "joulebench.meters",
)  # fmt: skip


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
        """Start ``python -m joulebench.sweep.zygote`` with its control socket and ready pipe (``fds``)."""
        from joulebench.sweep.process import _worker_env

        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [self.python, "-m", "joulebench.sweep.zygote", "--control-fd", str(fds[0]), "--ready-fd", str(fds[1])],
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


# ------------------------------------------------------------------------------------------ the zygote's side


def preload() -> None:
    """Import what every worker needs, torch and timm included, and check that forked children can use CUDA.

    Raises:
        ZygoteError: Something initialised CUDA here (a ``torch.cuda`` call on import): CUDA would fail in children.
    """
    from joulebench.sweep.execution import import_frameworks

    for name in PRELOAD:
        importlib.import_module(name)
    import_frameworks()
    cuda = getattr(sys.modules.get("torch"), "cuda", None)
    in_bad_fork = getattr(cuda, "_is_in_bad_fork", None)  # True in a child of a process that initialised CUDA
    if in_bad_fork is None:
        return
    pid = os.fork()
    if pid == 0:
        os._exit(3 if in_bad_fork() else 0)
    if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
        raise ZygoteError("CUDA was initialised while importing torch and timm: forked workers could not use it")


class _Server:
    """The zygote's loop: fork a child per request, report each child's exit, end when the parent goes.

    Args:
        control: The datagram socket the requests arrive on.
        lifeline: Standard input; its end means the parent closed it or died.
    """

    def __init__(self, control: socket.socket, lifeline: int) -> None:
        self.control = control
        self.lifeline = lifeline
        self.children: dict[int, socket.socket] = {}  # pid -> the socket its exit is reported on
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # a handler, so that the wakeup fd hears it
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)

    def serve(self) -> None:
        """Serve requests until the lifeline ends."""
        sel = selectors.DefaultSelector()
        sel.register(self.control, selectors.EVENT_READ, "request")
        sel.register(self.lifeline, selectors.EVENT_READ, "lifeline")
        sel.register(self.wake_r, selectors.EVENT_READ, "child")
        while True:
            for key, _ in sel.select(timeout=1.0):
                if key.data == "lifeline" and not os.read(self.lifeline, 4096):
                    return
                if key.data == "child":
                    self._drain_wakeups()
                if key.data == "request":
                    self._request()
            self._reap()

    def _drain_wakeups(self) -> None:
        """Empty the signal wakeup pipe (which child exited is for :meth:`_reap` to find)."""
        try:
            while len(os.read(self.wake_r, 4096)) == 4096:
                continue
        except BlockingIOError:
            return  # empty

    def _request(self) -> None:
        """Fork a worker for the request waiting on the control socket, and answer with its pid."""
        msg, fds, _flags, _addr = socket.recv_fds(self.control, 1 << 20, 3)
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            print(f"joulebench zygote: a request came with {len(fds)} file descriptors, not 3", file=sys.stderr)
            return
        conn, event_fd, log_fd = socket.socket(fileno=fds[0]), fds[1], fds[2]
        sys.stdout.flush()
        sys.stderr.flush()
        set_r, set_w = os.pipe()
        t_fork = time.monotonic()
        try:
            pid = os.fork()
        except OSError as e:
            _send(conn, {"error": f"fork failed: {e}"})
            for fd in (conn.detach(), event_fd, log_fd, set_r, set_w):
                os.close(fd)
            return
        if pid == 0:
            os.close(set_r)
            self._become_worker(json.loads(msg), conn, event_fd, log_fd, t_fork, set_w)
        for fd in (event_fd, log_fd, set_w):
            os.close(fd)
        os.read(set_r, 1)  # returns once the child has its own session (or died): its group can be killed now
        os.close(set_r)
        self.children[pid] = conn
        _send(conn, {"pid": pid, "t0": t_fork})

    def _reap(self) -> None:
        """Report every child that exited, with its status as ``subprocess`` gives it."""
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is not None:
                _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
                conn.close()

    def _become_worker(
        self, request: dict[str, Any], conn: socket.socket, event_fd: int, log_fd: int, t_fork: float, set_w: int
    ) -> NoReturn:
        """In the child: leave the zygote behind, become the task's worker, and exit with its status."""
        code = 1
        try:
            os.setsid()  # a process group of its own, as a fresh worker has: the supervisor kills it as a whole
            os.close(set_w)
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for sock in (self.control, conn, *self.children.values()):
                sock.close()
            for fd in (self.lifeline, self.wake_r, self.wake_w):
                os.close(fd)
            _redirect(log_fd)
            _adopt(request["env"], request["cwd"])
            from joulebench.sweep.worker import run_worker

            code = run_worker(Path(request["task_file"]), event_fd, t_start=t_fork)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else int(e.code is not None)  # as the interpreter exits
        except BaseException:  # the child must never return into the zygote's loop
            traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    code = code or 1
            os._exit(code)


def _send(conn: socket.socket, msg: dict[str, Any]) -> None:
    """Send one JSON line; a parent that went away is not the zygote's problem (its child runs on)."""
    try:
        conn.sendall((json.dumps(msg) + "\n").encode())
    except OSError as e:
        print(f"joulebench zygote: could not tell the parent {msg}: {e}", file=sys.stderr)


def _redirect(log_fd: int) -> None:
    """Standard input from /dev/null, standard output and error to the task's log."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)


def _adopt(env: dict[str, str], cwd: str) -> None:
    """Take the task's environment and directory, as a fresh worker would have them, before anything uses CUDA."""
    os.environ.clear()
    os.environ.update(env)  # CUDA reads CUDA_VISIBLE_DEVICES when first used, which is after this
    os.chdir(cwd)
    for entry in reversed([p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]):
        if entry not in sys.path:  # a fresh interpreter would have it: custom model factories import through it
            sys.path.insert(1, entry)
    numpy = sys.modules.get("numpy")
    if numpy is not None:  # each child its own random stream, as a fresh process has (``random`` reseeds itself)
        numpy.random.seed()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m joulebench.sweep.zygote --control-fd N --ready-fd M``."""
    p = argparse.ArgumentParser(prog="joulebench.sweep.zygote", description="Fork joulebench workers on request.")
    p.add_argument("--control-fd", type=int, required=True, help="datagram socket the requests arrive on")
    p.add_argument("--ready-fd", type=int, required=True, help="pipe on which to say 'ready' once imported")
    args = p.parse_args(argv)
    preload()
    gc.collect()
    gc.freeze()  # what the imports made is shared with every child: the collector leaves its pages alone
    server = _Server(socket.socket(fileno=args.control_fd), sys.stdin.fileno())
    os.write(args.ready_fd, b"ready")
    os.close(args.ready_fd)
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())

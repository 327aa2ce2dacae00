"""The zygote's own side (``python -m joulebench.sweep.zygote_server``): import once, fork a worker per request.

:mod:`joulebench.sweep.zygote` starts this process and says how parent and zygote talk. Here :func:`preload` imports
what workers need without initialising CUDA, :class:`_Server` forks a child per request and reports each child's exit,
and the child leaves the zygote behind (its own session, the task's environment, log and directory) before it runs
the task with :func:`joulebench.sweep.worker.run_worker`.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

from joulebench.sweep.zygote import ZygoteError

#: Modules the zygote imports for its children (none of them touches CUDA on import).
PRELOAD = (
    "joulebench.sweep.worker", "joulebench.sweep.protocol", "joulebench.sweep.search", "joulebench.sweep.summary",
    "joulebench.sweep.device", "joulebench.models.resolve", "joulebench.runtimes", "joulebench.meters",
)  # fmt: skip


def preload() -> None:
    """Import what every worker needs, torch and timm included, and check that children can be forked safely.

    Raises:
        ZygoteError: Something initialised CUDA here (a ``torch.cuda`` call on import), so CUDA would fail in
            children, or started a thread.
    """
    from joulebench.sweep.execution import import_frameworks

    for name in PRELOAD:
        importlib.import_module(name)
    import_frameworks()
    check_cuda_forkable()
    check_one_thread()


def check_cuda_forkable() -> None:
    """Fork a probe: raise :class:`ZygoteError` if CUDA would fail in a child (this process initialised it)."""
    cuda = getattr(sys.modules.get("torch"), "cuda", None)
    in_bad_fork = getattr(cuda, "_is_in_bad_fork", None)  # True in a child of a process that initialised CUDA
    if in_bad_fork is None:
        return
    pid = os.fork()
    if pid == 0:
        os._exit(3 if in_bad_fork() else 0)
    if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
        raise ZygoteError("CUDA was initialised while importing torch and timm: forked workers could not use it")


def check_one_thread() -> None:
    """Raise :class:`ZygoteError` unless this process runs one thread.

    A fork copies only the calling thread: a lock another thread held would stay locked in every child (an import
    that starts a thread, such as inductor's, would make forked workers hang at random).
    """
    threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else threading.active_count()
    if threads != 1:
        raise ZygoteError(f"the fork server runs {threads} threads after its imports; it forks workers only from one")


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

            code = run_worker(Path(request["task_file"]), event_fd, t_start=t_fork, worker_start="fork")
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
    """Entry point of ``python -m joulebench.sweep.zygote_server --control-fd N --ready-fd M``."""
    p = argparse.ArgumentParser(
        prog="joulebench.sweep.zygote_server", description="Fork joulebench workers on request."
    )
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

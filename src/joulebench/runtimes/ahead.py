"""Compiling ahead: child processes fill inductor's on-disk cache with programs the worker compiles next.

A compiled sweep spends most of its GPU-seconds in inductor, one compile after another (batch 1's program, the
dynamic-batch scouting program, each finalist's static program; docs/validation/compiled-search.md). The programs do
not depend on each other, and inductor's FX-graph and kernel caches on disk are shared by every process of one user.
A child process that compiles a program and stops before running it leaves it in the cache; the worker's own compile
of that program then loads it instead of compiling it again.

What keeps the measured energy as it was:

- no child compiles while a window is measured: the runtime's preparation waits for all running children before it
  returns (:meth:`AheadCompiles.wait_all`);
- a child never runs the model: it holds the weights and one input batch, never the activations, so a finalist at
  the memory limit still fits beside it;
- the cached program is the one the worker compiles (same runtime class, options, model, input layout and grad
  mode); a child that fails costs only its own time, and the worker compiles as it would have.

``JOULEBENCH_COMPILE_AHEAD`` sets how many children may compile at once (default :data:`DEFAULT_JOBS`; ``0`` turns
compiling ahead off).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import IO, Any

from joulebench.errors import ConfigError

#: Environment variable: the most child compiles at once (0: off).
JOBS_ENV = "JOULEBENCH_COMPILE_AHEAD"
DEFAULT_JOBS = 0
#: A child still compiling after this long is stopped; the worker then compiles the program itself.
TIMEOUT_S = 900.0
_log = logging.getLogger(__name__)


def ahead_jobs() -> int:
    """How many child compiles may run at once, from :data:`JOBS_ENV` (0: compiling ahead is off).

    Raises:
        ConfigError: The variable is set to something other than a non-negative integer.
    """
    raw = os.environ.get(JOBS_ENV, "").strip()
    if not raw:
        return DEFAULT_JOBS
    if not raw.isdigit():
        raise ConfigError(f"{JOBS_ENV} must be a whole number of child compiles (0 turns them off), got {raw!r}")
    return int(raw)


def _program_key(program: str, batch: int) -> tuple[str, int | None]:
    """Which preparation a program serves: ``(static, batch)``, or ``(scout, None)`` for any scouting batch."""
    return (program, batch if program == "static" else None)


@dataclass(frozen=True)
class AheadJob:
    """One program for a child to compile: what the worker's runtime is, and which program of which batch.

    Attributes:
        runtime_class: ``module:QualName`` of the worker's runtime class.
        options: The runtime's options.
        device: The runtime's device (``cuda:0``).
        spec: The loaded :class:`~joulebench.models.resolve.ModelSpec`'s fields.
        batch: The batch size the program is compiled for.
        program: ``static`` (a final's program) or ``scout`` (the dynamic-batch scouting program).
        threads: The worker's ``torch.get_num_threads()``: inductor's cache key holds it, so the child takes it on.
    """

    runtime_class: str
    options: dict[str, Any]
    device: str
    spec: dict[str, Any]
    batch: int
    program: str
    threads: int | None = None

    @property
    def key(self) -> tuple[str, int | None]:
        """Which preparation waits for it (:func:`_program_key`)."""
        return _program_key(self.program, self.batch)

    def to_json(self) -> str:
        """The job as one JSON argument for the child."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> AheadJob:
        """The job a child was given."""
        return cls(**json.loads(text))


@dataclass(frozen=True)
class AheadOutcome:
    """What one child did.

    Attributes:
        batch: The batch size of its program.
        program: ``static`` or ``scout``.
        ok: Whether the program reached the cache.
        compile_s: The child's time from start to exit.
        reason: Why it failed (the child's last words), or ``""``.
    """

    batch: int
    program: str
    ok: bool
    compile_s: float
    reason: str = ""


class _Child:
    """A running child compile, its output files and its start time."""

    def __init__(self, job: AheadJob, env: dict[str, str]):
        self.job = job
        self.out: IO[str] = tempfile.TemporaryFile("w+")  # files, not pipes: a chatty child never blocks on them
        self.err: IO[str] = tempfile.TemporaryFile("w+")
        self.t0 = time.monotonic()
        cmd = [sys.executable, "-m", "joulebench.runtimes.ahead", job.to_json(), str(os.getpid())]
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=self.err, env=env, text=True)

    def finish(self, timeout_s: float) -> AheadOutcome:
        """Wait for the child (stopping it after ``timeout_s``) and read what it reported."""
        try:
            self.proc.wait(timeout=max(0.0, timeout_s - (time.monotonic() - self.t0)))
        except subprocess.TimeoutExpired:
            self.stop()
            return self._outcome(False, f"still compiling after {timeout_s:.0f} s; stopped")
        self.out.seek(0)
        self.err.seek(0)
        report, err = self.out.read().strip().splitlines(), self.err.read().strip().splitlines()
        self.out.close()
        self.err.close()
        said = _last_report(report)
        if self.proc.returncode == 0 and said.get("ok"):
            return self._outcome(True, "")
        why = said.get("reason") or (err[-1] if err else "no output")
        return self._outcome(False, f"exit code {self.proc.returncode}: {why}"[:300])

    def stop(self) -> None:
        """Kill the child and wait for it."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def _outcome(self, ok: bool, reason: str) -> AheadOutcome:
        return AheadOutcome(self.job.batch, self.job.program, ok, time.monotonic() - self.t0, reason)


def _last_report(lines: list[str]) -> dict[str, Any]:
    """The child's last line as its JSON report, or ``{}`` where it printed none (it died first)."""
    try:
        said = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        return {}
    return said if isinstance(said, dict) else {}


def _child_env() -> dict[str, str]:
    """The worker's environment, with its import path, so a child imports the same runtime and model code."""
    env = dict(os.environ)
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


class AheadCompiles:
    """The child compiles of one runtime: started together, waited for together.

    Args:
        jobs: The most children running at once; further jobs are left to the worker.
        timeout_s: A child still compiling after this long is stopped.
    """

    def __init__(self, jobs: int, timeout_s: float = TIMEOUT_S):
        self.jobs = jobs
        self.timeout_s = timeout_s
        self._running: dict[tuple[str, int | None], _Child] = {}
        #: Every finished child's outcome, in the order they were waited for.
        self.outcomes: list[AheadOutcome] = []

    def start(self, jobs: list[AheadJob]) -> int:
        """Start a child for each job not already running, up to :attr:`jobs` at once; how many started."""
        started = 0
        env = _child_env()
        for job in jobs:
            if len(self._running) >= self.jobs or job.key in self._running:
                continue
            self._running[job.key] = _Child(job, env)
            started += 1
        return started

    def running(self, program: str, batch: int) -> bool:
        """Whether a child is compiling the program that preparing ``batch`` as ``program`` compiles.

        The scouting program of batch 1 is a static one of its own (dynamo specialises sizes 0 and 1), so no child's
        dynamic-batch program serves it.
        """
        return (program == "static" or batch >= 2) and _program_key(program, batch) in self._running

    def wait_all(self) -> list[AheadOutcome]:
        """Wait for every running child; their outcomes (also appended to :attr:`outcomes`)."""
        done = [child.finish(self.timeout_s) for child in self._running.values()]
        self._running.clear()
        for o in done:
            if not o.ok:
                _log.warning("compiling batch %d's %s program ahead failed (%s)", o.batch, o.program, o.reason)
        self.outcomes.extend(done)
        return done

    def close(self) -> None:
        """Stop every running child (the worker is done or going away)."""
        for child in self._running.values():
            child.stop()
        self._running.clear()


def _exit_when_orphaned(parent: int, poll_s: float = 0.5) -> None:
    """Leave at once once the worker ``parent`` is gone (a killed worker must not leave compiles behind).

    The worker passes its pid: by the time this child reads its own parent, a killed worker may be gone already.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def _runtime_of(job: AheadJob) -> Any:
    """The worker's runtime, built here from its class path and options."""
    import importlib

    module, _, qualname = job.runtime_class.partition(":")
    cls: Any = importlib.import_module(module)
    for part in qualname.split("."):
        cls = getattr(cls, part)
    return cls(device=job.device, **job.options)


def main(argv: list[str] | None = None) -> int:
    """Child entry point (``JOB_JSON WORKER_PID``): compile one program into the cache, print ``{"ok": ...}`` last."""
    from joulebench.models.resolve import ModelSpec

    args = sys.argv[1:] if argv is None else argv
    _exit_when_orphaned(int(args[1]) if len(args) > 1 else os.getppid())
    job = AheadJob.from_json(args[0])
    try:
        if job.threads:
            import torch

            torch.set_num_threads(job.threads)
        runtime = _runtime_of(job)
        runtime.load(ModelSpec(**{**job.spec, "input_shape": tuple(job.spec["input_shape"])}))
        runtime.compile_only(job.batch, scout=job.program == "scout")
    except Exception as e:  # the worker compiles the program itself; it logs why this child could not
        print(json.dumps({"ok": False, "reason": f"{type(e).__name__}: {e}"[:300]}), flush=True)
        return 1
    print(json.dumps({"ok": True}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

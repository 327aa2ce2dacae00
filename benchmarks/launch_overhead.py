"""Where a window's host time goes when a batch runs launch-bound (the card waits for the CPU).

A window is launch-bound when launching one iteration takes the host longer than the card needs to run it: the
card then idles between kernels and its energy per image depends on the host's CPU (``joulebench measure`` warns;
docs/MEASUREMENT.md). Three modes find out why, and a fourth lists stored windows:

``states MODEL`` -- one process, no meter: load the model into the runtime, then run ``--steps`` in order and
print, per step, the launching thread's CPU time per call and the wall time per call (30 warm-up calls, then
``--calls`` timed ones) and the host's speed just before them (joulebench's host probe, ``host_probe_s``).
Steps: ``static`` or ``static:B`` (``prepare``: the program the full windows measure), ``scout`` or ``scout:B``
(``prepare_scout``: the scouting windows' program, dynamic-batch for compiled runtimes), ``release``, ``freeze``
(``gc.freeze()``, as the sweep's worker does after loading) and ``no-pgo`` (dynamo's profile-guided automatic
dynamic shapes off). ``--profile`` adds, per static step, the Python functions with the most own time.

``task MODEL`` -- the sweep's own task at one batch (its scout, its full window and batch 1) in this process,
with the meter, protocol and frozen garbage collection of ``joulebench measure --start-batch B --max-batch B``'s
worker; each measured segment prints its iterations, host launch time and thread CPU time per iteration, and with
``--profile`` the functions with the most own time inside it (cProfile). Comparing the two modes at one batch
separates the program from the conditions the worker runs it in. ``task --forked`` runs it instead in a child forked
from this process once it has made the imports of ``joulebench measure``'s zygote (and frozen them from garbage
collection, as the zygote does): a forked worker's start without the rest of the worker (its event pipe, log and
session), with ``--profile`` as well::

    python3 benchmarks/launch_overhead.py states mobilenetv3_large_100.ra_in1k --runtime compile-fp16 \\
        --batch 128 --steps static,release,scout,scout:256,release,static
    python3 benchmarks/launch_overhead.py task mobilenetv3_large_100.ra_in1k --runtime compile-fp16 --batch 128 \\
        --profile
    python3 benchmarks/launch_overhead.py task mobilenetv3_large_100.ra_in1k --runtime compile-fp16 --batch 128 \\
        --forked --profile

``host MODEL`` -- is it the host that varies? One process, one static program: ``--rounds`` times, joulebench's
host probe (a fixed CPU loop, ``host_probe_s``: the value every window stores) and then ``--calls`` calls of the
program, each timed by the launching thread's CPU time, with the CPUs' steal time (a hypervisor running something
else). It ends with each column's range and the correlation of probe and launch cost; ``--csv PATH`` keeps the
rounds. A launch cost that rises and falls with the probe comes from the host's speed, not from the program::

    python3 benchmarks/launch_overhead.py host mobilenetv3_large_100.ra_in1k --runtime compile-fp16 --batch 128 \\
        --rounds 30 --csv host-speed.csv

``--probe-loop N --probe-passes K`` times a longer loop than the windows' probe (``--probe-loop 2000000
--probe-passes 1``: about a tenth of a second), for a probe steadier than the launch cost it is set against.

``windows STORE.db ... | WINDOWS.csv`` -- each stored window of ``joulebench measure`` runs beside the flags its
command was given (``--worker-start fresh``, ``--static-scouts`` ...): the card's utilisation, a launch's host time
and the launching thread's busy share, then per flags (and per way the worker started, where the rows record it:
``trace_summary.worker_start``) the range of the full windows' launch time. ``--csv PATH`` writes the rows; a CSV
written so is read back in place of stores::

    python3 benchmarks/launch_overhead.py windows v1.db v2.db --csv windows.csv
    python3 benchmarks/launch_overhead.py windows data/h100/compiled-128-windows/windows.csv

On a CPU (``--runtime cpu-fp32``, ``--meter sim``) the first two modes run as a check of the script.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import io
import pstats
import shlex
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # this checkout's joulebench

WARM_CALLS = 30  # lazy work (cuDNN plans, allocator growth) out of the timed calls


@dataclasses.dataclass(frozen=True)
class CallCost:
    """Host cost of one step's timed calls."""

    step: str
    batch: int
    prepare_s: float
    cpu_per_call_s: float
    wall_per_call_s: float
    #: The host's speed just before the timed calls (joulebench's ``host_probe_s``): a slower host, not a slower
    #: program, shows here too.
    probe_s: float | None = None


def _top_functions(profile: cProfile.Profile, calls: int, limit: int) -> list[str]:
    """The ``limit`` functions with the most own time, per call of the measured function."""
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    lines = [f"    Python calls per iteration: {stats.total_calls / max(calls, 1):.0f}"]  # type: ignore[attr-defined]
    table = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(table) if line.lstrip().startswith("ncalls")), len(table))
    return lines + ["    " + line[:150] for line in table[start : start + limit + 1] if line.strip()]


class StepRunner:
    """Runs the ``states`` steps on one loaded runtime and times the program each step leaves."""

    def __init__(self, runtime: Any, batch: int, calls: int, profile: bool) -> None:
        self.runtime, self.batch, self.calls, self.profile = runtime, batch, calls, profile

    def time_calls(self, fn: Any, batch: int) -> tuple[float, float]:
        """Thread CPU and wall seconds per call of ``fn`` on one input of ``batch`` images."""
        x = self.runtime.make_inputs(batch, n=1)[0]
        for _ in range(WARM_CALLS):
            fn(x)
        self.runtime.synchronize()
        c0, w0 = time.thread_time(), time.perf_counter()
        for _ in range(self.calls):
            fn(x)
        cpu = time.thread_time() - c0
        self.runtime.synchronize()
        return cpu / self.calls, (time.perf_counter() - w0) / self.calls

    def profile_calls(self, fn: Any, batch: int, n: int = 50) -> list[str]:
        """The functions with the most own time over ``n`` calls."""
        x = self.runtime.make_inputs(batch, n=1)[0]
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(n):
            fn(x)
        prof.disable()
        self.runtime.synchronize()
        return _top_functions(prof, n, 12)

    def run(self, step: str) -> CallCost | None:
        """Do one step; a step that builds a program returns its cost (printing a profile if asked)."""
        name, _, size = step.partition(":")
        batch = int(size) if size else self.batch
        if name == "release":
            self.runtime.release()
            return None
        if name == "freeze":
            gc.collect()
            gc.freeze()
            return None
        if name == "no-pgo":
            import torch

            torch._dynamo.config.automatic_dynamic_local_pgo = False
            return None
        if name not in ("static", "scout"):
            raise SystemExit(f"unknown step {step!r}: use static[:B], scout[:B], release, freeze or no-pgo")
        t0 = time.perf_counter()
        fn = self.runtime.prepare(batch) if name == "static" else self.runtime.prepare_scout(batch)
        prepare_s = time.perf_counter() - t0
        from joulebench.sweep.host_cpu import host_probe_s

        probe = host_probe_s()
        cpu, wall = self.time_calls(fn, batch)
        cost = CallCost(step, batch, prepare_s, cpu, wall, probe)
        _print_cost(cost)
        if self.profile and name == "static":
            print("\n".join(self.profile_calls(fn, batch)), flush=True)
        return cost


def _print_cost(c: CallCost) -> None:
    host_ms, wall_ms = 1e3 * c.cpu_per_call_s, 1e3 * c.wall_per_call_s
    probe = f"{1e3 * c.probe_s:>9.2f}" if c.probe_s is not None else f"{'':>9}"
    print(f"{c.step:<12} {c.batch:>6} {c.prepare_s:>9.1f} {host_ms:>12.3f} {wall_ms:>12.3f} {probe}", flush=True)


def cmd_states(a: argparse.Namespace) -> list[CallCost]:
    """Load the model and run the steps; returns the timed ones."""
    from joulebench.models.resolve import resolve_models
    from joulebench.runtimes import get_runtime

    runtime = get_runtime(a.runtime)
    runtime.load(resolve_models(a.model)[0])
    print(f"{a.model} on {a.runtime} ({runtime.device}), {a.calls} timed calls per step", flush=True)
    head = f"{'step':<12} {'batch':>6} {'prepare s':>9} {'host ms/call':>12} {'wall ms/call':>12} {'probe ms':>9}"
    print(head, flush=True)
    runner = StepRunner(runtime, a.batch, a.calls, a.profile)
    costs = [c for c in (runner.run(s) for s in a.steps.split(",") if s) if c is not None]
    runtime.close()
    return costs


class SegmentProfiler:
    """Stands in for ``protocol.run_segment``: runs it (under cProfile if asked) and prints its host cost."""

    def __init__(self, run_segment: Any, profile: bool) -> None:
        self.run_segment, self.profile = run_segment, profile

    def __call__(self, fn: Any, inputs: Any, meter: Any, **kw: Any) -> Any:
        prof = cProfile.Profile() if self.profile else None
        if prof is not None:
            prof.enable()
        seg = self.run_segment(fn, inputs, meter, **kw)
        if prof is not None:
            prof.disable()
        n = max(seg.iterations, 1)
        cpu = seg.cpu.thread_cpu_s / n if seg.cpu is not None else float("nan")
        print(
            f"segment: batch {kw['batch_size']}, at least {kw['min_s']:.2f} s, {seg.iterations} iterations, "
            f"launch {1e3 * seg.launch_s / n:.3f} ms and thread CPU {1e3 * cpu:.3f} ms per iteration",
            flush=True,
        )
        if prof is not None:
            print("\n".join(_top_functions(prof, n, 12)), flush=True)
        return seg


#: Columns of ``host``'s rows (``--csv``).
HOST_COLUMNS = ("round", "model", "runtime", "batch", "probe_s", "host_per_call_s", "wall_per_call_s", "steal_frac")


def _cpu_times() -> tuple[int, int] | None:
    """All CPUs' steal and total time so far, in clock ticks (Linux's ``/proc/stat``); None elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    ticks = [int(v) for v in fields[1:]]
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks)


def host_round(
    runner: StepRunner, fn: Any, i: int, loop: int | None = None, passes: int | None = None
) -> dict[str, Any]:
    """One round of ``host``: the probe, then the timed calls, and the steal time over both.

    The probe is joulebench's, unless ``loop`` (its steps) or ``passes`` (the fastest of which is kept) say otherwise.
    """
    from joulebench.sweep.host_cpu import PROBE_LOOP, PROBE_PASSES, host_probe_s

    before = _cpu_times()
    probe = host_probe_s(loop or PROBE_LOOP, passes or PROBE_PASSES)
    cpu, wall = runner.time_calls(fn, runner.batch)
    after = _cpu_times()
    steal = None
    if before is not None and after is not None and after[1] > before[1]:
        steal = (after[0] - before[0]) / (after[1] - before[1])
    return {"round": i, "probe_s": probe, "host_per_call_s": cpu, "wall_per_call_s": wall, "steal_frac": steal}


def cmd_host(a: argparse.Namespace) -> list[dict[str, Any]]:
    """Alternate the host probe and the program's calls; print the rounds, their ranges and their correlation."""
    from joulebench.models.resolve import resolve_models
    from joulebench.runtimes import get_runtime
    from joulebench.sweep.regret import write_rows

    runtime = get_runtime(a.runtime)
    runtime.load(resolve_models(a.model)[0])
    runner = StepRunner(runtime, a.batch, a.calls, False)
    fn = runtime.prepare(a.batch)
    print(f"{a.model} on {a.runtime} ({runtime.device}), batch {a.batch}, {a.calls} timed calls per round")
    print(f"{'round':>5} {'probe ms':>9} {'host ms/call':>12} {'wall ms/call':>12} {'steal %':>8}", flush=True)
    rows = []
    for i in range(a.rounds):
        r = host_round(runner, fn, i, a.probe_loop, a.probe_passes)
        r |= {"model": a.model, "runtime": a.runtime, "batch": a.batch}
        rows.append(r)
        if a.csv:  # after every round: a run stopped by its time limit keeps the rounds it took
            write_rows(Path(a.csv), HOST_COLUMNS, rows)
        steal = _num(r["steal_frac"], 100.0, 2)
        print(
            f"{i:>5} {1e3 * r['probe_s']:>9.2f} {1e3 * r['host_per_call_s']:>12.3f} "
            f"{1e3 * r['wall_per_call_s']:>12.3f} {steal:>8}",
            flush=True,
        )
    runtime.close()
    _print_host_summary(rows)
    return rows


def _print_host_summary(rows: list[dict[str, Any]]) -> None:
    probes = [float(r["probe_s"]) for r in rows]
    calls = [float(r["host_per_call_s"]) for r in rows]
    print(
        f"probe {1e3 * min(probes):.2f}-{1e3 * max(probes):.2f} ms (x{max(probes) / min(probes):.2f}), "
        f"host per call {1e3 * min(calls):.3f}-{1e3 * max(calls):.3f} ms (x{max(calls) / min(calls):.2f})"
    )
    if len(rows) >= 3 and len(set(probes)) > 1 and len(set(calls)) > 1:
        import statistics

        print(f"correlation of probe and host per call: {statistics.correlation(probes, calls):.2f}")


def cmd_task(a: argparse.Namespace) -> Any:
    """The sweep's task at one batch, in this process, with every segment's host cost printed."""
    from joulebench.models.resolve import resolve_models
    from joulebench.sweep import protocol
    from joulebench.sweep.execution import execute_task
    from joulebench.sweep.tasks import Task, protocol_options

    spec = dataclasses.asdict(resolve_models(a.model)[0])
    opts = protocol_options(a.protocol, meter=a.meter, start_batch=a.batch, max_batch=a.batch)
    real = protocol.run_segment
    protocol.run_segment = SegmentProfiler(real, a.profile)
    try:
        task = Task(run_id="launch-overhead", spec=spec, runtime=a.runtime, options=opts)
        result = execute_task(task, freeze_after_load=a.freeze)
    finally:
        protocol.run_segment = real
    print(f"task {result.summary.status}{': ' + str(result.summary.error) if result.summary.error else ''}")
    print(f"{'batch':>6} {'phase':<6} {'latency ms':>10} {'GPU util %':>10} {'launch ms/iter':>14} {'probe ms':>9}")
    for m in result.measurements:
        t = m.trace_summary or {}
        print(
            f"{m.batch_size:>6} {t.get('phase', ''):<6} {1e3 * (m.latency_mean_s or 0):>10.3f} "
            f"{_num(t.get('gpu_util_pct_mean'), digits=0):>10} {_num(t.get('host_launch_per_iter_s'), 1e3):>14} "
            f"{_num(t.get('host_probe_s'), 1e3, 2):>9}"
        )
    return result


def run_forked(fn: Any, *args: Any) -> int:
    """``fn(*args)`` in a child of this process forked after the zygote's imports; the child's exit status.

    This process makes the imports of ``joulebench measure``'s zygote (:func:`~joulebench.sweep.zygote_server.preload`,
    which refuses when CUDA is already initialised here or a thread runs) and freezes them, then forks once.
    """
    import os
    import traceback

    from joulebench.sweep.zygote_server import preload

    preload()
    gc.collect()
    gc.freeze()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        try:
            fn(*args)
        except BaseException:  # the child must never return into the parent's code: report, then leave
            traceback.print_exc()
            sys.stdout.flush()
            os._exit(1)
        sys.stdout.flush()
        os._exit(0)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


#: Columns of ``windows``' rows (``--csv``): the store, its command's flags, then the window.
WINDOW_COLUMNS = (
    "store", "flags", "model", "runtime", "batch", "phase", "prepare_s", "latency_mean_s", "energy_per_image_j",
    "gpu_util_pct_mean", "host_launch_per_iter_s", "host_thread_busy_frac", "gpu_uuid", "host_probe_s", "worker_start",
)  # fmt: skip
#: Arguments of ``joulebench measure`` that name the task rather than the conditions it ran under.
_TASK_ARGS = {"--runtime": 1, "--start-batch": 1, "--max-batch": 1, "--db": 1, "--json": 0}


def command_flags(command: str) -> str:
    """The flags of a ``joulebench measure`` command besides its models, runtime, batches, store and ``--json``."""
    words, kept, i = shlex.split(command), [], 0
    start = words.index("measure") + 1 if "measure" in words else 0
    words = words[start:]
    while i < len(words):
        w = words[i]
        if w in _TASK_ARGS:
            i += 1 + _TASK_ARGS[w]
        elif w.startswith("--"):
            takes = i + 1 < len(words) and not words[i + 1].startswith("--")
            kept += words[i : i + 1 + takes]
            i += 1 + takes
        else:  # a model name
            i += 1
    return " ".join(kept)


def store_windows(db: Path) -> list[dict[str, Any]]:
    """One row per measured window of the runs in ``db`` (:data:`WINDOW_COLUMNS`), in the order measured."""
    from joulebench.sweep.regret import window_rows

    con = sqlite3.connect(db)
    try:
        flags = {r: command_flags(c or "") for r, c in con.execute("select run_id, command from runs")}
    finally:
        con.close()
    return [
        {"store": db.name, "flags": flags.get(w["run_id"], ""), **{k: w[k] for k in WINDOW_COLUMNS[2:]}}
        for w in window_rows(db)
        if w["status"] == "ok"
    ]


def _num(value: Any, scale: float = 1.0, digits: int = 3) -> str:
    return "" if value in (None, "") else f"{float(value) * scale:.{digits}f}"


def cmd_windows(a: argparse.Namespace) -> list[dict[str, Any]]:
    """Print (and with ``--csv`` write) each stored window beside its command's flags, then each flag's range."""
    from joulebench.sweep.regret import read_rows, write_rows

    rows: list[dict[str, Any]] = []
    for path in map(Path, a.stores):
        rows += read_rows(path) if path.suffix == ".csv" else store_windows(path)
    if a.csv:
        write_rows(Path(a.csv), WINDOW_COLUMNS, rows)
    probed = any(r.get("host_probe_s") not in (None, "") for r in rows)  # stores from before the probe have none
    print(f"{'store':<8} {'flags':<32} {'batch':>5} {'phase':<5} {'prep s':>6} {'lat ms':>7} {'mJ/img':>8} "
          f"{'util %':>6} {'launch ms':>9} {'busy':>5}" + (f" {'probe ms':>8}" if probed else ""))  # fmt: skip
    for r in rows:
        print(
            f"{r['store']:<8} {r['flags'] or '(defaults)':<32} {r['batch']:>5} {r['phase']:<5} "
            f"{_num(r['prepare_s'], digits=1):>6} {_num(r['latency_mean_s'], 1e3):>7} "
            f"{_num(r['energy_per_image_j'], 1e3):>8} {_num(r['gpu_util_pct_mean'], digits=0):>6} "
            f"{_num(r['host_launch_per_iter_s'], 1e3):>9} {_num(r['host_thread_busy_frac'], digits=2):>5}"
            + (f" {_num(r.get('host_probe_s'), 1e3, 2):>8}" if probed else "")
        )
    by: dict[str, list[float]] = {}
    for r in rows:
        if r["phase"] == "full" and r["host_launch_per_iter_s"] not in (None, ""):
            by.setdefault(_conditions(r), []).append(1e3 * float(r["host_launch_per_iter_s"]))
    for flags, ms in by.items():
        print(f"full windows [{flags}]: {len(ms)}, launch {min(ms):.2f}-{max(ms):.2f} ms per iteration")
    return rows


def _conditions(row: dict[str, Any]) -> str:
    """A window's flags, and how its worker started where the row says (stores from before it was recorded do not)."""
    flags = row["flags"] or "(defaults)"
    start = row.get("worker_start")
    return f"{flags}; {start} worker" if start else flags


def build_parser() -> argparse.ArgumentParser:
    """The command line: ``states``, ``task``, ``host`` and ``windows`` and their options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    for mode in ("states", "task", "host"):
        s = sub.add_parser(mode)
        s.add_argument("model", help="timm arch.tag")
        s.add_argument("--runtime", default="compile-fp16")
        s.add_argument("--batch", type=int, default=128)
        s.add_argument("--profile", action="store_true", help="print the functions with the most own time")
    st = sub.choices["states"]
    st.add_argument("--steps", default="static,release,scout,scout:256,release,static")
    st.add_argument("--calls", type=int, default=400, help="timed calls per step")
    sub.choices["task"].add_argument("--meter", default="nvml")
    sub.choices["task"].add_argument("--protocol", default="default", help="default, paper or quick")
    sub.choices["task"].add_argument(
        "--no-freeze",
        dest="freeze",
        action="store_false",
        help="leave the loaded model's objects to the garbage collector (the worker freezes them)",
    )
    sub.choices["task"].add_argument(
        "--forked", action="store_true", help="run the task in a child forked after the zygote's imports"
    )
    sub.choices["host"].add_argument("--rounds", type=int, default=30)
    sub.choices["host"].add_argument("--calls", type=int, default=400, help="timed calls per round")
    sub.choices["host"].add_argument("--csv", help="write the rounds to this CSV")
    sub.choices["host"].add_argument("--probe-loop", type=int, help="steps of the probe's loop (joulebench's default)")
    sub.choices["host"].add_argument("--probe-passes", type=int, help="passes of the probe, the fastest kept")
    win = sub.add_parser("windows")
    win.add_argument("stores", nargs="+", help="joulebench stores (.db), or a CSV that --csv wrote")
    win.add_argument("--csv", help="write the rows to this CSV")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run a mode."""
    a = build_parser().parse_args(argv)
    if a.mode == "task" and a.forked:
        return run_forked(cmd_task, a)
    {"states": cmd_states, "task": cmd_task, "host": cmd_host, "windows": cmd_windows}[a.mode](a)
    return 0


if __name__ == "__main__":
    sys.exit(main())

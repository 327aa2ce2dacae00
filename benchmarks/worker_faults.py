"""Does a worker page-fault while it launches? Each window of a store beside its process's main thread (Linux).

A window where the card waits on the host reads how fast the worker's launching thread runs. This script samples
every thread of every Python process from ``/proc`` while ``joulebench measure`` runs, and then sets each full
window of the store beside the thread that launched it: its CPU share, the share of it spent in the kernel, and
its minor page faults per second (a minor fault maps a page that is already in memory; thousands a second in a
loop that allocates nothing new mean the process keeps losing and re-mapping its pages).

``sample OUT.csv --seconds N`` -- every half second for N seconds, each thread of each Python process: user and
system CPU time, minor and major faults, the CPU it last ran on. Start it in the background beside the runs::

    python3 benchmarks/worker_faults.py sample threads.csv --seconds 300 &
    joulebench measure mobilenetv3_large_100.ra_in1k --runtime compile-fp16 --start-batch 128 --max-batch 128 \\
        --db fork.db --worker-start fork
    joulebench measure mobilenetv3_large_100.ra_in1k --runtime compile-fp16 --start-batch 128 --max-batch 128 \\
        --db fresh.db --worker-start fresh

``report THREADS.csv LABEL=STORE.db ... [--csv FAULTS.csv [--append]]`` -- one row per full window (at least
2 s) of each store: the label, the window's launch time per iteration, card utilisation and energy per image, and
the main thread of the process busiest during the window (the worker: it launches from its main thread) with its
CPU, system share and minor faults per second. The clock of the samples and of the store must be one machine's.

``summary FAULTS.csv`` -- per label: the windows, and the range of their launch time and of their faults per second::

    python3 benchmarks/worker_faults.py summary data/h100/launch-by-worker/faults.csv
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

#: Columns of ``sample``'s CSV: one row per thread and sample.
SAMPLE_COLUMNS = ("t", "pid", "tid", "comm", "utime", "stime", "minflt", "majflt", "cpu", "cmd")
#: Columns of ``report``'s rows.
FAULT_COLUMNS = (
    "label", "store", "gpu_uuid", "model", "runtime", "batch", "window_s", "host_launch_per_iter_s",
    "gpu_util_pct_mean", "energy_per_image_j", "main_cpu_frac", "main_sys_frac", "minor_faults_per_s",
)  # fmt: skip
#: Clock ticks per second of /proc's CPU times.
_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def thread_rows(t: float, cmds: dict[str, str]) -> list[dict[str, Any]]:
    """Every thread of every Python process now; ``cmds`` caches each pid's command line."""
    rows = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if pid not in cmds:
                raw = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                cmds[pid] = raw[:120].decode(errors="replace").strip()
            if "python" not in cmds[pid]:
                continue
            for tid in os.listdir(f"/proc/{pid}/task"):
                stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
                comm, f = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
                rows.append(
                    {"t": f"{t:.2f}", "pid": pid, "tid": tid, "comm": comm, "utime": f[11], "stime": f[12],
                     "minflt": f[7], "majflt": f[9], "cpu": f[36], "cmd": cmds[pid]}
                )  # fmt: skip
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue  # the process or thread ended between listing and reading: nothing to record
    return rows


def cmd_sample(out: Path, seconds: float, period_s: float = 0.5) -> int:
    """Sample every ``period_s`` for ``seconds``, appending to ``out`` as it goes (a killed sampler keeps its rows)."""
    if not Path("/proc/self/task").is_dir():
        print("error: sampling threads needs Linux's /proc", file=sys.stderr)
        return 2
    cmds: dict[str, str] = {}
    end = time.time() + seconds
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, SAMPLE_COLUMNS)
        w.writeheader()
        while time.time() < end:
            t = time.time()
            w.writerows(thread_rows(t, cmds))
            f.flush()
            time.sleep(max(0.0, period_s - (time.time() - t)))
    return 0


def store_finals(db: Path, min_window_s: float = 2.0) -> list[dict[str, Any]]:
    """The full windows of ``db`` lasting at least ``min_window_s``, each with its start and end (epoch seconds)."""
    from joulebench.sweep.regret import window_rows

    out = []
    for w in window_rows(db):
        dur = w["window_s"]
        if w["status"] != "ok" or w["phase"] != "full" or not dur or dur < min_window_s:
            continue
        end = datetime.fromisoformat(w["measured_at"]).timestamp()
        out.append({"store": db.name, **{k: w[k] for k in FAULT_COLUMNS[2:10]}, "t0": end - dur, "t1": end})
    return out


def _rate(samples: list[dict[str, str]], key: str, t0: float, t1: float) -> float | None:
    """Increase of ``key`` per second between the first and last sample in [t0, t1]; None with fewer than two."""
    inside = [s for s in samples if t0 <= float(s["t"]) <= t1]
    if len(inside) < 2:
        return None
    span = float(inside[-1]["t"]) - float(inside[0]["t"])
    return (int(inside[-1][key]) - int(inside[0][key])) / span if span > 0 else None


def main_thread_during(threads: dict[str, list[dict[str, str]]], t0: float, t1: float) -> dict[str, float] | None:
    """The busiest main thread (``tid == pid``) in [t0, t1]: its CPU and system share and minor faults per second."""
    best = None
    for samples in threads.values():
        cpu = (_rate(samples, "utime", t0, t1) or 0.0) + (_rate(samples, "stime", t0, t1) or 0.0)
        if best is None or cpu > best[0]:
            best = (cpu, samples)
    if best is None or best[0] <= 0:
        return None
    cpu, samples = best
    return {
        "main_cpu_frac": cpu / _HZ,
        "main_sys_frac": (_rate(samples, "stime", t0, t1) or 0.0) / _HZ,
        "minor_faults_per_s": _rate(samples, "minflt", t0, t1) or 0.0,
    }


def cmd_report(threads_csv: Path, labelled: list[str], out: Path | None, append: bool = False) -> list[dict[str, Any]]:
    """Print (and write) one row per full window of each ``LABEL=STORE`` beside the main thread that ran it.

    With ``append``, ``out``'s rows so far are kept before the new ones (samples of several calls, one table).
    """
    from joulebench.sweep.regret import read_rows, write_rows

    threads: dict[str, list[dict[str, str]]] = defaultdict(list)
    with threads_csv.open(newline="", encoding="utf-8") as f:
        for s in csv.DictReader(f):
            if s["tid"] == s["pid"]:
                threads[s["pid"]].append(s)
    rows = []
    for item in labelled:
        label, _, store = item.rpartition("=")
        for w in store_finals(Path(store)):
            main = main_thread_during(threads, w.pop("t0"), w.pop("t1"))
            rows.append({"label": label or Path(store).stem, **w, **(main or {})})
    if out is not None:
        kept = read_rows(out) if append and out.is_file() else []
        write_rows(out, FAULT_COLUMNS, [*kept, *rows])
    _print_rows(rows)
    return rows


def _print_rows(rows: list[dict[str, Any]]) -> None:
    print(f"{'label':<12} {'store':<12} {'batch':>5} {'launch ms':>9} {'util %':>6} {'mJ/img':>7} "
          f"{'main CPU':>8} {'sys':>5} {'faults/s':>9}")  # fmt: skip
    for r in rows:
        print(
            f"{r['label']:<12} {r['store']:<12} {r['batch']:>5} {_num(r, 'host_launch_per_iter_s', 1e3):>9} "
            f"{_num(r, 'gpu_util_pct_mean', digits=0):>6} {_num(r, 'energy_per_image_j', 1e3):>7} "
            f"{_num(r, 'main_cpu_frac', 100, 0):>7}% {_num(r, 'main_sys_frac', 100, 0):>4}% "
            f"{_num(r, 'minor_faults_per_s', 1, 0):>9}"
        )


def _num(row: dict[str, Any], key: str, scale: float = 1.0, digits: int = 2) -> str:
    v = row.get(key)
    return "" if v in (None, "") else f"{float(v) * scale:.{digits}f}"


def cmd_summary(path: Path) -> dict[str, list[dict[str, str]]]:
    """Per label of a ``report`` CSV: its windows, and the range of launch time and of faults per second."""
    from joulebench.sweep.regret import read_rows

    by: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in read_rows(path):
        by[r["label"]].append(r)
    for label, rs in by.items():
        ms = [1e3 * float(r["host_launch_per_iter_s"]) for r in rs]
        flt = [float(r["minor_faults_per_s"]) for r in rs if r["minor_faults_per_s"] not in ("", None)]
        print(
            f"{label}: {len(rs)} windows, launch {min(ms):.2f}-{max(ms):.2f} ms per iteration, "
            f"main thread {min(flt):.0f}-{max(flt):.0f} minor faults per second"
        )
    return by


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample", help="sample every Python thread from /proc into a CSV")
    s.add_argument("out")
    s.add_argument("--seconds", type=float, default=300.0)
    s.add_argument("--period", type=float, default=0.5, help="seconds between samples")
    r = sub.add_parser("report", help="each store's full windows beside the main thread that ran them")
    r.add_argument("threads", help="the sample CSV")
    r.add_argument("stores", nargs="+", help="LABEL=STORE.db (the label names the way the workers started)")
    r.add_argument("--csv", default=None, help="write the rows here")
    r.add_argument("--append", action="store_true", help="keep the rows --csv has, the new ones after them")
    m = sub.add_parser("summary", help="per label of a report CSV: launch time and faults per second")
    m.add_argument("faults")
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    if a.cmd == "sample":
        return cmd_sample(Path(a.out), a.seconds, a.period)
    paths = [Path(a.threads if a.cmd == "report" else a.faults)]
    paths += [Path(s.rpartition("=")[2]) for s in getattr(a, "stores", [])]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if a.cmd == "report":
        cmd_report(paths[0], a.stores, Path(a.csv) if a.csv else None, a.append)
    else:
        cmd_summary(paths[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())

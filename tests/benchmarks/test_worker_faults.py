"""benchmarks/worker_faults.py: threads sampled from /proc, each full window beside the main thread that ran it."""

from __future__ import annotations

import csv
import os
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from benchmark_script import load_benchmark

ROOT = Path(__file__).resolve().parents[2]
CARD = ROOT / "data" / "h100" / "launch-by-worker"


def _script():
    return load_benchmark("worker_faults")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_sample_records_this_process_threads_with_their_faults(tmp_path):
    mod = _script()
    out = tmp_path / "threads.csv"
    assert mod.main(["sample", str(out), "--seconds", "1.2", "--period", "0.3"]) == 0
    rows = list(csv.DictReader(out.open()))
    mine = [r for r in rows if r["pid"] == str(os.getpid()) and r["tid"] == r["pid"]]
    assert len(mine) >= 3 and "python" in mine[0]["cmd"]
    assert int(mine[-1]["minflt"]) >= int(mine[0]["minflt"]) and int(mine[-1]["utime"]) >= int(mine[0]["utime"])
    assert len({r["t"] for r in mine}) == len(mine)  # one row per sample


def _store(path: Path, windows: list[tuple[int, str, float, float, str]]) -> Path:
    """A store with one measurement per ``(batch, phase, seconds, launch s, end time)``."""
    from factories import full, run
    from joulebench.store import BatchMeasurement, Store

    store = Store(path)
    store.add_run(run(run_id=path.stem))
    for batch, phase, seconds, launch, end in windows:
        m = full(
            BatchMeasurement, run_id=path.stem, model="m.tag", img_size=224, runtime="compile-fp16", batch_size=batch,
            status="ok", duration_s=seconds, measured_at=end, energy_per_image_j=0.011, gpu_uuid="GPU-aaaa",
            trace_summary={"phase": phase, "host_launch_per_iter_s": launch, "gpu_util_pct_mean": 60.0},
        )  # fmt: skip
        store.add_measurement(m)
    store.close()
    return path


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="seconds")


def _samples(path: Path, rows: list[tuple[float, int, int, int, int, int]]) -> Path:
    """A sample CSV from ``(t, pid, tid, utime ticks, stime ticks, minflt)``."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t", "pid", "tid", "comm", "utime", "stime", "minflt", "majflt", "cpu", "cmd"])
        for t, pid, tid, ut, st, flt in rows:
            w.writerow([f"{t:.2f}", pid, tid, "python3", ut, st, flt, 0, 3, "python3 -m joulebench"])
    return path


def test_report_sets_each_full_window_beside_the_busiest_main_thread(tmp_path, capsys):
    mod = _script()
    t0 = 1_800_000_000.0
    hz = mod._HZ
    samples = []
    for i in range(21):  # 10 s: pid 10 busy and faulting, pid 20 idle; pid 10's second thread busier but not main
        t = t0 + 0.5 * i
        samples += [(t, 10, 10, int(0.8 * hz * 0.5 * i), int(0.2 * hz * 0.5 * i), 3000 * i)]
        samples += [(t, 10, 11, int(2 * hz * 0.5 * i), 0, 0), (t, 20, 20, 5, 1, 7)]
    threads = _samples(tmp_path / "threads.csv", samples)
    db = _store(tmp_path / "a.db", [(128, "scout", 0.8, 0.003, _iso(t0 + 2)), (128, "full", 8.0, 0.004, _iso(t0 + 9))])
    out = tmp_path / "faults.csv"
    rows = mod.cmd_report(threads, [f"fork={db}"], out)
    assert len(rows) == 1  # the scouting window is no final
    r = rows[0]
    assert r["label"] == "fork" and r["store"] == "a.db" and r["batch"] == 128
    assert r["main_cpu_frac"] == pytest.approx(1.0, abs=0.05) and r["main_sys_frac"] == pytest.approx(0.2, abs=0.02)
    assert r["minor_faults_per_s"] == pytest.approx(6000, rel=0.01)
    assert "fork" in capsys.readouterr().out
    # appended: the rows kept come first; the summary reads them back per label
    mod.cmd_report(threads, [f"fresh={db}"], out, append=True)
    by = mod.cmd_summary(out)
    assert list(by) == ["fork", "fresh"]
    assert "fork: 1 windows, launch 4.00-4.00 ms per iteration, main thread 6000-6000" in capsys.readouterr().out


def test_report_and_summary_say_which_file_is_missing(tmp_path, capsys):
    mod = _script()
    assert mod.main(["summary", str(tmp_path / "none.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    threads = _samples(tmp_path / "t.csv", [])
    assert mod.main(["report", str(threads), f"fork={tmp_path / 'gone.db'}"]) == 2
    assert "gone.db" in capsys.readouterr().err


def _quoted(card: Path, command: str) -> list[str]:
    """The lines printed under ``command`` in the card's code blocks."""
    for block in re.findall(r"```[a-z]*\n(.*?)```", card.read_text(encoding="utf-8"), re.S):
        lines = block.splitlines()
        if lines and lines[0] == command:
            return lines[1:]
    raise AssertionError(f"{card} quotes no output of {command}")


def test_the_launch_by_worker_card_quotes_the_fault_summary(capsys):
    mod = _script()
    by = mod.cmd_summary(CARD / "faults.csv")
    printed = capsys.readouterr().out.splitlines()
    command = "python3 benchmarks/worker_faults.py summary data/h100/launch-by-worker/faults.csv"
    quoted = _quoted(CARD / "README.md", command)
    assert quoted == printed
    forked = [r for label, rs in by.items() if label != "fresh" for r in rs]
    fresh = by["fresh"]
    assert min(float(r["minor_faults_per_s"]) for r in forked) > 10_000
    assert max(float(r["minor_faults_per_s"]) for r in fresh) < 1  # "under one a second"
    launch = {k: [float(r["host_launch_per_iter_s"]) for r in rs] for k, rs in (("forked", forked), ("fresh", fresh))}
    assert min(launch["forked"]) > max(launch["fresh"])
    card = " ".join((CARD / "README.md").read_text(encoding="utf-8").split())
    sys_forked = sorted(100 * float(r["main_sys_frac"]) for r in forked)
    sys_fresh = sorted(100 * float(r["main_sys_frac"]) for r in fresh)
    assert f"with {sys_forked[0]:.0f} to {sys_forked[-1]:.0f} % of its time in the kernel" in card
    assert f"spent {sys_fresh[0]:.0f} to {sys_fresh[-1]:.0f} % in the kernel" in card


def test_the_launch_bound_page_quotes_the_same_summary_and_busy_shares(capsys):
    by = _script().cmd_summary(CARD / "faults.csv")
    printed = capsys.readouterr().out.splitlines()
    page = ROOT / "docs" / "validation" / "launch-bound-windows.md"
    assert _quoted(page, "python3 benchmarks/worker_faults.py summary data/h100/launch-by-worker/faults.csv") == printed
    busy = sorted(100 * float(r["main_cpu_frac"]) for rs in by.values() for r in rs)
    text = " ".join(page.read_text(encoding="utf-8").split())
    assert f"on the CPU {busy[0]:.0f} to {busy[-1]:.0f} % of their windows" in text

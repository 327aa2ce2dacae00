"""benchmarks/launch_overhead.py: host cost per call of a program in each state, and of each window of a task."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmark_script import load_benchmark

ROOT = Path(__file__).resolve().parents[2]
MODEL = "test_efficientnet.r160_in1k"


def _script():
    return load_benchmark("launch_overhead")


def _states(mod, steps: str, *extra: str):
    args = ["states", MODEL, "--runtime", "cpu-fp32", "--batch", "2", "--calls", "3", "--steps", steps, *extra]
    return mod.cmd_states(mod.build_parser().parse_args(args))


def test_states_times_every_program_step_at_its_own_batch(capsys):
    mod = _script()
    costs = _states(mod, "static,release,freeze,scout:4,static:8")
    assert [(c.step, c.batch) for c in costs] == [("static", 2), ("scout:4", 4), ("static:8", 8)]
    assert all(c.cpu_per_call_s > 0 and c.wall_per_call_s >= c.cpu_per_call_s * 0.5 for c in costs)
    assert all(c.probe_s > 0 for c in costs)  # the host's speed beside each step's cost
    out = capsys.readouterr().out
    assert "host ms/call" in out and "static:8" in out and "probe ms" in out


def test_states_profile_names_the_models_own_functions(capsys):
    mod = _script()
    _states(mod, "static", "--profile")
    out = capsys.readouterr().out
    assert "Python calls per iteration" in out
    assert "efficientnet" in out  # timm's block forwards are where an eager CPU model spends its Python time


def test_states_refuses_a_step_it_does_not_know():
    mod = _script()
    with pytest.raises(SystemExit, match="unknown step 'compile'"):
        _states(mod, "static,compile")


def test_task_prints_each_segment_and_the_stored_windows_then_restores_the_protocol(capsys):
    mod = _script()
    from joulebench.sweep import protocol

    real = protocol.run_segment
    argv = ["task", MODEL, "--runtime", "cpu-fp32", "--batch", "4", "--meter", "sim", "--protocol", "quick"]
    argv.append("--no-freeze")
    a = mod.build_parser().parse_args(argv)
    result = mod.cmd_task(a)
    assert protocol.run_segment is real
    assert result.summary.status == "ok" and a.freeze is False  # pytest's process outlives the task: no gc.freeze
    out = capsys.readouterr().out
    segments = [line for line in out.splitlines() if line.startswith("segment: ")]
    assert any(line.startswith("segment: batch 4,") for line in segments)
    assert any(line.startswith("segment: batch 1,") for line in segments)
    assert all("ms per iteration" in line for line in segments)
    rows = [line.split() for line in out.splitlines()[-len(result.measurements) :]]
    assert {tuple(r[:2]) for r in rows} == {(str(m.batch_size), m.trace_summary["phase"]) for m in result.measurements}
    assert all(float(r[-1]) > 0 for r in rows)  # each window's host probe, in ms


def _forked_task(model: str) -> subprocess.CompletedProcess:
    args = ["task", model, "--runtime", "cpu-fp32", "--batch", "2", "--meter", "sim", "--protocol", "quick", "--forked"]
    script = ROOT / "benchmarks" / "launch_overhead.py"
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=300)


def test_a_forked_task_runs_in_a_child_of_the_preloaded_process_and_passes_its_exit_status_on():
    done = _forked_task(MODEL)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert "task ok" in lines  # the child measured the task and printed its windows
    assert {tuple(line.split()[:2]) for line in lines[lines.index("task ok") + 2 :]} == {
        ("2", "scout"),
        ("2", "full"),
        ("1", "scout"),
    }
    failed = _forked_task("no_such_model_anywhere")
    assert failed.returncode == 1 and "Traceback" in failed.stderr  # the child's error, reported, not swallowed


def test_command_flags_keep_the_conditions_and_drop_the_task():
    mod = _script()
    cmd = "joulebench measure m.tag --runtime compile-fp16 --start-batch 128 --max-batch 128 --db /tmp/v.db --json"
    assert mod.command_flags(cmd) == ""
    assert mod.command_flags(cmd + " --worker-start fresh --static-scouts") == "--worker-start fresh --static-scouts"
    assert mod.command_flags(cmd + " --precision off --min-window 5s") == "--precision off --min-window 5s"


def _store(path, command, launches, probe=None, worker_start=None):
    from factories import full, run
    from joulebench.store import BatchMeasurement, Store

    store = Store(path)
    store.add_run(run(run_id=path.stem, command=command))
    for batch, phase, launch in launches:
        m = full(
            BatchMeasurement, run_id=path.stem, model="m.tag", img_size=224, runtime="compile-fp16",
            batch_size=batch, status="ok", latency_mean_s=launch * 1.02, gpu_uuid="GPU-aaaa",
            trace_summary={"phase": phase, "prepare_s": 2.0, "host_launch_per_iter_s": launch,
                           "gpu_util_pct_mean": 60.0, "host_thread_busy_frac": 0.97}
            | ({"host_probe_s": probe} if probe is not None else {})
            | ({"worker_start": worker_start} if worker_start else {}),
        )  # fmt: skip
        store.add_measurement(m)
    store.close()
    return path


def test_windows_lists_each_stored_window_beside_its_flags_and_reads_its_own_csv_back(tmp_path, capsys):
    mod = _script()
    base = "joulebench measure m.tag --runtime compile-fp16 --start-batch 128 --max-batch 128 --db x.db --json"
    a = _store(tmp_path / "a.db", base, [(128, "scout", 0.0045), (128, "full", 0.0043), (1, "scout", 0.003)])
    b = _store(tmp_path / "b.db", base + " --worker-start fresh", [(128, "full", 0.0037)])
    c = _store(tmp_path / "c.db", base, [(128, "full", 0.0048)])
    out = tmp_path / "w.csv"
    rows = mod.cmd_windows(mod.build_parser().parse_args(["windows", str(a), str(b), str(c), "--csv", str(out)]))
    assert [(r["store"], r["batch"], r["phase"]) for r in rows] == [
        ("a.db", 128, "scout"), ("a.db", 128, "full"), ("a.db", 1, "scout"), ("b.db", 128, "full"),
        ("c.db", 128, "full"),
    ]  # fmt: skip
    printed = capsys.readouterr().out
    # full windows only, grouped by the flags the command was given
    assert "full windows [(defaults)]: 2, launch 4.30-4.80 ms per iteration" in printed
    assert "full windows [--worker-start fresh]: 1, launch 3.70-3.70 ms per iteration" in printed
    assert out.read_bytes().count(b"\r") == 0
    again = mod.cmd_windows(mod.build_parser().parse_args(["windows", str(out)]))
    assert [r["flags"] for r in again] == ["", "", "", "--worker-start fresh", ""]
    assert capsys.readouterr().out == printed


def test_windows_group_by_how_the_worker_started_where_the_rows_say(tmp_path, capsys):
    mod = _script()
    base = "joulebench measure m.tag --runtime compile-fp16 --start-batch 128 --max-batch 128 --db x.db"
    old = _store(tmp_path / "old.db", base, [(128, "full", 0.0045)])  # from before rows recorded it
    fork = _store(tmp_path / "f.db", base, [(128, "full", 0.0041)], worker_start="fork")
    fresh = _store(tmp_path / "n.db", base, [(128, "full", 0.0024)], worker_start="fresh")
    out = tmp_path / "w.csv"
    argv = ["windows", str(old), str(fork), str(fresh), "--csv", str(out)]
    rows = mod.cmd_windows(mod.build_parser().parse_args(argv))
    assert [r["worker_start"] for r in rows] == [None, "fork", "fresh"]
    printed = capsys.readouterr().out
    assert "full windows [(defaults)]: 1, launch 4.50-4.50 ms per iteration" in printed
    assert "full windows [(defaults); fork worker]: 1, launch 4.10-4.10 ms per iteration" in printed
    assert "full windows [(defaults); fresh worker]: 1, launch 2.40-2.40 ms per iteration" in printed
    mod.cmd_windows(mod.build_parser().parse_args(["windows", str(out)]))
    assert capsys.readouterr().out == printed  # the CSV keeps the column


def _first_block(card: Path) -> list[str]:
    return card.read_text(encoding="utf-8").split("```\n")[1].splitlines()


def test_the_compiled_128_windows_card_quotes_what_the_script_prints_from_its_csv(capsys):
    folder = ROOT / "data" / "h100" / "compiled-128-windows"
    mod = _script()
    rows = mod.cmd_windows(mod.build_parser().parse_args(["windows", str(folder / "windows.csv")]))
    printed = capsys.readouterr().out.splitlines()
    quoted = _first_block(folder / "README.md")
    assert len(quoted) == 5 and all(line in printed for line in quoted)
    full = [r for r in rows if r["phase"] == "full"]
    util = sorted(float(r["gpu_util_pct_mean"]) for r in full)
    card = " ".join((folder / "README.md").read_text(encoding="utf-8").split())
    assert f"the card busy {util[0]:.0f} to {util[-1]:.0f} % of the window" in card
    assert len({r["store"] for r in rows}) == 7 and "Seven `joulebench measure` runs" in card


def test_host_alternates_the_probe_and_the_programs_calls_and_keeps_the_rounds(tmp_path, capsys):
    mod = _script()
    out = tmp_path / "host.csv"
    argv = ["host", MODEL, "--runtime", "cpu-fp32", "--batch", "2", "--calls", "3", "--rounds", "3", "--csv", str(out)]
    rows = mod.cmd_host(mod.build_parser().parse_args(argv))
    assert [r["round"] for r in rows] == [0, 1, 2]
    assert all(r["probe_s"] > 0 and r["host_per_call_s"] > 0 and r["batch"] == 2 for r in rows)
    printed = capsys.readouterr().out
    assert "probe ms" in printed and "host per call" in printed
    from joulebench.sweep.regret import read_rows

    kept = read_rows(out)
    assert list(kept[0]) == list(mod.HOST_COLUMNS) and len(kept) == 3
    # a longer probe than the windows' own: twenty times the steps, far more than noise can blur
    longer = mod.cmd_host(mod.build_parser().parse_args([*argv[:-2], "--rounds", "1", "--probe-loop", "200000"]))
    assert longer[0]["probe_s"] > 5 * min(r["probe_s"] for r in rows)


def test_host_summary_correlates_the_probe_with_the_launch_cost(capsys):
    mod = _script()
    rows = [{"probe_s": p, "host_per_call_s": 0.0025 * p / 0.005} for p in (0.005, 0.0075, 0.010, 0.006)]
    mod._print_host_summary(rows)
    out = capsys.readouterr().out
    assert "probe 5.00-10.00 ms (x2.00)" in out and "host per call 2.500-5.000 ms (x2.00)" in out
    assert "correlation of probe and host per call: 1.00" in out


def test_windows_show_the_host_probe_where_the_store_has_it(tmp_path, capsys):
    mod = _script()
    a = _store(tmp_path / "a.db", "joulebench measure m.tag --db a.db", [(128, "full", 0.0043)], probe=0.0042)
    rows = mod.cmd_windows(mod.build_parser().parse_args(["windows", str(a)]))
    assert rows[0]["host_probe_s"] == pytest.approx(0.0042)
    printed = capsys.readouterr().out.splitlines()
    assert "probe ms" in printed[0] and printed[1].split()[-1] == "4.20"


def test_the_launch_by_worker_card_quotes_what_the_script_prints_from_its_csv(capsys):
    folder = ROOT / "data" / "h100" / "launch-by-worker"
    mod = _script()
    rows = mod.cmd_windows(mod.build_parser().parse_args(["windows", str(folder / "windows.csv")]))
    printed = capsys.readouterr().out.splitlines()
    quoted = [line for line in _first_block(folder / "README.md") if not line.startswith("python3 ")]
    assert len(quoted) == 2 and all(line in printed for line in quoted)
    finals = [r for r in rows if r["phase"] == "full"]
    forked = [float(r["host_launch_per_iter_s"]) for r in finals if not r["flags"]]
    fresh = [float(r["host_launch_per_iter_s"]) for r in finals if r["flags"] == "--worker-start fresh"]
    assert min(forked) > max(fresh)  # every forked worker's final launched slower than every fresh one's
    card = " ".join((folder / "README.md").read_text(encoding="utf-8").split())
    energy = sorted(1e3 * float(r["energy_per_image_j"]) for r in finals if not r["flags"])
    assert f"read {energy[0]:.2f} to {energy[-1]:.2f} mJ" in card
    ratios = []  # each board's forked finals against its fresh ones
    for board in {r["gpu_uuid"] for r in finals}:
        mine = [r for r in finals if r["gpu_uuid"] == board]
        f = [float(r["host_launch_per_iter_s"]) for r in mine if not r["flags"]]
        g = [float(r["host_launch_per_iter_s"]) for r in mine if r["flags"] == "--worker-start fresh"]
        if f and g:
            ratios += [min(f) / max(g), max(f) / min(g)]
    assert f"{min(ratios):.1f} to {max(ratios):.1f} times as slow as a fresh final on its board" in card

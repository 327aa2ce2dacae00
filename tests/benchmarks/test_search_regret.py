"""benchmarks/search_regret.py and joulebench.sweep.regret: the replay and the report read the measured ladders."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from benchmark_script import load_benchmark
from joulebench.sweep import regret, regret_windows

ROOT = Path(__file__).resolve().parents[2]
LADDERS = ROOT / "data" / "h200" / "search-ladders"


def _script():
    return load_benchmark("search_regret")


def test_replay_prints_a_line_per_curve_and_the_maximum_regret(capsys):
    assert _script().main(["--replay", str(LADDERS / "ladders.csv"), "--trials", "5"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 + 2 + 2  # header, the two ladders, the window time and the regret lines
    assert re.fullmatch(r"window time: \d+\.\d s per curve on average \(warm-ups and minimum windows\)", out[-2])
    worst = float(re.fullmatch(r"max regret (\d+\.\d) %", out[-1]).group(1))
    assert worst <= 1.5
    plateau = _script().main(["--replay", str(LADDERS / "ladders.csv"), "--trials", "5", "--search", "plateau"])
    assert plateau == 0 and "max regret" in capsys.readouterr().out


def test_report_joins_each_sweep_with_its_ladder(capsys):
    assert _script().main(["report", "--state", str(LADDERS)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith("resnet50.a1_in1k")]
    assert {r.split()[1] for r in rows} == {"compile-fp16", "torch-fp32"}
    assert any(line.startswith("median GPU-s torch-fp32") for line in lines)
    [windows] = [line for line in lines if line.startswith("windows resnet50.a1_in1k compile-fp16")]
    assert "prepare/compile 206 s" in windows  # the compile time docs/validation/search.md quotes


def test_the_paper_protocols_cost_counts_every_doubling_and_the_bisection():
    ladder = [
        {"batch": str(b), "status": "ok", "pass": "up", "prepare_s": "1", "latency_mean_s": "0.01"}
        for b in (16, 32, 64)
    ]
    # batches 1..64 (7 doublings) cost 1 + 3 + 10 s each; 6 bisection steps, half fitting (14 s), half failing (1 s)
    assert regret.paper_cost_s(ladder, overhead_s=5.0) == 5.0 + 7 * 14.0 + 3 * 14.0 + 3 * 1.0


H100 = ROOT / "data" / "h100" / "search-ladders"


def _store_with_scouts(path: Path, cis: list[float]) -> Path:
    """A store whose run has one scouting window per interval in ``cis`` and one full window."""
    from factories import full, run
    from joulebench.store import BatchMeasurement, Store

    store = Store(path)
    store.add_run(run(run_id="r1"))
    rows = [(2**i, "scout", ci) for i, ci in enumerate(cis)] + [(4, "full", 0.001)]
    for batch, phase, ci in rows:
        m = full(
            BatchMeasurement, run_id="r1", model="m.tag", img_size=224, runtime="torch-fp32", batch_size=batch,
            status="ok", ci95_rel=ci,
            trace_summary={"phase": phase, "prepare_s": 0.5, "warmup_s": 0.2, "host_preemptions": 3},
        )  # fmt: skip
        store.add_measurement(m)
    store.close()
    return path


def test_noise_reads_the_scouting_windows_intervals_only(tmp_path, capsys):
    db = _store_with_scouts(tmp_path / "s.db", [0.01, 0.02, 0.04])
    assert _script().main(["noise", str(db)]) == 0
    out = capsys.readouterr().out
    assert "scouting windows: 3 in 1 stores" in out  # the full window is left out
    assert "median 2.00 %" in out and "--scout-noise 0.0102" in out


def test_windows_writes_one_row_per_window_with_its_phase_and_times(tmp_path):
    db = _store_with_scouts(tmp_path / "s.db", [0.01, 0.02])
    out = tmp_path / "w.csv"
    assert _script().main(["windows", str(db), "--out", str(out)]) == 0
    import csv

    rows = list(csv.DictReader(out.open()))
    assert [(r["batch"], r["phase"]) for r in rows] == [("1", "scout"), ("2", "scout"), ("4", "full")]
    assert {r["run_id"] for r in rows} == {"r1"} and rows[0]["prepare_s"] == "0.5"
    # the host figures the trace summary holds, empty where it has none
    assert rows[0]["host_preemptions"] == "3" and rows[0]["gpu_util_pct_mean"] == ""


def test_h100_report_of_the_newest_revision_shows_its_repeats_and_cost(capsys):
    assert _script().main(["report", "--state", str(H100)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "search revision 6"  # the newest in sweeps.csv
    # repeatability is one board's: boards of one model read up to 3.3 % apart, shown apart
    assert "repeats resnet50.a1_in1k torch-fp32 board 1: 2 runs, spread 0.15 %" in lines
    assert "repeats resnet50.a1_in1k torch-fp32 board 1 mJ/img: 91.85 91.71" in lines
    assert "repeats resnet50.a1_in1k torch-fp32 board 3: 3 runs, spread 0.14 %" in lines
    assert "repeats resnet50.a1_in1k torch-fp32 board 3 mJ/img: 91.26 91.34 91.21" in lines
    assert "repeats resnet50.a1_in1k torch-fp32 across 3 boards: 6 runs, spread 3.31 %" in lines
    row = next(line for line in lines if line.startswith("resnet50.a1_in1k"))
    assert row.split()[2:8] == ["128", "91.85", "768", "92.06", "0.75%", "48"]  # another board's ladder
    assert "time resnet50.a1_in1k torch-fp32 #1 board 1: start-up 3.7 s, scouts 19.9 s, finals 16.6 s" in lines
    # three finals where the scouts within 8 % lay on three parts of the curve, two where on two
    assert "full vs scout resnet50.a1_in1k torch-fp32 #0 board 1: 512 +1.6 %, 128 +0.7 %, 2048 -0.7 %" in lines
    assert "full vs scout resnet50.a1_in1k torch-fp32 #1 board 1: 128 +0.8 %, 1024 +0.8 %" in lines
    # a launch-bound final at 32 measured again on a slowed host
    board2 = "full vs scout resnet50.a1_in1k torch-fp32 #0 board 2: 128 +1.3 %, 32 +9.3 %, 512 -0.1 %, 32 +10.2 %"
    assert board2 in lines
    # compile-fp16 in a fresh worker, judged against the static ladder of its own board
    mnv3 = next(line for line in lines if line.startswith("mobilenetv3_large_100.ra_in1k") and "compile-fp16" in line)
    assert mnv3.split()[2:8] == ["2048", "11.27", "1024", "11.22", "0.43%", "168"]
    assert "time mobilenetv3_large_100.ra_in1k compile-fp16 #0: start-up 20.2 s, scouts 97.1 s, finals 51.0 s" in lines
    # its launch-bound final at 256 ran on a slowed host and was measured again: the second agrees with the ladder
    full = next(line for line in lines if line.startswith("full vs ladder mobilenetv3_large_100.ra_in1k compile-fp16"))
    assert "256 +3.1 % (time x1.20, GPU util 78 vs 94 %" in full and "256 +0.0 % (time x0.99" in full
    # efficientnet_b0 on a further board: within 1.5 % of its ladder's least; its launch-bound finals at 128 read
    # below the ladder's program there, whose process took half as long again per launch
    eff = next(line for line in lines if line.startswith("efficientnet_b0.ra_in1k") and "compile-fp16" in line)
    assert eff.split()[2:8] == ["1024", "21.71", "384", "21.49", "1.43%", "175"]
    assert "time efficientnet_b0.ra_in1k compile-fp16 #0: start-up 23.4 s, scouts 98.4 s, finals 53.4 s" in lines
    full = next(line for line in lines if line.startswith("full vs ladder efficientnet_b0.ra_in1k compile-fp16"))
    assert "128 -11.8 % (time x0.67, GPU util 81 vs 58 %, launch 5.51 vs 8.28 ms" in full and "128 -10.3 %" in full
    # resnet50 on two boards, the second with a ladder: the first is judged against it
    r50 = [line.split()[2:8] for line in lines if line.startswith("resnet50.a1_in1k") and "compile-fp16" in line]
    assert r50 == [
        ["2048", "26.66", "2048", "26.51", "0.00%", "137"],
        ["2048", "26.61", "2048", "26.51", "0.00%", "142"],
    ]
    assert "repeats resnet50.a1_in1k compile-fp16 across 2 boards: 2 runs, spread 0.20 %" in lines
    # convnext_tiny: two low parts (32 and 2048 up); the finals took the right one, 3072 lies between its scouts
    cnx = next(line for line in lines if line.startswith("convnext_tiny.fb_in1k") and "compile-fp16" in line)
    assert cnx.split()[2:8] == ["2048", "39.28", "3072", "39.05", "0.81%", "170"]
    # levit_256's ladder stops at 2048, far below the batch its sweep chose: no regret
    levit = next(line for line in lines if line.startswith("levit_256.fb_dist_in1k") and "compile-fp16" in line)
    assert levit.split()[2:8] == ["30768", "11.11", "-", "nan", "nan%", "189"]
    assert "median GPU-s compile-fp16: 169 over 6 sweeps" in lines
    # the transformers and the mixer, their programs compiled ahead in child processes: a runtime of their own
    ahead = {
        line.split()[0]: line.split()[1:8]
        for line in lines
        if len(line.split()) == 10 and line.split()[1] == "compile-fp16/compile-ahead"
    }
    assert ahead == {
        "vit_base_patch16_224.augreg2_in21k_ft_in1k": [
            "compile-fp16/compile-ahead",
            "8192",
            "63.72",
            "8192",
            "63.86",
            "0.00%",
            "165",
        ],
        "vit_large_patch16_224.augreg_in21k_ft_in1k": [
            "compile-fp16/compile-ahead",
            "4096",
            "193.84",
            "-",
            "nan",
            "nan%",
            "185",
        ],
        "mixer_b16_224.goog_in21k_ft_in1k": [
            "compile-fp16/compile-ahead",
            "8192",
            "60.21",
            "8192",
            "60.25",
            "0.00%",
            "213",
        ],
    }
    assert "median GPU-s compile-fp16/compile-ahead: 185 over 3 sweeps" in lines
    assert (
        "full vs scout mixer_b16_224.goog_in21k_ft_in1k compile-fp16/compile-ahead #0: "
        "8192 -20.4 %, 2048 -21.4 %, 256 -21.1 %" in lines
    )
    assert "time resnet50.a1_in1k compile-fp16 #0 board 1: start-up 15.9 s, scouts 35.8 s, finals 85.0 s" in lines
    compiles = "1 scout 11 s, 2 scout 9 s, 2048 full 12 s, 8192 full 29 s, 512 full 9 s"
    assert (
        f"windows resnet50.a1_in1k compile-fp16: 15, prepare/compile 70 s ({compiles}), warm-up + windows 51 s" in lines
    )


def test_h100_report_of_the_fifth_revision_judges_its_sweeps_on_their_own_boards(capsys):
    assert _script().main(["report", "--state", str(H100), "--rev", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "search revision 5"
    assert "repeats resnet50.a1_in1k torch-fp32: 3 runs, spread 0.33 %" in lines
    assert "repeats resnet50.a1_in1k torch-fp32 mJ/img: 90.75 91.03 90.73" in lines
    assert "median GPU-s torch-fp32: 40 over 1 sweeps" in lines  # a revision's row is its first sweep of a model
    mnv3 = next(line for line in lines if line.startswith("mobilenetv3_large_100.ra_in1k") and "compile-fp16" in line)
    assert mnv3.split()[2:7] == ["512", "11.23", "128", "10.92", "3.57%"]  # against the ladder of its own board
    # both finals launched about twice as slowly as the ladder's process did, at the same host speed
    full = next(line for line in lines if line.startswith("full vs ladder mobilenetv3_large_100.ra_in1k compile-fp16"))
    assert "launch 4.48 vs 2.31 ms" in full and "launch 4.01 vs 2.17 ms" in full
    assert "128 +8.6 % (time x1.59, GPU util 64 vs 100 %" in full and "host probe 0.43 vs 0.44 ms" in full


def test_h100_report_keeps_the_misses_and_the_repeats(capsys):
    assert _script().main(["report", "--state", str(H100), "--rev", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "search revision 3"
    conv = next(line for line in lines if line.startswith("convnext_tiny.fb_in1k"))
    # judged against the ladder of its own board (gpu_uuid), not the earlier board's
    assert conv.split()[2:6] == ["256", "197.22", "4096", "197.88"] and "0.78%" in conv
    assert "repeats resnet50.a1_in1k torch-fp32: 4 runs, spread 1.35 %" in lines
    assert "repeats resnet50.a1_in1k torch-fp32 mJ/img: 89.02 88.01 89.20 89.04" in lines
    assert "time torch-fp32: start-up 9.3-15.9 s, scouts 14.2-30.1 s, finals 8.6-29.6 s over 11 sweeps" in lines
    assert "revision 2 -> 3: median GPU-s 55 -> 51 on the same 8 rows" in lines
    mnv3 = next(line for line in lines if line.startswith("mobilenetv3_large_100.ra_in1k") and "compile-fp16" in line)
    assert mnv3.split()[2:7] == ["2048", "11.28", "128", "11.02", "2.56%"]  # the first board's compile-fp16 sweep
    # the second board's default sweep chose 512 where its ladder's minimum is 128
    assert "mobilenetv3_large_100.ra_in1k compile-fp16 512 11.06 128 10.80 4.05% 131 953 7.3" in [
        " ".join(line.split()) for line in lines
    ]
    assert "max regret 4.1 %" in lines
    assert "paper protocol / sweep GPU-s torch-fp32: median 7.0x, 5.9-8.9x" in lines  # estimated, per runtime
    assert "paper protocol / sweep GPU-s compile-fp16: median 6.1x, 5.2-7.3x" in lines
    assert "median GPU-s compile-fp16/worker-start-fresh: 151 over 2 sweeps" in lines  # labelled apart
    # its final at 128 ran host-bound: two-thirds longer per iteration than the ladder's static program there
    full = "full vs ladder mobilenetv3_large_100.ra_in1k compile-fp16 #0 board 1:"
    # with the card's mean utilisation in each final window: the card idled two-fifths of the time at 128
    assert f"{full} 128 +10.2 % (time x1.66, GPU util 60 %), 2048 -0.2 % (time x1.00, GPU util 94 %)" in lines
    # a worker started fresh (no zygote) ran its small-batch final host-bound as well
    fresh = "full vs ladder mobilenetv3_large_100.ra_in1k compile-fp16/worker-start-fresh #0:"
    assert f"{fresh} 2048 -0.5 % (time x1.00, GPU util 100 %), 128 +7.0 % (time x1.42, GPU util 67 %)" in lines
    assert (
        "full vs ladder convnext_tiny.fb_in1k torch-fp32 #0: 256 -1.1 % (time x1.00), 1024 +0.4 % (time x1.00)" in lines
    )
    # the card's utilisation in the final windows: under 85 % exactly where the finals ran host-bound
    assert "GPU util in finals compile-fp16: 8 windows, 4 under 85 % (49.2-59.7 %), 4 above (94.4-100.0 %)" in lines
    assert _script().main(["report", "--state", str(H100), "--rev", "2"]) == 0
    second = capsys.readouterr().out.splitlines()
    assert "GPU util in finals torch-fp32: 18 windows, 18 above (92.9-100.0 %)" in second
    conv = next(line for line in second if line.startswith("convnext_tiny.fb_in1k"))
    assert conv.split()[2:6] == ["256", "199.81", "4096", "203.17"] and "2.43%" in conv
    assert "repeats resnet50.a1_in1k torch-fp32: 2 runs, spread 0.56 %" in second and "max regret 2.9 %" in second
    assert _script().main(["report", "--state", str(H100), "--rev", "1"]) == 0
    earlier = capsys.readouterr().out.splitlines()
    assert "repeats resnet50.a1_in1k torch-fp32: 3 runs, spread 2.25 %" in earlier and "max regret 2.4 %" in earlier


def test_the_paper_estimate_takes_the_start_up_from_the_sweeps_windows(tmp_path):
    sweep = {"run_id": "r", "model": "m", "scouted": "1 2", "finals": "2"}
    windows = [
        {"run_id": "r", "model": "m", "prepare_s": "1", "warmup_s": "0.5", "window_s": "2"},
        {"run_id": "x", "model": "m", "window_s": "9"},
        {"run_id": "r", "model": "other", "window_s": "7"},  # a second model of the same measure call
    ]
    assert regret.sweep_windows_s(sweep, windows) == 3.5  # its own windows only
    assert regret.sweep_windows_s({**sweep, "run_id": ""}, windows) == 2 * 1.0 + 5.0  # no run: the rough rule


def test_replay_takes_the_scans_settings_and_noise(capsys):
    args = ["--replay", str(H100 / "ladders.csv"), "--trials", "20"]
    assert _script().main(args) == 0
    default = capsys.readouterr().out
    assert _script().main([*args, "--scout-noise", "0.005"]) == 0
    quiet = capsys.readouterr().out
    assert _script().main([*args, "--max-iter", "0.5"]) == 0
    short = capsys.readouterr().out

    def conv(out):
        return next(line for line in out.splitlines() if line.startswith("convnext_tiny")).split()[2]

    def window_s(out):
        return float(next(line for line in out.splitlines() if line.startswith("window time")).split()[2])

    # convnext's minimum, 2.4 % below a flat run, shows through quiet scouts only
    assert conv(default) != "4096" and conv(quiet) == "4096"
    assert window_s(short) < window_s(default)  # a shorter iteration limit scouts less
    assert _script().main([*args, "--margin", "0"]) == 0
    single = capsys.readouterr().out

    def max_regret(out):
        return float(out.splitlines()[-1].split()[2])

    # one finalist saves full windows and misses more: the margin keeps the second where it may win
    assert window_s(single) < window_s(default) and max_regret(single) > max_regret(default)


def test_one_measure_call_of_several_models_gives_each_its_own_row(tmp_path, monkeypatch):
    script = _script()
    summaries = [
        {"model": m, "status": "ok", "optimal_batch": b, "energy_per_image_j": e, "gpu_seconds": g,
         "batches_measured": 3, "gpu_name": "G", "gpu_uuid": "GPU-1"}
        for m, b, e, g in (("a", 8, 0.1, 30.0), ("b", 4, 0.2, 20.0))
    ]  # fmt: skip
    windows = [
        {"run_id": "r", "model": m, "batch": b, "phase": ph, "ci95_rel": 0.01}
        for m, b, ph in (
            ("a", 4, "scout"), ("a", 8, "scout"), ("a", 8, "full"),
            ("b", 4, "scout"), ("b", 4, "full"),
            ("d", 2, "scout"),
        )
    ]  # fmt: skip
    monkeypatch.setattr(script, "window_rows", lambda db: windows)
    monkeypatch.setattr(script, "_keep_store", lambda db: None)
    done = SimpleNamespace(stdout=json.dumps({"summaries": summaries}), stderr="", returncode=0)
    monkeypatch.setattr(script.subprocess, "run", lambda *a, **k: done)
    rows = script._sweeps(["a", "b", "c", "d"], "torch-fp32", tmp_path, 0, {}, ("--deadline", "60s"))
    assert [(r["model"], r["scouted"], r["finals"], r["gpu_seconds"]) for r in rows[:2]] == [
        ("a", "4 8", "8", 30.0),
        ("b", "4", "4", 20.0),
    ]
    assert rows[2]["status"].startswith("error") and {r["models_in_call"] for r in rows} == {4}
    assert rows[3]["status"] == "stopped: no result after 1 windows"  # the call's deadline stopped it
    assert (
        len(regret.read_rows(tmp_path / "sweeps.csv")) == 4
        and len(regret.read_rows(tmp_path / "sweep-windows.csv")) == 6
    )


def test_the_panel_measured_in_one_call_reports_its_cost_over_the_finished_sweeps(capsys):
    state = H100.parent / "panel-one-call"
    assert _script().main(["report", "--state", str(state), "--rev", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "median GPU-s torch-fp32: 41 over 7 sweeps (1 sweep(s) without a result left out)" in lines
    # forked workers: the start-up is the idle baseline, CUDA's start and the build, not the imports
    assert "time torch-fp32: start-up 3.0-3.4 s, scouts 16.2-34.8 s, finals 8.5-24.6 s over 7 sweeps" in lines
    assert "time efficientnet_b0.ra_in1k torch-fp32 #0: start-up 3.0 s, scouts 16.2 s, finals 8.5 s" in lines
    assert not any(line.startswith("paper protocol") for line in lines)  # no ladder on that board
    assert _script().main(["report", "--state", str(state), "--cost-ladders", str(H100), "--rev", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "paper protocol / sweep GPU-s torch-fp32: median 9.2x, 5.2-11.1x" in lines  # iteration times of other boards
    assert not any(line.startswith("max regret") for line in lines)  # regret needs the sweep's own board
    rows = [r for r in regret.read_rows(state / "sweeps.csv") if r["search_rev"] == "3"]
    assert {r["models_in_call"] for r in rows} == {"8"} and sum(r["status"] == "ok" for r in rows) == 7


def test_the_panel_in_one_call_under_the_sixth_revision_costs_more_than_under_the_third(capsys):
    state = H100.parent / "panel-one-call"
    assert _script().main(["report", "--state", str(state), "--cost-ladders", str(H100)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "search revision 6"
    assert "median GPU-s torch-fp32: 54 over 8 sweeps" in lines
    # the seven models both revisions finished (the third's call stopped mixer_b16_224)
    assert "revision 3 -> 6: median GPU-s 41 -> 51 on the same 7 rows" in lines
    assert "paper protocol / sweep GPU-s torch-fp32: median 6.3x, 4.2-10.7x" in lines
    assert "time torch-fp32: start-up 3.4-4.3 s, scouts 18.8-37.3 s, finals 18.6-44.3 s over 8 sweeps" in lines
    rows = [r for r in regret.read_rows(state / "sweeps.csv") if r["search_rev"] == "6"]
    # seven in one call on one board; mixer_b16_224, stopped there by the call's time limit, in a call of its own
    assert sorted(r["models_in_call"] for r in rows) == ["1"] + ["8"] * 8
    assert all(r["status"] == "ok" for r in rows if r["models_in_call"] == "1")


def test_the_compile_panel_report_keeps_the_latest_attempt_and_compares_scouts_with_finals(capsys):
    state = H100.parent / "compile-fp16-panel"
    assert _script().main(["report", "--state", str(state)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # vit_base was left for a second call by the first one's deadline: its row there gives way to the result
    assert [line.split()[0] for line in lines if line.startswith("vit_base")] == [
        "vit_base_patch16_224.augreg2_in21k_ft_in1k"
    ]
    assert "median GPU-s compile-fp16: 138 over 4 sweeps (4 sweep(s) without a result left out)" in lines
    assert "time compile-fp16: start-up 9.2-10.2 s, scouts 46.5-110.0 s, finals 44.4-56.5 s over 4 sweeps" in lines
    # the static programs of the finals against the dynamic-batch scouting program, at the same batches
    assert "full vs scout efficientnet_b0.ra_in1k compile-fp16 #0: 128 -15.1 %, 512 -16.2 %" in lines
    assert "full vs scout mobilenetv3_large_100.ra_in1k compile-fp16 #0: 1024 -8.4 %, 256 +2.1 %" in lines
    [windows] = [line for line in lines if line.startswith("windows resnet50.a1_in1k compile-fp16")]
    # 64-bit scouting indices: no recompilation of the scouting program between batch 2 and 8192
    assert "(1 scout 19 s, 2 scout 13 s, 4096 full 22 s, 1024 full 12 s)" in windows


def test_a_final_is_set_against_a_one_batch_ladder_with_the_launching_threads_share_but_gets_no_regret(capsys):
    state = H100.parent / "launch-bound-finals"
    assert _script().main(["report", "--state", str(state)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # the same static program at 128: slower launches in the worker, the launching thread busy in both processes
    assert (
        "full vs ladder mobilenetv3_large_100.ra_in1k compile-fp16 #0: 128 +10.4 % (time x1.69, GPU util 61 vs 96 %,"
        " launch 4.31 vs 2.45 ms, thread busy 96 vs 97 %)"
    ) in lines
    [row] = [line for line in lines if line.startswith("mobilenetv3_large_100.ra_in1k")]
    assert row.split()[2:5] == ["2048", "11.02", "-"]  # the ladder lacks the chosen batch: no best, no regret
    assert not any(line.startswith(("max regret", "paper protocol")) for line in lines)


def test_the_static_scouts_card_quotes_the_report_of_its_sweep(capsys):
    state = H100.parent / "static-scouts"
    assert _script().main(["report", "--state", str(state)]) == 0
    lines = capsys.readouterr().out.splitlines()
    quoted = (state / "README.md").read_text(encoding="utf-8").split("```\n")[1].splitlines()
    assert len(quoted) == 3 and all(line in lines for line in quoted)
    # static scouts rank as the finals read: within a percent, where the dynamic program's scouts read 15 % high
    assert "full vs scout efficientnet_b0.ra_in1k compile-fp16/static #0: 1024 +0.1 %, 128 -0.5 %" in lines


def test_a_ladder_without_the_sweeps_batch_gives_no_best_batch_but_one_with_it_does():
    sweep = {"model": "m", "runtime": "r", "repeat": "0", "search_rev": "3", "batch": "256", "gpu_uuid": "GPU-a"}
    sweep |= {"energy_per_image_j": "0.011", "gpu_seconds": "100", "run_id": "x", "scouted": "128 256", "finals": "256"}
    rung = {"model": "m", "runtime": "r", "status": "ok", "pass": "up", "gpu_uuid": "GPU-a", "latency_mean_s": "0.01"}
    rung |= {"prepare_s": "1"}
    ladder = [rung | {"batch": str(b), "energy_per_image_j": str(e)} for b, e in ((128, 0.010), (512, 0.0105))]
    bench = regret.BenchState(ladders=ladder, sweeps=[sweep], windows=[], cost_ladders=[])
    [partial] = regret.report_rows(bench, 3)
    assert "best_batch" not in partial and "regret" not in partial
    ladder.append(ladder[0] | {"batch": "256", "energy_per_image_j": "0.0102"})
    [row] = regret.report_rows(bench, 3)
    assert row["best_batch"] == 128 and abs(row["regret"] - 0.02) < 1e-9


def test_an_unfinished_sweep_row_gives_way_to_a_later_one_of_the_same_model():
    rows = [
        {"model": "a", "runtime": "r", "repeat": "0", "search_rev": "3", "status": "error: command again"},
        {"model": "b", "runtime": "r", "repeat": "0", "search_rev": "3", "status": "error: command again"},
        {"model": "a", "runtime": "r", "repeat": "0", "search_rev": "3", "status": "ok"},
        {"model": "a", "runtime": "r", "repeat": "1", "search_rev": "3", "status": "ok"},
    ]
    kept = regret.drop_superseded(rows)
    assert kept == rows[1:]


def test_a_sweep_with_static_scouts_is_its_own_row_beside_the_default_one(tmp_path, monkeypatch, capsys):
    script = _script()
    calls: list[list[str]] = []

    def measure(cmd, **kw):
        calls.append(cmd)
        s = {
            "model": "m",
            "status": "ok",
            "optimal_batch": 8 if "--static-scouts" in cmd else 4,
            "energy_per_image_j": 0.1,
            "gpu_seconds": 50.0,
            "batches_measured": 2,
            "gpu_name": "G",
            "gpu_uuid": "U",
        }
        return SimpleNamespace(stdout=json.dumps({"summaries": [s]}), stderr="", returncode=0)

    monkeypatch.setattr(script, "window_rows", lambda db: [])
    monkeypatch.setattr(script, "_keep_store", lambda db: None)
    monkeypatch.setattr(script.subprocess, "run", measure)
    run = ["run", "m", "--runtime", "compile-fp16", "--sweep-only", "--repeats", "1", "--state", str(tmp_path)]
    assert script.main([*run, "--static-scouts"]) == 0 and script.main(run) == 0
    assert script.main([*run, "--static-scouts"]) == 0  # already swept with static scouts: nothing runs
    monkeypatch.setenv("SWEEP_FLAGS", "--worker-start  fresh")
    assert script.main(run) == 0 and script.main(run) == 0  # the second call finds it done
    assert ["--static-scouts" in c for c in calls] == [True, False, False]
    assert calls[-1][-2:] == ["--worker-start", "fresh"]
    for batch, energy in ((4, 0.11), (8, 0.1)):
        script._append(tmp_path / "ladders.csv", script.LADDER_FIELDS,
                       {"model": "m", "runtime": "compile-fp16", "batch": batch, "status": "ok", "pass": "up",
                        "energy_per_image_j": energy, "gpu_uuid": "U"})  # fmt: skip
    assert script.main(["report", "--state", str(tmp_path)]) == 0
    rows = {line.split()[1]: line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("m ")}
    assert rows["compile-fp16/static"][2] == "8" and rows["compile-fp16/static"][6] == "0.00%"
    assert rows["compile-fp16"][2] == "4" and rows["compile-fp16"][6] == "10.00%"
    assert rows["compile-fp16/worker-start-fresh"][2] == "4"
    assert [r["flags"] for r in regret.read_rows(tmp_path / "sweeps.csv")] == ["", "", "--worker-start fresh"]


def test_full_vs_ladder_adds_the_host_figures_the_windows_recorded(capsys):
    sweep = {"run_id": "r", "model": "m", "runtime": "compile-fp16", "repeat": "0", "gpu_uuid": "GPU-1"}
    sweep |= {"scouts": "", "flags": ""}
    final = {"run_id": "r", "model": "m", "batch": "128", "phase": "full", "status": "ok"}
    final |= {"energy_per_image_j": "0.011", "latency_mean_s": "0.004"}
    ladder = {"model": "m", "runtime": "compile-fp16", "batch": "128", "status": "ok", "gpu_uuid": "GPU-1"}
    ladder |= {"energy_per_image_j": "0.010", "latency_mean_s": "0.002"}
    timed = {"gpu_util_pct_mean": "95", "host_launch_per_iter_s": "0.0019"}
    windows = [final | {"gpu_util_pct_mean": "49.2", "host_launch_per_iter_s": "0.0041"}]
    regret.print_full_against_ladder([sweep], windows, [ladder | timed])
    line = "full vs ladder m compile-fp16 #0: 128 +10.0 % (time x2.00, GPU util 49 vs 95 %, launch 4.10 vs 1.90 ms)"
    assert capsys.readouterr().out.strip() == line
    # a ladder from before those columns: the final's own figures only; a window without them: none
    bare = [ladder, ladder | {"batch": "256"}]
    regret.print_full_against_ladder([sweep], windows + [final | {"batch": "256"}], bare)
    out = capsys.readouterr().out.strip()
    assert out.endswith("128 +10.0 % (time x2.00, GPU util 49 %, launch 4.10 ms), 256 +10.0 % (time x2.00)")


def test_sweeps_of_one_model_on_two_boards_are_named_apart():
    a = {"model": "m", "runtime": "compile-fp16", "repeat": "0", "gpu_uuid": "GPU-b"}
    b = a | {"gpu_uuid": "GPU-a"}
    other = {"model": "n", "runtime": "compile-fp16", "repeat": "0", "gpu_uuid": "GPU-c"}
    sweeps = [a, other, b, b | {"repeat": "1"}]
    # numbered in the order of each board's first sweep, not by UUID; a model on one board has no number
    assert [regret_windows.sweep_name(s, sweeps) for s in sweeps] == [
        "m compile-fp16 #0 board 1",
        "n compile-fp16 #0",
        "m compile-fp16 #0 board 2",
        "m compile-fp16 #1 board 2",
    ]


def test_full_vs_ladder_sets_the_hosts_probe_beside_the_ladders_where_both_have_one():
    window = {"gpu_util_pct_mean": "51", "host_launch_per_iter_s": "0.00524", "host_probe_s": "0.0031"}
    rung = {"gpu_util_pct_mean": "96", "host_launch_per_iter_s": "0.00255"}
    ladder = [rung | {"host_probe_s": p} for p in ("0.0020", "")]
    assert regret_windows.host_against_ladder(window, ladder) == (
        ", GPU util 51 vs 96 %, launch 5.24 vs 2.55 ms, host probe 3.10 vs 2.00 ms"
    )
    # a ladder from before the probe: the window's own probe, with nothing to set it against
    assert regret_windows.host_against_ladder(window, [{"host_probe_s": ""}]).endswith(", host probe 3.10 ms")


def test_replay_of_a_missing_file_says_so_without_a_traceback(tmp_path):
    script = ROOT / "benchmarks" / "search_regret.py"
    done = subprocess.run(
        [sys.executable, str(script), "--replay", str(tmp_path / "none.csv")], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "no such curves file" in done.stderr
    assert "Traceback" not in done.stderr


def _replay_lines(capsys, *args: str) -> list[str]:
    lines = []
    for gpu in ("h100", "h200"):
        assert _script().main(["--replay", str(ROOT / "data" / gpu / "search-ladders" / "ladders.csv"), *args]) == 0
        lines += capsys.readouterr().out.strip().splitlines()
    return lines


def test_the_validation_pages_replay_table_is_the_replays(capsys):
    """docs/validation/search.md quotes both searches' replays on every stored ladder: the same batches and regrets."""
    from card_tables import rows

    page = (ROOT / "docs" / "validation" / "search.md").read_text(encoding="utf-8")
    table = page.split("## Old search against new, replayed on the same ladders")[1].split("Max regret:")[0]
    quoted = sorted((r[1], r[2], r[3], r[4]) for r in rows(table, "| H"))

    def printed(*args: str) -> list[tuple[str, str, str]]:
        return [
            (f[0].split("@")[0], f[1], f"{f[2]}, {f[6][:-1].removeprefix('-')} %")  # -0.00 %: the minimum
            for f in (line.split() for line in _replay_lines(capsys, *args))
            if len(f) == 8 and f[0] != "model"
        ]

    scan, plateau = printed(), printed("--search", "plateau")
    assert sorted((m, r, s, p) for (m, r, s), (_, _, p) in zip(scan, plateau, strict=True)) == quoted
    assert len(quoted) == 24


def test_the_validation_page_quotes_the_replays_maxima_and_window_times(capsys):
    page = " ".join((ROOT / "docs" / "validation" / "search.md").read_text(encoding="utf-8").split())
    h100 = ROOT / "data" / "h100" / "search-ladders" / "ladders.csv"

    def tail(*args: str) -> tuple[str, str]:
        assert _script().main(["--replay", str(h100), *args]) == 0
        window, worst = capsys.readouterr().out.strip().splitlines()[-2:]
        return re.search(r"([\d.]+) s per curve", window).group(1), re.search(r"([\d.]+) %", worst).group(1)

    window, worst = tail()
    assert f"scan {worst} % (H100)" in page and f"{window} s of warm-ups and windows" in page
    assert f"`plateau` {tail('--search', 'plateau')[0]} s" in page
    quoted = {
        ("--finalists", "2", "--margin", "0.06"): "{1} % at {0} s per curve",
        ("--finalists", "2"): "(`--finalists 2`) miss by {1} % at {0} s",
        ("--margin", "0.06"): "(`--margin 0.06`) by {1} % at {0} s",
        ("--finalists", "1"): "(`--finalists 1`) by {1} % at {0} s",
    }
    for args, phrase in quoted.items():
        assert phrase.format(*tail(*args)) in page, args
    third = float(window) - float(tail("--finalists", "2")[0])  # what the third final adds per curve
    assert f"adds its warm-up and window ({third:.1f} s per curve on average in the replay" in page
    assert tail("--trials", "40")[1] == worst and f"(`--trials 40`) give the same {worst} %" in page


def test_the_validation_pages_sixth_revision_panel_table_is_the_stored_sweeps():
    """search.md's table of the sixth revision's panel in one call quotes sweeps.csv: batch, energy, GPU-s, finals."""
    from card_tables import rows

    page = (ROOT / "docs" / "validation" / "search.md").read_text(encoding="utf-8")
    table = page.split("The sixth revision, the same way on a further board")[1].split("`report` prints")[0]
    stored = [
        [r["model"], r["batch"], f"{1e3 * float(r['energy_per_image_j']):.2f}", f"{float(r['gpu_seconds']):.0f}"]
        + [r["finals"]]
        for r in regret.read_rows(H100.parent / "panel-one-call" / "sweeps.csv")
        if r["search_rev"] == "6" and r["status"] == "ok"
    ]
    assert rows(table, "| ")[2:] == stored and len(stored) == 8


def test_final_lengths_set_each_sweeps_first_final_apart_from_its_later_ones(capsys):
    windows = [
        {"run_id": "r", "model": "m", "phase": p, "window_s": s}
        for p, s in (("scout", "0.6"), ("full", "10.0"), ("full", "3.2"), ("full", "3.6"))
    ] + [{"run_id": "q", "model": "m", "phase": "full", "window_s": "4.0"}]
    sweeps = [{"run_id": r, "model": "m", "runtime": "torch-fp32"} for r in ("r", "q")]
    regret_windows.print_final_lengths(sweeps, windows)
    out = capsys.readouterr().out.strip()
    assert out == "final windows torch-fp32: first 4.0-10.0 s (median 7.0), later 3.2-3.6 s (median 3.4) over 2 sweeps"


def test_the_sixth_revisions_board_ran_its_first_finals_longer_than_the_thirds(capsys):
    state = H100.parent / "panel-one-call"

    def line(*args: str) -> str:
        assert _script().main(["report", "--state", str(state), *args]) == 0
        return next(x for x in capsys.readouterr().out.splitlines() if x.startswith("final windows"))

    assert (
        line()
        == "final windows torch-fp32: first 8.0-14.1 s (median 10.5), later 3.2-11.2 s (median 3.7) over 8 sweeps"
    )
    assert line("--rev", "3") == (
        "final windows torch-fp32: first 3.2-15.0 s (median 3.4), later 3.2-8.5 s (median 3.3) over 7 sweeps"
    )


def test_repeats_are_one_boards_and_a_line_across_boards_follows_where_there_are_several(capsys):
    def sweep(board: str, mj: float) -> dict[str, str]:
        return {
            "model": "m",
            "runtime": "torch-fp32",
            "repeat": "0",
            "gpu_uuid": board,
            "energy_per_image_j": str(mj / 1e3),
        }

    regret._print_repeats([sweep("a", 100.0), sweep("a", 100.5)])
    assert capsys.readouterr().out.splitlines()[0] == "repeats m torch-fp32: 2 runs, spread 0.50 %"  # one board
    regret._print_repeats([sweep("a", 100.0), sweep("b", 97.0), sweep("a", 100.5)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "repeats m torch-fp32 board 1: 2 runs, spread 0.50 %"  # board b has one run: no line
    assert lines[2] == "repeats m torch-fp32 across 2 boards: 3 runs, spread 3.61 %"
    assert not any("board 2" in line for line in lines)


def test_a_three_second_warm_up_left_the_first_final_long_and_the_sweeps_dearer(capsys):
    """data/h100/warm-up-panel: one board, the default 1 s warm-up against --warmup 3s on the same three models."""
    state = H100.parent / "warm-up-panel"
    assert _script().main(["report", "--state", str(state)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "median GPU-s torch-fp32: 38 over 3 sweeps" in lines
    assert "median GPU-s torch-fp32/warmup-3s: 57 over 2 sweeps (1 sweep(s) without a result left out)" in lines
    finals = [line for line in lines if line.startswith("final windows")]
    assert finals == [
        "final windows torch-fp32: first 3.2-3.3 s (median 3.2), later 3.2-7.0 s (median 3.4) over 3 sweeps",
        "final windows torch-fp32/warmup-3s: first 3.3-10.2 s (median 6.8), later 3.2-10.9 s (median 3.9)"
        " over 2 sweeps",
    ]
    page = (ROOT / "docs" / "validation" / "search.md").read_text(encoding="utf-8")
    assert all(line in page for line in finals + [x for x in lines if x.startswith("median GPU-s")])
    # the flag lengthens the scouts' warm-ups too: a fifth of it after each model's first scout
    windows = regret.read_rows(state / "sweep-windows.csv")
    runs = {r["run_id"]: r["flags"] for r in regret.read_rows(state / "sweeps.csv") if r.get("run_id")}
    later = {
        flags: sorted(
            round(float(w["warmup_s"]), 1) for w in windows if runs[w["run_id"]] == flags and w["batch"] != "1"
        )
        for flags in ("", "--warmup 3s")
    }
    assert later[""][0] == 0.2 and later["--warmup 3s"][0] == 0.6


def test_the_validation_pages_current_revision_table_is_the_report(capsys):
    """search.md's table of the newest revision quotes `report` row by row, each board's first sweep of a model."""
    from card_tables import rows

    page = (ROOT / "docs" / "validation" / "search.md").read_text(encoding="utf-8")
    table = page.split("## The current revision")[1].split("Two `resnet50` sweeps on one board")[0]
    quoted = [
        [r[0].split(" (")[0], r[1], r[2], r[3], r[4], r[5], r[6].replace(" ", ""), r[7], r[8]]
        for r in rows(table, "| ")
    ]
    assert _script().main(["report", "--state", str(H100)]) == 0
    printed = [
        ["–" if x in ("-", "nan", "nan%") else x for x in f[:9]]  # no ladder of that model on any board: a dash
        for f in (line.split() for line in capsys.readouterr().out.splitlines())
        if len(f) == 10 and "%" in f[6]
    ]
    assert quoted[2:] == printed and len(printed) >= 6


def test_a_sweep_with_programs_compiled_ahead_is_flagged_so():
    flags = _script().sweep_flags
    assert flags({}) == "" and flags({"JOULEBENCH_COMPILE_AHEAD": "0"}) == ""
    assert flags({"JOULEBENCH_COMPILE_AHEAD": "3"}) == "compile-ahead"
    assert flags({"SWEEP_FLAGS": " --worker-start  fresh", "JOULEBENCH_COMPILE_AHEAD": "2"}) == (
        "--worker-start fresh compile-ahead"
    )


def test_the_compile_ahead_table_is_the_stored_windows_and_ladders():
    """compiled-search.md: each compile-ahead sweep's preparing, against its ladder's compiles of other batches."""
    from card_tables import rows

    page = (ROOT / "docs" / "validation" / "compiled-search.md").read_text(encoding="utf-8")
    table = page.split("## Compiling ahead in child processes")[1].split("## ")[0]
    sweeps = [s for s in regret.read_rows(H100 / "sweeps.csv") if s["flags"] == "compile-ahead"]
    windows, ladders = regret.read_rows(H100 / "sweep-windows.csv"), regret.read_rows(H100 / "ladders.csv")
    expected = []
    for s in sweeps:
        mine = [w for w in windows if w["run_id"] == s["run_id"]]
        finals = [w for w in mine if w["phase"] == "full"]
        first: dict[str, float] = {}  # each batch's first compile in the ladder; a second pass loads it
        for r in ladders:
            if (r["model"], r["gpu_uuid"], r["runtime"]) == (s["model"], s["gpu_uuid"], "compile-fp16"):
                first.setdefault(r["batch"], float(r["prepare_s"]))
        own = [t for b, t in first.items() if b not in {w["batch"] for w in finals}]  # finals' were cached already
        expected.append(
            [
                s["model"],
                ", ".join(f"{float(w['prepare_s']):.1f}" for w in mine[:2]),
                ", ".join(f"{float(w['prepare_s']):.1f}" for w in finals),
                f"{min(own):.1f} to {max(own):.1f} ({len(own)} batches)",
            ]
        )
    assert rows(table, "| ")[2:] == expected and len(expected) == 3

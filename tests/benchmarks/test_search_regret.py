"""benchmarks/search_regret.py: the offline replay and the regret report read the repository's measured ladders."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LADDERS = ROOT / "data" / "h200" / "search-ladders"


def _script():
    spec = importlib.util.spec_from_file_location("search_regret_under_test", ROOT / "benchmarks" / "search_regret.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_replay_prints_a_line_per_curve_and_the_maximum_regret(capsys):
    assert _script().main(["--replay", str(LADDERS / "ladders.csv"), "--trials", "5"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 + 2 + 1  # header, the two ladders, the summary line
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
    mod = _script()
    ladder = [
        {"batch": str(b), "status": "ok", "pass": "up", "prepare_s": "1", "latency_mean_s": "0.01"}
        for b in (16, 32, 64)
    ]
    # batches 1..64 (7 doublings) cost 1 + 3 + 10 s each; 6 bisection steps, half fitting (14 s), half failing (1 s)
    assert mod.paper_cost_s(ladder, overhead_s=5.0) == 5.0 + 7 * 14.0 + 3 * 14.0 + 3 * 1.0

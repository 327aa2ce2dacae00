"""benchmarks/window_precision.py: the report on the stored H100 windows (the GPU part runs on the device)."""

from __future__ import annotations

from pathlib import Path

from benchmark_script import load_benchmark

ROOT = Path(__file__).resolve().parents[2]


def _script():
    return load_benchmark("window_precision")


def test_the_report_compares_each_estimators_claim_with_the_windows_spread_and_lists_the_windows(capsys):
    assert _script().main(["report", "--state", str(ROOT / "data" / "h100" / "window-precision")]) == 0
    lines = capsys.readouterr().out.splitlines()
    vit = next(line for line in lines if line.startswith("vit_large") and " 8.0 " in line)
    # at a steady temperature the windows agree far closer than independent sub-windows claim; blocks come near
    assert vit.split()[-4:] == ["0.19%", "1.23%", "0.50%", "68-69"]
    resnet = [line.split()[-5:-1] for line in lines if line.startswith("  resnet50.a1_in1k")]
    assert resnet[0] == ["89.49", "mJ", "at", "47"] and resnet[-1] == ["91.38", "mJ", "at", "55"]

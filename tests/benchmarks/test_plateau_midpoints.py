"""benchmarks/plateau_midpoints.py: the gain of the best full window over the one at the best scouted batch."""

from __future__ import annotations

import pytest

from benchmark_script import load_benchmark


def _row(model, batch, phase, mj, status="ok"):
    e = None if mj is None else mj / 1e3
    return {"model": model, "img_size": 224, "runtime": "torch-fp32", "batch_size": batch, "status": status,
            "energy_per_image_j": e, "trace_summary": {"phase": phase}}  # fmt: skip


@pytest.fixture
def script():
    return load_benchmark("plateau_midpoints")


def test_a_midpoint_that_wins_and_one_that_does_not(script):
    rows = [
        # a: best scout 128 (9.0); full windows 128 -> 10.0, midpoint 192 -> 9.0: the midpoint saved 10 %
        _row("a", 64, "scout", 9.5), _row("a", 128, "scout", 9.0), _row("a", 256, "scout", 9.4),
        _row("a", 128, "full", 10.0), _row("a", 96, "full", 10.5), _row("a", 192, "full", 9.0),
        # b: the full window at the best scout is the best one; an out-of-memory row is ignored
        _row("b", 32, "scout", 5.0), _row("b", 32, "full", 4.0), _row("b", 48, "full", 4.4),
        _row("b", 64, "scout", None, status="oom"),
        # c: scouted only (interrupted before its full windows): not a search to judge
        _row("c", 8, "scout", 3.0),
    ]  # fmt: skip
    got = dict(script.gains(rows))
    assert set(got) == {"a@224 torch-fp32", "b@224 torch-fp32"}
    assert got["a@224 torch-fp32"] == pytest.approx(0.10) and got["b@224 torch-fp32"] == 0.0

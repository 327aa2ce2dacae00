"""benchmarks/launch_overhead.py: host cost per call of a program in each state, and of each window of a task."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL = "test_efficientnet.r160_in1k"


def _script():
    path = ROOT / "benchmarks" / "launch_overhead.py"
    spec = importlib.util.spec_from_file_location("launch_overhead_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclass looks its module up by name
    spec.loader.exec_module(mod)
    return mod


def _states(mod, steps: str, *extra: str):
    args = ["states", MODEL, "--runtime", "cpu-fp32", "--batch", "2", "--calls", "3", "--steps", steps, *extra]
    return mod.cmd_states(mod.build_parser().parse_args(args))


def test_states_times_every_program_step_at_its_own_batch(capsys):
    mod = _script()
    costs = _states(mod, "static,release,freeze,scout:4,static:8")
    assert [(c.step, c.batch) for c in costs] == [("static", 2), ("scout:4", 4), ("static:8", 8)]
    assert all(c.cpu_per_call_s > 0 and c.wall_per_call_s >= c.cpu_per_call_s * 0.5 for c in costs)
    out = capsys.readouterr().out
    assert "host ms/call" in out and "static:8" in out


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
    rows = {tuple(line.split()[:2]) for line in out.splitlines()[-len(result.measurements) :]}
    assert rows == {(str(m.batch_size), m.trace_summary["phase"]) for m in result.measurements}

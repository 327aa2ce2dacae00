"""benchmarks/pinned_memory_probe.py: its table and verdict from the two children's JSON lines."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "pinned_memory_probe.py"
GB = 1e9


def _module():
    spec = importlib.util.spec_from_file_location("pinned_memory_probe_under_test", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _step(arm, batch, shmem_gb, pinned_gb, peak_gb, blocks=12):
    return json.dumps({"arm": arm, "batch": batch, "prepare_s": 41.6, "gpu_peak_b": 16.3 * GB, "shmem_b": shmem_gb * GB,
                       "rss_b": (shmem_gb + 1.4) * GB, "pinned_b": pinned_gb * GB, "pinned_peak_b": peak_gb * GB,
                       "pinned_blocks": blocks})  # fmt: skip


FINISHED = {"keep": "finished", "empty": "finished"}


def test_the_table_has_a_row_per_arm_and_batch_and_ignores_other_output():
    lines = [
        "[inductor] compiling...",
        _step("keep", 4096, 8.6, 8.6, 8.6),
        '{"arm": "keep", "tor',
        _step("empty", 4096, 0.0, 0.0, 8.6),
    ]
    out = _module().summarize(lines, FINISHED)
    assert "| keep | 4096 | 42 | 16.3 | 8.6 | 8.6 | 8.6 | 12 |" in out
    assert "| empty | 4096 | 42 | 16.3 | 0.0 | 0.0 | 8.6 | 12 |" in out
    assert "keep: finished\nempty: finished" in out
    assert "at batch 4096: shared memory 8.6 GB with the cache kept, 0.0 GB with it emptied" in out


@pytest.mark.parametrize(
    ("keep", "empty", "verdict"),
    [
        ((8.6, 8.6, 8.6), (0.1, 0.0, 8.6), "the shared memory is torch's pinned cache, and emptying it"),
        ((8.6, 8.6, 8.6), (8.4, 0.0, 8.6), "emptying the pinned cache did not give the shared memory back"),
        ((0.2, 0.2, 0.2), (0.0, 0.0, 0.2), "not reproduced"),
        ((8.6, 8.6, 8.6), (0.0, 0.0, 0.0), "inconclusive: the emptied arm never asked for pinned memory"),
    ],
)
def test_the_verdict_needs_growth_with_the_cache_kept_and_pinned_use_in_both_arms(keep, empty, verdict):
    out = _module().summarize([_step("keep", 4096, *keep), _step("empty", 4096, *empty)], FINISHED)
    assert f"verdict: {verdict}" in out


def test_a_child_without_cuda_or_killed_says_so_and_gives_no_verdict():
    lines = ['{"arm": "keep", "error": "no CUDA device"}', _step("empty", 1024, 0.0, 0.0, 1.0)]
    out = _module().summarize(lines, {"keep": "exited with status 2", "empty": "timed out"})
    assert "keep: no CUDA device\nempty: timed out" in out and "verdict" not in out

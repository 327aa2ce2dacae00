"""joulebench.diagnostics.memory_limits: how its table reads a child's steps and how the child ended."""

from __future__ import annotations

import json

import pytest
import torch

GIB = 1024**3


def _module():
    from joulebench.diagnostics import memory_limits

    return memory_limits


def _lines(*rows):
    return [json.dumps(r) for r in rows]


START = {"start": True, "gpu_total_b": 140 * GIB, "gpu_free_b": 139 * GIB, "host_total_b": 128 * GIB,
         "host_available_b": 120 * GIB, "host_rss_b": 1 * GIB}  # fmt: skip


def test_a_kill_after_host_memory_fell_is_told_apart_from_cuda_out_of_memory():
    mod = _module()
    steps = [{"gib": 8 * i, "gpu_free_b": (139 - 8 * i) * GIB, "host_available_b": (120 - 8 * i) * GIB} for i in (1, 2)]
    text = mod.summarize([*_lines(START, *steps), '{"gib": 24, "gpu_fr'], -9)
    assert "GPU total 140.0 GiB, free 139.0 GiB; host total 128.0 GiB, available 120.0 GiB" in text
    assert "| 16 | 123.0 | 104.0 | – |" in text  # the torn last line is skipped, a missing RSS shows as –
    assert "host available memory fell by 8.0 GiB while 8 GiB more GPU memory was reserved" in text
    assert text.endswith("ended: killed by signal 9 (SIGKILL) after 16 GiB, with no error")

    oom = mod.summarize(_lines(START, *steps, {"oom": True, "gib": 24}), 0)
    assert oom.endswith("ended: CUDA out of memory asking for 24 GiB in all (held 16 GiB)")
    assert mod.summarize(_lines(START, *steps, {"done": True, "gib": 16}), 0).endswith(
        "reserved all 16 GiB asked for, no error"
    )
    assert mod.summarize(_lines(START, steps[0]), None).endswith("ended: timed out after 8 GiB")


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="the probe would reserve the GPU's memory")
def test_without_a_gpu_the_probe_says_so(capsys):
    assert _module().main(["--step-gib", "1", "--max-gib", "2", "--timeout", "120"]) == 0
    assert capsys.readouterr().out.strip().endswith("ended: no probe: no CUDA device")

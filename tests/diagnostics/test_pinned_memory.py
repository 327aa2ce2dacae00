"""joulebench.diagnostics.pinned_memory: its table and verdict from the two children's JSON lines."""

from __future__ import annotations

import json

import pytest

GB = 1e9


def _module():
    from joulebench.diagnostics import pinned_memory

    return pinned_memory


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


def test_without_torchs_pinned_counters_the_verdict_rests_on_shared_memory():
    keep, empty = json.loads(_step("keep", 4096, 8.6, 0, 0)), json.loads(_step("empty", 4096, 0.1, 0, 0))
    for row in (keep, empty):
        row.update(pinned_b=None, pinned_peak_b=None, pinned_blocks=None)
    out = _module().summarize([json.dumps(keep), json.dumps(empty)], FINISHED)
    assert "| empty | 4096 | 42 | 16.3 | 0.1 | – | – | – |" in out
    assert "verdict: the shared memory is torch's pinned cache" in out


def test_a_child_without_cuda_or_killed_says_so_and_gives_no_verdict():
    lines = ['{"arm": "keep", "error": "no CUDA device"}', _step("empty", 1024, 0.0, 0.0, 1.0)]
    out = _module().summarize(lines, {"keep": "exited with status 2", "empty": "timed out"})
    assert "keep: no CUDA device\nempty: timed out" in out and "verdict" not in out


@pytest.mark.slow
@pytest.mark.parametrize("arm", ["keep", "empty"])
def test_the_child_prepares_each_batch_as_a_worker_does_and_only_keep_switches_emptying_off(arm, monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    pytest.importorskip("timm")
    import joulebench.runtimes as runtimes
    from joulebench.runtimes import base, torch_eager

    real = base.empty_pinned_cache
    monkeypatch.setattr(base, "empty_pinned_cache", real)  # restored after the test, whatever the child sets
    monkeypatch.setattr(torch_eager, "empty_pinned_cache", real)
    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda: calls.append("reset"))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda: 16.3 * GB)
    stats = {"allocated_bytes.current": 0, "allocated_bytes.peak": 8.6 * GB, "num_host_alloc": 12}
    monkeypatch.setattr(torch.cuda, "host_memory_stats", lambda: stats)

    class FakeRuntime:  # compile-fp16 on a GPU, as far as the child can tell
        def load(self, spec):
            calls.append(("load", spec.arch))

        def prepare(self, batch):
            emptying = base.empty_pinned_cache is real and torch_eager.empty_pinned_cache is real
            calls.append(("prepare", batch, emptying))
            return object()

        def release(self):
            calls.append("release")

        def close(self):
            calls.append("close")

    monkeypatch.setattr(runtimes, "get_runtime", lambda name, **kw: calls.append((name, kw)) or FakeRuntime())
    assert _module().child(arm, "vit_base_patch16_224", [1024, 4096]) == 0
    emptying = arm == "empty"
    assert calls == [
        ("compile-fp16", {"device": "cuda:0"}),
        ("load", "vit_base_patch16_224"),
        *["reset", ("prepare", 1024, emptying), "release"],
        *["reset", ("prepare", 4096, emptying), "release"],
        "close",
    ]
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r.get("batch") for r in rows] == [1024, 4096, None] and rows[-1] == {"arm": arm, "done": True}
    assert rows[0]["pinned_peak_b"] == 8.6 * GB and rows[0]["pinned_blocks"] == 12 and rows[0]["shmem_b"] is not None

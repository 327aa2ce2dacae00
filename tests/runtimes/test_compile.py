"""compile-fp16/bf16: how torch.compile is called per batch size, and a real inductor compile on the CPU."""

from __future__ import annotations

import shutil

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")

from joulebench.errors import ConfigError  # noqa: E402
from joulebench.runtimes.compiled import CompileBF16Runtime, CompiledRuntime, CompileFP16Runtime  # noqa: E402


def on_cpu(cls, **attrs):
    """A test-only, unregistered copy of a CUDA runtime class that runs on the CPU."""
    return type(f"Cpu{cls.__name__}", (cls,), {"device_type": "cpu", **attrs})


@pytest.fixture
def tiny_spec(tiny_cnn):
    return tiny_cnn("jb_tiny_cnn", classes=10, size=16)


def test_compile_is_called_per_batch_size_with_dynamo_reset(tiny_spec, monkeypatch):
    calls, resets = [], []

    def fake_compile(model, **kwargs):
        calls.append(kwargs)
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    monkeypatch.setattr(torch._dynamo, "reset", lambda: resets.append(1))
    rt = on_cpu(CompileBF16Runtime)()
    rt.load(tiny_spec)
    for bs in (1, 4, 1):
        fn = rt.prepare(bs)
        assert fn(rt.make_inputs(bs)[0]).shape == (bs, 10)
    assert calls == [{"backend": "inductor", "mode": None, "dynamic": False, "fullgraph": False}] * 3
    assert len(resets) == 3  # each batch size starts from a clean dynamo: no recompile limit
    rt.release()
    assert len(resets) == 4
    d = rt.describe()
    assert d["compile_mode"] == "default" and d["compiler"] == "inductor" and d["cuda_graphs"] is False


def test_compile_mode_is_passed_and_inductor_graphs_reported(tiny_spec, monkeypatch):
    seen = []
    monkeypatch.setattr(torch, "compile", lambda model, **kw: seen.append(kw["mode"]) or model)
    rt = on_cpu(CompileFP16Runtime)(compile_mode="max-autotune-no-cudagraphs")
    rt.load(tiny_spec)
    rt.prepare(2)
    assert seen == ["max-autotune-no-cudagraphs"]
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        on_cpu(CompileFP16Runtime)(compile_mode="reduce-overhead")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("gcc") is None and shutil.which("cc") is None, reason="inductor needs a C compiler")
def test_real_inductor_compile_on_cpu_matches_eager(tiny_spec):
    # fp32 on the CPU keeps the comparison tight; the CUDA classes differ only in dtype and device.
    rt = on_cpu(CompiledRuntime, name="compile-fp32-test", precision="fp32")()
    rt.load(tiny_spec)
    for bs in (2, 3):
        fn = rt.prepare(bs)
        assert rt.last_prepare_s > 0
        x = rt.make_inputs(bs)[1]
        with torch.inference_mode():
            ref = rt.model(x)
        out = fn(x)
        assert out.shape == (bs, 10)
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
        del fn
        rt.release()


@pytest.mark.slow
def test_scouting_reuses_one_dynamic_compile_and_candidates_compile_statically(tiny_spec, monkeypatch):
    calls, resets, marked = [], [], []
    monkeypatch.setattr(torch, "compile", lambda model, **kw: calls.append(kw["dynamic"]) or model)
    monkeypatch.setattr(torch._dynamo, "reset", lambda: resets.append(1))
    monkeypatch.setattr(torch._dynamo, "maybe_mark_dynamic", lambda t, dim: marked.append((tuple(t.shape), dim)))
    rt = on_cpu(CompileFP16Runtime)()
    assert rt.scout_build == "dynamic-batch" and rt.describe()["scout_build"] == "dynamic-batch"
    rt.load(tiny_spec)
    for bs in (1, 2, 4, 8):  # the worker releases after every batch; the scouting compilation must survive it
        fn = rt.prepare_scout(bs)
        assert fn(rt.make_inputs(bs)[0]).shape == (bs, 10)
        del fn
        rt.release()
    assert calls == [None]  # one compilation, dynamo's automatic dynamic shapes
    assert len(resets) == 1
    assert [dim for _, dim in marked] == [0, 0, 0, 0] and [s[0] for s, _ in marked] == [1, 2, 4, 8]
    fn = rt.prepare(4)  # a final candidate: a fresh, static compilation
    assert calls == [None, False] and len(resets) == 2
    del fn
    rt.release()
    assert len(resets) == 3  # no scouting compilation left to keep
    rt.prepare_scout(2)  # scouting after a static candidate compiles a new dynamic graph
    assert calls == [None, False, None]
    rt.close()
    assert rt._scout_fn is None


def test_wide_indexing_answers_no_32bit_while_active_and_restores_inductor():
    simd = pytest.importorskip("torch._inductor.codegen.simd")
    from joulebench.runtimes.compiled import wide_indexing

    original = simd.SIMDScheduling.__dict__["can_use_32bit_indexing"]
    with wide_indexing() as widened:
        assert widened
        assert simd.SIMDScheduling.can_use_32bit_indexing(8, []) is False
    assert simd.SIMDScheduling.__dict__["can_use_32bit_indexing"] is original
    with pytest.raises(RuntimeError), wide_indexing():
        raise RuntimeError("a failed compile")
    assert simd.SIMDScheduling.__dict__["can_use_32bit_indexing"] is original


def test_without_inductors_hook_scouting_keeps_its_indexing_and_says_so(monkeypatch):
    simd = pytest.importorskip("torch._inductor.codegen.simd")
    from joulebench.runtimes.compiled import scout_indexing, wide_indexing

    assert scout_indexing() == "64-bit" and on_cpu(CompileFP16Runtime)().describe()["scout_indexing"] == "64-bit"
    assert "scout_indexing" not in on_cpu(CompileFP16Runtime)(scout_dynamic=False).describe()
    # a torch whose inductor decides otherwise: nothing is patched, and the runtime records inductor's indexing
    monkeypatch.setattr(simd.SIMDScheduling, "can_use_32bit_indexing", lambda self, numel, buffers: True)
    with wide_indexing() as widened:
        assert not widened
    assert scout_indexing() == "inductor" and on_cpu(CompileFP16Runtime)().describe()["scout_indexing"] == "inductor"


@pytest.mark.slow
def test_scouting_compiles_with_wide_indexing_and_candidates_without(tiny_spec, monkeypatch):
    simd = pytest.importorskip("torch._inductor.codegen.simd")
    seen = []

    def compile_(model, **kw):
        def fn(x):  # inductor compiles on the first call: record which indexing rule it would see then
            seen.append((kw["dynamic"], simd.SIMDScheduling.can_use_32bit_indexing is not simd_original))
            return model(x)

        return fn

    simd_original = simd.SIMDScheduling.can_use_32bit_indexing
    monkeypatch.setattr(torch, "compile", compile_)
    rt = on_cpu(CompileFP16Runtime)()
    rt.load(tiny_spec)
    rt.prepare_scout(2)
    rt.release()
    rt.prepare(2)
    rt.release()
    assert seen == [(None, True), (False, False)]
    assert simd.SIMDScheduling.can_use_32bit_indexing is simd_original
    rt.close()


@pytest.mark.slow
def test_static_scouts_compile_each_scouted_size(tiny_spec, monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "compile", lambda model, **kw: calls.append(kw["dynamic"]) or model)
    rt = on_cpu(CompileFP16Runtime)(scout_dynamic=False)
    assert rt.scout_build is None
    rt.load(tiny_spec)
    for bs in (1, 2, 4):
        rt.prepare_scout(bs)
        rt.release()
    assert calls == [False, False, False]


def test_static_scouts_option_reaches_compile_runtimes_only():
    from joulebench.runtimes import get_runtime_class
    from joulebench.sweep.tasks import SweepOptions

    opts = SweepOptions(static_scouts=True)
    assert opts.runtime_options(get_runtime_class("compile-fp16").OPTIONS) == {"scout_dynamic": False}
    assert opts.runtime_options(get_runtime_class("torch-fp32").OPTIONS) == {}
    assert SweepOptions().runtime_options(get_runtime_class("compile-fp16").OPTIONS) == {}


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("gcc") is None and shutil.which("cc") is None, reason="inductor needs a C compiler")
def test_real_dynamic_scout_compile_on_cpu_matches_eager_without_recompiling(tiny_spec):
    from torch._dynamo.utils import counters

    rt = on_cpu(CompiledRuntime, name="compile-fp32-test", precision="fp32")()
    rt.load(tiny_spec)
    counters.clear()
    for bs in (2, 3, 5):
        fn = rt.prepare_scout(bs)
        x = rt.make_inputs(bs)[1]
        with torch.inference_mode():
            ref = rt.model(x)
        torch.testing.assert_close(fn(x), ref, rtol=1e-4, atol=1e-5)
        del fn
        rt.release()
    assert counters["stats"]["unique_graphs"] == 1  # sizes 3 and 5 reused the dynamic graph of size 2
    rt.close()


def test_prepare_gives_back_pinned_host_memory_after_the_first_call_on_cuda(tiny_spec, monkeypatch):
    """Inductor's autotuner parks arguments in pinned host memory during the first call: emptied right after."""
    from joulebench.runtimes import torch_eager

    events = []
    monkeypatch.setattr(torch, "compile", lambda model, **kw: lambda x: events.append("call") or model(x))
    monkeypatch.setattr(torch_eager, "empty_pinned_cache", lambda t: events.append("empty") or True)
    rt = on_cpu(CompileFP16Runtime)()
    rt.load(tiny_spec)
    rt.prepare(2)
    assert "empty" not in events  # a CPU runtime has no pinned cache to empty
    rt.device_type = "cuda"  # the CUDA branch, still computing on the CPU
    events.clear()
    rt.prepare(2)
    assert events == ["call"] * rt._warmup_calls() + ["empty"]  # after the warm-up calls, before any window


def test_empty_pinned_cache_uses_the_api_this_torch_has():
    from types import SimpleNamespace

    from joulebench.runtimes.base import empty_pinned_cache

    called = []
    both = SimpleNamespace(
        accelerator=SimpleNamespace(empty_host_cache=lambda: called.append("accelerator")),
        _C=SimpleNamespace(_host_emptyCache=lambda: called.append("_C")),
    )
    assert empty_pinned_cache(both) is True and called == ["accelerator"]  # the public API first
    older = SimpleNamespace(
        accelerator=SimpleNamespace(), _C=SimpleNamespace(_host_emptyCache=lambda: called.append("_C"))
    )
    assert empty_pinned_cache(older) is True and called == ["accelerator", "_C"]
    assert empty_pinned_cache(SimpleNamespace(_C=SimpleNamespace())) is False and len(called) == 2

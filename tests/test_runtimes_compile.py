"""compile-fp16/bf16: how torch.compile is called per batch size, and a real inductor compile on the CPU."""

from __future__ import annotations

import shutil

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")

from joulebench.errors import ConfigError  # noqa: E402
from joulebench.models.resolve import resolve_models  # noqa: E402
from joulebench.runtimes.compiled import CompileBF16Runtime, CompiledRuntime, CompileFP16Runtime  # noqa: E402


def on_cpu(cls, **attrs):
    """A test-only, unregistered copy of a CUDA runtime class that runs on the CPU."""
    return type(f"Cpu{cls.__name__}", (cls,), {"device_type": "cpu", **attrs})


@pytest.fixture
def tiny_spec(tmp_path, monkeypatch):
    (tmp_path / "jb_tiny_cnn.py").write_text(
        "import torch\n\ndef cnn():\n"
        "    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),\n"
        "                               torch.nn.Flatten(), torch.nn.Linear(8, 10))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return resolve_models(["jb_tiny_cnn:cnn"], input_shape=(3, 16, 16))[0]


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

"""tensorrt-fp16 wiring, tested with a fake torch_tensorrt (TensorRT cannot be installed on our machines)."""

from __future__ import annotations

import sys
import types

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")

from joulebench.errors import MissingDependencyError  # noqa: E402
from joulebench.runtimes import get_runtime_class  # noqa: E402
from joulebench.runtimes.tensorrt import TensorRTFP16Runtime  # noqa: E402


@pytest.fixture
def fake_trt(monkeypatch):
    mod = types.ModuleType("torch_tensorrt")
    mod.__version__ = "0.0-fake"
    mod.calls = []

    def compile(model, **kwargs):  # noqa: A001 - mirrors torch_tensorrt.compile
        mod.calls.append({"model": model, "inference_mode": torch.is_inference_mode_enabled(), **kwargs})
        return model

    mod.compile = compile
    monkeypatch.setitem(sys.modules, "torch_tensorrt", mod)
    return mod


def test_missing_torch_tensorrt_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_tensorrt", None)  # makes the import fail
    ok, reason = TensorRTFP16Runtime.available()
    assert not ok and "pip install 'joulebench[tensorrt]'" in reason
    with pytest.raises(MissingDependencyError, match=r"pip install 'joulebench\[tensorrt\]'"):
        TensorRTFP16Runtime()


@pytest.fixture
def tiny_spec(tiny_cnn):
    return tiny_cnn("jb_trt_cnn", classes=1000, size=32)  # the fake engine runs the model eagerly, in fp16


def test_engine_is_built_per_batch_size_in_fp16(fake_trt, tiny_spec):
    assert get_runtime_class("tensorrt-fp16") is TensorRTFP16Runtime
    cpu_cls = type("CpuTRT", (TensorRTFP16Runtime,), {"device_type": "cpu"})
    spec = tiny_spec
    rt = cpu_cls(trt_kwargs={"workspace_size": 1 << 20})
    rt.load(spec)
    assert all(p.dtype == torch.float16 for p in rt.model.parameters())
    for bs in (1, 2):
        fn = rt.prepare(bs)
        out = fn(rt.make_inputs(bs)[0])
        assert out.shape == (bs, 1000) and out.dtype == torch.float16
    assert len(fake_trt.calls) == 2
    for bs, call in zip((1, 2), fake_trt.calls, strict=True):
        assert call["model"] is rt.model
        assert not call["inference_mode"]  # torch.export (dynamo front end) refuses inference tensors
        assert not call["inputs"][0].is_inference()
        assert call["ir"] == "dynamo"
        assert call["enabled_precisions"] == {torch.half}
        assert call["workspace_size"] == 1 << 20
        (example,) = call["inputs"]
        assert example.shape == (bs, *spec.input_shape) and example.dtype == torch.float16
        assert example.is_contiguous()  # NCHW engine inputs: channels_last is off for TensorRT
    d = rt.describe()
    assert d["inference_mode"] is False
    assert d["torch_tensorrt_version"] == "0.0-fake" and d["enabled_precisions"] == ["fp16"] and d["ir"] == "dynamo"


def test_available_with_fake_still_needs_cuda(fake_trt):
    ok, reason = TensorRTFP16Runtime.available()
    assert ok == torch.cuda.is_available()
    if not ok:
        assert "CUDA" in reason

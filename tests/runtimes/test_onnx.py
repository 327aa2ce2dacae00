"""onnxruntime with the CPU provider, end to end (export, session, run), and its option checks."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")
pytest.importorskip("onnxruntime")

from joulebench.errors import ConfigError  # noqa: E402
from joulebench.models.resolve import resolve_models  # noqa: E402
from joulebench.runtimes import get_runtime  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("model", ["test_vit", "test_efficientnet"])
def test_onnxruntime_cpu_end_to_end(model):
    (spec,) = resolve_models([model])
    rt = get_runtime("onnxruntime", device="cpu")
    assert rt.device_type == "cpu"
    rt.load(spec)
    for bs in (1, 3):
        fn = rt.prepare(bs)
        assert rt.last_prepare_s > 0
        xs = rt.make_inputs(bs)
        assert len(xs) == 2 and all(x.shape == (bs, *spec.input_shape) and x.dtype == torch.float32 for x in xs)
        out = fn(xs[1])
        with torch.inference_mode():
            ref = rt.model(xs[1]).numpy()
        assert out.shape == ref.shape == (bs, 1000)
        assert abs(out - ref).max() <= 1e-3 * max(1.0, abs(ref).max())
        assert list(rt._tmp.glob("*.onnx")) == [rt._tmp / f"model_b{bs}.onnx"]
        del fn, xs
        rt.release()
        assert rt.session is None and not any(rt._tmp.iterdir())  # exports do not pile up over a sweep
    d = rt.describe()
    assert d["provider"] == "cpu" and d["exporter"] in ("torchscript", "dynamo") and d["io_binding"] is False
    tmp = rt._tmp
    rt.close()
    assert not tmp.exists()


def test_onnxruntime_auto_provider_follows_the_device():
    rt = get_runtime("onnxruntime", device="cpu", threads=1)
    assert rt.describe()["provider"] == "cpu"
    if not torch.cuda.is_available():
        assert get_runtime("onnxruntime").device == "cpu"  # no GPU: auto falls back to the CPU provider
        with pytest.raises(ConfigError, match="cannot run here"):
            get_runtime("onnxruntime", provider="cuda")


def test_onnxruntime_export_failure_is_a_config_error(tmp_path, monkeypatch):
    (spec,) = resolve_models(["test_resnet"])
    rt = get_runtime("onnxruntime", device="cpu", exporter="torchscript")
    rt.load(spec)

    def broken(*a, **k):
        raise RuntimeError("Unsupported: ONNX export of operator foo")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with pytest.raises(ConfigError, match="cannot export 'test_resnet.* to ONNX .*torchscript: RuntimeError"):
        rt.prepare(2)


@pytest.mark.slow
def test_onnxruntime_silent_provider_fallback_is_refused(monkeypatch):
    import onnxruntime

    real = onnxruntime.InferenceSession

    class FellBack(real):
        def get_providers(self):
            return ["AzureExecutionProvider"]

    monkeypatch.setattr(onnxruntime, "InferenceSession", FellBack)
    (spec,) = resolve_models(["test_resnet"])
    rt = get_runtime("onnxruntime", device="cpu")
    rt.load(spec)
    with pytest.raises(ConfigError, match="could not use CPUExecutionProvider"):
        rt.prepare(1)

"""cpu-fp32 end to end, and the eager half-precision logic run on the CPU through test-only subclasses."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")

from joulebench.errors import ConfigError  # noqa: E402
from joulebench.models.resolve import resolve_models  # noqa: E402
from joulebench.runtimes import get_runtime  # noqa: E402
from joulebench.runtimes.base import has_conv  # noqa: E402
from joulebench.runtimes.torch_eager import TorchBF16Runtime, TorchFP16Runtime, TorchFP32Runtime  # noqa: E402


def on_cpu(cls):
    """A test-only, unregistered copy of a CUDA runtime class that runs on the CPU."""
    return type(f"Cpu{cls.__name__}", (cls,), {"device_type": "cpu"})


@pytest.mark.slow
@pytest.mark.parametrize("model", ["test_vit", "test_efficientnet"])
def test_cpu_fp32_end_to_end(model):
    (spec,) = resolve_models([model])
    rt = get_runtime("cpu-fp32")
    assert rt.device == "cpu" and rt.device_type == "cpu"
    rt.load(spec)
    assert rt.load_s > 0
    fn = rt.prepare(3)
    assert rt.last_prepare_s > 0
    xs = rt.make_inputs(3)
    assert len(xs) == 2
    for x in xs:
        assert x.shape == (3, *spec.input_shape) and x.dtype == torch.float32 and x.device.type == "cpu"
    assert not torch.equal(xs[0], xs[1])  # two distinct buffers
    out = fn(xs[0])
    assert out.shape == (3, 1000) and torch.isfinite(out).all()
    with torch.inference_mode():
        assert torch.allclose(out, rt.model(xs[0]))
    assert not rt.channels_last  # fp32 keeps NCHW unless asked, as the paper ran
    d = rt.describe()
    assert d["runtime"] == "cpu-fp32" and d["dtype"] == "float32" and d["threads"] == torch.get_num_threads()
    assert "tf32_matmul" not in d and "tf32" not in d  # CUDA-only settings are not reported for the CPU
    del fn, xs
    rt.release()
    rt.close()
    assert rt.model is None


def test_inputs_are_seeded_and_prepare_checks_state():
    (spec,) = resolve_models(["test_resnet"])
    rt = get_runtime("cpu-fp32", seed=7)
    with pytest.raises(ConfigError, match="call load"):
        rt.prepare(2)
    rt.load(spec)
    a, b = rt.make_inputs(2, n=1)[0], rt.make_inputs(2, n=1)[0]
    assert torch.equal(a, b)
    other = get_runtime("cpu-fp32", seed=8)
    other.load(spec)
    assert not torch.equal(a, other.make_inputs(2, n=1)[0])
    with pytest.raises(ConfigError, match="positive integer"):
        rt.prepare(0)


def test_cpu_threads_option_sets_torch_threads():
    before = torch.get_num_threads()
    try:
        rt = get_runtime("cpu-fp32", threads=1)
        rt.load(resolve_models(["test_resnet"])[0])
        assert torch.get_num_threads() == 1 and rt.describe()["threads"] == 1
    finally:
        torch.set_num_threads(before)


def test_channels_last_detection():
    assert has_conv(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3)))
    assert not has_conv(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU()))


@pytest.mark.slow
@pytest.mark.parametrize(("cls", "dtype"), [(TorchFP16Runtime, torch.float16), (TorchBF16Runtime, torch.bfloat16)])
def test_half_precision_casts_model_and_inputs_and_uses_channels_last(cls, dtype):
    (spec,) = resolve_models(["test_efficientnet"])
    rt = on_cpu(cls)()
    rt.load(spec)
    assert rt.channels_last  # a CNN in half precision
    assert all(p.dtype == dtype for p in rt.model.parameters())
    conv = next(m for m in rt.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    xs = rt.make_inputs(2)
    assert all(x.dtype == dtype and x.is_contiguous(memory_format=torch.channels_last) for x in xs)
    out = rt.prepare(2)(xs[0])
    assert out.dtype == dtype and out.shape == (2, 1000) and torch.isfinite(out.float()).all()
    d = rt.describe()
    assert d["precision"] == rt.precision and d["channels_last"] is True and d["dtype"] == str(dtype)[6:]


def test_channels_last_option_and_models_without_convolutions(tmp_path, monkeypatch):
    (spec,) = resolve_models(["test_efficientnet"])
    rt = on_cpu(TorchBF16Runtime)(channels_last=False)
    rt.load(spec)
    assert not rt.channels_last and rt.make_inputs(1)[0].is_contiguous()
    (factory,) = _mlp_spec(tmp_path, monkeypatch)
    rt = on_cpu(TorchBF16Runtime)()
    rt.load(factory)
    assert not rt.channels_last  # auto: no Conv2d, no channels_last
    fp32 = on_cpu(TorchFP32Runtime)(channels_last=True)
    fp32.load(spec)
    assert fp32.channels_last


def _mlp_spec(tmp_path, monkeypatch):
    (tmp_path / "jb_mlp_factory.py").write_text(
        "import torch\n\ndef mlp():\n"
        "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 10))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return resolve_models(["jb_mlp_factory:mlp"], input_shape=(3, 8, 8))


def test_tf32_option_is_applied_on_load(monkeypatch):
    calls = []
    monkeypatch.setattr("joulebench.runtimes.torch_eager.set_tf32", calls.append)
    rt = on_cpu(TorchFP32Runtime)  # tf32 is refused on the CPU: check the CUDA class's hook directly
    with pytest.raises(ConfigError, match="tf32 is a CUDA setting"):
        rt(tf32="on")
    cuda_like = type("FakeCuda", (TorchFP32Runtime,), {"_check_device": lambda self: None})
    r = cuda_like(tf32="off")
    r._apply_process_settings()
    assert calls == ["off"]


def test_tf32_state_survives_pytorch_refusing_a_read(monkeypatch):
    import torch

    from joulebench.runtimes.base import tf32_state

    def refuse():
        raise RuntimeError("PyTorch is checking the matmul precision without a specific backend name")

    monkeypatch.setattr(torch, "get_float32_matmul_precision", refuse)
    state = tf32_state()
    assert state["float32_matmul_precision"] is None
    assert "tf32_matmul" in state and "tf32_cudnn" in state


def test_set_tf32_uses_one_api_and_is_reported():
    import torch

    from joulebench.runtimes.base import set_tf32, tf32_state

    if not isinstance(getattr(torch.backends.cuda.matmul, "fp32_precision", None), str):
        pytest.skip("this torch has no per-backend fp32_precision API")
    before = (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.fp32_precision)
    try:
        set_tf32("on")
        assert tf32_state()["fp32_precision_matmul"] == "tf32"
        set_tf32("off")
        state = tf32_state()
        assert state["fp32_precision_matmul"] == "ieee" and state["fp32_precision_cudnn"] == "ieee"
    finally:
        torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.fp32_precision = before

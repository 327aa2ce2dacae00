"""The runtime registry, availability reasons, option validation and OOM recognition."""

from __future__ import annotations

import pytest

from joulebench.errors import ConfigError, MissingDependencyError
from joulebench.runtimes import (
    RUNTIMES,
    Runtime,
    get_runtime,
    get_runtime_class,
    is_oom_error,
    register_runtime,
    runtime_availability,
    runtime_names,
    tf32_state,
)

torch = pytest.importorskip("torch")
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the messages of a machine without CUDA")

EXPECTED = {
    "torch-fp32": ("fp32", "cuda"),
    "torch-fp16": ("fp16", "cuda"),
    "torch-bf16": ("bf16", "cuda"),
    "compile-fp16": ("fp16", "cuda"),
    "compile-bf16": ("bf16", "cuda"),
    "tensorrt-fp16": ("fp16", "cuda"),
    "onnxruntime": ("fp32", "cuda"),
    "cpu-fp32": ("fp32", "cpu"),
}


def test_registry_holds_every_runtime_with_its_precision_and_device():
    assert runtime_names() == sorted(EXPECTED)
    for name, (precision, device_type) in EXPECTED.items():
        cls = get_runtime_class(name)
        assert issubclass(cls, Runtime)
        assert (cls.name, cls.precision, cls.device_type) == (name, precision, device_type)
        assert cls.summary and cls.extra in ("torch", "tensorrt", "onnx")


def test_unknown_runtime_suggests_the_close_name():
    with pytest.raises(ConfigError, match="Did you mean torch-fp16"):
        get_runtime("torch-fp61")


def test_registering_twice_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        register_runtime("cpu-fp32")(get_runtime_class("cpu-fp32"))
    assert "cpu-fp32" in RUNTIMES


def test_unknown_option_lists_the_accepted_ones():
    with pytest.raises(ConfigError, match="has no option compile_mode; its options: .*channels_last"):
        get_runtime("cpu-fp32", compile_mode="default")


@no_cuda
def test_availability_reasons_without_cuda():
    av = runtime_availability()
    assert av["cpu-fp32"] == (True, "")
    ok, reason = av["onnxruntime"]
    assert ok and "CPUExecutionProvider" in reason
    for name in ("torch-fp32", "torch-fp16", "torch-bf16", "compile-fp16", "compile-bf16"):
        ok, reason = av[name]
        assert not ok and "CUDA" in reason, (name, reason)
    ok, reason = av["tensorrt-fp16"]
    assert not ok and "pip install 'joulebench[tensorrt]'" in reason


@no_cuda
@pytest.mark.parametrize("name", ["torch-fp32", "torch-fp16", "torch-bf16", "compile-fp16", "compile-bf16"])
def test_cuda_runtime_without_cuda_is_a_config_error(name):
    with pytest.raises(ConfigError, match="cannot run here: no CUDA GPU"):
        get_runtime(name)


def test_cuda_runtime_on_the_cpu_device_points_to_cpu_fp32():
    with pytest.raises(ConfigError, match="use cpu-fp32"):
        get_runtime("torch-fp16", device="cpu")
    with pytest.raises(ConfigError, match="runs on cpu"):
        get_runtime("cpu-fp32", device="cuda:0")


def test_tensorrt_missing_is_a_missing_dependency_error():
    try:
        import torch_tensorrt  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependencyError, match=r"pip install 'joulebench\[tensorrt\]'"):
            get_runtime("tensorrt-fp16")
    else:  # pragma: no cover - machines with TensorRT
        pytest.skip("torch-tensorrt is installed here")


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        ("torch-fp16", {"tf32": "on"}, "tf32 applies to fp32 runtimes"),
        ("compile-bf16", {"tf32": "off"}, "tf32 applies to fp32 runtimes"),
        ("torch-fp32", {"tf32": "maybe"}, "tf32 must be 'on' or 'off'"),
        ("cpu-fp32", {"tf32": "on"}, "tf32 is a CUDA setting"),
        ("cpu-fp32", {"cuda_graphs": True}, "cuda_graphs needs a CUDA device"),
        ("cpu-fp32", {"cudnn_benchmark": True}, "cudnn_benchmark is a CUDA setting"),
        ("cpu-fp32", {"threads": 0}, "threads must be a positive integer"),
        ("torch-fp16", {"channels_last": "yes"}, "channels_last must be"),
        ("compile-fp16", {"compile_mode": "fast"}, "compile_mode must be one of"),
        ("compile-fp16", {"compile_mode": "reduce-overhead", "cuda_graphs": True}, "already captures CUDA graphs"),
        ("tensorrt-fp16", {"tf32": "on"}, "tf32 applies to fp32 runtimes"),
        ("tensorrt-fp16", {"ir": "fx2trt"}, "ir must be one of"),
        ("onnxruntime", {"provider": "rocm"}, "provider must be"),
        ("onnxruntime", {"provider": "cpu", "tf32": "on"}, "only to the CUDA provider"),
        ("onnxruntime", {"provider": "cpu", "exporter": "magic"}, "exporter must be one of"),
    ],
)
def test_contradictory_options_are_config_errors(name, options, match):
    # Checked before availability, so the message is the same on any machine.
    with pytest.raises(ConfigError, match=match):
        get_runtime(name, **options)


def test_onnxruntime_provider_and_device_must_agree():
    with pytest.raises(ConfigError, match="provider 'cuda' runs on cuda"):
        get_runtime("onnxruntime", device="cpu", provider="cuda")


def test_tf32_state_reports_pytorch_flags():
    state = tf32_state()
    assert state["tf32_matmul"] == torch.backends.cuda.matmul.allow_tf32
    assert state["tf32_cudnn"] == torch.backends.cudnn.allow_tf32
    assert state["float32_matmul_precision"] == torch.get_float32_matmul_precision()


def test_set_tf32_switches_and_records(monkeypatch):
    from joulebench.runtimes.base import set_tf32

    before = (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.get_float32_matmul_precision(),
    )
    try:
        set_tf32("on")
        assert tf32_state()["tf32_matmul"] is True and tf32_state()["tf32_cudnn"] is True
        # torch >= 2.9 is switched through fp32_precision; its legacy getter may then refuse to answer (None)
        assert tf32_state()["float32_matmul_precision"] in ("high", None)
        set_tf32("off")
        assert tf32_state()["tf32_matmul"] is False and tf32_state()["tf32_cudnn"] is False
        assert tf32_state()["float32_matmul_precision"] in ("highest", None)
    finally:
        if isinstance(getattr(torch.backends.cuda.matmul, "fp32_precision", None), str):
            torch.backends.cuda.matmul.fp32_precision = torch.backends.cudnn.fp32_precision = "none"
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before[:2]
        torch.set_float32_matmul_precision(before[2])


def test_is_oom_recognises_every_backend():
    assert is_oom_error(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_oom_error(MemoryError())
    assert is_oom_error(RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"))
    assert is_oom_error(RuntimeError("[ONNXRuntimeError] : 6 : Failed to allocate memory for requested buffer"))
    assert is_oom_error(RuntimeError("[TRT] Requested amount of GPU memory (1073741824 bytes) could not be allocated"))
    try:
        try:
            raise torch.cuda.OutOfMemoryError("out of memory")
        except Exception as inner:
            raise RuntimeError("BackendCompilerFailed: inductor raised") from inner
    except RuntimeError as wrapped:
        assert get_runtime_class("compile-fp16").is_oom(wrapped)
    assert not is_oom_error(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_oom_error(ValueError("bad"))

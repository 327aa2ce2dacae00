"""CUDA runtimes on a real GPU (deselected by default; run with `pytest -m gpu tests/test_runtimes_gpu.py`)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")

from joulebench.models.resolve import resolve_models  # noqa: E402
from joulebench.runtimes import get_runtime, get_runtime_class  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def _run(name, spec, bs=4, **options):
    if not get_runtime_class(name).available()[0]:
        pytest.skip(get_runtime_class(name).available()[1])
    rt = get_runtime(name, **options)
    rt.load(spec)
    fn = rt.prepare(bs)
    xs = rt.make_inputs(bs)
    out = torch.as_tensor(fn(xs[0])).float().clone()
    rt.synchronize()
    return rt, fn, xs, out


@pytest.mark.parametrize("name", ["torch-fp32", "torch-fp16", "torch-bf16", "compile-fp16", "compile-bf16"])
def test_cuda_runtime_runs_and_is_finite(name):
    (spec,) = resolve_models(["test_efficientnet"])
    rt, fn, xs, out = _run(name, spec)
    assert out.shape == (4, 1000) and torch.isfinite(out).all()
    assert rt.describe()["device"] == "cuda:0"
    del fn, xs
    rt.close()


@pytest.mark.parametrize("name", ["torch-fp16", "compile-fp16"])
def test_cuda_graphs_give_the_same_output(name):
    (spec,) = resolve_models(["test_vit"])
    rt, fn, xs, out = _run(name, spec, cuda_graphs=True)
    with torch.inference_mode():
        ref = rt.model(xs[0]).float()
    torch.testing.assert_close(out, ref, rtol=2e-2, atol=2e-2)
    out1 = torch.as_tensor(fn(xs[1])).float()
    with torch.inference_mode():
        torch.testing.assert_close(out1, rt.model(xs[1]).float(), rtol=2e-2, atol=2e-2)
    rt.close()


def test_tf32_option_is_recorded():
    (spec,) = resolve_models(["test_resnet"])
    rt, fn, xs, out = _run("torch-fp32", spec, tf32="off")
    d = rt.describe()
    if "fp32_precision_matmul" in d:  # torch >= 2.9: the per-backend API is the one set and reported
        assert d["fp32_precision_matmul"] == "ieee" and d["fp32_precision_cudnn"] == "ieee"
    else:
        assert d["tf32_matmul"] is False and d["tf32_cudnn"] is False and d["float32_matmul_precision"] == "highest"
    rt.close()


def test_onnxruntime_cuda_io_binding():
    pytest.importorskip("onnxruntime")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime without CUDAExecutionProvider")
    (spec,) = resolve_models(["test_efficientnet"])
    rt, fn, xs, out = _run("onnxruntime", spec, provider="cuda")
    with torch.inference_mode():
        ref = rt.model(xs[0].cpu()).float()
    assert out.device.type == "cuda" and rt.describe()["io_binding"] is True
    torch.testing.assert_close(out.cpu(), ref, rtol=2e-2, atol=2e-2)
    rt.close()


def test_oom_is_recognised():
    (spec,) = resolve_models(["test_vit"])
    rt = get_runtime("torch-fp16")
    rt.load(spec)
    with pytest.raises(Exception) as e:
        rt.prepare(1 << 22)
    assert rt.is_oom(e.value)
    rt.release()


def test_compile_scouting_shares_one_dynamic_graph_then_candidates_compile_statically():
    from torch._dynamo.utils import counters

    (spec,) = resolve_models(["test_efficientnet"])
    rt = get_runtime("compile-fp16")
    rt.load(spec)
    counters.clear()
    for bs in (2, 8, 32):
        fn = rt.prepare_scout(bs)
        x = rt.make_inputs(bs)[1]
        with torch.inference_mode():
            ref = rt.model(x).float()
        torch.testing.assert_close(torch.as_tensor(fn(x)).float(), ref, rtol=2e-2, atol=2e-2)
        del fn
        rt.release()
    assert counters["stats"]["unique_graphs"] == 1
    fn = rt.prepare(8)
    assert counters["stats"]["unique_graphs"] == 2  # the candidate's own static graph
    assert torch.isfinite(torch.as_tensor(fn(rt.make_inputs(8)[0])).float()).all()
    del fn
    rt.close()


def test_scouting_program_crosses_two_to_the_31_elements_without_recompiling():
    """A scouting program compiled at a small batch serves a batch whose tensors exceed 2**31 elements as it is."""
    from torch._dynamo.utils import counters

    from joulebench.runtimes.compiled import wide_indexing

    def affine(x):
        return x * 2.0 + 1.0

    def compiles(sizes, wide):
        torch._dynamo.reset()
        counters.clear()
        fn = torch.compile(affine, dynamic=None)
        for b in sizes:
            x = torch.ones(b, 1 << 20, device="cuda", dtype=torch.float16)
            torch._dynamo.maybe_mark_dynamic(x, 0)
            if wide:
                with wide_indexing() as widened:
                    assert widened
                    y = fn(x)
            else:
                y = fn(x)
            assert float(y[-1, -1]) == 3.0
            del x, y
        torch.cuda.empty_cache()
        return counters["stats"]["unique_graphs"]

    sizes = (2, 4, 2100)  # 2100 * 2**20 elements > 2**31
    assert compiles(sizes, wide=False) == 2  # inductor's own 32-bit choice: its guard fails at 2100
    assert compiles(sizes, wide=True) == 1
    torch._dynamo.reset()


def test_compile_keeps_no_pinned_host_memory_after_prepare():
    """The sweep resets the GPU's peak before each batch; inductor's autotuner then parks large copies in pinned
    host memory during the first call (RssShmem of 60 GB per worker on the H200). prepare gives it back."""
    if not hasattr(torch.cuda, "host_memory_stats"):
        pytest.skip(f"torch {torch.__version__} has no torch.cuda.host_memory_stats")
    (spec,) = resolve_models(["resnet18"])
    rt = get_runtime("compile-fp16")
    rt.load(spec)
    torch.cuda.reset_peak_memory_stats()
    fn = rt.prepare(1024)
    stats = torch.cuda.host_memory_stats()
    print(
        f"pinned host memory: peak {stats.get('allocated_bytes.peak', 0) / 1e9:.2f} GB, now "
        f"{stats.get('allocated_bytes.current', 0) / 1e9:.2f} GB, {stats.get('num_host_alloc', 0)} blocks"
    )
    assert stats.get("allocated_bytes.current", 0) == 0
    del fn
    rt.close()

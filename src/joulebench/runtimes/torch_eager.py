"""Eager PyTorch runtimes: ``torch-fp32`` (the paper's baseline), ``torch-fp16``, ``torch-bf16``.

:class:`TorchRuntime` also carries what the compiled, TensorRT and CPU runtimes share: model build on the
device, dtype cast, channels_last, TF32 settings, optional manual CUDA-graph capture, input generation.
"""

from __future__ import annotations

import gc
import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from joulebench.errors import ConfigError, MissingDependencyError
from joulebench.runtimes import register_runtime
from joulebench.runtimes.base import (
    Runtime,
    cuda_reason,
    empty_pinned_cache,
    has_conv,
    import_torch,
    random_batches,
    set_tf32,
    tf32_state,
    torch_dtype,
)

if TYPE_CHECKING:  # pragma: no cover
    from joulebench.models.resolve import ModelSpec

_TF32 = ("on", "off")
_CHANNELS_LAST = ("auto", True, False)


class TorchRuntime(Runtime):
    """A PyTorch module run under ``torch.inference_mode()`` (eager unless a subclass compiles it).

    Options:
        tf32: ``on``/``off`` sets TF32 for matmuls and cuDNN; None (default) leaves PyTorch's defaults, as
            the paper ran. fp32 CUDA runtimes only.
        channels_last: ``auto`` (default: on for half precision when the model has a Conv2d), True, False.
        cuda_graphs: Capture the call in a CUDA graph per batch size (CUDA only). Each call then copies the
            input into the graph's static buffer (one device-to-device copy) and replays the graph.
        cudnn_benchmark: True/False sets ``torch.backends.cudnn.benchmark``; None leaves it (default False).
        seed: Seed of the random inputs.
    """

    OPTIONS = {"tf32": None, "channels_last": "auto", "cuda_graphs": False, "cudnn_benchmark": None, "seed": 0}
    summary = "eager PyTorch"

    def __init__(self, device: str | None = None, **options: Any):
        super().__init__(device, **options)
        self.model: Any = None
        self.channels_last: bool = False
        self._prepared: Any = None  # keeps per-batch state alive until release()

    # -- validation ---------------------------------------------------------------------------------------

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Needs torch; CUDA runtimes also need a visible CUDA GPU.

        On the CPU an installed torch is enough, and it is found without importing it: a sweep's driver checks its
        runtimes before handing them to workers that import torch themselves, and the import takes seconds.
        """
        if cls.device_type == "cpu":
            if importlib.util.find_spec("torch") is None:
                return False, str(MissingDependencyError("torch", "torch", "Running models"))
            return True, ""
        try:
            import_torch()
        except Exception as e:  # MissingDependencyError
            return False, str(e)
        if cls.device_type == "cuda":
            reason = cuda_reason()
            if reason:
                return False, f"{reason} (on a CPU-only machine use cpu-fp32 or onnxruntime with provider=cpu)"
        return True, ""

    def _check_options(self) -> None:
        super()._check_options()
        o = self.options
        if o["tf32"] is not None:
            if o["tf32"] not in _TF32:
                raise ConfigError(f"tf32 must be 'on' or 'off' (or left unset), got {o['tf32']!r}")
            if self.precision != "fp32":
                raise ConfigError(f"tf32 applies to fp32 runtimes; '{self.name}' computes in {self.precision}")
            if self.device_type != "cuda":
                raise ConfigError(f"tf32 is a CUDA setting; '{self.name}' runs on {self.device_type}")
        if o["channels_last"] not in _CHANNELS_LAST:
            raise ConfigError(f"channels_last must be auto, true or false, got {o['channels_last']!r}")
        if o["cuda_graphs"] and self.device_type != "cuda":
            raise ConfigError(f"cuda_graphs needs a CUDA device; '{self.name}' runs on {self.device_type}")
        if o["cudnn_benchmark"] is not None and self.device_type != "cuda":
            raise ConfigError(f"cudnn_benchmark is a CUDA setting; '{self.name}' runs on {self.device_type}")

    # -- lifecycle ----------------------------------------------------------------------------------------

    def _apply_process_settings(self) -> None:
        torch = import_torch()
        if self.options["tf32"] is not None:
            set_tf32(self.options["tf32"])
        if self.options["cudnn_benchmark"] is not None:
            torch.backends.cudnn.benchmark = bool(self.options["cudnn_benchmark"])

    def _use_channels_last(self, model: Any) -> bool:
        cl = self.options["channels_last"]
        if cl == "auto":
            return self.precision != "fp32" and has_conv(model)
        return bool(cl)

    def load(self, spec: ModelSpec) -> None:
        """Build ``spec`` on the device, cast to the runtime's dtype, and set the memory layout."""
        from joulebench.models.resolve import create_model

        torch = import_torch()
        t0 = self._clock()
        self._apply_process_settings()
        if self.device_type == "cuda":
            torch.cuda.set_device(self.device)  # graph capture and compiled kernels use the current device
        model = create_model(spec, device=self.device)
        model = model.to(device=self.device, dtype=torch_dtype(self.precision))
        self.channels_last = self._use_channels_last(model)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        for p in model.parameters():
            p.requires_grad_(False)
        self.model = model.eval()
        self.spec = spec
        self.synchronize()
        self.load_s = self._clock() - t0

    def _build(self, batch_size: int, example: Any) -> Callable[[Any], Any]:
        """The callable for one batch size before warm-up; subclasses compile here."""
        return self.model

    def prepare(self, batch_size: int) -> Callable[[Any], Any]:
        """Build (and, for subclasses, compile) for ``batch_size``, warm up once, capture a graph if asked."""
        return self._prepare_with(batch_size, self._build)

    def _prepare_with(self, batch_size: int, build: Callable[[int, Any], Callable[[Any], Any]]) -> Callable[[Any], Any]:
        import_torch()
        self._check_batch(batch_size)
        self._require_loaded()
        self._prepared = None
        t0 = self._clock()
        example = self.make_inputs(batch_size, n=1)[0]
        with self._grad_context():
            fn = build(batch_size, example)
            for _ in range(self._warmup_calls()):
                fn(example)  # triggers lazy work (compilation, cuDNN setup) outside any measured window
        self.synchronize()
        if self.device_type == "cuda":
            empty_pinned_cache(import_torch())  # inductor's pinned copies from the first call (see empty_pinned_cache)
        if self.options["cuda_graphs"]:
            run = self._capture(fn, example)
        else:

            def run(x: Any) -> Any:
                with self._grad_context():
                    return fn(x)

        self._prepared = (fn, run)
        self.last_prepare_s = self._clock() - t0
        return run

    def _warmup_calls(self) -> int:
        return 1

    #: Run under ``torch.inference_mode()``; False means ``torch.no_grad()`` (for exporters that need it).
    inference_mode: bool = True

    def _grad_context(self) -> Any:
        torch = import_torch()
        return torch.inference_mode() if self.inference_mode else torch.no_grad()

    def _capture(self, fn: Callable[[Any], Any], example: Any) -> Callable[[Any], Any]:
        torch = import_torch()
        static_in = example.clone(memory_format=torch.preserve_format)
        side = torch.cuda.Stream(device=self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with self._grad_context(), torch.cuda.stream(side):
            for _ in range(3):  # warm up on a side stream, as CUDA-graph capture requires
                fn(static_in)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with self._grad_context(), torch.cuda.graph(graph):
            static_out = fn(static_in)
        self.synchronize()

        def run(x: Any) -> Any:
            if x is not static_in:
                static_in.copy_(x)
            graph.replay()
            return static_out

        run.graph = graph  # type: ignore[attr-defined]  # keeps the graph alive with the function
        return run

    def make_inputs(self, batch_size: int, n: int = 2) -> list[Any]:
        """``n`` standard-normal batches on the device, in the runtime's dtype and memory layout."""
        torch = import_torch()
        self._check_batch(batch_size)
        spec = self._require_loaded()
        dtype = self._input_dtype()
        fmt = torch.channels_last if self.channels_last and len(spec.input_shape) == 3 else torch.contiguous_format
        raw = random_batches((batch_size, *spec.input_shape), n, self.options["seed"], self.device)
        out = [x.to(dtype=dtype).contiguous(memory_format=fmt) for x in raw]
        self.synchronize()
        return out

    def _input_dtype(self) -> Any:
        return torch_dtype(self.precision)

    def describe(self) -> dict[str, Any]:
        """Precision, device, layout, TF32/cuDNN flags, CUDA graphs, torch version and threads."""
        torch = import_torch()
        d = super().describe()
        d.update(
            framework="torch",
            torch_version=torch.__version__,
            dtype=str(torch_dtype(self.precision)).replace("torch.", ""),
            channels_last=self.channels_last,
            cuda_graphs=bool(self.options["cuda_graphs"]),
            inference_mode=self.inference_mode,
        )
        if self.device_type == "cuda":
            d.update(cudnn_benchmark=bool(torch.backends.cudnn.benchmark), **tf32_state())
        else:  # TF32 and cuDNN flags do not apply on the CPU
            d.pop("tf32", None)
            d.pop("cudnn_benchmark", None)
            d["threads"] = torch.get_num_threads()
        return d

    def release(self) -> None:
        """Drop the prepared function (and its CUDA graph), then empty the allocator cache."""
        self._prepared = None
        super().release()

    def close(self) -> None:
        """Drop the model too."""
        self.model = None
        self.release()
        gc.collect()


@register_runtime("torch-fp32")
class TorchFP32Runtime(TorchRuntime):
    """Eager PyTorch FP32, the paper's baseline; TF32 left at PyTorch's defaults unless ``tf32`` is set."""

    name = "torch-fp32"
    precision = "fp32"
    extra = "torch"
    summary = "eager PyTorch FP32 (the paper's baseline; TF32 as PyTorch defaults unless tf32=on/off)"


@register_runtime("torch-fp16")
class TorchFP16Runtime(TorchRuntime):
    """Eager PyTorch FP16: model and inputs cast to half, channels_last for convolutional models."""

    name = "torch-fp16"
    precision = "fp16"
    extra = "torch"
    summary = "eager PyTorch FP16 (model and inputs cast), channels_last for CNNs"


@register_runtime("torch-bf16")
class TorchBF16Runtime(TorchRuntime):
    """Eager PyTorch BF16: model and inputs cast to bfloat16, channels_last for convolutional models."""

    name = "torch-bf16"
    precision = "bf16"
    extra = "torch"
    summary = "eager PyTorch BF16 (model and inputs cast), channels_last for CNNs"

"""``tensorrt-fp16``: a TensorRT FP16 engine per batch size, built with torch-tensorrt (as the paper did).

The model is cast to half and compiled with ``torch_tensorrt.compile(model, ir=..., inputs=[example],
enabled_precisions={torch.half})`` for a static input shape in :meth:`prepare`; the engine build time goes
to ``last_prepare_s``. Never run by joulebench's authors so far (no TensorRT on their machines): its wiring
is tested with a fake ``torch_tensorrt`` module. See docs/RUNTIMES.md.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from joulebench.errors import ConfigError, MissingDependencyError
from joulebench.runtimes import register_runtime
from joulebench.runtimes.base import cuda_reason, import_torch
from joulebench.runtimes.torch_eager import TorchRuntime

_IRS = ("dynamo", "torch_compile", "ts", "default")


def _import_trt():
    try:
        return importlib.import_module("torch_tensorrt")
    except ImportError:
        raise MissingDependencyError("torch-tensorrt", "tensorrt", "The tensorrt-fp16 runtime") from None


@register_runtime("tensorrt-fp16")
class TensorRTFP16Runtime(TorchRuntime):
    """TensorRT FP16 through torch-tensorrt, one engine per batch size.

    Options (besides cuda_graphs, cudnn_benchmark, seed; channels_last defaults to False here):
        ir: torch-tensorrt front end: ``dynamo`` (default), ``torch_compile``, ``ts`` or ``default``.
        trt_kwargs: Extra keyword arguments for ``torch_tensorrt.compile`` (e.g. ``workspace_size``).
    """

    name = "tensorrt-fp16"
    precision = "fp16"
    extra = "tensorrt"
    summary = "TensorRT FP16 engine per batch size via torch-tensorrt"
    # channels_last off: TensorRT chooses its own internal formats and takes contiguous NCHW engine inputs.
    OPTIONS = {**TorchRuntime.OPTIONS, "channels_last": False, "ir": "dynamo", "trt_kwargs": None}
    # torch-tensorrt's dynamo front end goes through torch.export, which refuses inference-mode tensors.
    inference_mode = False

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Needs torch-tensorrt (and TensorRT) and a CUDA GPU."""
        try:
            _import_trt()
        except MissingDependencyError as e:
            return False, str(e)
        except Exception as e:  # a broken TensorRT install raises all sorts of errors on import
            return False, f"torch_tensorrt failed to import: {type(e).__name__}: {e}"
        if cls.device_type == "cuda":
            reason = cuda_reason()
            if reason:
                return False, reason
        return True, ""

    def _check_options(self) -> None:
        super()._check_options()
        if self.options["ir"] not in _IRS:
            raise ConfigError(f"ir must be one of {', '.join(_IRS)}, got {self.options['ir']!r}")
        kw = self.options["trt_kwargs"]
        if kw is not None and not isinstance(kw, dict):
            raise ConfigError(f"trt_kwargs must be a dict of torch_tensorrt.compile arguments, got {kw!r}")

    def _check_device(self) -> None:
        _import_trt()  # MissingDependencyError with the pip command, before the generic availability check
        super()._check_device()

    def _build(self, batch_size: int, example: Any) -> Callable[[Any], Any]:
        torch = import_torch()
        trt = _import_trt()
        kwargs = {"ir": self.options["ir"], "inputs": [example], "enabled_precisions": {torch.half}}
        kwargs.update(self.options["trt_kwargs"] or {})
        return trt.compile(self.model, **kwargs)

    def describe(self) -> dict[str, Any]:
        """Adds the torch-tensorrt and TensorRT versions and the front end."""
        d = super().describe()
        d.update(ir=self.options["ir"], enabled_precisions=["fp16"])
        for label, mod in (("torch_tensorrt_version", "torch_tensorrt"), ("tensorrt_version", "tensorrt")):
            try:
                d[label] = getattr(importlib.import_module(mod), "__version__", None)
            except ImportError:
                d[label] = None
        return d

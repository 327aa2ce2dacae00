"""``onnxruntime``: the model exported to ONNX (FP32) and run by an ONNX Runtime session.

:meth:`OnnxRuntime.prepare` exports the model for the batch size (static shapes, so that the TensorRT
provider and cuDNN see fixed sizes), creates the session and runs it once; all of it is timed in
``last_prepare_s``. On CUDA the inputs are torch tensors already on the GPU and are bound with IO binding
(no host copies inside the measured window); the output buffer is preallocated too.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joulebench.errors import ConfigError, MissingDependencyError
from joulebench.runtimes import register_runtime
from joulebench.runtimes.base import Runtime, cuda_reason, import_torch, random_batches

if TYPE_CHECKING:  # pragma: no cover
    from joulebench.models.resolve import ModelSpec

#: provider option -> ONNX Runtime execution provider, and the device kind it runs on.
PROVIDERS = {
    "cuda": ("CUDAExecutionProvider", "cuda"),
    "tensorrt": ("TensorrtExecutionProvider", "cuda"),
    "cpu": ("CPUExecutionProvider", "cpu"),
}
EXPORTERS = ("auto", "torchscript", "dynamo")


def _import_ort():
    try:
        return importlib.import_module("onnxruntime")
    except ImportError:
        raise MissingDependencyError("onnxruntime", "onnx", "The onnxruntime runtime") from None


@register_runtime("onnxruntime")
class OnnxRuntime(Runtime):
    """ONNX Runtime FP32 with the CUDA, TensorRT or CPU execution provider.

    Options:
        provider: ``auto`` (CUDA when the device is a GPU, else CPU), ``cuda``, ``tensorrt`` or ``cpu``.
        exporter: ``auto`` (TorchScript exporter, then the dynamo exporter if that fails), ``torchscript``
            or ``dynamo``.
        opset: ONNX opset for the export (None = the exporter's default).
        tf32: ``on``/``off`` for the CUDA provider's ``use_tf32`` (None = ONNX Runtime's default).
        threads: intra-op threads of the CPU provider (None = ONNX Runtime's choice).
        seed: Seed of the random inputs.
    """

    name = "onnxruntime"
    precision = "fp32"
    device_type = "cuda"
    extra = "onnx"
    summary = "ONNX export + ONNX Runtime session (provider cuda, tensorrt or cpu), IO binding on CUDA"
    OPTIONS = {"provider": "auto", "exporter": "auto", "opset": None, "tf32": None, "threads": None, "seed": 0}

    def __init__(self, device: str | None = None, **options: Any):
        provider = options.get("provider") or "auto"
        if device is None:
            if provider == "auto":
                device = "cpu" if cuda_reason() else "cuda:0"
            else:
                device = "cuda:0" if PROVIDERS.get(provider, ("", "cpu"))[1] == "cuda" else "cpu"
        self.device_type = str(device).split(":")[0]  # instance value: this runtime runs where its provider runs
        super().__init__(device, **options)
        self.model: Any = None
        self.session: Any = None
        self._prepared: Any = None
        self._tmp: Path | None = None  # created on the first export: constructing a runtime has no side effects
        self.exporter_used: str | None = None

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Needs onnxruntime and torch (for export); lists the execution providers in the reason."""
        try:
            import_torch()
            ort = _import_ort()
        except MissingDependencyError as e:
            return False, str(e)
        providers = ort.get_available_providers()
        return True, f"onnxruntime {ort.__version__} providers: {', '.join(providers)}"

    def _provider(self) -> str:
        p = self.options["provider"]
        if p == "auto":
            return "cuda" if self.device_type == "cuda" else "cpu"
        return p

    def _check_options(self) -> None:
        o = self.options
        if o["provider"] != "auto" and o["provider"] not in PROVIDERS:
            raise ConfigError(f"provider must be auto, {', '.join(PROVIDERS)}; got {o['provider']!r}")
        if o["exporter"] not in EXPORTERS:
            raise ConfigError(f"exporter must be one of {', '.join(EXPORTERS)}, got {o['exporter']!r}")
        if self.device_type not in ("cuda", "cpu"):
            raise ConfigError(f"device must be cuda:N or cpu, got '{self.device}'")
        provider = self._provider()
        kind = PROVIDERS[provider][1]
        if kind != self.device_type:
            raise ConfigError(f"provider '{provider}' runs on {kind}, but device is '{self.device}'")
        if o["tf32"] is not None and (o["tf32"] not in ("on", "off") or provider != "cuda"):
            raise ConfigError("tf32 ('on' or 'off') applies only to the CUDA provider of onnxruntime")
        if o["threads"] is not None and provider != "cpu":
            raise ConfigError("threads applies only to the CPU provider of onnxruntime")

    def _check_device(self) -> None:
        _import_ort()  # MissingDependencyError with the pip command
        import_torch("Exporting models to ONNX")
        provider = self._provider()
        ep, kind = PROVIDERS[provider]
        if kind == "cuda":
            reason = cuda_reason()
            if reason:
                raise ConfigError(f"onnxruntime on '{self.device}' cannot run here: {reason}; use provider=cpu")
        have = _import_ort().get_available_providers()
        if ep not in have:
            hint = " (install onnxruntime-gpu instead of onnxruntime, or use provider=cpu)" if kind == "cuda" else ""
            raise ConfigError(f"onnxruntime here has no {ep}{hint}; available: {', '.join(have)}")

    # -- lifecycle ----------------------------------------------------------------------------------------

    def load(self, spec: ModelSpec) -> None:
        """Build the FP32 model on the CPU (it is exported per batch size in :meth:`prepare`)."""
        from joulebench.models.resolve import create_model

        t0 = self._clock()
        model = create_model(spec)
        for p in model.parameters():
            p.requires_grad_(False)
        self.model = model.eval()
        self.spec = spec
        self.load_s = self._clock() - t0

    def _export(self, batch_size: int) -> Path:
        torch = import_torch()
        spec = self._require_loaded()
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="joulebench-onnx-"))
        path = self._tmp / f"model_b{batch_size}.onnx"
        example = torch.zeros((batch_size, *spec.input_shape))
        exporters = ["torchscript", "dynamo"] if self.options["exporter"] == "auto" else [self.options["exporter"]]
        errors = []
        for exporter in exporters:
            kwargs: dict[str, Any] = {"input_names": ["input"], "output_names": ["output"]}
            if self.options["opset"] is not None:
                kwargs["opset_version"] = int(self.options["opset"])
            if exporter == "torchscript":
                kwargs["dynamo"] = False
                kwargs.setdefault("opset_version", 17)
            else:
                kwargs["dynamo"] = True
                kwargs["external_data"] = False  # one self-contained file (models < 2 GB)
            try:
                # Tracer and exporter-deprecation warnings are noise here; failures raise.
                with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
                    warnings.simplefilter("ignore")
                    torch.onnx.export(self.model, (example,), str(path), **kwargs)
                self.exporter_used = exporter
                return path
            except Exception as e:  # exporters raise many types; keep each message for the final error
                errors.append(f"{exporter}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        raise ConfigError(f"cannot export '{spec.model}' to ONNX ({'; '.join(errors)})")

    def _session(self, path: Path):
        ort = _import_ort()
        provider = self._provider()
        ep = PROVIDERS[provider][0]
        opts = ort.SessionOptions()
        if self.options["threads"] is not None:
            opts.intra_op_num_threads = int(self.options["threads"])
        dev_id = int(self.device.split(":")[1]) if ":" in self.device else 0
        providers: list[Any]
        if provider == "cuda":
            popts: dict[str, Any] = {"device_id": dev_id}
            if self.options["tf32"] is not None:
                popts["use_tf32"] = int(self.options["tf32"] == "on")
            providers = [(ep, popts)]
        elif provider == "tensorrt":
            # TensorRT provider at FP32 (the runtime's precision); CUDA provider for the nodes it rejects.
            providers = [(ep, {"device_id": dev_id}), ("CUDAExecutionProvider", {"device_id": dev_id})]
        else:
            providers = [ep]
        session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        if ep not in session.get_providers():  # ONNX Runtime falls back silently when a provider fails to load
            raise ConfigError(
                f"onnxruntime could not use {ep} (the session runs on {', '.join(session.get_providers())}); "
                "check its libraries (CUDA, cuDNN, TensorRT) or choose another provider"
            )
        return session

    def prepare(self, batch_size: int) -> Callable[[Any], Any]:
        """Export for ``batch_size``, open the session, bind IO (CUDA) and run once; timed in last_prepare_s."""
        torch = import_torch()
        self._check_batch(batch_size)
        self._require_loaded()
        self._prepared = None
        self.session = None
        t0 = self._clock()
        path = self._export(batch_size)
        session = self._session(path)
        in_name = session.get_inputs()[0].name
        out_name = session.get_outputs()[0].name
        example = self.make_inputs(batch_size, n=1)[0]
        if self.device_type == "cuda":
            import numpy as np

            dev_id = torch.device(self.device).index or 0
            first = session.run([out_name], {in_name: example.cpu().numpy()})[0]
            out = torch.empty(first.shape, dtype=torch.float32, device=self.device)
            binding = session.io_binding()
            binding.bind_output(out_name, "cuda", dev_id, np.float32, list(out.shape), out.data_ptr())

            def run(x: Any) -> Any:
                x = x.contiguous()  # no-op for make_inputs() buffers; IO binding reads raw memory
                binding.bind_input(in_name, "cuda", dev_id, np.float32, list(x.shape), x.data_ptr())
                session.run_with_iobinding(binding)
                return out

        else:

            def run(x: Any) -> Any:
                return session.run([out_name], {in_name: x.numpy()})[0]

        run(example)
        self.session = session
        self._prepared = run
        self.last_prepare_s = self._clock() - t0
        return run

    def make_inputs(self, batch_size: int, n: int = 2) -> list[Any]:
        """``n`` contiguous FP32 standard-normal batches as torch tensors on the device."""
        self._check_batch(batch_size)
        spec = self._require_loaded()
        out = random_batches((batch_size, *spec.input_shape), n, self.options["seed"], self.device)
        self.synchronize()
        return out

    def describe(self) -> dict[str, Any]:
        """Provider, exporter, onnxruntime version and the session's providers in effect."""
        ort = _import_ort()
        d = super().describe()
        d.update(
            framework="onnxruntime",
            onnxruntime_version=ort.__version__,
            provider=self._provider(),
            exporter=self.exporter_used or self.options["exporter"],
            io_binding=self.device_type == "cuda",
        )
        if self.session is not None:
            d["session_providers"] = self.session.get_providers()
        return d

    def release(self) -> None:
        """Close the session, drop the prepared function and delete this batch size's ONNX files."""
        self._prepared = None
        self.session = None
        if self._tmp is not None:
            for f in self._tmp.iterdir():  # a large model's export is hundreds of MB per batch size
                f.unlink(missing_ok=True)
        super().release()

    def close(self) -> None:
        """Drop the model and delete the exported files."""
        self.model = None
        self.release()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __del__(self) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

"""The runtime interface: how the sweep gets a ready-to-call model for one batch size.

Lifecycle, one runtime instance per (model configuration, runtime) in a worker process::

    rt = get_runtime("torch-fp16", device="cuda:0")   # validates options; ConfigError if impossible here
    rt.load(spec)                                     # build the model once on the device (rt.load_s)
    for bs in batch_sizes:
        fn = rt.prepare(bs)                           # compile / build engine / warm once (rt.last_prepare_s)
        xs = rt.make_inputs(bs)                       # pre-generated inputs on the device
        with meter.window(): fn(xs[i % 2]) ...        # the only work that is measured
        del fn, xs; rt.release()                      # free per-batch state; OOM -> rt.is_oom(exc)
    rt.close()

torch is imported lazily so that the registry can be listed without it.
"""

from __future__ import annotations

import gc
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from joulebench.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    from joulebench.models.resolve import ModelSpec

PRECISIONS = ("fp32", "fp16", "bf16")

#: Text of out-of-memory errors across PyTorch, cuBLAS/cuDNN, ONNX Runtime and TensorRT.
_OOM_MARKERS = (
    "out of memory",
    "cuda_error_out_of_memory",
    "cudaerrormemoryallocation",
    "cublas_status_alloc_failed",
    "cudnn_status_alloc_failed",
    "failed to allocate memory",  # ONNX Runtime BFC arena
    "bfcarena",
    "requested amount of gpu memory",  # TensorRT
    "std::bad_alloc",
)


def import_torch(purpose: str = "Running models"):
    """Import torch or raise :class:`MissingDependencyError` naming the extra."""
    try:
        import torch
    except ImportError:
        raise MissingDependencyError("torch", "torch", purpose) from None
    return torch


def torch_dtype(precision: str):
    """The torch dtype of a precision name (``fp32``, ``fp16``, ``bf16``)."""
    torch = import_torch()
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def random_batches(shape: tuple[int, ...], n: int, seed: int, device: str) -> list[Any]:
    """``n`` FP32 standard-normal tensors of ``shape`` on ``device``, the same for the same seed on every run."""
    torch = import_torch()
    gen = torch.Generator(device=device).manual_seed(int(seed))
    return [torch.randn(shape, generator=gen, device=device, dtype=torch.float32) for _ in range(n)]


def empty_pinned_cache(torch: Any) -> bool:
    """Give the page-locked host memory that torch's caching host allocator keeps back to the driver.

    Inductor's autotuner, benchmarking a kernel that writes into its own arguments, copies those arguments to pinned
    host memory instead of cloning them on the GPU whenever a clone would raise the GPU's peak
    (``copy_args_to_cpu_if_needed``). The sweep resets the peak before every batch, so the copies are as large as the
    batch's activations, and the allocator caches them for the life of the process. Compile-fp16 workers on the
    H200 held up to 60 GB in ``/dev/zero`` shared mappings, the kind pinned memory makes, and torch-fp32 workers
    none. :mod:`joulebench.diagnostics.pinned_memory` showed on the H200 that this cache is what held it: 10.8 GB
    of shared memory with the cache kept, 0.0 GB with it emptied (vit_base_patch16_224, batch 4,096).

    Args:
        torch: The imported torch module.

    Returns:
        True when this torch has a way to empty the cache (``torch.accelerator.empty_host_cache``, or the older
        ``torch._C._host_emptyCache``) and it was called.
    """
    empty = getattr(getattr(torch, "accelerator", None), "empty_host_cache", None)
    empty = empty or getattr(getattr(torch, "_C", None), "_host_emptyCache", None)
    if empty is None:
        return False
    empty()
    return True


def cuda_reason() -> str | None:
    """Why CUDA cannot be used from torch here, or None when it can."""
    try:
        import torch
    except ImportError:
        return "torch is not installed: run `pip install 'joulebench[torch]'`"
    if not torch.cuda.is_available():
        build = torch.version.cuda
        if build is None:
            return f"this torch build ({torch.__version__}) has no CUDA support"
        return f"no CUDA GPU is visible to torch {torch.__version__} (CUDA {build})"
    return None


def has_conv(model: Any) -> bool:
    """True if ``model`` contains a 2-D convolution (then channels_last usually pays off)."""
    torch = import_torch()
    return any(isinstance(m, torch.nn.Conv2d) for m in model.modules())


def _read_precision(read: Any) -> Any:
    """One TF32 setting, or None where PyTorch refuses to report it.

    torch 2.9-2.11 raise RuntimeError from the legacy getters once the legacy and the per-backend
    ``fp32_precision`` API have both been used in a process (seen on the H200 with torch 2.11).
    """
    try:
        return read()
    except RuntimeError:
        return None


def tf32_state() -> dict[str, Any]:
    """The TF32 settings of this process, as PyTorch reports them (recorded with every run)."""
    torch = import_torch()
    state: dict[str, Any] = {}
    # tf32_matmul / tf32_cudnn are the effective settings: the per-backend value where one is set, else the flag.
    for key, backend in (("tf32_matmul", torch.backends.cuda.matmul), ("tf32_cudnn", torch.backends.cudnn)):
        per_backend = _read_precision(lambda b=backend: getattr(b, "fp32_precision", None))
        flag = _read_precision(lambda b=backend: b.allow_tf32)
        state[key] = {"tf32": True, "ieee": False}.get(per_backend, None if flag is None else bool(flag))
    state["float32_matmul_precision"] = _read_precision(torch.get_float32_matmul_precision)
    # PyTorch >= 2.9 also has per-backend fp32_precision ("none" means: follow the legacy flags).
    for label, obj in (
        ("fp32_precision", torch.backends),
        ("fp32_precision_matmul", torch.backends.cuda.matmul),
        ("fp32_precision_cudnn", torch.backends.cudnn),
    ):
        value = _read_precision(lambda obj=obj: getattr(obj, "fp32_precision", None))
        if isinstance(value, str):
            state[label] = value
    return state


def set_tf32(mode: str) -> None:
    """Switch TF32 for matmuls and cuDNN convolutions ``on`` or ``off`` (process-wide).

    Uses the per-backend ``fp32_precision`` API where this torch has it, so the process never mixes the
    two APIs (which makes later reads raise on torch 2.9-2.11); the legacy flags otherwise.
    """
    torch = import_torch()
    on = mode == "on"
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    if isinstance(getattr(matmul, "fp32_precision", None), str):
        matmul.fp32_precision = "tf32" if on else "ieee"
        cudnn.fp32_precision = "tf32" if on else "ieee"
        return
    matmul.allow_tf32 = on
    cudnn.allow_tf32 = on
    torch.set_float32_matmul_precision("high" if on else "highest")


def _exc_chain(exc: BaseException):
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def is_oom_error(exc: BaseException) -> bool:
    """True if ``exc`` (or an exception it was raised from) is an out-of-memory error of any backend."""
    torch = sys.modules.get("torch")
    oom_types: tuple[type, ...] = (MemoryError,)
    if torch is not None:
        oom_types += tuple(
            t for t in (getattr(torch, "OutOfMemoryError", None), getattr(torch.cuda, "OutOfMemoryError", None)) if t
        )
    for e in _exc_chain(exc):
        if isinstance(e, oom_types):
            return True
        text = str(e).lower()
        if any(marker in text for marker in _OOM_MARKERS):
            return True
    return False


class Runtime(ABC):
    """An inference backend, registered by name with :func:`joulebench.runtimes.register_runtime`.

    Subclasses set the class attributes and implement :meth:`load`, :meth:`prepare`, :meth:`make_inputs`.

    Args:
        device: ``cuda:N`` or ``cpu``; None = ``cuda:0`` for CUDA runtimes, ``cpu`` for CPU ones.
        **options: Runtime options; each class lists its own in ``OPTIONS`` (name -> default).

    Raises:
        ConfigError: Unknown or contradictory options, or a device this runtime cannot use.
        MissingDependencyError: The runtime's package is not installed.
    """

    name: ClassVar[str] = "?"
    precision: ClassVar[str] = "fp32"
    #: Device kind the runtime runs on. An instance may differ (``onnxruntime`` with the CPU provider);
    #: read the instance attribute.
    device_type: ClassVar[str] = "cuda"
    #: pip extra that installs what the runtime needs (for messages), or None.
    extra: ClassVar[str | None] = None
    #: Modules its first build imports; a worker imports them inside the idle baseline, where the device waits anyway.
    host_modules: ClassVar[tuple[str, ...]] = ()
    #: How ``--worker-start auto`` starts its workers: ``fork`` (from the run's zygote) or ``fresh`` (a new process).
    worker_start: ClassVar[str] = "fork"
    #: One-line description for ``joulebench info`` and docs.
    summary: ClassVar[str] = ""
    #: Accepted options and their defaults.
    OPTIONS: ClassVar[dict[str, Any]] = {}

    def __init__(self, device: str | None = None, **options: Any):
        unknown = sorted(set(options) - set(self.OPTIONS))
        if unknown:
            accepted = ", ".join(sorted(self.OPTIONS)) or "none"
            raise ConfigError(f"runtime '{self.name}' has no option {', '.join(unknown)}; its options: {accepted}")
        self.options: dict[str, Any] = {**self.OPTIONS, **{k: v for k, v in options.items() if v is not None}}
        self.device: str = str(device) if device is not None else ("cuda:0" if self.device_type == "cuda" else "cpu")
        if self.device == "cuda":  # an explicit index keeps set_device, generators and IO binding unambiguous
            self.device = "cuda:0"
        self.last_prepare_s: float = 0.0
        self.load_s: float = 0.0
        self.spec: ModelSpec | None = None
        self._validate()

    # -- hooks --------------------------------------------------------------------------------------------

    def _validate(self) -> None:
        """Check options first (wrong on any machine), then whether this device can run the runtime."""
        self._check_options()
        self._check_device()

    def _check_options(self) -> None:
        """Raise ConfigError for bad or contradictory options; subclasses extend it (call super)."""
        return None

    def _check_device(self) -> None:
        """Raise ConfigError/MissingDependencyError when the device or a package is missing."""
        kind = self.device.split(":")[0]
        if kind != self.device_type:
            alt = "cpu-fp32" if kind == "cpu" else "a CUDA runtime such as torch-fp32"
            raise ConfigError(f"runtime '{self.name}' runs on {self.device_type}, not '{self.device}'; use {alt}")
        ok, reason = self.available()
        if not ok:
            raise ConfigError(f"runtime '{self.name}' cannot run here: {reason}")

    @classmethod
    @abstractmethod
    def available(cls) -> tuple[bool, str]:
        """Whether this runtime can run on this machine, and why not (missing package, no CUDA...).

        Never raises and never initialises a GPU context beyond what ``torch.cuda.is_available`` does.
        """

    @abstractmethod
    def load(self, spec: ModelSpec) -> None:
        """Build the model once on the device (cast, memory layout); records ``load_s``."""

    @abstractmethod
    def prepare(self, batch_size: int) -> Callable[[Any], Any]:
        """Return the function to call for ``batch_size``.

        Compilation, engine builds and one warm-up call happen here and are timed in ``last_prepare_s``;
        this time is never part of a measured window. May raise an out-of-memory error (see :meth:`is_oom`).
        """

    def prepare_scout(self, batch_size: int) -> Callable[[Any], Any]:
        """Like :meth:`prepare`, for a short scouting window of the batch-size search.

        Scouting only has to tell which way energy per image goes, so a runtime whose preparation is
        expensive per batch size (compilers) may reuse one preparation across scouting batch sizes; the
        final candidates are always prepared with :meth:`prepare`. The default is :meth:`prepare`.
        """
        return self.prepare(batch_size)

    #: How :meth:`prepare_scout` differs from :meth:`prepare` (recorded with scouting windows), or None.
    scout_build: str | None = None

    def compile_ahead(self, batches: Sequence[int], *, scout: bool = False) -> int:
        """Start preparing, elsewhere, what :meth:`prepare` (``scout``: :meth:`prepare_scout`) of ``batches`` needs.

        A hint from the batch search about what it measures next; returns how many preparations started. The
        default has nothing worth doing ahead (0); compiled runtimes compile in child processes.
        """
        return 0

    @abstractmethod
    def make_inputs(self, batch_size: int, n: int = 2) -> list[Any]:
        """``n`` random input batches, already on the device with the right dtype and layout."""

    def describe(self) -> dict[str, Any]:
        """Settings in effect, recorded with the measurements."""
        return {"runtime": self.name, "precision": self.precision, "device": self.device, **self.options}

    def synchronize(self) -> None:
        """Wait for the device's queued work."""
        torch = sys.modules.get("torch")
        if self.device.startswith("cuda") and torch is not None and torch.cuda.is_initialized():
            torch.cuda.synchronize(self.device)

    def release(self) -> None:
        """Free per-batch-size state (prepared functions, graphs, engines) and the allocator cache.

        Drop your own references to the prepared function and inputs first.
        """
        gc.collect()
        torch = sys.modules.get("torch")
        if self.device.startswith("cuda") and torch is not None and torch.cuda.is_initialized():
            torch.cuda.empty_cache()
            empty_pinned_cache(torch)

    def close(self) -> None:
        """Free everything, the model included."""
        self.release()

    @classmethod
    def is_oom(cls, exc: BaseException) -> bool:
        """True if ``exc`` is an out-of-memory error of this backend (the batch does not fit)."""
        return is_oom_error(exc)

    # -- helpers for subclasses ----------------------------------------------------------------------------

    def _require_loaded(self) -> ModelSpec:
        if self.spec is None:
            raise ConfigError(f"runtime '{self.name}': call load(spec) before prepare() or make_inputs()")
        return self.spec

    @staticmethod
    def _check_batch(batch_size: int) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch size must be a positive integer, got {batch_size!r}")

    @staticmethod
    def _clock() -> float:
        return time.perf_counter()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, device={self.device!r})"

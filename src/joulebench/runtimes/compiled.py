"""``compile-fp16`` and ``compile-bf16``: ``torch.compile`` (inductor) per batch size, optional CUDA graphs.

Each :meth:`prepare` resets dynamo and compiles afresh with ``dynamic=False`` for that batch size, so a
sweep over many batch sizes never reaches dynamo's recompile limit and earlier compilations do not hold
memory. Compilation time goes to ``last_prepare_s`` and is never part of a measured window.

The batch-size search's short scouting windows only have to tell which way energy per image goes, and a
static compile per scouted size (a dozen of them, up to a minute each) would cost far more GPU time than the
windows themselves. :meth:`prepare_scout` therefore compiles once with the batch dimension dynamic and
reuses that compilation for every scouted size (batch 1 gets its own, as dynamo specialises sizes 0 and 1);
the final candidates are compiled statically by :meth:`prepare`. ``scout_dynamic=False`` compiles every
scouted size statically instead.

The scouting program indexes its tensors with 64-bit integers (:func:`wide_indexing`). Inductor otherwise picks
32-bit indices whenever the batch being compiled allows it and guards on that, so a scan crossing 2**31 elements
in some activation recompiles from scratch each time (``resnet50`` under ``compile-fp16`` on an H100: 19 s at
batch 4096 and 30 s at 8192, after 13 s for batch 1 and 10 s for batch 2; benchmarks/compile_cost.py). The static
programs of the final candidates keep inductor's own choice, so the reported energy is that of the program a
deployment compiles. One recompilation remains where a convolution's backend changes at 2**31 elements (a guard
of ``F.conv2d``, not of inductor).

The dynamic-batch program reads more energy per image than the static one of the same batch, by an amount that
varies between batches (docs/validation/compiled-search.md): the finalists'
static windows decide, and ``scout_dynamic=False`` ranks with static programs at a compilation per scout.

:meth:`compile_ahead` hands programs the sweep needs next to child processes (:mod:`joulebench.runtimes.ahead`),
which fill inductor's on-disk cache while the worker compiles batch 1 or waits; :meth:`compile_only` is what a
child runs.
"""

from __future__ import annotations

import copyreg
import dataclasses
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import Any

from joulebench.errors import ConfigError
from joulebench.runtimes import register_runtime
from joulebench.runtimes.ahead import AheadCompiles, AheadJob, ahead_jobs
from joulebench.runtimes.base import cuda_reason, import_torch
from joulebench.runtimes.torch_eager import TorchRuntime

#: torch.compile modes; the last two capture CUDA graphs themselves.
COMPILE_MODES = ("default", "max-autotune-no-cudagraphs", "reduce-overhead", "max-autotune")
_GRAPH_MODES = ("reduce-overhead", "max-autotune")

_log = logging.getLogger(__name__)


def _never_32bit(numel: Any, buffers: Any) -> bool:
    """Inductor's 32-bit indexing test, answered "no": no size guard, so no recompile when a batch crosses 2**31."""
    return False


def _indexing_hook() -> Any:
    """Inductor's ``SIMDScheduling`` when it decides 32-bit indexing through a static method, else None."""
    try:
        from torch._inductor.codegen.simd import SIMDScheduling
    except ImportError as e:  # torch without inductor's SIMD scheduling: nothing to widen
        _log.debug("64-bit indexing not arranged: %s", e)
        return None
    return SIMDScheduling if isinstance(SIMDScheduling.__dict__.get("can_use_32bit_indexing"), staticmethod) else None


def scout_indexing() -> str:
    """``64-bit`` where :func:`wide_indexing` can widen the scouting program's indices here, else ``inductor``."""
    return "64-bit" if _indexing_hook() is not None else "inductor"


@contextmanager
def wide_indexing() -> Iterator[bool]:
    """While active, kernels inductor generates index with 64-bit integers (yields whether that could be arranged).

    Inductor decides per kernel through ``SIMDScheduling.can_use_32bit_indexing`` (a private hook); where this
    torch has none, compilation goes on unchanged and the context yields False. 64-bit indices are always correct,
    at the cost of some index arithmetic in the scouting program only.
    """
    hook = _indexing_hook()
    if hook is None:
        yield False
        return
    original = hook.__dict__["can_use_32bit_indexing"]
    hook.can_use_32bit_indexing = staticmethod(_never_32bit)
    try:
        yield True
    finally:
        hook.can_use_32bit_indexing = original


def _torch_attribute(name: str) -> Any:
    """``torch.<name>``: what a dtype or memory format pickled by :func:`stable_torch_pickles` unpickles to."""
    return getattr(import_torch(), name)


def _by_torch_name(obj: Any) -> tuple[Callable[[str], Any], tuple[str]]:
    return _torch_attribute, (str(obj).removeprefix("torch."),)


def stable_torch_pickles() -> None:
    """Pickle torch's dtypes and memory formats by one import path in this process, for inductor's cache keys.

    Both reduce to a bare name (``torch.channels_last``), which pickle resolves by scanning ``sys.modules`` for the
    first module with an attribute path to the object; which module that is depends on import order. Inductor hashes
    an input's layout that way, so a worker and a child compiling the same program could get different cache keys
    (a test run showed it). Entries keyed so are found only by processes that pickle so too.
    """
    torch = import_torch()
    copyreg.pickle(torch.dtype, _by_torch_name)
    copyreg.pickle(torch.memory_format, _by_torch_name)


class _CompileThenStop:
    """A ``torch.compile`` backend that compiles with inductor (filling its caches) and then stops the call.

    The call raises instead of running the model, so a child compiling ahead never allocates activations.
    """

    def __init__(self) -> None:
        self.graphs = 0

    def __call__(self, gm: Any, example_inputs: Any) -> Any:
        from torch._inductor.compile_fx import compile_fx

        compile_fx(gm, example_inputs)
        self.graphs += 1
        raise _Compiled


class _Compiled(Exception):
    """Raised by :class:`_CompileThenStop` once a graph is compiled."""


def compile_reason(device_type: str) -> str | None:
    """Why ``torch.compile`` with inductor cannot work here, or None."""
    try:
        torch = import_torch()
    except Exception as e:  # MissingDependencyError
        return str(e)
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile (needs torch >= 2.0)"
    if device_type == "cuda":
        reason = cuda_reason()
        if reason:
            return reason
        try:
            import triton  # noqa: F401  # inductor generates Triton kernels for CUDA
        except ImportError:
            return "inductor needs the 'triton' package for CUDA kernels: run `pip install triton`"
    return None


class CompiledRuntime(TorchRuntime):
    """``torch.compile(model, backend='inductor', mode=compile_mode, dynamic=False)`` per batch size.

    Options (besides the :class:`TorchRuntime` ones):
        compile_mode: ``default`` (never max-autotune unless asked), ``max-autotune-no-cudagraphs``,
            ``reduce-overhead`` or ``max-autotune`` (these two use inductor's own CUDA graphs).
        fullgraph: Fail instead of falling back to eager on graph breaks (default False).

    ``cuda_graphs=True`` captures the compiled function in a CUDA graph by hand (same as the eager runtimes);
    it cannot be combined with a compile mode that already uses CUDA graphs.
    """

    OPTIONS = {**TorchRuntime.OPTIONS, "compile_mode": "default", "fullgraph": False, "scout_dynamic": True}
    extra = "torch"
    # inductor and its code generators: a second or two of imports that the first compilation would otherwise wait on
    host_modules = ("torch._inductor.compile_fx", "torch._inductor.codegen.simd")
    # forked workers launched compiled programs 1.4 to 2.2 times as slowly as fresh ones, page-faulting all the while,
    # which raised the energy of launch-bound batches (docs/validation/launch-bound-windows.md)
    worker_start = "fresh"

    def __init__(self, device: str | None = None, **options: Any):
        super().__init__(device, **options)
        self._scout_fn: Any = None  # the dynamic-batch compilation shared by scouting windows
        self._ahead: AheadCompiles | None = None  # child compiles started by compile_ahead

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Needs torch.compile, and on CUDA a GPU and Triton."""
        reason = compile_reason(cls.device_type)
        return (False, reason) if reason else (True, "")

    def _check_options(self) -> None:
        super()._check_options()
        mode = self.options["compile_mode"]
        if mode not in COMPILE_MODES:
            raise ConfigError(f"compile_mode must be one of {', '.join(COMPILE_MODES)}, got {mode!r}")
        if mode in _GRAPH_MODES and self.device_type != "cuda":
            raise ConfigError(f"compile_mode {mode} uses CUDA graphs and needs a CUDA device")
        if mode in _GRAPH_MODES and self.options["cuda_graphs"]:
            raise ConfigError(
                f"compile_mode {mode} already captures CUDA graphs; drop cuda_graphs or use compile_mode default"
            )

    def _compile(self, dynamic: bool | None, backend: Any = "inductor") -> Callable[[Any], Any]:
        torch = import_torch()
        mode = self.options["compile_mode"]
        return torch.compile(
            self.model,
            backend=backend,
            mode=None if mode == "default" else mode,
            dynamic=dynamic,
            fullgraph=bool(self.options["fullgraph"]),
        )

    def _build(self, batch_size: int, example: Any) -> Callable[[Any], Any]:
        self._scout_fn = None
        import_torch()._dynamo.reset()  # forget earlier batch sizes: no recompile limit, no stale graphs in memory
        return self._compile(dynamic=False)

    def _build_scout(self, batch_size: int, example: Any) -> Callable[[Any], Any]:
        torch = import_torch()
        if self._scout_fn is None:
            torch._dynamo.reset()
            # dynamic=None: dynamo's automatic dynamic shapes; the batch dimension is marked dynamic below.
            self._scout_fn = self._compile(dynamic=None)
        # "maybe": a model that specialises on its batch size recompiles per size instead of failing.
        torch._dynamo.maybe_mark_dynamic(example, 0)
        return self._scout_fn

    def prepare(self, batch_size: int) -> Callable[[Any], Any]:
        """The static program of ``batch_size``, compiled (or loaded from a child's compile) and warmed up once."""
        return self._beside_children("static", batch_size, partial(self._prepare_with, batch_size, self._build))

    def prepare_scout(self, batch_size: int) -> Callable[[Any], Any]:
        """One dynamic-batch compilation reused across scouting batch sizes (see the module docstring)."""
        if not self.options["scout_dynamic"]:
            return self.prepare(batch_size)
        return self._beside_children("scout", batch_size, partial(self._prepare_scout, batch_size))

    def _prepare_scout(self, batch_size: int) -> Callable[[Any], Any]:
        # compiles and recompiles happen in the warm-up call of _prepare_with, inside this context
        with wide_indexing():
            return self._prepare_with(batch_size, self._build_scout)

    def _beside_children(self, program: str, batch_size: int, prepare: Callable[[], Any]) -> Callable[[Any], Any]:
        """Run ``prepare`` so that no child compile is left running when it returns (none may overlap a window).

        When a child compiles this very program, wait for the children first and load it from the cache; else
        compile here beside them, then wait. ``last_prepare_s`` includes the waiting.
        """
        ahead = self._ahead
        if ahead is None:
            return prepare()
        t0 = self._clock()
        theirs = ahead.running(program, batch_size)
        if theirs:
            ahead.wait_all()
        fn = prepare()
        if not theirs:
            ahead.wait_all()
        self.last_prepare_s = self._clock() - t0
        return fn

    def compile_ahead(self, batches: Sequence[int], *, scout: bool = False) -> int:
        """Start child processes compiling the programs of ``batches`` into inductor's cache; how many started.

        ``scout=True`` compiles the dynamic-batch scouting program (at the first of ``batches``, at least 2). Only
        the default compile mode compiles ahead: the others' programs depend on settings a child would not share.
        """
        jobs = ahead_jobs()
        if not jobs or self.spec is None or self.options["compile_mode"] != "default" or not batches:
            return 0
        if scout and not self.options["scout_dynamic"]:
            return 0
        if self._ahead is None:
            stable_torch_pickles()  # before any compile this worker and its children key alike
            self._ahead = AheadCompiles(jobs)
        cls = type(self)
        job = partial(
            AheadJob,
            f"{cls.__module__}:{cls.__qualname__}",
            dict(self.options),
            self.device,
            dataclasses.asdict(self.spec),
        )
        threads = import_torch().get_num_threads()
        if scout:
            return self._ahead.start([job(max(2, batches[0]), "scout", threads)])
        return self._ahead.start([job(b, "static", threads) for b in batches])

    @property
    def ahead_outcomes(self) -> list[Any]:
        """What each child compile started by :meth:`compile_ahead` did, once waited for."""
        return list(self._ahead.outcomes) if self._ahead is not None else []

    def compile_only(self, batch_size: int, *, scout: bool = False) -> int:
        """Compile the program :meth:`prepare` (``scout``: :meth:`prepare_scout`) would, into inductor's cache.

        Nothing runs: the compiled call stops before the model does. Returns how many graphs were compiled (more
        than one where the model has graph breaks; only the first is, as the call stops there).
        """
        torch = import_torch()
        self._check_batch(batch_size)
        self._require_loaded()
        stable_torch_pickles()
        example = self.make_inputs(batch_size, n=1)[0]
        torch._dynamo.reset()
        backend = _CompileThenStop()
        fn = self._compile(dynamic=None if scout else False, backend=backend)
        if scout:
            torch._dynamo.maybe_mark_dynamic(example, 0)
        with wide_indexing() if scout else nullcontext(), self._grad_context():
            try:
                fn(example)
            except Exception:
                if not backend.graphs:  # failed before anything compiled: a real error
                    raise
        return backend.graphs

    @property
    def scout_build(self) -> str | None:  # type: ignore[override]
        """``dynamic-batch`` when scouting reuses one dynamic compilation."""
        return "dynamic-batch" if self.options["scout_dynamic"] else None

    def describe(self) -> dict[str, Any]:
        """Adds the compile mode and whether inductor's own CUDA graphs are in use."""
        d = super().describe()
        mode = self.options["compile_mode"]
        d.update(compiler="inductor", dynamic=False, scout_build=self.scout_build)
        if self.scout_build is not None:
            d["scout_indexing"] = scout_indexing()  # which scouting program this torch gives: a stored row says so
        if mode in _GRAPH_MODES:
            d["cuda_graphs"] = "inductor"
        return d

    def release(self) -> None:
        """Also reset dynamo so the compiled code and its caches are freed (kept while scouting)."""
        self._prepared = None
        if self._scout_fn is None:
            import_torch()._dynamo.reset()
        super().release()

    def close(self) -> None:
        """Drop the scouting compilation too, and stop any child still compiling."""
        self._scout_fn = None
        if self._ahead is not None:
            self._ahead.close()
        super().close()

    def _warmup_calls(self) -> int:
        # inductor's CUDA graphs (reduce-overhead) are recorded on the calls after the first
        return 3 if self.options["compile_mode"] in _GRAPH_MODES else 1


@register_runtime("compile-fp16")
class CompileFP16Runtime(CompiledRuntime):
    """torch.compile (inductor, default mode) in FP16, channels_last for CNNs."""

    name = "compile-fp16"
    precision = "fp16"
    summary = "torch.compile (inductor, default mode) FP16, per batch size; optional CUDA graphs"


@register_runtime("compile-bf16")
class CompileBF16Runtime(CompiledRuntime):
    """torch.compile (inductor, default mode) in BF16, channels_last for CNNs."""

    name = "compile-bf16"
    precision = "bf16"
    summary = "torch.compile (inductor, default mode) BF16, per batch size; optional CUDA graphs"

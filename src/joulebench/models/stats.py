"""Model statistics computed by joulebench: parameters, MACs and activations per image.

Definitions (written out in ``docs/DATA.md``):

* **params**: number of elements of all distinct parameters of the model (buffers excluded).
* **MACs per image**: multiply-accumulates of convolutions (``out_elems x C_in/groups x prod(kernel)``),
  linear layers and every matrix product (``mm``, ``addmm``, ``bmm``, ``baddbmm``, ``einsum``/``matmul``
  as they lower to those), and attention: a fused ``scaled_dot_product_attention`` counts as the two
  matrix products it replaces (``Q K^T`` and ``A V``). Element-wise work (norms, activations functions,
  pooling, softmax, bias adds) is not counted.
* **activations per image**: output elements of the same ops (conv, linear and matmul-like outputs; for
  attention, the ``B x H x L x S`` score matrix and the ``B x H x L x Ev`` output), following the
  definition of timm's ``benchmark.py`` (fvcore ``ActivationCountAnalysis``).

Counting runs the model's forward on the ``meta`` device at the aten level (MACs from torch's
``FlopCounterMode``, activations from a ``TorchDispatchMode``), so no weights are downloaded and no arithmetic
is done. Models whose forward needs real values fall back to a CPU forward with random weights. Results are
cached per (model, img_size, timm version).

torch and timm are imported lazily: the CLI reads the shipped/cached table without them.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from joulebench.errors import ConfigError, MissingDependencyError

#: Columns of the stats table (shipped file, cache and ``joulebench stats --json``).
STATS_COLUMNS = ("model", "img_size", "params", "macs", "activations", "method", "timm_version", "error")

SHIPPED_STATS = Path(__file__).resolve().parents[1] / "data" / "model_stats.csv.gz"


@dataclass(frozen=True)
class ModelStats:
    """Statistics of one model configuration.

    Attributes:
        model: timm ``arch.tag`` (or bare architecture name).
        img_size: Square input side in pixels.
        params: Number of parameters.
        macs: Multiply-accumulates per image.
        activations: Output elements of conv/linear/matmul-like ops per image.
        method: ``meta`` (shape-only forward) or ``cpu`` (random weights on CPU); ``failed`` if neither worked.
        timm_version: timm version the model was built with.
        error: Why counting failed, when it did.
    """

    model: str
    img_size: int
    params: int | None
    macs: int | None
    activations: int | None
    method: str
    timm_version: str
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all fields."""
        return asdict(self)


# --------------------------------------------------------------------------------------------- counting


def _prod(xs: Iterable[int]) -> int:
    out = 1
    for x in xs:
        out *= int(x)
    return out


def _output_elements(args: Sequence[Any], out: Any) -> int:
    return out.numel()


def _sdpa_activations(args: Sequence[Any], out: Any) -> int:
    """The ``B x H x L x S`` score matrix and the ``B x H x L x Ev`` output a fused attention replaces."""
    q, k, v = args[0], args[1], args[2]
    lead = _prod(q.shape[:-2])  # batch x heads
    lq, s, ev = int(q.shape[-2]), int(k.shape[-2]), int(v.shape[-1])
    return lead * lq * s + lead * lq * ev


#: Fused attention ops, counted as the two matrix products they replace.
_SDPA_OPS = (
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
    "_scaled_dot_product_fused_attention_overrideable",
    "scaled_dot_product_attention",
)


def _activation_ops() -> dict[Any, Callable[[Sequence[Any], Any], int]]:
    """The ops whose outputs count as activations, and how many elements each output has."""
    import torch

    aten = torch.ops.aten
    table = {
        op: _output_elements
        for op in (
            aten.mm,
            aten.addmm,
            aten._addmm_activation,
            aten.bmm,
            aten.baddbmm,
            aten.convolution,
            aten._convolution,
        )
    }
    for name in _SDPA_OPS:
        if hasattr(aten, name):
            table[getattr(aten, name)] = _sdpa_activations
    return table


def _flop_formulas_missing_from_torch() -> dict[Any, Callable[..., int]]:
    """FLOP formulas for ops torch's ``FlopCounterMode`` does not count (as of torch 2.14), on shapes.

    Without them a CPU forward (the fallback for models that need real values) undercounts: CPU attention runs
    ``_scaled_dot_product_flash_attention_for_cpu`` (vit_tiny_patch16_224 would lose 14 % of its MACs), and a
    fused linear + GELU runs ``_addmm_activation``.
    """
    import torch
    from torch.utils import flop_counter

    aten = torch.ops.aten

    def sdpa(q: Any, k: Any, v: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
        return flop_counter.sdpa_flop_count(q, k, v)

    def addmm(bias: Any, a: Any, b: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
        return flop_counter.mm_flop(a, b)

    table: dict[Any, Callable[..., int]] = {aten._addmm_activation: addmm}
    for name in ("_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_fused_attention_overrideable"):
        if hasattr(aten, name):
            table[getattr(aten, name)] = sdpa
    return {op: f for op, f in table.items() if op not in flop_counter.flop_registry}


def count_macs_activations(fn: Callable[[], Any]) -> tuple[int, int]:
    """Run ``fn()`` and count the MACs and activations of the aten ops it dispatches.

    MACs are half the FLOPs torch's ``FlopCounterMode`` counts (convolutions, matrix products and fused attention;
    bias adds are not counted), with formulas for the few ops it lacks; activations are counted here.

    Args:
        fn: A zero-argument callable running a forward pass (on meta or CPU tensors).

    Returns:
        ``(macs, activations)`` for the whole call (divide by the batch for per-image numbers).
    """
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import FlopCounterMode

    ops = _activation_ops()

    class _ActivationCounter(TorchDispatchMode):
        count = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            elements = ops.get(func.overloadpacket)
            if elements is not None:
                self.count += elements(args, out[0] if isinstance(out, (tuple, list)) else out)
            return out

    flops = FlopCounterMode(display=False, custom_mapping=_flop_formulas_missing_from_torch())
    activations = _ActivationCounter()
    with flops, activations:
        fn()
    return flops.get_total_flops() // 2, activations.count


def count_module(model: Any, img_size: int, device: str = "meta", in_chans: int = 3) -> tuple[int, int]:
    """MACs and activations per image of ``model`` for one ``in_chans x img_size x img_size`` image.

    Args:
        model: A ``torch.nn.Module`` (its parameters must be on ``device``).
        img_size: Square input side.
        device: ``meta`` for a shape-only pass, ``cpu`` for a real one.
        in_chans: Input channels.
    """
    import torch

    x = torch.randn(1, in_chans, img_size, img_size, device=device)
    model.eval()
    with torch.no_grad():
        return count_macs_activations(lambda: model(x))


def count_params(model: Any) -> int:
    """Number of elements of the model's distinct parameters (buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


def _timm():
    try:
        import timm
        import torch  # noqa: F401
    except ImportError:
        raise MissingDependencyError("timm", "torch", "Computing model statistics") from None
    return timm


# In-place ops that change a tensor's shape or autograd state must still run on meta tensors.
_KEEP_INPLACE = frozenset(
    ("requires_grad_", "resize_", "resize_as_", "set_", "as_strided_", "unsqueeze_", "squeeze_", "transpose_", "t_",
     "swapdims_", "swapaxes_", "detach_", "share_memory_", "fill_diagonal_")
)  # fmt: skip


def _skip_meta_init():
    """A function mode that skips value-only in-place ops (weight init) on meta tensors.

    On the meta device every init op (``trunc_normal_``, ``uniform_``, ``clamp_``...) still runs its Python
    reference meta kernel, which makes building a model take seconds; meta tensors have no values, so
    skipping ops that cannot change a shape gives the same module, several times faster.
    """
    import torch
    from torch.overrides import TorchFunctionMode

    class _Skip(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            name = getattr(func, "__name__", "")
            if (
                name.endswith("_")
                and not name.endswith("__")
                and name not in _KEEP_INPLACE
                and args
                and isinstance(args[0], torch.Tensor)
                and args[0].is_meta
            ):
                return args[0]
            return func(*args, **(kwargs or {}))

    return _Skip()


def _create(timm: Any, name: str, img_size: int | None, device: str) -> tuple[Any, int, int]:
    import torch

    try:
        cfg = timm.models.get_pretrained_cfg(name)
    except Exception:  # noqa: BLE001 - architectures without a pretrained cfg use timm's defaults
        cfg = None
    default = int(cfg.input_size[-1]) if cfg is not None else 224
    in_chans = int(cfg.input_size[0]) if cfg is not None else 3
    size = int(img_size or default)
    import contextlib

    skip = _skip_meta_init() if device == "meta" else contextlib.nullcontext()
    with torch.device(device), skip:
        model = None
        if size != default:
            try:  # models with position embeddings must be built for the size
                model = timm.create_model(name, pretrained=False, img_size=size)
            except TypeError:
                model = None
        if model is None:
            model = timm.create_model(name, pretrained=False)
    return model, size, in_chans


def compute_stats(model: str, img_size: int | None = None) -> ModelStats:
    """Compute params, MACs and activations of one timm model configuration without weights.

    Tries a meta-device forward first; if the model needs real values, uses random weights on CPU.

    Args:
        model: timm name (``arch`` or ``arch.tag``).
        img_size: Input side; default: the pretrained configuration's input size.

    Raises:
        MissingDependencyError: If torch/timm are not installed.
        ConfigError: If timm does not know the model.
    """
    timm = _timm()
    arch = model.split(".")[0]
    if not timm.is_model(arch):
        raise ConfigError(f"timm {timm.__version__} has no model '{model}'; see `joulebench models` for names")
    errors = []
    for device in ("meta", "cpu"):
        try:
            m, size, in_chans = _create(timm, model, img_size, device)
            params = count_params(m)
            macs, acts = count_module(m, size, device, in_chans)
            return ModelStats(model, size, params, macs, acts, device, timm.__version__)
        except Exception as e:  # noqa: BLE001 - any failure on meta falls back to CPU, and is recorded
            errors.append(f"{device}: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
    return ModelStats(model, int(img_size or 0), None, None, None, "failed", timm.__version__, "; ".join(errors))


# ------------------------------------------------------------------------------------------------ cache


def cache_dir() -> Path:
    """Directory of joulebench's caches: ``$JOULEBENCH_CACHE`` or ``~/.cache/joulebench``."""
    env = os.environ.get("JOULEBENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "joulebench"


def cache_path() -> Path:
    """The JSON-lines cache of computed stats (one object per model configuration and timm version)."""
    return cache_dir() / "model_stats.jsonl"


def read_cache(path: Path | None = None) -> dict[tuple[str, int, str], ModelStats]:
    """Read the stats cache; keys are ``(model, img_size, timm_version)``. Unreadable lines are skipped."""
    path = path or cache_path()
    out: dict[tuple[str, int, str], ModelStats] = {}
    if not path.exists():
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                d = json.loads(line)
                s = ModelStats(**{k: d.get(k) for k in STATS_COLUMNS})
            except (json.JSONDecodeError, TypeError):
                continue  # a line cut by an interrupted run; it will be recomputed
            out[(s.model, int(s.img_size), s.timm_version)] = s
    return out


def append_cache(stats: Iterable[ModelStats], path: Path | None = None) -> None:
    """Append computed stats to the cache."""
    path = path or cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        for s in stats:
            f.write(json.dumps(s.to_dict()) + "\n")


def _shipped_frame():
    import pandas as pd

    if SHIPPED_STATS.exists():
        return pd.read_csv(SHIPPED_STATS)
    return pd.DataFrame(columns=list(STATS_COLUMNS))


def load_stats(include_cache: bool = True):
    """The stats table: the shipped file, overridden by the user's cache (newer computations win).

    Returns:
        A pandas DataFrame with :data:`STATS_COLUMNS`.
    """
    import pandas as pd

    df = _shipped_frame()
    if include_cache:
        cached = read_cache()
        if cached:
            extra = pd.DataFrame([s.to_dict() for s in cached.values()])
            df = pd.concat([df, extra], ignore_index=True) if len(df) else extra
    if len(df):
        df = df.drop_duplicates(["model", "img_size"], keep="last").reset_index(drop=True)
    return df


def _worker(job: tuple[str, int | None]) -> ModelStats:
    import torch

    torch.set_num_threads(1)
    return compute_stats(job[0], job[1])


def _worker_keyed(job: tuple[str, int | None]) -> tuple[tuple[str, int | None], ModelStats]:
    return job, _worker(job)


def compute_many(
    jobs: Sequence[tuple[str, int | None]],
    workers: int = 1,
    refresh: bool = False,
    cache: Path | None = None,
    progress: Callable[[ModelStats], None] | None = None,
) -> list[ModelStats]:
    """Compute stats for many configurations, reusing the cache (incremental) and appending new results.

    Args:
        jobs: ``(model, img_size)`` pairs (``img_size`` None = the model's default).
        workers: Worker processes (each single-threaded).
        refresh: Recompute even when cached for this timm version.
        cache: Cache file (default :func:`cache_path`).
        progress: Called with each newly computed result.

    Returns:
        One :class:`ModelStats` per job, in order.
    """
    timm = _timm()
    version = timm.__version__
    cached = {} if refresh else read_cache(cache)
    results: dict[int, ModelStats] = {}
    todo: list[tuple[int, tuple[str, int | None]]] = []
    for i, (name, size) in enumerate(jobs):
        hit = cached.get((name, int(size), version)) if size else None
        if hit is not None and hit.method != "failed":
            results[i] = hit
        else:
            todo.append((i, (name, size)))

    def done(i: int, s: ModelStats) -> None:
        results[i] = s
        append_cache([s], cache)
        if progress:
            progress(s)

    if workers <= 1 or len(todo) <= 1:
        for i, job in todo:
            done(i, _worker(job))
    else:
        import multiprocessing as mp

        # multiprocessing.Pool rather than ProcessPoolExecutor: the latter can hang on Python 3.11 when
        # workers are recycled (max_tasks_per_child), and recycling bounds memory of CPU fallbacks.
        ctx = mp.get_context("spawn")
        index = {job: i for i, job in todo}
        with ctx.Pool(workers, maxtasksperchild=200) as pool:
            for s in pool.imap_unordered(_worker_keyed, [job for _, job in todo], chunksize=1):
                done(index[s[0]], s[1])
    return [results[i] for i in range(len(jobs))]


def human_count(n: float | None) -> str:
    """Display a count as 25.6M / 4.11G."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "–"
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.3g}{suffix}"
    return f"{n:.0f}"

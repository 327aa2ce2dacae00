"""Turn user model names into :class:`ModelSpec` s, and specs into ready ``nn.Module`` s.

Accepted names:

* a timm architecture (``resnet50``) -> its default pretrained tag (``resnet50.a1_in1k``);
* a pretrained tag (``resnet50.a1_in1k``);
* a glob (``'mobilenetv4*'``, ``'resnet50.a*'``) -> architectures, or every pretrained tag with ``pretrained_only``;
* a custom factory ``package.module:factory`` returning an ``nn.Module`` (needs ``input_shape``);
* any timm name or glob with ``@SIZE`` (``resnet18.a3_in1k@224``): that input size for this name only.

Resolution reads timm's registry and pretrained configs only: no model is instantiated and nothing is
downloaded. What it reads for an exact name is kept per timm installation (:mod:`~joulebench.models.name_cache`), so
that a name resolved before is resolved again without importing timm. :func:`create_model` builds a model with
random weights (energy does not depend on weight values), or loads a local state dict when ``weights`` is given.
"""

from __future__ import annotations

import difflib
import functools
import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joulebench.errors import ConfigError, MissingDependencyError
from joulebench.models.name_cache import NameCache

if TYPE_CHECKING:  # pragma: no cover
    import torch

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class ModelSpec:
    """One model configuration to measure.

    Attributes:
        model: Key of the configuration: timm ``arch.tag`` (``resnet50.a1_in1k``), the bare architecture
            when it has no pretrained tag, or ``package.module:factory`` for custom models.
        arch: timm architecture name (``resnet50``) or the factory path.
        tag: Pretrained tag (``a1_in1k``), or None.
        img_size: Square input side in pixels (the height for non-square custom inputs).
        input_shape: Per-sample input shape ``(C, H, W)``.
        custom: True for ``module:factory`` models.
        weights: Local weights file to load (never downloaded), or None for random weights.
        default_img_size: The input side of the pretrained config (None for custom models); when it differs
            from ``img_size`` the model is built for the new size.
    """

    model: str
    arch: str
    tag: str | None
    img_size: int
    input_shape: tuple[int, ...]
    custom: bool = False
    weights: str | None = None
    default_img_size: int | None = None

    @property
    def key(self) -> tuple[str, int]:
        """The store key of this configuration: ``(model, img_size)``."""
        return (self.model, self.img_size)


def _timm():
    try:
        import timm
    except ImportError:
        raise MissingDependencyError("timm", "torch", "Resolving timm models") from None
    return timm


@functools.lru_cache(maxsize=1)
def _all_names() -> tuple[str, ...]:
    timm = _timm()
    return tuple(dict.fromkeys([*timm.list_models(pretrained=True), *timm.list_models()]))


def _unknown(name: str, what: str = "model") -> ConfigError:
    close = difflib.get_close_matches(name, _all_names(), n=5, cutoff=0.6)
    hint = f" Closest timm names: {', '.join(close)}." if close else ""
    return ConfigError(
        f"unknown {what} '{name}'.{hint} List names with `joulebench models list`, use a glob like 'resnet*', "
        "or give a custom model as 'package.module:factory'."
    )


def _normalise_shape(input_shape: Sequence[int] | str | None) -> tuple[int, ...] | None:
    if input_shape is None:
        return None
    if isinstance(input_shape, str):
        try:
            input_shape = [int(p) for p in input_shape.replace("x", ",").split(",") if p.strip()]
        except ValueError:
            raise ConfigError(f"cannot read input shape '{input_shape}': write C,H,W, e.g. 3,224,224") from None
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or any(s <= 0 for s in shape):
        raise ConfigError(f"input shape {shape} must be three positive sizes (C, H, W), e.g. 3,224,224")
    return shape


def _timm_facts(name: str) -> dict[str, Any]:
    """What resolution takes from timm for one exact name (architecture or arch.tag); ConfigError if unknown.

    Returns:
        ``arch``, ``tag`` (the default pretrained tag for a bare architecture; None for none), and the pretrained
        config's ``input_size`` and ``test_input_size`` (lists, or None): plain JSON, kept by :class:`NameCache`.
    """
    timm = _timm()
    from timm.models import split_model_name_tag

    arch, tag = split_model_name_tag(name)
    if not timm.is_model(arch):
        raise _unknown(name)
    try:
        cfg = timm.get_pretrained_cfg(name)  # bare arch -> its default tag's config
    except RuntimeError:  # timm: "Invalid pretrained tag (...) for arch."
        tags = timm.list_models(f"{arch}.*", pretrained=True)
        raise ConfigError(f"'{arch}' has no pretrained tag '{tag}'. Its tags: {', '.join(tags) or 'none'}.") from None
    if not tag and cfg is not None and cfg.tag and timm.is_model_pretrained(f"{arch}.{cfg.tag}"):
        tag = cfg.tag  # the default pretrained tag; untrained defaults ('untrained', '') key on the bare arch
    test = cfg.test_input_size if cfg is not None else None
    return {
        "arch": arch,
        "tag": tag or None,
        "input_size": [int(s) for s in cfg.input_size] if cfg is not None and cfg.input_size else None,
        "test_input_size": [int(s) for s in test] if test else None,
    }


def _timm_spec(
    name: str, *, img_size: int | str | None, input_shape: tuple[int, ...] | None, names: NameCache | None = None
) -> ModelSpec:
    """Spec of one exact timm name (architecture or arch.tag), from ``names`` when it holds the name, else timm.

    Raises:
        ConfigError: An unknown name or tag, or a model without an input size and no size given.
    """
    facts = names.get(name) if names is not None else None
    if facts is None:
        facts = _timm_facts(name)
        if names is not None:
            names.put(name, facts)
    arch, tag = facts["arch"], facts["tag"]
    model = f"{arch}.{tag}" if tag else arch
    default_shape = tuple(facts["input_size"]) if facts["input_size"] else None
    if img_size == "test":
        test = facts["test_input_size"]
        img_size = None if not test else int(test[-1])
    if input_shape is not None:
        shape = input_shape
    elif img_size is not None:
        channels = default_shape[0] if default_shape else 3
        shape = (channels, int(img_size), int(img_size))
    elif default_shape is not None:
        shape = default_shape
    else:
        raise ConfigError(f"timm has no input size for '{name}': pass img_size (--img-size)")
    return ModelSpec(
        model=model,
        arch=arch,
        tag=tag,
        img_size=int(shape[1]),
        input_shape=tuple(int(s) for s in shape),
        default_img_size=int(default_shape[1]) if default_shape else None,
    )


def _custom_spec(path: str, *, input_shape: tuple[int, ...] | None) -> ModelSpec:
    if input_shape is None:
        raise ConfigError(
            f"custom model '{path}' needs its per-sample input shape: pass input_shape=(3, 224, 224) "
            "(CLI: --input-shape 3,224,224)"
        )
    _load_factory(path)  # fail early on a typo, before any measurement starts
    return ModelSpec(
        model=path, arch=path, tag=None, img_size=int(input_shape[1]), input_shape=input_shape, custom=True
    )


def _load_factory(path: str):
    mod_name, _, attr = path.partition(":")
    if not mod_name or not attr:
        raise ConfigError(f"custom model '{path}' must be written 'package.module:factory'")
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise ConfigError(
            f"cannot import module '{mod_name}' of custom model '{path}': {e}. Is it installed or on PYTHONPATH?"
        ) from e
    obj: Any = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"module '{mod_name}' has no attribute '{attr}' (custom model '{path}')")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"'{path}' is not callable: it must be a function or class returning an nn.Module")
    return obj


def _expand_glob(pattern: str, pretrained_only: bool) -> list[str]:
    timm = _timm()
    has_tag = "." in pattern
    names = timm.list_models(pattern, pretrained=pretrained_only, include_tags=pretrained_only or has_tag)
    if not names:
        probe = pattern.replace("*", "").replace("?", "").strip(".[]")
        close = difflib.get_close_matches(probe, _all_names(), n=5, cutoff=0.5) if probe else []
        hint = f" Closest names: {', '.join(close)}." if close else ""
        only = "pretrained " if pretrained_only else ""
        raise ConfigError(f"no {only}timm model matches '{pattern}'.{hint}")
    return list(names)


def _split_size(
    pattern: str, img_size: int | str | None, shape: tuple[int, ...] | None
) -> tuple[str, int | str | None]:
    """``name@288`` -> ``(name, 288)``: a per-name input size (as ``joulebench panel --names`` writes)."""
    name, at, size = pattern.partition("@")
    if not at:
        return pattern, img_size
    if not size.isdigit() or int(size) <= 0:
        raise ConfigError(f"'{pattern}': write the input size after '@' in pixels, e.g. resnet50.a1_in1k@288")
    if (img_size is not None and img_size != int(size)) or shape is not None:
        raise ConfigError(f"'{pattern}' names its input size; drop --img-size/--input-shape or the '@{size}'")
    return name, int(size)


def resolve_models(
    patterns: Iterable[str] | str,
    *,
    pretrained_only: bool = False,
    img_size: int | str | None = None,
    input_shape: Sequence[int] | str | None = None,
    weights: str | Path | None = None,
) -> list[ModelSpec]:
    """Resolve names, tags, globs and custom factories into model specs (fast: no model is built).

    Args:
        patterns: Names as the user wrote them; a single string is one pattern.
        pretrained_only: Globs expand to pretrained tags (``arch.tag``) instead of architectures, and exact
            architecture names without pretrained weights are refused.
        img_size: Square input side overriding the pretrained config (to study input-size effects), or
            ``"test"`` for the config's ``test_input_size`` where it has one.
        input_shape: Per-sample ``(C, H, W)``; required for custom models, an override for timm models.
        weights: Local state-dict file (safetensors or torch) for the single resolved model.

    Returns:
        Specs in the order given, duplicates removed.

    Raises:
        ConfigError: Unknown names (with the closest names), a glob matching nothing, a custom model without
            ``input_shape``, contradictory sizes, or ``weights`` for more than one model or a missing file.
    """
    if isinstance(patterns, str):
        patterns = [patterns]
    patterns = [p.strip() for p in patterns if p and p.strip()]
    if not patterns:
        raise ConfigError("no model given: name at least one timm model, glob or 'package.module:factory'")
    shape = _normalise_shape(input_shape)
    if isinstance(img_size, str) and img_size != "test":
        try:
            img_size = int(img_size)
        except ValueError:
            raise ConfigError(f"img_size '{img_size}' must be a number of pixels or 'test'") from None
    if isinstance(img_size, int) and img_size <= 0:
        raise ConfigError(f"img_size must be positive, got {img_size}")
    if shape is not None and isinstance(img_size, int) and (shape[1] != img_size or shape[2] != img_size):
        raise ConfigError(f"img_size {img_size} contradicts input_shape {shape}: give only one of them")

    specs: list[ModelSpec] = []
    names = NameCache.for_installed_timm()  # exact names resolved before need no timm (seconds to import)
    for pattern in patterns:
        if ":" in pattern:
            specs.append(_custom_spec(pattern, input_shape=shape))
            continue
        pattern, size = _split_size(pattern, img_size, shape)
        if _GLOB_CHARS & set(pattern):
            specs.extend(
                _timm_spec(n, img_size=size, input_shape=shape, names=names)
                for n in _expand_glob(pattern, pretrained_only)
            )
        else:
            spec = _timm_spec(pattern, img_size=size, input_shape=shape, names=names)
            if pretrained_only and spec.tag is None:
                raise ConfigError(f"'{pattern}' has no pretrained weights in timm; drop pretrained_only to measure it")
            specs.append(spec)
    names.save()
    specs = list(dict.fromkeys(specs))

    if weights is not None:
        wpath = Path(weights).expanduser()
        if len(specs) != 1:
            raise ConfigError(f"weights '{weights}' can be given for exactly one model, but {len(specs)} resolved")
        if not wpath.is_file():
            raise ConfigError(f"weights file '{weights}' does not exist")
        specs = [replace(specs[0], weights=str(wpath))]
    return specs


def _read_state_dict(path: str) -> dict[str, Any]:
    import torch

    if path.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise MissingDependencyError("safetensors", "torch", "Loading .safetensors weights") from None
        return load_file(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a non-checkpoint file
        raise ConfigError(f"cannot read weights '{path}' as a torch or safetensors file: {e}") from e
    for key in ("state_dict", "model", "state_dict_ema", "model_ema"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise ConfigError(f"weights '{path}' hold a {type(obj).__name__}, not a state dict")
    return obj


def load_weights(model: torch.nn.Module, path: str) -> None:
    """Load a local state dict into ``model``, strictly.

    Raises:
        ConfigError: The file cannot be read, or its keys or shapes do not match the model (the message
            lists the first differences).
    """
    state = _read_state_dict(path)
    if state and all(k.startswith("module.") for k in state):  # saved from DataParallel/DDP
        state = {k[len("module.") :]: v for k, v in state.items()}
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        if shapes:
            parts.append(f"{len(shapes)} with other shapes (e.g. {'; '.join(shapes[:3])})")
        raise ConfigError(
            f"weights '{path}' do not match the model: keys {', '.join(parts)}. "
            "Check that the file belongs to this architecture and tag (num_classes, img_size)."
        )
    model.load_state_dict(state, strict=True)


def create_model(spec: ModelSpec, device: str | torch.device | None = None) -> torch.nn.Module:
    """Build the model of ``spec`` in eval mode: random weights, or ``spec.weights`` loaded from disk.

    Args:
        spec: A resolved spec.
        device: Where to build it (building on the GPU is much faster for large models); default CPU.

    Raises:
        ConfigError: A custom factory that does not return an ``nn.Module``, or weights that do not match.
        MissingDependencyError: torch or timm is not installed.
    """
    try:
        import torch
    except ImportError:
        raise MissingDependencyError("torch", "torch", "Building models") from None
    ctx = torch.device(device) if device is not None else torch.device("cpu")
    with ctx:
        if spec.custom:
            model = _load_factory(spec.model)()
            if not isinstance(model, torch.nn.Module):
                raise ConfigError(
                    f"custom factory '{spec.model}' returned {type(model).__name__}, not a torch.nn.Module"
                )
        else:
            timm = _timm()
            kwargs: dict[str, Any] = {}
            if spec.default_img_size is not None and spec.img_size != spec.default_img_size:
                kwargs["img_size"] = tuple(spec.input_shape[1:])
            try:
                model = timm.create_model(spec.model, pretrained=False, **kwargs)
            except TypeError as e:
                if "img_size" not in str(e) or not kwargs:
                    raise
                # CNNs without an img_size argument run at any size thanks to global pooling.
                model = timm.create_model(spec.model, pretrained=False)
    if spec.weights:
        load_weights(model, spec.weights)
    return model.eval()


__all__ = ["ModelSpec", "create_model", "load_weights", "resolve_models"]

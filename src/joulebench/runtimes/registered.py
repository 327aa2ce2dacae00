"""The runtime registry: runtimes register by name when their module is imported; these functions find them."""

from __future__ import annotations

import importlib
from typing import Any

from joulebench.registry import Registry
from joulebench.runtimes.base import Runtime

RUNTIMES: Registry[type[Runtime]] = Registry("runtime")
register_runtime = RUNTIMES.register

# Modules that register runtimes when imported (none of them imports torch at module level).
_BUILTIN = (
    "joulebench.runtimes.torch_eager",
    "joulebench.runtimes.compiled",
    "joulebench.runtimes.tensorrt",
    "joulebench.runtimes.onnx",
    "joulebench.runtimes.cpu",
)


def _load_builtin() -> None:
    for mod in _BUILTIN:
        importlib.import_module(mod)


def get_runtime_class(name: str) -> type[Runtime]:
    """The registered runtime class called ``name``.

    Raises:
        ConfigError: Unknown name (the message lists the known ones).
    """
    _load_builtin()
    return RUNTIMES.get(name)


def get_runtime(name: str, device: str | None = None, **options: Any) -> Runtime:
    """Instantiate a registered runtime.

    Args:
        name: Registered name (``torch-fp32``, ``compile-fp16``, ``onnxruntime``...).
        device: ``cuda:N`` or ``cpu``; None = the runtime's default device.
        **options: Runtime options (``tf32``, ``cuda_graphs``, ``compile_mode``, ``provider``...).

    Raises:
        ConfigError: Unknown runtime or option, contradictory options, or a device it cannot use.
        MissingDependencyError: Its optional package is not installed.
    """
    return get_runtime_class(name)(device=device, **options)


def runtime_names() -> list[str]:
    """All registered runtime names, sorted."""
    _load_builtin()
    return RUNTIMES.names()


def runtime_availability() -> dict[str, tuple[bool, str]]:
    """``name -> (available, reason)`` for every registered runtime on this machine."""
    _load_builtin()
    return {name: RUNTIMES.get(name).available() for name in RUNTIMES.names()}

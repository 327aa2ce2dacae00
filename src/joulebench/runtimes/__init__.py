"""Inference runtimes, registered by name. Backends (torch, onnxruntime, torch-tensorrt) are imported lazily.

``get_runtime("compile-fp16", device="cuda:0", cuda_graphs=True)`` returns a ready :class:`Runtime`.
See docs/RUNTIMES.md for each runtime, its options and the lifecycle the sweep follows.
"""

from __future__ import annotations

from joulebench.runtimes.base import Runtime, is_oom_error, tf32_state
from joulebench.runtimes.registered import (
    RUNTIMES,
    get_runtime,
    get_runtime_class,
    register_runtime,
    runtime_availability,
    runtime_names,
)

__all__ = [
    "RUNTIMES",
    "Runtime",
    "get_runtime",
    "get_runtime_class",
    "is_oom_error",
    "register_runtime",
    "runtime_availability",
    "runtime_names",
    "tf32_state",
]

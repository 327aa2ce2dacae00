"""Where and with what a measurement was made: GPU, driver, CUDA, library versions, host, CPU, date.

``collect_provenance(meter)`` returns a flat dict of JSON-safe values, stored with every run. Library
versions come from package metadata, so torch and timm are not imported just to learn their version
(when torch is already imported, its own ``__version__`` and ``version.cuda`` are used).
GPU facts come from the meter's ``describe()``; without a meter, NVML is asked directly when present.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import re
import socket
import sys
from typing import Any

#: Per-GPU facts promoted to top-level keys (from the first measured device).
_GPU_KEYS = {
    "name": "gpu_name",
    "uuid": "gpu_uuid",
    "memory_b": "gpu_memory_b",
    "power_limit_w": "power_limit_w",
    "default_power_limit_w": "default_power_limit_w",
}


def package_version(name: str) -> str | None:
    """Installed version of a distribution (``torch``, ``timm``...), or None; imports nothing.

    A module that is already imported reports its own ``__version__`` (what actually runs).
    """
    mod = sys.modules.get(name)
    version = getattr(mod, "__version__", None) if mod is not None else None
    if isinstance(version, str):
        return version
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def torch_cuda_version(torch_version: str | None) -> str | None:
    """CUDA version torch was built with: ``torch.version.cuda`` if torch is imported, else the wheel tag.

    ``2.11.0+cu130`` -> ``13.0``; ``2.5.1+cu121`` -> ``12.1``; a CPU build or unknown -> None.
    """
    torch = sys.modules.get("torch")
    cuda = getattr(getattr(torch, "version", None), "cuda", None) if torch is not None else None
    if isinstance(cuda, str):
        return cuda
    m = re.search(r"\+cu(\d+)(\d)$", torch_version or "")
    return f"{int(m.group(1))}.{m.group(2)}" if m else None


def cpu_model() -> str:
    """The CPU's marketing name (from /proc/cpuinfo on Linux, else the platform's best guess)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass  # not Linux: fall through to platform
    return platform.processor() or platform.machine()


def _nvml_describe() -> dict[str, Any]:
    """GPU facts straight from NVML (all GPUs), or an explanation of why there are none."""
    from joulebench.errors import MeterError
    from joulebench.meters.nvml import list_gpus

    try:
        facts = list_gpus()
    except MeterError as e:
        return {"gpu_error": str(e)}
    facts["devices"] = facts.pop("gpus")
    return facts


def collect_provenance(meter: Any = None) -> dict[str, Any]:
    """Collect the facts that make a measurement reproducible and comparable.

    Args:
        meter: The meter that measures (its ``describe()`` gives the GPU facts); None = ask NVML directly.

    Returns:
        Keys: ``date`` (UTC ISO-8601), ``joulebench``, ``python``, ``os``, ``host``, ``cpu``, ``cpu_count``,
        ``torch``, ``timm``, ``cuda`` (torch's CUDA), ``cuda_driver``, ``driver``, ``meter``,
        ``gpu_name``, ``gpu_uuid``, ``gpu_memory_b``, ``power_limit_w`` (enforced), ``default_power_limit_w``,
        ``gpus`` (every measured device) and ``simulated`` (True for the sim meter). Unknown facts are None.
    """
    from joulebench import __version__

    torch_v = package_version("torch")
    out: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "joulebench": __version__,
        "python": platform.python_version(),
        "os": platform.platform(),
        "host": socket.gethostname(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch": torch_v,
        "timm": package_version("timm"),
        "cuda": torch_cuda_version(torch_v),
        "nvidia_ml_py": package_version("nvidia-ml-py"),
    }
    if meter is not None:
        try:
            facts = dict(meter.describe())
        except Exception as e:  # a meter that cannot describe itself must not stop a run; say why
            facts = {"meter": getattr(meter, "name", None), "gpu_error": f"describe() failed: {e}"}
        out["simulated"] = bool(getattr(meter, "simulated", False))
    else:
        facts = _nvml_describe()
    out["meter"] = facts.get("meter")
    out["driver"] = facts.get("driver")
    out["cuda_driver"] = facts.get("cuda_driver")
    devices = facts.get("devices") or []
    out["gpus"] = devices
    first = devices[0] if devices else {}
    for src, dst in _GPU_KEYS.items():
        out[dst] = first.get(src)
    if "gpu_error" in facts:
        out["gpu_error"] = facts["gpu_error"]
    if "note" in facts:
        out["gpu_note"] = facts["note"]
    return out

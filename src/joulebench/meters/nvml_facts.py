"""Facts NVML reports about the driver and each board, for provenance, ``describe()`` and ``joulebench info``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def as_text(x: Any) -> str:
    """A string NVML returned, as ``str`` (older pynvml versions return bytes)."""
    return x.decode() if isinstance(x, bytes) else str(x)


def _try(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception:  # a fact the board does not report is simply absent
        return None


def system_facts(nv: Any) -> dict[str, Any]:
    """The driver and CUDA driver versions NVML reports (None where it does not)."""
    cuda = _try(nv.nvmlSystemGetCudaDriverVersion)
    return {
        "driver": _try(lambda: as_text(nv.nvmlSystemGetDriverVersion())),
        "cuda_driver": f"{cuda // 1000}.{cuda % 1000 // 10}" if isinstance(cuda, int) else None,
    }


def device_facts(nv: Any, h: Any) -> dict[str, Any]:
    """Name, UUID, memory and power limits of the board with NVML handle ``h`` (None where not reported)."""

    def watts(fn_name: str) -> float | None:
        fn = getattr(nv, fn_name, None)
        v = _try(lambda: fn(h)) if fn else None
        return v / 1000.0 if isinstance(v, (int, float)) else None

    mem = _try(lambda: nv.nvmlDeviceGetMemoryInfo(h))
    return {
        "name": _try(lambda: as_text(nv.nvmlDeviceGetName(h))),
        "uuid": _try(lambda: as_text(nv.nvmlDeviceGetUUID(h))),
        "memory_b": float(mem.total) if mem is not None else None,
        "power_limit_w": watts("nvmlDeviceGetEnforcedPowerLimit"),
        "power_limit_set_w": watts("nvmlDeviceGetPowerManagementLimit"),
        "default_power_limit_w": watts("nvmlDeviceGetPowerManagementDefaultLimit"),
    }


def list_gpus() -> dict[str, Any]:
    """Every GPU NVML sees (not only the visible ones), with driver facts; for ``joulebench info``.

    Raises:
        MeterError: If NVML is missing or cannot initialise.
    """
    from joulebench.meters.nvml import init_nvml  # imported here: nvml imports this module

    nv = init_nvml()
    try:
        facts = system_facts(nv)
        gpus = []
        for i in range(nv.nvmlDeviceGetCount()):
            h = nv.nvmlDeviceGetHandleByIndex(i)
            mig = _try(lambda h=h: nv.nvmlDeviceGetMigMode(h)[0])
            gpus.append({"nvml_index": i, **device_facts(nv, h), "mig": bool(mig)})
        facts["gpus"] = gpus
        return facts
    finally:
        _try(nv.nvmlShutdown)

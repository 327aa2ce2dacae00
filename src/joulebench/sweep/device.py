"""What a sweep records about its device: name, UUID and power limit from the meter, memory from torch."""

from __future__ import annotations

import sys
from typing import Any

from joulebench.meters.base import Meter


def _device_fact(desc: dict[str, Any], key: str) -> Any:
    devices = desc.get("devices") or []
    if devices and isinstance(devices[0], dict) and devices[0].get(key) is not None:
        return devices[0][key]
    return desc.get(key)


def device_memory_b(runtime: Any) -> float | None:
    """Total memory of the runtime's CUDA device in bytes (None on the CPU or without torch)."""
    torch = sys.modules.get("torch")
    device = str(getattr(runtime, "device", "cpu"))
    if torch is None or not device.startswith("cuda") or not torch.cuda.is_available():
        return None
    return float(torch.cuda.get_device_properties(torch.device(device)).total_memory)


def device_facts(meter: Meter) -> dict[str, Any]:
    """``gpu_name``, ``gpu_uuid``, ``power_limit_w`` of the meter's (first) device, from ``describe()``."""
    try:
        desc = meter.describe()
    except Exception as e:  # facts are optional; the measurement is not
        return {"gpu_name": None, "gpu_uuid": None, "power_limit_w": None, "describe_error": str(e)}
    return {
        "gpu_name": _device_fact(desc, "name"),
        "gpu_uuid": _device_fact(desc, "uuid"),
        "power_limit_w": _device_fact(desc, "power_limit_w"),
    }


__all__ = ["device_facts", "device_memory_b"]

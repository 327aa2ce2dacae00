"""Energy meters, registered by name. Import of a meter's vendor library is lazy."""

from __future__ import annotations

import importlib

from joulebench.errors import MeterError
from joulebench.meters.base import DeviceReading, Meter, Sample, Window, WindowResult
from joulebench.registry import Registry

METERS: Registry[type[Meter]] = Registry("meter")
register_meter = METERS.register

# Modules that register meters when imported.
_BUILTIN = ("joulebench.meters.nvml", "joulebench.meters.smi", "joulebench.meters.sim", "joulebench.meters.rapl")


def _load_builtin() -> None:
    for mod in _BUILTIN:
        importlib.import_module(mod)


def get_meter(name: str = "auto", **kwargs) -> Meter:
    """Instantiate a registered meter; ``auto`` picks ``nvml`` and says what to do when it is unavailable.

    Raises:
        ConfigError: Unknown meter name.
        MeterError: The meter cannot work on this machine.
    """
    _load_builtin()
    if name == "auto":
        try:
            return METERS.get("nvml")(**kwargs)
        except MeterError as e:
            if "--meter sim" in str(e):
                raise
            raise MeterError(f"{e} (use `--meter sim` to try joulebench without a GPU)") from e
    return METERS.get(name)(**kwargs)


def meter_names() -> list[str]:
    """All registered meter names."""
    _load_builtin()
    return METERS.names()


__all__ = ["METERS", "DeviceReading", "Meter", "Sample", "Window", "WindowResult", "get_meter", "register_meter"]

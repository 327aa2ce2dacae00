"""A fake of pynvml, for testing code that reads NVIDIA GPUs without one (as httpx ships ``MockTransport``).

joulebench's own tests use it, and so can yours::

    from joulebench.meters.testing import FakeNvml, fake_nvml

    with fake_nvml(FakeNvml(n=2)) as nv:
        meter = joulebench.get_meter("nvml")
        ...  # nv.counter_calls, nv.power_calls, ... tell what the meter read

The fake's counters and power are deterministic, so a window's energy is known exactly.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

from joulebench.meters import nvml

#: The UUID of each fake device, by physical index.
FAKE_UUIDS = [f"GPU-{c * 8}-0000-0000-0000-000000000000" for c in "abcd"]


@contextmanager
def fake_nvml(fake: FakeNvml | None = None) -> Iterator[FakeNvml]:
    """Make joulebench read ``fake`` (a new :class:`FakeNvml` by default) instead of the NVIDIA driver.

    Inside the block the NVML meter, ``list_gpus`` and provenance see the fake's devices; torch's device order and
    ``CUDA_VISIBLE_DEVICES`` are ignored (every fake device is visible). Everything is restored on exit.
    """
    fake = fake if fake is not None else FakeNvml()
    saved = nvml._nvml, nvml._torch_visible_uuids, os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    nvml._nvml, nvml._torch_visible_uuids = (lambda: fake), (lambda: None)
    try:
        yield fake
    finally:
        nvml._nvml, nvml._torch_visible_uuids = saved[0], saved[1]
        if saved[2] is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = saved[2]


class FakeNVMLError(Exception):
    """pynvml's ``NVMLError``: ``value`` is the NVML return code (3: not supported, 15: GPU lost)."""

    def __init__(self, value):
        super().__init__(value)
        self.value = value

    def __str__(self):
        return {3: "Not Supported", 15: "GPU is lost"}.get(self.value, f"error {self.value}")


class FakeNvml:
    """Just enough of pynvml for joulebench's NVML meter, GPU listing and provenance; handles are physical indices.

    Args:
        n: Number of GPUs (``NVIDIA H200`` unless ``names`` says otherwise).
        counters: Per device, an iterator of energy-counter readings in mJ (default: +50 J per read).
        power_mw: The power every read reports, in mW.
        counter_supported: False makes the energy counter raise "Not Supported" (the meter then samples power).
        mig: Devices in MIG mode (the meter refuses them).
        names: GPU names, one per device.

    Attributes a test may set or read: ``power_fail_from`` (the power read from which every read fails, as a lost
    GPU does; ``power_failed`` is set then), ``on_counter`` (called on each counter read), ``temperatures`` (per
    device, a value or an exception to raise), and the call counts ``init_calls``, ``shutdown_calls``,
    ``counter_calls`` and ``power_calls``.
    """

    NVMLError = FakeNVMLError
    NVML_ERROR_NOT_SUPPORTED = 3
    NVML_DEVICE_MIG_ENABLE = 1
    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_SM = 1
    NVML_FI_DEV_POWER_INSTANT = 186

    def __init__(self, n=1, counters=None, power_mw=250_000, counter_supported=True, mig=(), names=None):
        self.n = n
        self.counters = counters or {i: itertools.count(1_000_000, 50_000) for i in range(n)}
        self.counter_calls = 0
        self.power_mw = power_mw
        self.power_calls = 0
        self.power_fail_from: int | None = None
        self.power_failed = threading.Event()
        self.counter_supported = counter_supported
        self.mig = set(mig)
        self.names = names or ["NVIDIA H200"] * n
        self.init_calls = 0
        self.shutdown_calls = 0
        self.on_counter = None
        self.temperatures: dict[int, object] = {}

    def nvmlInit(self):
        self.init_calls += 1

    def nvmlShutdown(self):
        self.shutdown_calls += 1

    def nvmlDeviceGetCount(self):
        return self.n

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetUUID(self, h):
        return FAKE_UUIDS[h]

    def nvmlDeviceGetName(self, h):
        return self.names[h]

    def nvmlDeviceGetMigMode(self, h):
        if h in self.mig:
            return [1, 1]
        raise FakeNVMLError(3)

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        if not self.counter_supported:
            raise FakeNVMLError(3)
        self.counter_calls += 1
        if self.on_counter:
            self.on_counter()
        return next(self.counters[h])

    def nvmlDeviceGetPowerUsage(self, h):
        self.power_calls += 1
        if self.power_fail_from is not None and self.power_calls >= self.power_fail_from:
            self.power_failed.set()
            raise FakeNVMLError(15)
        return self.power_mw

    def nvmlDeviceGetFieldValues(self, h, ids):
        return [SimpleNamespace(nvmlReturn=0, value=SimpleNamespace(uiVal=self.power_mw + 1000))]

    def nvmlDeviceGetUtilizationRates(self, h):
        return SimpleNamespace(gpu=97, memory=40)

    def nvmlDeviceGetMemoryInfo(self, h):
        return SimpleNamespace(used=2e9, total=141e9)

    def nvmlDeviceGetTemperature(self, h, sensor):
        t = self.temperatures.get(h, 55)
        if isinstance(t, Exception):
            raise t
        return t

    def nvmlDeviceGetClockInfo(self, h, kind):
        return 1980

    def nvmlDeviceGetCurrentClocksEventReasons(self, h):
        return 4

    def nvmlDeviceGetEnforcedPowerLimit(self, h):
        return 700_000

    def nvmlDeviceGetPowerManagementLimit(self, h):
        return 700_000

    def nvmlDeviceGetPowerManagementDefaultLimit(self, h):
        return 700_000

    def nvmlSystemGetDriverVersion(self):
        return "580.159.04"

    def nvmlSystemGetCudaDriverVersion(self):
        return 13000

"""The NVML meter: the board's cumulative energy counter, with a >= 100 Hz power sampler beside it.

Energy of a window is the delta of ``nvmlDeviceGetTotalEnergyConsumption`` (millijoules since the
driver loaded) where the board supports it (``method="counter"``). In parallel a background thread
samples power, GPU and memory utilisation, memory used, temperature, SM clock and throttle reasons
(200 Hz by default); the trapezoidal integral of sampled power is reported beside the counter energy
(``WindowResult.sampled_energy_j``) because the two disagree by a few percent with the load's rhythm.
Where the counter is unsupported, or goes backwards within a window (wrap or driver reload), the
window falls back to the sampled integral (``method="sampled"``) and says so in ``notes``.

Counter-aligned edges
    The counter advances about every 100 ms, so a plain window's delta is off by up to one update at
    each edge. With ``align=True`` each edge, after synchronising the device, polls the counter until
    its value changes and uses that instant as the edge. The end edge therefore lies up to one update
    period after the work finished; aligned windows suit work that keeps running across the edge.

Counter API for the sweep (counter-aligned sub-windows while work keeps running)
    ``meter.read_counter_j(device=None) -> float``
        Cumulative energy in joules of one measured device (visible index), or the sum over all.
        One driver call per device, but not free: ``benchmarks/meter_check.py`` prints its cost
        (milliseconds on the H200 we measured, versus microseconds for a power reading), so never
        call it once per iteration of the measured loop.
    ``meter.wait_for_counter_update(device=None, timeout_s=1.0) -> (t, energy_j) | None``
        Poll until the counter changes; ``t`` is ``meter.clock()`` right after the change.
    ``with meter.counter_watch(device=None) as cw: ...`` then ``cw.marks()`` / ``cw.stop()``
        A background thread (pynvml's ctypes calls release the GIL) records a
        :class:`~joulebench.meters.base.CounterMark` ``(t_s, energy_j)`` at every counter change. The
        measured loop records its own ``(t, iterations done)``; a sub-window between two marks
        ``a``, ``b`` about a window length apart has ``energy = b.energy_j - a.energy_j`` over
        ``duration = b.t_s - a.t_s`` and the iterations finished between those instants.
    ``meter.counter_supported`` / ``meter.has_counter`` tell whether every measured device has the counter.

Devices are indices as the process sees them: ``CUDA_VISIBLE_DEVICES`` is honoured (index lists and
``GPU-<uuid>`` entries, prefixes allowed, CUDA's stop-at-the-first-invalid-entry rule); when torch
has already initialised CUDA, its device UUIDs decide the mapping. MIG instances are refused with a
:class:`MeterError` (NVML reports energy and power per board, not per instance).

pynvml (package ``nvidia-ml-py``) is imported lazily through :func:`_nvml`, which tests patch.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from joulebench.errors import ConfigError, MeterError
from joulebench.meters import register_meter
from joulebench.meters.base import (
    DeviceReading,
    Meter,
    Sample,
    Window,
    WindowResult,
    combine_readings,
)
from joulebench.meters.counter_watch import CounterMark, CounterWatch
from joulebench.meters.nvml_facts import as_text, device_facts, list_gpus, system_facts  # noqa: F401 (list_gpus: moved)
from joulebench.meters.sampler import BackgroundSampler, integrate_trapezoid
from joulebench.meters.visible import map_visible, parse_visible_devices

INSTALL_HINT = (
    "install the NVIDIA driver and `pip install nvidia-ml-py` on a machine with an NVIDIA GPU, "
    "or use `--meter sim` to try joulebench without a GPU"
)


def _nvml() -> Any:
    """Return the pynvml module (imported on first use; tests patch this function).

    Raises:
        MeterError: If nvidia-ml-py is not installed.
    """
    try:
        import pynvml
    except ImportError:
        raise MeterError(f"NVML is not available: the Python package nvidia-ml-py is missing; {INSTALL_HINT}") from None
    return pynvml


def init_nvml() -> Any:
    """Initialise NVML and return the module.

    Raises:
        MeterError: If the package is missing or NVML cannot initialise (no driver, no GPU).
    """
    nv = _nvml()
    try:
        nv.nvmlInit()
    except Exception as e:  # NVMLError_LibraryNotFound, DriverNotLoaded, ... all mean "no usable driver"
        raise MeterError(f"NVML could not initialise: {e}; {INSTALL_HINT}") from None
    return nv


def _torch_visible_uuids() -> list[str] | None:
    """UUIDs of the visible devices as torch numbers them, if torch has already initialised CUDA."""
    torch = sys.modules.get("torch")
    try:
        if torch is None or not torch.cuda.is_initialized():
            return None
        uuids = []
        for i in range(torch.cuda.device_count()):
            u = str(torch.cuda.get_device_properties(i).uuid)
            uuids.append(u if u.upper().startswith("GPU-") else f"GPU-{u}")
        return uuids
    except Exception:  # old torch without .uuid: fall back to CUDA_VISIBLE_DEVICES
        return None


# --- The meter ------------------------------------------------------------------------------------

_POWER_SOURCES = ("usage", "instant")
#: Update period of the energy counter on current boards (about 10 updates/s on the H200 we measured).
COUNTER_PERIOD_S = 0.1


@register_meter("nvml")
class NvmlMeter(Meter):
    """Energy from NVML's cumulative counter, with a background power sampler.

    Args:
        devices: Visible device indices to measure (default: all visible devices).
        device: Shorthand for ``devices=[device]``.
        sync: Called at both window edges (default: CUDA synchronise if torch uses CUDA).
        align: Default for counter-aligned window edges.
        clock: Monotonic clock (patched in tests).
        interval_s: Sampler period in seconds (0.005 = 200 Hz; must be <= 0.01 for >= 100 Hz). Power is
            read every period; utilisation, memory, temperature, clock and throttle reasons every
            ``slow_every`` periods (their other samples are None), which keeps driver calls short.
        slow_every: See ``interval_s``.
        power_source: ``usage`` (``nvmlDeviceGetPowerUsage``) or ``instant`` (field ``POWER_INSTANT``).
        align_timeout_s: How long an aligned edge waits for the counter to change before giving up.
        watch_counter: During windows, watch the counter on a background thread: ``read_counter_j()``
            then answers from it at once (a driver read can take milliseconds) and the result carries
            ``counter_marks`` (default: the class attribute ``watch_counter_default``).

    Raises:
        MeterError: NVML missing or not initialising, no visible GPU, or a MIG instance.
        ConfigError: A device index that is not visible, or an unknown power source.
    """

    name = "nvml"
    has_counter = True
    reads_temperature = True
    watch_counter_default = True

    def __init__(
        self,
        devices: Sequence[int] | None = None,
        *,
        device: int | None = None,
        sync: Callable[[], None] | None = None,
        align: bool = False,
        clock: Callable[[], float] = time.monotonic,
        interval_s: float = 0.005,
        power_source: str = "usage",
        align_timeout_s: float = 1.0,
        watch_counter: bool | None = None,
        slow_every: int = 4,
    ):
        super().__init__(devices, device=device, sync=sync, align=align, clock=clock)
        if power_source not in _POWER_SOURCES:
            raise ConfigError(f"unknown NVML power source '{power_source}': use one of {', '.join(_POWER_SOURCES)}")
        self.interval_s = interval_s
        self.power_source = power_source
        self.align_timeout_s = align_timeout_s
        self.watch_counter = self.watch_counter_default if watch_counter is None else watch_counter
        self.slow_every = max(1, int(slow_every))
        self._tick = 0
        self.mapping_note: str | None = None
        self._sampler: BackgroundSampler[Sample] | None = None
        self._watch: CounterWatch | None = None
        self._nv = init_nvml()
        self._closed = False
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    # setup

    def _setup(self) -> None:
        nv = self._nv
        count = nv.nvmlDeviceGetCount()
        physical = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        uuids = [as_text(nv.nvmlDeviceGetUUID(h)) for h in physical]
        torch_uuids = _torch_visible_uuids()
        entries = parse_visible_devices(os.environ.get("CUDA_VISIBLE_DEVICES"))
        if torch_uuids:
            visible = map_visible(torch_uuids, uuids)
        else:
            visible = map_visible(entries, uuids)
            if (
                (entries is None or any(e.isdigit() for e in entries))
                and os.environ.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID"
                and len({as_text(nv.nvmlDeviceGetName(h)) for h in physical}) > 1
            ):
                self.mapping_note = (
                    "mixed GPU models and CUDA_DEVICE_ORDER is not PCI_BUS_ID: CUDA may number devices "
                    "differently from NVML; set CUDA_DEVICE_ORDER=PCI_BUS_ID"
                )
        if not visible:
            raise MeterError(
                f"no GPU is visible to this process (NVML sees {count}, "
                f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}); "
                "fix CUDA_VISIBLE_DEVICES or use `--meter sim`"
            )
        if self.devices is None:
            self.devices = list(range(len(visible)))
        for d in self.devices:
            if not 0 <= d < len(visible):
                raise ConfigError(
                    f"device {d} is not visible: this process sees {len(visible)} GPU(s), 0..{len(visible) - 1}"
                )
        self._nvml_index = {d: visible[d] for d in self.devices}
        self._handles = {d: physical[visible[d]] for d in self.devices}
        self._uuids = {d: uuids[visible[d]] for d in self.devices}
        for d, h in self._handles.items():
            self._refuse_mig(d, h)
        self._counter_ok = {d: self._probe_counter(h) for d, h in self._handles.items()}
        self.has_counter = all(self._counter_ok.values())  # type: ignore[misc]  # per board, not per class
        self._fields = {d: self._probe_fields(h) for d, h in self._handles.items()}

    def _refuse_mig(self, d: int, h: Any) -> None:
        nv = self._nv
        try:
            current = nv.nvmlDeviceGetMigMode(h)[0]
        except (AttributeError, nv.NVMLError):
            return  # no MIG support on this board (NotSupported) or an old pynvml: not a MIG instance
        if current == getattr(nv, "NVML_DEVICE_MIG_ENABLE", 1):
            raise MeterError(
                f"GPU {d} ({self._uuids[d]}) is in MIG mode: NVML reports energy and power per board, not per MIG "
                "instance, so joulebench cannot attribute energy; disable MIG (`nvidia-smi -mig 0`, needs admin) "
                "or use `--meter sim`"
            )

    def _probe_counter(self, h: Any) -> bool:
        try:
            self._nv.nvmlDeviceGetTotalEnergyConsumption(h)
            return True
        except self._nv.NVMLError:
            return False  # NotSupported (pre-Volta) or refused: fall back to the sampled integral

    def _readers(self, h: Any) -> dict[str, Callable[[], Any]]:
        nv = self._nv
        if self.power_source == "instant":

            def power() -> float:
                v = nv.nvmlDeviceGetFieldValues(h, [nv.NVML_FI_DEV_POWER_INSTANT])[0]
                if v.nvmlReturn != 0:
                    raise nv.NVMLError(v.nvmlReturn)
                return v.value.uiVal / 1000.0
        else:

            def power() -> float:
                return nv.nvmlDeviceGetPowerUsage(h) / 1000.0

        throttle = (
            getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None) or nv.nvmlDeviceGetCurrentClocksThrottleReasons
        )
        return {
            "power_w": power,
            "gpu_util_pct": lambda: float(nv.nvmlDeviceGetUtilizationRates(h).gpu),
            "mem_util_pct": lambda: float(nv.nvmlDeviceGetUtilizationRates(h).memory),
            "mem_used_b": lambda: float(nv.nvmlDeviceGetMemoryInfo(h).used),
            "temperature_c": lambda: float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)),
            "sm_clock_mhz": lambda: float(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM)),
            "throttle_reasons": lambda: int(throttle(h)),
        }

    def _probe_fields(self, h: Any) -> dict[str, Callable[[], Any]]:
        """Readers that work on this board; unsupported quantities are left out of the trace once, here."""
        ok = {}
        for key, read in self._readers(h).items():
            try:
                read()
            except self._nv.NVMLError:
                continue
            ok[key] = read
        return ok

    def read_temperature_c(self) -> float | None:
        """The hottest measured GPU's core temperature (°C); None if a board does not report it."""
        readers = [fields.get("temperature_c") for fields in self._fields.values()]
        if not readers or None in readers:  # left out at the probe: not supported on that board
            return None
        try:
            return max(read() for read in readers)
        except self._nv.NVMLError:  # refused after the probe
            return None

    # counter API

    @property
    def counter_supported(self) -> bool:
        """True when every measured device has the cumulative energy counter."""
        return all(self._counter_ok.values())

    def _read_counters_mj(self) -> dict[int, int | None]:
        out: dict[int, int | None] = {}
        for d, h in self._handles.items():
            out[d] = int(self._nv.nvmlDeviceGetTotalEnergyConsumption(h)) if self._counter_ok[d] else None
        return out

    def read_counter_j(self, device: int | None = None) -> float:
        """Cumulative energy counter in joules of ``device`` (visible index), or summed over the measured devices.

        Inside a window (with ``watch_counter``) the value comes from the watcher thread at once; it is at
        most one driver read old, far less than the counter's own update period.

        Raises:
            MeterError: If a device's board has no energy counter, or ``device`` is not measured.
        """
        watch = self._watch
        if (
            watch is not None
            and watch.latest is not None
            and watch.running
            and (device is None or list(self._handles) == [device])
        ):
            return watch.latest
        return self._read_counter_direct(device)

    def _read_counter_direct(self, device: int | None = None) -> float:
        ds = list(self._handles) if device is None else [device]
        total = 0
        for d in ds:
            if d not in self._handles:
                raise MeterError(f"device {d} is not measured by this meter (devices: {list(self._handles)})")
            if not self._counter_ok[d]:
                raise MeterError(f"GPU {d} has no energy counter (NVML: not supported); use sampled windows")
            total += int(self._nv.nvmlDeviceGetTotalEnergyConsumption(self._handles[d]))
        return total / 1000.0

    def _aligned_counters(self) -> tuple[float, dict[int, int | None]] | None:
        """Poll the first device's counter until it changes; then read all counters at that instant."""
        d0 = self.devices[0]
        h0 = self._handles[d0]
        nv = self._nv
        start = nv.nvmlDeviceGetTotalEnergyConsumption(h0)
        deadline = time.monotonic() + self.align_timeout_s
        while time.monotonic() < deadline:
            time.sleep(0.0002)
            v = nv.nvmlDeviceGetTotalEnergyConsumption(h0)
            if v != start:
                t = self.clock()
                counts: dict[int, int | None] = {d0: int(v)}
                for d, h in self._handles.items():
                    if d != d0:
                        counts[d] = int(nv.nvmlDeviceGetTotalEnergyConsumption(h)) if self._counter_ok[d] else None
                return t, counts
        return None

    # sampler

    def _sample_once(self, t: float) -> list[Sample]:
        full = self._tick % self.slow_every == 0
        self._tick += 1
        out = []
        for d, fields in self._fields.items():
            vals = {k: read() for k, read in fields.items() if full or k == "power_w"}
            out.append(Sample(t_s=t, device=d, power_w=vals.pop("power_w", None), **vals))
        return out

    # window

    def _edge(self, window: Window, which: str, notes: list[str]) -> tuple[float, dict[int, int | None], bool]:
        if window.align and self.counter_supported:
            got = self._aligned_counters()
            if got is not None:
                return got[0], got[1], True
            notes.append(f"{which} edge not aligned: the energy counter did not change within {self.align_timeout_s} s")
        elif window.align:
            notes.append(f"{which} edge not aligned: no energy counter on this board")
        try:
            counts = self._read_counters_mj()
        except self._nv.NVMLError as e:
            notes.append(f"energy counter unreadable at the {which} edge ({e}): using the sampled integral")
            counts = dict.fromkeys(self._handles)
        return self.clock(), counts, False

    def _begin(self, window: Window) -> None:
        notes: list[str] = []
        t0, c0, aligned = self._edge(window, "begin", notes)
        sampler: BackgroundSampler[Sample] = BackgroundSampler(
            self._sample_once, self.interval_s, self.clock, name="joulebench-nvml-sampler"
        )
        sampler.start()
        self._sampler = sampler
        if self.watch_counter and self.counter_supported and all(v is not None for v in c0.values()):
            watch = CounterWatch(
                self, None, poll_s=0.0005, read=self._read_counter_direct, period_hint_s=COUNTER_PERIOD_S
            )
            self._watch = watch.start(known_value=sum(c0.values()) / 1000.0)  # type: ignore[arg-type]
        window.state.update(t0=t0, c0=c0, aligned=aligned, notes=notes, sampler=sampler, started_at=time.time())

    def _end(self, window: Window) -> WindowResult:
        st = window.state
        notes: list[str] = st["notes"]
        marks = self._stop_watch(notes)  # before the end edge, so its reads do not queue behind the watcher's
        t1, c1, aligned_end = self._edge(window, "end", notes)
        sampler: BackgroundSampler[Sample] = st["sampler"]
        samples = sampler.stop()
        self._sampler = None
        if sampler.error is not None:
            notes.append(f"power sampler stopped early: {type(sampler.error).__name__}: {sampler.error}")
        t0 = st["t0"]
        readings = []
        for d in self._handles:
            counter_j = None
            a, b = st["c0"].get(d), c1.get(d)
            if a is not None and b is not None:
                if b >= a:
                    counter_j = (b - a) / 1000.0
                else:
                    notes.append(
                        f"GPU {d}: energy counter went backwards (wrap or driver reset): using the sampled integral"
                    )
            mine = [s for s in samples if s.device == d and s.power_w is not None]
            sampled_j = integrate_trapezoid([s.t_s for s in mine], [s.power_w for s in mine], t0, t1)
            if counter_j is not None:
                energy, method = counter_j, "counter"
            elif sampled_j is not None:
                energy, method = sampled_j, "sampled"
                if not self._counter_ok[d]:
                    notes.append(f"GPU {d}: no energy counter on this board: energy is the integral of sampled power")
            else:
                raise MeterError(
                    f"GPU {d}: no energy for this window: the counter is unavailable and the power sampler got "
                    f"no readings ({sampler.error or 'power reading unsupported'})"
                )
            readings.append(DeviceReading(d, self._uuids[d], energy, method, counter_j, sampled_j))
        trace = [dataclasses.replace(s, t_s=s.t_s - t0) for s in samples]
        return combine_readings(
            self.name,
            readings,
            duration_s=t1 - t0,
            started_at=st["started_at"],
            idle_power_w=self.idle_power_w,
            aligned=st["aligned"] and aligned_end,
            trace=trace,
            notes=notes,
            counter_marks=[CounterMark(m.t_s - t0, m.energy_j) for m in marks],
        )

    def _stop_watch(self, notes: list[str]) -> list[CounterMark]:
        watch, self._watch = self._watch, None
        if watch is None:
            return []
        try:
            return watch.stop()
        except MeterError as e:
            notes.append(f"counter watcher stopped early: {e}")
            return watch.marks()

    def _abort(self, window: Window) -> None:
        sampler = window.state.get("sampler")
        if sampler is not None:
            sampler.stop(final=False)
        self._sampler = None
        self._stop_watch([])

    # facts

    def describe(self) -> dict[str, Any]:
        """Driver, CUDA driver version and, per measured GPU, name, UUID, memory and power limits."""
        facts: dict[str, Any] = {"meter": self.name, "power_source": self.power_source}
        facts.update(system_facts(self._nv))
        facts["devices"] = [
            {
                "index": d,
                "nvml_index": self._nvml_index[d],
                **device_facts(self._nv, h),
                "counter": self._counter_ok[d],
            }
            for d, h in self._handles.items()
        ]
        if self.mapping_note:
            facts["note"] = self.mapping_note
        return facts

    def close(self) -> None:
        """Stop a running sampler and shut NVML down (once)."""
        self._stop_watch([])
        if self._sampler is not None:
            self._sampler.stop(final=False)
            self._sampler = None
        if not getattr(self, "_closed", True):
            self._closed = True
            try:
                self._nv.nvmlShutdown()
            except self._nv.NVMLError:
                pass  # shutting down after the driver went away: nothing left to release

"""The RAPL meter: CPU package energy from Linux powercap (``/sys/class/powercap/intel-rapl:N``).

Each top-level zone ``intel-rapl:N`` (name ``package-N``; AMD CPUs expose the same interface) has a
cumulative ``energy_uj`` counter that wraps at ``max_energy_range_uj``. A window reads every package
at both edges and, on a background thread (10 Hz), in between, so that a counter that wraps (several
times for long windows) is still summed correctly: each step adds ``(b - a) mod range``.
``method="rapl"``; the trace has the package power derived from successive readings.

Since 2020 most kernels make ``energy_uj`` readable by root only; the error says how to allow it.
The root directory is configurable (``RaplMeter(root=...)``) for tests and containers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from joulebench.errors import ConfigError, MeterError
from joulebench.meters import register_meter
from joulebench.meters.base import DeviceReading, Meter, Sample, Window, WindowResult, combine_readings
from joulebench.meters.sampler import BackgroundSampler

DEFAULT_ROOT = Path("/sys/class/powercap")
_PACKAGE = re.compile(r"^intel-rapl:(\d+)$")


def find_packages(root: Path) -> dict[int, Path]:
    """Top-level RAPL zones under ``root``, by package number."""
    out: dict[int, Path] = {}
    if root.is_dir():
        for p in sorted(root.iterdir()):
            m = _PACKAGE.match(p.name)
            if m and (p / "energy_uj").exists():
                out[int(m.group(1))] = p
    return out


@register_meter("rapl")
class RaplMeter(Meter):
    """CPU package energy from RAPL counters.

    Args:
        devices: Package numbers to measure (default: all packages).
        device: Shorthand for ``devices=[device]``.
        root: The powercap directory (default ``/sys/class/powercap``).
        sync: Called at both window edges (default: CUDA synchronise if torch uses CUDA).
        align: Ignored beyond being recorded (RAPL counters update about every millisecond).
        clock: Monotonic clock.
        interval_s: Period of the wrap-guarding background reads (0 disables the thread).

    Raises:
        MeterError: No RAPL zones, or their counters cannot be read (permissions).
        ConfigError: A package number that does not exist.
    """

    name = "rapl"
    has_counter = True

    def __init__(
        self,
        devices: Sequence[int] | None = None,
        *,
        device: int | None = None,
        root: str | Path = DEFAULT_ROOT,
        sync: Callable[[], None] | None = None,
        align: bool = False,
        clock: Callable[[], float] = time.monotonic,
        interval_s: float = 0.1,
    ):
        super().__init__(devices, device=device, sync=sync, align=align, clock=clock)
        self.root = Path(root)
        self.interval_s = interval_s
        packages = find_packages(self.root)
        if not packages:
            raise MeterError(
                f"no RAPL energy counters under {self.root} (needs Linux on an Intel or recent AMD CPU with the "
                "intel_rapl driver: `modprobe intel_rapl_common`); on a GPU machine use `--meter nvml`"
            )
        if self.devices is None:
            self.devices = sorted(packages)
        for d in self.devices:
            if d not in packages:
                raise ConfigError(f"RAPL package {d} does not exist; packages here: {sorted(packages)}")
        self._zones = {d: packages[d] for d in self.devices}
        self._range = {d: self._read_int(p / "max_energy_range_uj", missing_ok=True) for d, p in self._zones.items()}
        self._read_all()  # fail now, with the fix, if the counters are root-only

    def _read_int(self, path: Path, missing_ok: bool = False) -> int | None:
        try:
            return int(path.read_text().strip())
        except FileNotFoundError:
            if missing_ok:
                return None
            raise MeterError(f"RAPL counter {path} disappeared; is the intel_rapl driver loaded?") from None
        except PermissionError:
            raise MeterError(
                f"cannot read {path}: permission denied (kernels restrict RAPL to root); run as root or "
                f"`sudo chmod o+r {self.root}/intel-rapl:*/energy_uj`"
            ) from None
        except (OSError, ValueError) as e:
            raise MeterError(f"cannot read RAPL counter {path}: {e}") from None

    def _read_all(self) -> dict[int, int]:
        return {d: self._read_int(p / "energy_uj") for d, p in self._zones.items()}  # type: ignore[misc]

    def _delta_uj(self, d: int, a: int, b: int) -> int:
        if b >= a:
            return b - a
        rng = self._range[d]
        if rng is None:
            raise MeterError(f"RAPL package {d} counter wrapped but max_energy_range_uj is unreadable")
        return b + rng - a  # one wrap between two reads: reads are frequent enough that there is at most one

    def read_counter_j(self, device: int | None = None) -> float:
        """Raw cumulative package energy (J); note it wraps at ``max_energy_range_uj``."""
        vals = self._read_all()
        if device is not None and device not in vals:
            raise MeterError(f"RAPL package {device} is not measured (packages: {sorted(vals)})")
        return (vals[device] if device is not None else sum(vals.values())) / 1e6

    def _begin(self, window: Window) -> None:
        t0 = self.clock()
        state: dict[str, Any] = {"last": self._read_all(), "last_t": t0, "acc": dict.fromkeys(self._zones, 0)}

        def step(t: float) -> list[Sample]:
            now = self._read_all()
            dt = t - state["last_t"]
            out = []
            for d, v in now.items():
                inc = self._delta_uj(d, state["last"][d], v)
                state["acc"][d] += inc
                out.append(Sample(t_s=t - t0, device=d, power_w=inc / 1e6 / dt if dt > 0 else None))
            state["last"], state["last_t"] = now, t
            return out

        sampler: BackgroundSampler[Sample] = BackgroundSampler(step, self.interval_s, self.clock, "joulebench-rapl")
        sampler.start(initial=False)  # the begin edge was read above
        window.state.update(t0=t0, state=state, sampler=sampler, started_at=time.time())

    def _end(self, window: Window) -> WindowResult:
        st = window.state
        sampler: BackgroundSampler[Sample] = st["sampler"]
        trace = sampler.stop(final=True)  # the final read is the end edge
        if sampler.error is not None:
            raise (
                sampler.error
                if isinstance(sampler.error, MeterError)
                else MeterError(f"reading RAPL counters failed during the window: {sampler.error}")
            )
        state = st["state"]
        readings = [DeviceReading(d, None, state["acc"][d] / 1e6, "rapl") for d in self._zones]
        return combine_readings(
            self.name,
            readings,
            duration_s=state["last_t"] - st["t0"],
            started_at=st["started_at"],
            idle_power_w=self.idle_power_w,
            trace=trace,
        )

    def _abort(self, window: Window) -> None:
        sampler = window.state.get("sampler")
        if sampler is not None:
            sampler.stop(final=False)

    def describe(self) -> dict[str, Any]:
        """The measured packages and the CPU model."""
        names = {}
        for d, p in self._zones.items():
            try:
                names[d] = (p / "name").read_text().strip()
            except OSError:
                names[d] = f"package-{d}"
        return {
            "meter": self.name,
            "root": str(self.root),
            # "packages", not "devices": provenance must not mistake a CPU package for a GPU.
            "packages": [{"index": d, "name": n} for d, n in names.items()],
        }

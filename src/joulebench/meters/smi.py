"""The nvidia-smi meter: poll ``nvidia-smi --query-gpu=... -lms 10`` in a subprocess (the paper's method).

For hosts that have the NVIDIA CLI but not the NVML Python bindings. A window starts the polling
process, waits for its first reading of every measured GPU, and opens at that instant; at the end it
waits for one reading taken after the end edge, stops the process and integrates power with the
trapezoidal rule (``method="sampled"``). Polled ``power.draw`` is, on recent boards, itself an
average over a short period, so this method is coarser than the NVML counter; prefer ``--meter nvml``.

Device indices follow ``CUDA_VISIBLE_DEVICES`` as for the NVML meter (nvidia-smi numbers GPUs in
PCI order; entries are mapped by index or UUID).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from joulebench.errors import ConfigError, MeterError
from joulebench.meters import register_meter
from joulebench.meters.base import DeviceReading, Meter, Sample, Window, WindowResult, combine_readings
from joulebench.meters.sampler import integrate_trapezoid
from joulebench.meters.visible import map_visible, parse_visible_devices

QUERY_FIELDS = (
    "index,uuid,power.draw,utilization.gpu,utilization.memory,memory.used,temperature.gpu,clocks.sm,"
    "clocks_throttle_reasons.active"
)
FACT_FIELDS = "index,uuid,name,memory.total,enforced.power.limit,power.limit,power.default_limit,driver_version"
_MIB = 1024.0**2
INSTALL_HINT = (
    "install the NVIDIA driver (it provides nvidia-smi), or use `--meter sim` to try joulebench without a GPU"
)


def _num(text: str) -> float | None:
    """A numeric nvidia-smi field, or None for ``[N/A]``, ``[Not Supported]`` and the like."""
    t = text.strip()
    try:
        return float(t)
    except ValueError:
        return None


def parse_line(line: str) -> tuple[int, str, Sample] | None:
    """Parse one ``--query-gpu=QUERY_FIELDS`` line into ``(nvml index, uuid, Sample)`` with ``t_s=0``.

    Returns:
        None for lines that are not readings (blank lines, warnings).
    """
    parts = [p.strip() for p in line.split(",")]
    if len(parts) != 9 or not parts[0].isdigit():
        return None
    idx = int(parts[0])
    throttle: int | None
    try:
        throttle = int(parts[8], 16)
    except ValueError:
        throttle = None
    mem = _num(parts[5])
    sample = Sample(
        t_s=0.0,
        device=idx,
        power_w=_num(parts[2]),
        gpu_util_pct=_num(parts[3]),
        mem_util_pct=_num(parts[4]),
        mem_used_b=None if mem is None else mem * _MIB,
        temperature_c=_num(parts[6]),
        sm_clock_mhz=_num(parts[7]),
        throttle_reasons=throttle,
    )
    return idx, parts[1], sample


class _Poller:
    """A running ``nvidia-smi -lms`` process and the thread that stamps its lines with the meter's clock."""

    def __init__(self, cmd: list[str], clock: Callable[[], float]):
        self.clock = clock
        self.rows: list[tuple[float, int, Sample]] = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, bufsize=1
        )
        self.thread = threading.Thread(target=self._read, name="joulebench-smi-reader", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout or ():
            t = self.clock()
            parsed = parse_line(line)
            if parsed is not None:
                with self.cond:
                    self.rows.append((t, parsed[0], parsed[2]))
                    self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, devices: set[int], after: float | None, timeout_s: float) -> bool:
        """Wait until every device in ``devices`` has a row stamped after ``after`` (any row if None)."""
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while True:
                seen = {i for t, i, _ in self.rows if after is None or t > after}
                if devices <= seen:
                    return True
                if self.proc.poll() is not None and not self.thread.is_alive():
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.05))

    def stop(self) -> str:
        """Terminate the process; return its stderr."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self.thread.join(timeout=5)
        return (err or "").strip()


@register_meter("smi")
class SmiMeter(Meter):
    """Energy as the integral of power polled with ``nvidia-smi -lms``.

    Args:
        devices: Visible device indices to measure (default: all visible GPUs).
        device: Shorthand for ``devices=[device]``.
        sync: Called at both window edges.
        align: Recorded only: nvidia-smi exposes no energy counter to align to.
        clock: Monotonic clock.
        interval_ms: Polling period passed to ``-lms``.
        executable: The nvidia-smi program (name on PATH or a path).
        start_timeout_s: How long to wait for nvidia-smi's first reading.

    Raises:
        MeterError: nvidia-smi missing or failing, or no visible GPU.
        ConfigError: A device index that is not visible.
    """

    name = "smi"
    reads_temperature = True

    def __init__(
        self,
        devices: Sequence[int] | None = None,
        *,
        device: int | None = None,
        sync: Callable[[], None] | None = None,
        align: bool = False,
        clock: Callable[[], float] = time.monotonic,
        interval_ms: int = 10,
        executable: str = "nvidia-smi",
        start_timeout_s: float = 10.0,
    ):
        super().__init__(devices, device=device, sync=sync, align=align, clock=clock)
        exe = shutil.which(executable)
        if exe is None:
            raise MeterError(f"nvidia-smi not found on PATH; {INSTALL_HINT}")
        self.exe = exe
        self.interval_ms = int(interval_ms)
        self.start_timeout_s = start_timeout_s
        self._facts = {f["nvml_index"]: f for f in self._query_facts()}
        uuids = [self._facts[n]["uuid"] for n in sorted(self._facts)]
        visible = map_visible(parse_visible_devices(os.environ.get("CUDA_VISIBLE_DEVICES")), uuids)
        if not visible:
            raise MeterError(
                f"nvidia-smi lists no GPU visible to this process; fix CUDA_VISIBLE_DEVICES or {INSTALL_HINT}"
            )
        if self.devices is None:
            self.devices = list(range(len(visible)))
        for d in self.devices:
            if not 0 <= d < len(visible):
                raise ConfigError(
                    f"device {d} is not visible: this process sees {len(visible)} GPU(s), 0..{len(visible) - 1}"
                )
        self._nvml_index = {d: visible[d] for d in self.devices}
        self._visible_of = {n: d for d, n in self._nvml_index.items()}

    def _query_cmd(self, fields: str, *args: str, measured_only: bool = False) -> list[str]:
        """``nvidia-smi --query-gpu=FIELDS`` (CSV, no header, no units), of the measured GPUs only if asked."""
        ids = [f"--id={','.join(str(n) for n in self._nvml_index.values())}"] if measured_only else []
        return [self.exe, f"--query-gpu={fields}", "--format=csv,noheader,nounits", *ids, *args]

    def _query(self, fields: str, *, measured_only: bool = False) -> subprocess.CompletedProcess[str]:
        """One ``nvidia-smi --query-gpu=FIELDS`` call (see :meth:`_query_cmd`).

        Raises:
            MeterError: nvidia-smi could not be run or did not answer within 30 s.
        """
        cmd = self._query_cmd(fields, measured_only=measured_only)
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise MeterError(f"nvidia-smi failed to run ({e}); {INSTALL_HINT}") from None

    def _query_facts(self) -> list[dict[str, Any]]:
        out = self._query(FACT_FIELDS)
        if out.returncode != 0:
            msg = (out.stderr or out.stdout).strip().splitlines()
            raise MeterError(f"nvidia-smi failed: {msg[0] if msg else f'exit code {out.returncode}'}; {INSTALL_HINT}")
        facts = []
        for line in out.stdout.splitlines():
            p = [x.strip() for x in line.split(",")]
            if len(p) != 8 or not p[0].isdigit():
                continue
            mem = _num(p[3])
            facts.append(
                {
                    "nvml_index": int(p[0]),
                    "uuid": p[1],
                    "name": p[2],
                    "memory_b": None if mem is None else mem * _MIB,
                    "power_limit_w": _num(p[4]),
                    "power_limit_set_w": _num(p[5]),
                    "default_power_limit_w": _num(p[6]),
                    "driver": p[7],
                }
            )
        return facts

    def read_temperature_c(self) -> float | None:
        """The hottest measured GPU's temperature (°C) from one nvidia-smi query; None if it reports none."""
        out = self._query("index,temperature.gpu", measured_only=True)
        temps = []
        for line in out.stdout.splitlines():
            parts = [x.strip() for x in line.split(",")]
            if len(parts) == 2 and parts[0].isdigit() and int(parts[0]) in self._visible_of:
                t = _num(parts[1])
                if t is not None:
                    temps.append(t)
        return max(temps) if temps else None

    def _begin(self, window: Window) -> None:
        cmd = self._query_cmd(QUERY_FIELDS, "-lms", str(self.interval_ms), measured_only=True)
        poller = _Poller(cmd, self.clock)
        if not poller.wait_for(set(self._nvml_index.values()), None, self.start_timeout_s):
            err = poller.stop()
            raise MeterError(f"nvidia-smi gave no power reading within {self.start_timeout_s} s: {err or 'no output'}")
        window.state.update(t0=self.clock(), poller=poller, started_at=time.time())

    def _end(self, window: Window) -> WindowResult:
        st = window.state
        t1 = self.clock()
        poller: _Poller = st["poller"]
        notes = []
        if not poller.wait_for(set(self._nvml_index.values()), t1, max(2.0, 5 * self.interval_ms / 1000)):
            notes.append("nvidia-smi gave no reading after the end edge: the last reading was held to the edge")
        err = poller.stop()
        t0 = st["t0"]
        readings = []
        trace = []
        for t, n, s in poller.rows:
            if n in self._visible_of:
                trace.append(Sample(**{**s.__dict__, "t_s": t - t0, "device": self._visible_of[n]}))
        for d in self.devices or []:
            mine = [s for s in trace if s.device == d and s.power_w is not None]
            e = integrate_trapezoid([s.t_s for s in mine], [s.power_w for s in mine], 0.0, t1 - t0)
            if e is None:
                raise MeterError(f"nvidia-smi reported no power for GPU {d} (power.draw unsupported?): {err}")
            readings.append(DeviceReading(d, self._facts[self._nvml_index[d]]["uuid"], e, "sampled", None, e))
        return combine_readings(
            self.name,
            readings,
            duration_s=t1 - t0,
            started_at=st["started_at"],
            idle_power_w=self.idle_power_w,
            trace=trace,
            notes=notes,
        )

    def _abort(self, window: Window) -> None:
        poller = window.state.get("poller")
        if poller is not None:
            poller.stop()

    def describe(self) -> dict[str, Any]:
        """GPU facts as nvidia-smi reports them."""
        devs = [{"index": d, **self._facts[n]} for d, n in self._nvml_index.items()]
        return {"meter": self.name, "driver": devs[0]["driver"] if devs else None, "devices": devs}

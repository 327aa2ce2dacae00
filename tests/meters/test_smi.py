"""The nvidia-smi meter against a fake nvidia-smi on PATH."""

from __future__ import annotations

import sys
import textwrap

import pytest

from joulebench.errors import MeterError
from joulebench.meters import get_meter
from joulebench.meters.smi import SmiMeter, parse_line

FAKE = """\
#!{python}
import sys, time, os
args = sys.argv[1:]
if os.environ.get("FAKE_SMI_FAIL"):
    print("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.", file=sys.stderr)
    sys.exit(9)
gpus = [(0, "GPU-aaaa-1111", "NVIDIA H200"), (1, "GPU-bbbb-2222", "NVIDIA H200")]
if "--query-gpu=index,temperature.gpu" in args:
    for i, u, n in gpus:
        print(f"{{i}}, {{[55, 71][i]}}")
    sys.exit(0)
if "-lms" not in args:
    for i, u, n in gpus:
        print(f"{{i}}, {{u}}, {{n}}, 143771, 700.00, 700.00, 700.00, 580.159.04")
    sys.exit(0)
power = {{0: os.environ.get("FAKE_SMI_P0", "100.00"), 1: "[N/A]"}}
while True:
    for i, u, n in gpus:
        print(f"{{i}}, {{u}}, {{power[i]}}, 97, 40, 2048, 55, 1980, 0x0000000000000004", flush=True)
    time.sleep(0.01)
"""


@pytest.fixture
def fake_smi(tmp_path, monkeypatch):
    exe = tmp_path / "nvidia-smi"
    exe.write_text(textwrap.dedent(FAKE.format(python=sys.executable)))
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return exe


def test_parse_line():
    idx, uuid, s = parse_line("0, GPU-x, 123.45, 50, 20, 1000, 45, 1980, 0x0000000000000001")
    assert (idx, uuid, s.power_w, s.gpu_util_pct, s.mem_used_b, s.throttle_reasons) == (
        0,
        "GPU-x",
        123.45,
        50.0,
        1000 * 1024**2,
        1,
    )
    assert parse_line("0, GPU-x, [N/A], [Not Supported], 20, 1000, 45, 1980, [N/A]")[2].power_w is None
    assert parse_line("") is None and parse_line("Failed to initialize NVML") is None


def test_smi_energy_is_integral_of_polled_power(fake_smi):
    m = get_meter("smi", device=0, sync=lambda: None)
    with m.window() as w:
        pass
    assert w.result.meter == "smi" and w.method == "sampled"
    # Constant 100 W, held to the edges: the integral is exactly power x duration.
    assert w.energy_j == pytest.approx(100.0 * w.duration_s, rel=1e-9)
    assert w.sampled_energy_j == w.energy_j and w.counter_energy_j is None
    assert w.devices[0].uuid == "GPU-aaaa-1111"
    assert w.trace and all(s.device == 0 for s in w.trace)
    assert w.trace[0].throttle_reasons == 4
    assert m.describe()["devices"][0]["power_limit_w"] == 700.0
    assert all(not p.thread.is_alive() for p in [w.state["poller"]])
    assert w.state["poller"].proc.returncode is not None


def test_smi_honours_cuda_visible_devices(fake_smi, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-bbbb")
    m = SmiMeter(sync=lambda: None)
    assert m.devices == [0]
    assert m.describe()["devices"][0]["uuid"] == "GPU-bbbb-2222"


def test_smi_without_power_readings_is_an_error(fake_smi, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")  # the fake reports [N/A] power for GPU 1
    m = SmiMeter(sync=lambda: None)
    with pytest.raises(MeterError, match="no power"), m.window():
        pass


def test_smi_failure_and_absence(fake_smi, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_SMI_FAIL", "1")
    with pytest.raises(MeterError, match=r"couldn't communicate.*--meter sim"):
        SmiMeter()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MeterError, match="nvidia-smi not found"):
        SmiMeter()


def test_smi_reads_the_hottest_measured_gpus_temperature(fake_smi):
    assert get_meter("smi", device=0, sync=lambda: None).read_temperature_c() == 55.0
    assert get_meter("smi", devices=[0, 1], sync=lambda: None).read_temperature_c() == 71.0

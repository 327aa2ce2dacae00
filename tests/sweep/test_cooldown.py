"""--cooldown 45C: wait for the card to cool before each model's idle baseline and between batches."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from joulebench.cli.measure import build_options
from joulebench.errors import ConfigError
from joulebench.meters.sim import SimMeter
from joulebench.store.records import config_hash
from joulebench.sweep import prepare_sweep, protocol
from joulebench.sweep.protocol import COOLDOWN_MAX_S, cool_down
from joulebench.sweep.tasks import SweepOptions, Task
from joulebench.sweep.worker import execute_task
from joulebench.units import is_temperature, parse_temperature_c

ROOT = Path(__file__).resolve().parents[2]


class CoolingMeter:
    """Temperatures from a list, one per reading; ``sleep`` moves the clock."""

    def __init__(self, temps):
        self.temps = list(temps)
        self.t = 0.0
        self.reads = 0

    def clock(self):
        return self.t

    def sleep(self, s):
        self.t += s

    def read_temperature_c(self):
        self.reads += 1
        return self.temps.pop(0) if len(self.temps) > 1 else self.temps[0]


def test_units_read_celsius_and_tell_it_from_a_duration():
    assert [parse_temperature_c(x) for x in ("45C", "45 °C", "45.5c", 40)] == [45.0, 45.0, 45.5, 40.0]
    assert is_temperature("45C") and not is_temperature("5s") and not is_temperature("2min")
    with pytest.raises(ConfigError, match="e.g. 45C"):
        parse_temperature_c("hot")


def test_waits_until_the_card_is_at_the_target():
    m = CoolingMeter([58, 52, 47, 45, 44])
    c = cool_down(m, 45.0, poll_s=2.0, sleep=m.sleep)
    assert (c.start_c, c.end_c, c.waited_s, c.reached, c.note()) == (58, 45, 6.0, True, None)
    assert c.record() == {"cooldown_wait_s": 6.0, "cooldown_start_c": 58, "cooldown_end_c": 45}


def test_a_cool_card_is_not_waited_for():
    m = CoolingMeter([40])
    c = cool_down(m, 45.0, sleep=m.sleep)
    assert (c.waited_s, c.reached, m.reads) == (0.0, True, 1)


def test_gives_up_after_the_maximum_wait_and_says_so():
    m = CoolingMeter([60])
    c = cool_down(m, 45.0, sleep=m.sleep)
    assert c.waited_s == COOLDOWN_MAX_S and not c.reached
    assert "still at 60 °C after 300 s" in c.note()


def test_stop_ends_the_wait_and_an_unreadable_temperature_is_noted():
    m = CoolingMeter([60])
    assert cool_down(m, 45.0, sleep=m.sleep, should_stop=lambda: True).waited_s == 0.0
    c = cool_down(CoolingMeter([None]), 45.0)
    assert not c.reached and "could not read the temperature" in c.note()


def test_options_added_later_keep_the_tracked_datasets_resume_hash():
    # data/h200/dataset was measured before --cooldown 45C and the scan search existed; at their defaults these
    # options must not change that configuration's hash, or resuming would measure the whole dataset again.
    runs = pd.read_csv(ROOT / "data/h200/dataset/runs.csv")
    stored = set(runs["config_hash"])
    config = json.loads(runs["config"].iloc[0])
    again = SweepOptions.from_dict(config).to_config()
    assert "scan_rise" not in again and "cooldown_to_c" not in again
    again["protocol_version"] = config["protocol_version"]
    assert config_hash(again) in stored
    cooled = SweepOptions.from_dict({**config, "cooldown_to_c": 45.0}).to_config()
    cooled["protocol_version"] = config["protocol_version"]
    assert cooled["cooldown_to_c"] == 45.0 and config_hash(cooled) not in stored
    # the default protocol changed since (the dataset's re-measured results carry the current one's hash too)
    assert config_hash(SweepOptions(meter="nvml").to_config()) != runs["config_hash"].iloc[0]


def test_the_flag_takes_a_pause_or_a_temperature():
    common = dict(meter="sim", search="plateau", tf32=None, cuda_graphs=False, warmup="1s", min_iters=3)
    common |= dict(min_window="1s", precision=None, max_window=None, idle="1s", max_batch=None, latency_budget=None)
    assert build_options(cooldown="45C", **common).cooldown_to_c == 45.0
    pause = build_options(cooldown="5s", **common)
    assert (pause.cooldown_s, pause.cooldown_to_c) == (5.0, None)
    with pytest.raises(ConfigError, match="between 0 and 100 °C"):
        build_options(cooldown="450C", **common)


def test_a_meter_without_a_thermometer_is_refused_with_the_fix():
    with pytest.raises(ConfigError, match=r"--meter rapl does not: give a pause instead, e.g. --cooldown 5s"):
        prepare_sweep(["test_vit"], ["cpu-fp32"], SweepOptions(meter="rapl", cooldown_to_c=45.0))


@pytest.mark.slow
def test_the_worker_cools_before_the_idle_baseline_and_between_batches(monkeypatch):
    temps = iter([60.0, 50.0, 44.0] + [46.0, 43.0] * 20)
    monkeypatch.setattr(SimMeter, "read_temperature_c", lambda self: next(temps))
    monkeypatch.setattr(protocol.time, "sleep", lambda s: None)
    events = []
    opts = SweepOptions(
        meter="sim", warmup_s=0.01, min_window_s=0.05, min_iters=2, idle_s=0.05, max_batch=2, cooldown_to_c=45.0
    )
    spec = {"model": "test_vit.r160_in1k", "arch": "test_vit", "tag": "r160_in1k", "img_size": 32}
    spec |= {"input_shape": [3, 32, 32], "custom": False, "weights": None, "default_img_size": 160}
    result = execute_task(Task(run_id="r", spec=spec, runtime="cpu-fp32", options=opts), emit=events.append)
    assert result.summary.status == "ok", result.summary.error
    stages = [e["stage"] for e in events if e["type"] == "stage"]
    assert stages[:2] == ["cooldown", "idle"]
    first, *rest = result.measurements
    assert (first.trace_summary["cooldown_start_c"], first.trace_summary["cooldown_end_c"]) == (60.0, 44.0)
    assert rest and all(m.trace_summary["cooldown_end_c"] == 43.0 for m in rest)
    assert stages.count("cooldown") == len(result.measurements)

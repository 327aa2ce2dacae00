"""``joulebench measure`` beside another live sweep on the same results file: skips what it holds, and says so."""

from __future__ import annotations

import json
import platform

import pytest

from joulebench.cli import main
from joulebench.cli.measure import build_options
from joulebench.store.claims import Claim
from joulebench.store.db import Store
from joulebench.store.records import RunRecord, config_hash
from joulebench.sweep import prepare_sweep

FLAGS = ["--meter", "sim", "--min-window", "0.2s", "--warmup", "0.05s", "--min-iters", "3", "--idle", "0.1s",
         "--max-batch", "4", "--img-size", "64"]  # fmt: skip


def _options():
    """The protocol ``FLAGS`` give (the CLI's defaults for the rest)."""
    return build_options(
        meter="sim", search=None, tf32=None, cuda_graphs=False, warmup="0.05s", min_iters=3, min_window="0.2s",
        precision=None, max_window=None, cooldown="0s", idle="0.1s", max_batch=4, latency_budget="50ms",
    )  # fmt: skip


@pytest.mark.slow
def test_measure_skips_a_pair_another_live_sweep_holds_and_lists_it_in_json(tmp_path, capsys):
    db = tmp_path / "r.db"
    opts = _options()
    plan = prepare_sweep(["test_vit"], ["cpu-fp32"], opts, img_size=64)
    [task] = plan.tasks
    with Store(db) as store:  # another sweep, running on another host, measuring test_vit now
        store.add_run(RunRecord(run_id="other", started_at="2026-11-01T00:00:00", meter="sim", config=opts.to_config()))
        held = Claim(
            task.model, task.img_size, task.runtime, config_hash(opts.to_config()), "sim",
            plan.gpu_facts[0]["gpu_name"], "other", f"not-{platform.node()}", 4242,
        )  # fmt: skip
        assert store.claim_task(held) is None
    try:
        main(["measure", "test_vit", "--runtime", "cpu-fp32", *FLAGS, "--db", str(db), "--json"])
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    assert code == 0, err
    payload = json.loads(out)
    assert payload["claimed_elsewhere"] == [list(task.key)] and payload["summaries"] == []
    assert "another sweep (run other" in err and "run the same command again after it finishes" in err
    with Store(db) as store:
        assert [c["run_id"] for c in store.claims()] == ["other"]  # its claim stands; ours is released
        assert [r["status"] for r in store.runs() if r["run_id"] != "other"] == ["ok"]

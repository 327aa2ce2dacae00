"""Every summary carries the 95 % confidence interval of its energy per image: its chosen batch's."""

from __future__ import annotations

import dataclasses
import sqlite3

from factories import run, task
from joulebench.store import SCHEMA_VERSION, BatchMeasurement, Store
from joulebench.store.records import WIDE_CI95_REL, wide_ci
from joulebench.sweep.summary import summarize


def _with_ci(ms, cis):
    return [dataclasses.replace(m, ci95_rel=c) for m, c in zip(ms, cis, strict=True)]


def test_the_summary_takes_the_ci_of_the_batch_it_chose():
    ms, _, _ = task(batches=(1, 8, 64))
    ms = _with_ci(ms, [0.05, 0.03, 0.004])
    ms[1] = dataclasses.replace(ms[1], energy_per_image_j=1e-9)  # batch 8 is the least energy per image
    s = summarize({"run_id": "run1", "model": "m", "img_size": 224, "runtime": "torch-fp32", "precision": "fp32"}, ms)
    assert s.optimal_batch == 8 and s.ci95_rel == 0.03


def test_wide_is_above_two_percent_and_unknown_is_not_wide():
    assert WIDE_CI95_REL == 0.02
    assert wide_ci(0.021) and not wide_ci(0.02) and not wide_ci(None) and not wide_ci(float("nan"))


def test_a_version_2_store_gains_each_summarys_ci_from_its_chosen_batch(tmp_path):
    old = tmp_path / "v2.db"
    ms, summary, failures = task(batches=(1, 8, 64))
    ms = _with_ci(ms, [0.05, 0.03, 0.004])
    # a repeated window at the optimal batch with another energy: the summary's own window is the one matched
    ms.append(dataclasses.replace(ms[-1], energy_per_image_j=ms[-1].energy_per_image_j * 1.1, ci95_rel=0.5))
    failed = dataclasses.replace(summary, model="other", status="failed", energy_per_image_j=None, optimal_batch=None)
    with Store(old) as s:
        s.add_run(run())
        s.save_task(ms, summary, failures)
        s.save_task([], failed, [])
    conn = sqlite3.connect(old)
    conn.execute("ALTER TABLE summaries DROP COLUMN ci95_rel")  # schema 2: no interval on summaries
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with Store.open_readonly(old) as s:  # read as it is: the interval is unknown until migrated
        assert [r["ci95_rel"] for r in s.summaries()] == [None, None]
    with Store(old) as s:
        assert s.meta()["schema_version"] == str(SCHEMA_VERSION) and "migrated_to_3" in s.meta()
        got = {r["model"]: r["ci95_rel"] for r in s.summaries()}
    assert got == {"resnet50.a1_in1k": 0.004, "other": None}


def test_a_new_summary_stores_its_ci(tmp_path):
    ms, summary, failures = task()
    with Store(tmp_path / "r.db") as s:
        s.add_run(run())
        s.save_task(ms, dataclasses.replace(summary, ci95_rel=0.031), failures)
        assert s.summaries()[0]["ci95_rel"] == 0.031
    assert isinstance(ms[0], BatchMeasurement)

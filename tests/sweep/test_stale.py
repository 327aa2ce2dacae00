"""Which stored results the current batch search (scan) would have continued (``joulebench.sweep.stale``)."""

from __future__ import annotations

import pytest

from joulebench.errors import ConfigError
from joulebench.store.db import Store
from joulebench.store.records import BatchMeasurement, ModelSummary, RunRecord
from joulebench.sweep.stale import next_scout, stale_message, stale_results

PLATEAU = {"search": "plateau", "start_batch": 1, "max_batch": None, "plateau_threshold": 0.01, "plateau_patience": 2}
# vgg16 on compile-fp16 in the H200 dataset before 2026-11-29: a bump at 16, then falling again (mJ per image)
VGG16 = [(1, 231.0), (2, 144.0), (4, 91.0), (8, 74.0), (16, 102.7), (32, 83.3)]


def _ladder(points):
    return [(b, "ok", e / 1e3) for b, e in points]


def test_a_ladder_that_stopped_on_a_bump_asks_for_the_next_doubling():
    assert next_scout(PLATEAU, _ladder(VGG16), runtime="compile-fp16") == 64


def test_a_ladder_the_current_rule_ends_the_same_way_is_not_stale():
    rising = [(1, 20.0), (2, 10.0), (4, 5.0), (8, 6.0), (16, 7.0)]  # two scouts over 10 % above the best, rising
    assert next_scout(PLATEAU, _ladder(rising), runtime="torch-fp32") is None
    flat = [(1, 20.0), (2, 10.0), (4, 5.0), (8, 5.1), (16, 5.2)]  # the plateau rule ended here; the scan goes on
    assert next_scout(PLATEAU, _ladder(flat), runtime="torch-fp32") == 32
    oom = [*_ladder(VGG16), (64, "oom", None)]  # out of memory ends any search
    assert next_scout(PLATEAU, oom, runtime="compile-fp16") is None


@pytest.mark.parametrize(
    ("config", "runtime", "ceiling", "expected"),
    [
        ({**PLATEAU, "search": "paper"}, "torch-fp32", None, None),  # another search: nothing to replay
        ({**PLATEAU, "max_batch": 32}, "torch-fp32", None, None),  # the ladder reached the run's maximum
        (PLATEAU, "torch-fp32", 32, None),  # capped below a crash at 64 (Store.crash_ceilings)
        (PLATEAU, "torch-fp32", None, 64),
    ],
)
def test_the_runs_own_search_bounds_are_replayed(config, runtime, ceiling, expected):
    assert next_scout(config, _ladder(VGG16), runtime=runtime, ceiling=ceiling) == expected


def test_a_cpu_runtime_stops_at_its_own_largest_batch():
    falling = [(2**i, 100.0 / (i + 1)) for i in range(9)]  # still improving at batch 256
    assert next_scout(PLATEAU, _ladder(falling), runtime="cpu-fp32") is None  # the worker's CPU maximum is 256
    assert next_scout(PLATEAU, _ladder(falling), runtime="torch-fp32") == 512
    assert next_scout(PLATEAU, [], runtime="torch-fp32") is None  # no scouting windows: nothing to judge


def _save(store: Store, run_id: str, model: str, points, finished_at: str, phase_of=lambda b: "scout", gpu="H200"):
    store.add_run(RunRecord(run_id=run_id, started_at=finished_at, meter="nvml", config=PLATEAU,
                            provenance={"gpu_name": gpu}))  # fmt: skip
    rows = [
        BatchMeasurement(run_id=run_id, model=model, img_size=224, runtime="compile-fp16", precision="fp16",
                         batch_size=b, status="ok", energy_per_image_j=e / 1e3, meter="nvml", gpu_name=gpu,
                         trace_summary={"phase": phase_of(b)})
        for b, e in points
    ]  # fmt: skip
    best = min(points, key=lambda p: p[1])
    summary = ModelSummary(run_id=run_id, model=model, img_size=224, runtime="compile-fp16", precision="fp16",
                           status="ok", meter="nvml", gpu_name=gpu, optimal_batch=best[0],
                           energy_per_image_j=best[1] / 1e3, finished_at=finished_at)  # fmt: skip
    store.save_task(rows, summary, [])


def test_stale_results_judge_each_configurations_latest_result(tmp_path):
    complete = [*VGG16, (64, 70.6), (128, 54.6), (256, 53.1), (512, 52.6), (1024, 48.4), (2048, 52.6), (4096, 52.7),
                (8192, 60.0), (16384, 70.0)]  # fmt: skip
    with Store(tmp_path / "r.db") as store:
        _save(store, "old", "vgg16.tv_in1k", VGG16, "2026-11-28T10:00:00+00:00")
        _save(store, "other", "resnet50.a1_in1k", VGG16, "2026-11-28T11:00:00+00:00")
        # a refinement window at 12 (phase full) is no part of the ladder
        _save(store, "new", "vgg16.tv_in1k", [*complete, (12, 67.2)], "2026-11-29T03:00:00+00:00",
              phase_of=lambda b: "full" if b == 12 else "scout")  # fmt: skip
        stale = stale_results(store, store.finished_results(None, meter="nvml"), {})
        assert stale == {("resnet50.a1_in1k", 224, "compile-fp16"): 64}  # vgg16's latest ladder is complete
        assert stale_results(store, store.finished_results(None, meter="sim"), {}) == {}  # only the rows given
        capped = {("resnet50.a1_in1k", 224, "compile-fp16"): (32, 64)}  # its worker crashed at 64: the sweep caps at 32
        assert stale_results(store, store.finished_results(None, meter="nvml"), capped) == {}
        # a sweep judges only its own finished tasks
        mine = {("vgg16.tv_in1k", 224, "compile-fp16")}
        assert stale_results(store, store.finished_results(None, meter="nvml"), {}, mine) == {}
        assert stale_results(store, store.finished_results(None, meter="nvml"), {}, {*mine, *stale}) == stale


def test_expected_change_extends_the_last_slope_and_compares_with_the_best_scout():
    from joulebench.sweep.stale import expected_change

    falling = _ladder([(64, 100.0), (128, 90.0)])
    assert expected_change(falling, 256) == pytest.approx(0.10)  # one more doubling at the same slope: 81 mJ
    assert expected_change(falling, 512) == pytest.approx(1 - 0.81)  # two more: 72.9 mJ
    bumped = _ladder([(8, 74.0), (16, 102.7), (32, 83.3)])  # still above the best after the bump
    assert expected_change(bumped, 64) == pytest.approx(1 - 83.3 * (83.3 / 102.7) / 74.0)
    rising = _ladder([(8, 74.0), (16, 80.0)])
    assert expected_change(rising, 32) == 0.0  # the next doubling is expected higher: nothing to gain
    assert expected_change(_ladder([(8, 74.0)]), 16) == 0.0  # one point gives no slope
    assert expected_change([*falling, (256, "oom", None)], 256) == pytest.approx(0.10)  # failures are no points


def test_stale_results_are_listed_and_redone_largest_expected_change_first(tmp_path):
    from joulebench.sweep.stale import stale_by_setup, stale_with_changes

    with Store(tmp_path / "r.db") as store:
        _save(store, "a", "small.gain", [(1, 20.0), (2, 10.0), (4, 5.0), (8, 4.95)], "2026-11-28T10:00:00+00:00")
        _save(store, "b", "big.gain", [(1, 20.0), (2, 10.0), (4, 5.0), (8, 4.0)], "2026-11-28T11:00:00+00:00")
        rows = stale_by_setup(store)
        assert [r["model"] for r in rows] == ["big.gain", "small.gain"]
        assert rows[0]["expected_change"] > rows[1]["expected_change"] > 0
        judged = stale_with_changes(store, store.finished_results(None), {})
        assert {k[0]: v[0] for k, v in judged.items()} == {"big.gain": 16, "small.gain": 16}


def test_results_stale_min_change_keeps_the_results_expected_to_change_at_least_that_much(tmp_path):
    import json

    from typer.testing import CliRunner

    from joulebench.cli import app

    db = tmp_path / "r.db"
    with Store(db) as store:  # expected 1 % and 20 % lower at batch 16
        _save(store, "a", "small.gain", [(1, 20.0), (2, 10.0), (4, 5.0), (8, 4.95)], "2026-11-28T10:00:00+00:00")
        _save(store, "b", "big.gain", [(1, 20.0), (2, 10.0), (4, 5.0), (8, 4.0)], "2026-11-28T11:00:00+00:00")
    env = {"COLUMNS": "200", "JOULEBENCH_DB": ""}
    stale = ["results", "--stale", "--db", str(db)]
    r = CliRunner().invoke(app, [*stale, "--json", "--min-change", "5%"], env=env)
    assert r.exit_code == 0, r.output
    assert [row["model"] for row in json.loads(r.stdout)] == ["big.gain"]
    r = CliRunner().invoke(app, [*stale, "--names", "--min-change", "0.5%"], env=env)
    assert r.exit_code == 0 and r.stdout == "big.gain@224\nsmall.gain@224\n"
    r = CliRunner().invoke(app, [*stale, "--min-change", "25%"], env=env)
    assert r.exit_code == 0 and "no stale results expected to read at least 25 % lower" in " ".join(r.output.split())
    r = CliRunner().invoke(app, ["results", "--db", str(db), "--min-change", "5%"], env=env)
    assert isinstance(r.exception, ConfigError) and "add --stale" in str(r.exception)


def test_stale_rows_can_carry_the_ladder_they_were_judged_on(tmp_path):
    from joulebench.sweep.stale import stale_by_setup

    with Store(tmp_path / "r.db") as store:
        _save(store, "old", "vgg16.tv_in1k", [*VGG16, (12, 67.2)], "2026-11-28T10:00:00+00:00",
              phase_of=lambda b: "full" if b == 12 else "scout")  # fmt: skip
        [plain] = stale_by_setup(store)
        [row] = stale_by_setup(store, with_ladder=True)
    assert "ladder" not in plain  # what `results --stale --json` prints
    ladder = row.pop("ladder")
    assert row == plain
    # the scouting windows only, in the order measured, with their (here unrecorded) latencies and peak memory
    assert [(b, st, latency, peak) for b, st, _, latency, peak in ladder] == [(b, "ok", None, None) for b, _ in VGG16]
    assert [e * 1e3 for _, _, e, *_ in ladder] == pytest.approx([e for _, e in VGG16])


SCAN = {"search": "scan", "start_batch": 1, "max_batch": None, "scan_rise": 0.1, "scan_max_iter_s": 1.5}
# repvgg_a0 under compile-fp16 on an H200 (150.75 GB by NVML), measured by the scan: each scout's batch, energy
# (mJ per image), iteration time (s) and peak memory (GB). 65536 would need about 197 GB; the scan's prediction (80 %
# of the device) allowed up to about 40000, too close to 32768 to scout, so it ended at 32768.
REPVGG = [
    (b, e, t, gb * 1e9)
    for b, e, t, gb in [
        (1, 282.55, 0.00216, 0.085), (2, 207.28, 0.00298, 0.124), (4, 89.70, 0.00249, 0.066),
        (16, 36.35, 0.00338, 0.101), (32, 22.36, 0.00337, 0.149), (128, 12.76, 0.00281, 0.440),
        (512, 12.73, 0.00987, 1.595), (1024, 13.06, 0.01955, 3.136), (2048, 12.94, 0.03973, 6.219),
        (4096, 13.03, 0.07873, 12.384), (8192, 12.88, 0.15812, 24.715), (16384, 12.76, 0.31592, 49.378),
        (32768, 13.02, 0.63618, 98.703),
    ]
]  # fmt: skip
H200_MEMORY_B = 150.75e9


def _scan_ladder(points):
    return [(b, "ok", e / 1e3, t, peak) for b, e, t, peak in points]


def test_a_scan_that_ended_at_its_predicted_memory_limit_is_not_continued_by_its_replay():
    ladder = _scan_ladder(REPVGG)
    assert next_scout(SCAN, ladder, runtime="compile-fp16", memory_b=H200_MEMORY_B) is None
    # without the device's memory the replay doubles past the limit, as a search without the prediction did
    assert next_scout(SCAN, ladder, runtime="compile-fp16") == 65536
    # the plateau search doubled into its out-of-memory error: judged without the prediction even when it is known
    assert next_scout(PLATEAU, ladder, runtime="compile-fp16", memory_b=H200_MEMORY_B) == 65536


def test_a_scan_is_continued_only_if_it_is_with_a_smaller_figure_for_the_memory_too():
    ladder = _scan_ladder(REPVGG)
    # a device whose NVML figure puts the prediction just above 1.25 x 32768 = 40960 (at 41064), a figure 2 % smaller
    # (as CUDA's may be) below it: the worker's prediction may have been either, so the replay does not continue
    edge = 40960 * 3.011e6 / 0.8 * 1.003
    assert next_scout(SCAN, ladder, runtime="compile-fp16", memory_b=edge) is None
    # with 10 % more the prediction clears it by either figure: the scan would have scouted the predicted limit
    roomy = H200_MEMORY_B * 1.1
    nxt = next_scout(SCAN, ladder, runtime="compile-fp16", memory_b=roomy)
    assert 40960 <= nxt < 65536 and nxt % 8 == 0


def test_stale_results_judge_a_scan_with_its_runs_device_memory(tmp_path):
    run = RunRecord(run_id="scan", started_at="2026-12-07T18:46:17+00:00", meter="nvml", config=SCAN,
                    provenance={"gpu_name": "H200", "gpu_memory_b": H200_MEMORY_B})  # fmt: skip
    rows = [
        BatchMeasurement(run_id="scan", model="repvgg_a0.rvgg_in1k", img_size=224, runtime="compile-fp16",
                         precision="fp16", batch_size=b, status="ok", energy_per_image_j=e / 1e3, meter="nvml",
                         gpu_name="H200", latency_mean_s=t, peak_memory_b=peak, trace_summary={"phase": "scout"})
        for b, e, t, peak in REPVGG
    ]  # fmt: skip
    summary = ModelSummary(run_id="scan", model="repvgg_a0.rvgg_in1k", img_size=224, runtime="compile-fp16",
                           precision="fp16", status="ok", meter="nvml", gpu_name="H200", optimal_batch=16384,
                           energy_per_image_j=12.18e-3, finished_at="2026-12-07T18:49:48+00:00")  # fmt: skip
    with Store(tmp_path / "r.db") as store:
        store.add_run(run)
        store.save_task(rows, summary, [])
        finished = store.finished_results(None)
        assert [r["gpu_memory_b"] for r in finished] == [H200_MEMORY_B]
        assert stale_results(store, finished, {}) == {}


def test_the_log_line_names_the_first_results_and_counts_the_rest():
    stale = {(f"m{i}", 224, "compile-fp16"): 64 for i in range(12)}
    line = stale_message(stale, shown=2)
    assert line.startswith("measuring again 12 result(s) whose batch search the current rule would have continued")
    assert line.endswith(": m0@224 compile-fp16 (next batch 64), m1@224 compile-fp16 (next batch 64) and 10 more")
    assert "and" not in stale_message(dict(list(stale.items())[:2]), shown=2).split(": ", 1)[1]


def test_results_stale_lists_them_per_setup_and_takes_the_filters(tmp_path):
    import json

    from typer.testing import CliRunner

    from joulebench.cli import app

    db = tmp_path / "r.db"
    with Store(db) as store:
        _save(store, "old", "vgg16.tv_in1k", VGG16, "2026-11-28T10:00:00+00:00")
        _save(
            store,
            "other",
            "resnet50.a1_in1k",
            [(1, 20.0), (2, 10.0), (4, 5.0), (8, 6.0), (16, 7.0)],
            "2026-11-28T11:00:00+00:00",
        )  # fmt: skip  (a complete ladder)
    env = {"COLUMNS": "200", "JOULEBENCH_DB": ""}
    r = CliRunner().invoke(app, ["results", "--stale", "--db", str(db), "--json"], env=env)
    assert r.exit_code == 0, r.output
    [row] = json.loads(r.stdout)
    change = row.pop("expected_change")
    assert row == {"model": "vgg16.tv_in1k", "img_size": 224, "runtime": "compile-fp16", "gpu_name": "H200",
                   "meter": "nvml", "run_id": "old", "next_batch": 64}  # fmt: skip
    assert change == pytest.approx(0.0869, abs=1e-4)  # 16 -> 32 fell by 18.9 %: 64 at 67.6 mJ, 8.7 % below 74.0
    r = CliRunner().invoke(app, ["results", "--stale", "--db", str(db)], env=env)
    assert r.exit_code == 0 and "vgg16.tv_in1k" in r.stdout and "64" in r.stdout and "resnet50" not in r.stdout
    assert "-8.7 %" in r.stdout
    r = CliRunner().invoke(app, ["results", "--stale", "--db", str(db), "--model", "resnet*", "--json"], env=env)
    assert r.exit_code == 0 and json.loads(r.stdout) == []
    r = CliRunner().invoke(app, ["results", "--stale", "--failures", "--db", str(db)], env=env)
    assert isinstance(r.exception, ConfigError) and "pick one of" in str(r.exception)
    names = ["results", "--stale", "--names", "--db", str(db), "--runtime"]
    r = CliRunner().invoke(app, [*names, "compile-fp16"], env=env)
    assert r.exit_code == 0 and r.stdout == "vgg16.tv_in1k@224\n"  # what `measure $(...)` takes
    r = CliRunner().invoke(app, [*names, "torch-fp32"], env=env)
    assert r.exit_code == 0 and r.stdout.strip() == ""
    r = CliRunner().invoke(app, ["results", "--names", "--db", str(db)], env=env)
    assert isinstance(r.exception, ConfigError) and "add --stale" in str(r.exception)


def test_stale_by_setup_judges_each_gpu_model_on_its_own_results_and_crashes():
    from joulebench.store.records import Failure
    from joulebench.sweep.stale import stale_by_setup

    with Store(":memory:") as store:
        _save(store, "h200", "vgg16.tv_in1k", VGG16, "2026-11-28T10:00:00+00:00")
        _save(store, "h100", "vgg16.tv_in1k", VGG16, "2026-11-28T11:00:00+00:00", gpu="H100")
        # later and complete on the A100: judged there only, it hides neither ladder above
        _save(
            store,
            "a100",
            "vgg16.tv_in1k",
            [*VGG16, (64, 70.0), (128, 80.0), (256, 90.0)],
            "2026-11-28T12:00Z",
            gpu="A100",
        )
        assert [(r["gpu_name"], r["run_id"], r["next_batch"]) for r in stale_by_setup(store)] == [
            ("H100", "h100", 64),
            ("H200", "h200", 64),
        ]
        crash = Failure(run_id="h100", model="vgg16.tv_in1k", img_size=224, runtime="compile-fp16", stage="crash",
                        reason="worker crashed", batch_size=64)  # fmt: skip
        store.save_task([], None, [crash])  # the H100's search was capped at 32 by a crash: no longer stale there
        assert [r["gpu_name"] for r in stale_by_setup(store)] == ["H200"]

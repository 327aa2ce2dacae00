"""joulebench.analysis.dataset_report on a hand-made H200 folder: the numbers it prints are the known ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from joulebench.models.stats import load_stats

ROOT = Path(__file__).resolve().parents[2]


def _template() -> pd.DataFrame:
    """The dataset's summaries, one row per model, size and runtime: the latest, as the report keeps it."""
    rows = pd.read_csv(ROOT / "data/h200/dataset/summaries.csv")
    rows = rows[rows["status"] == "ok"].sort_values("finished_at")
    return rows.drop_duplicates(["model", "img_size", "runtime"], keep="last")


def _report(data: Path, monkeypatch, capsys) -> str:
    """Run ``python3 -m joulebench.analysis.dataset_report --data DATA``; what it printed."""
    from joulebench.analysis.dataset_report import main

    assert main(["--data", str(data)]) == 0
    return capsys.readouterr().out


@pytest.mark.slow
def test_report_prints_known_reduction_progress_and_frontier(tmp_path, monkeypatch, capsys):
    template = _template()
    models = ["tinynet_e.in1k", "mobilenetv3_small_050.lamb_in1k", "regnetx_002.pycls_in1k"]
    rows = template[template["model"].isin(models)].copy()
    assert set(rows["runtime"]) == {"torch-fp32", "compile-fp16"} and len(rows) == 6
    # fp32 spends exactly 3x (tinynet_e), 4x and 6x the compiled energy: geometric mean (3*4*6)^(1/3)
    compiled = {"tinynet_e.in1k": 0.002, "mobilenetv3_small_050.lamb_in1k": 0.003, "regnetx_002.pycls_in1k": 0.004}
    factor = {"tinynet_e.in1k": 3.0, "mobilenetv3_small_050.lamb_in1k": 4.0, "regnetx_002.pycls_in1k": 6.0}
    rows["energy_per_image_j"] = [
        compiled[m] * (factor[m] if rt == "torch-fp32" else 1.0)
        for m, rt in zip(rows["model"], rows["runtime"], strict=True)
    ]
    # cost: torch-fp32 60, 70 and 80 GPU-s; compile-fp16 exactly proportional to MACs (slope 1, all explained)
    macs = load_stats(include_cache=False).set_index(["model", "img_size"])["macs"]
    fp32 = rows["runtime"] == "torch-fp32"
    rows.loc[fp32, "gpu_seconds"] = [60.0, 70.0, 80.0]
    keys = zip(rows["model"][~fp32], rows["img_size"][~fp32], strict=True)
    rows.loc[~fp32, "gpu_seconds"] = [macs[key] / 1e7 for key in keys]
    data = tmp_path / "h200"
    data.mkdir()
    rows.to_csv(data / "summaries.csv", index=False)
    sizes = dict(zip(rows["model"], rows["img_size"], strict=True))
    # left: resnet50 (no twin; its compile-fp16 run timed out after 900 s) and a second tag of tinynet_e (a twin)
    panel = [f"{m}@{sizes[m]}" for m in models] + ["resnet50.a1_in1k@224", "tinynet_e.other@106"]
    (data / "panel.txt").write_text("\n".join(panel) + "\n")
    pd.DataFrame(
        [
            {
                "run_id": "r",
                "model": "resnet50.a1_in1k",
                "img_size": 224,
                "runtime": "compile-fp16",
                "stage": "timeout",
                "reason": "worker timed out",
                "batch_size": None,
                "detail": None,
                "occurred_at": "2026-11-28",
                "gpu_seconds": 900.0,
            }
        ]
    ).to_csv(data / "failures.csv", index=False)

    out = _report(data, monkeypatch, capsys)
    assert "| H200:torch-fp32 | 3 | 5 | 60% |" in out and "| H200:compile-fp16 | 3 | 5 | 60% |" in out
    assert "| compile-fp16 | timeout | worker timed out | 1 |" in out
    geomean = (3 * 4 * 6) ** (1 / 3)
    assert f"| H200 torch-fp32 -> compile-fp16 | 3 | {geomean:.2f}x |" in out
    assert "| H100 torch-fp32 -> tensorrt-fp16, all (paper) | 1403 |" in out
    assert "| H100 torch-fp32 -> tensorrt-fp16, H200's models | 3 |" in out
    assert "models on both setups (with ImageNet accuracy): 3" in out
    per_model = out.split("## Per model")[1].split("##")[0]
    assert "| tinynet_e.in1k@106 | 6.00 | 2.00 | 3.00x |" in per_model
    assert "| regnetx_002.pycls_in1k@224 | 24.00 | 4.00 | 6.00x |" in per_model
    assert per_model.count("\n| ") == 2 + 3  # the header, its rule and one row per model
    cost = out.split("## Cost per model")[1].split("## Searches")[0]
    # the sweep's estimate is the 75th percentile (75 GPU-s); two pairs per runtime are left, costed as the planner
    # does: resnet50 at the estimate, or at least the 900 s its timeout showed; tinynet_e.other at its twin's x 1.25
    twin = rows[rows["model"] == "tinynet_e.in1k"].set_index("runtime")["gpu_seconds"] * 1.25
    fp32_left = 75 + twin["torch-fp32"]
    compiled_left = 900 + twin["compile-fp16"]
    assert "| torch-fp32 | 3 | 60–80 | 70 | 75 |" in cost
    assert cost.rstrip().endswith(f"| 2 | {fp32_left:.0f} s ({fp32_left / 3600:.1f} h) |")
    assert f"| +1.000 | 100.0% | 2 | {compiled_left:.0f} s ({compiled_left / 3600:.1f} h) |" in cost


@pytest.mark.slow
def test_report_compares_the_paper_over_the_h200_pairs_only(tmp_path, monkeypatch, capsys):
    template = _template()
    paired = ["tinynet_e.in1k", "mobilenetv3_small_050.lamb_in1k", "regnetx_002.pycls_in1k"]
    rows = template[template["model"].isin(paired)]
    # a fourth model measured on torch-fp32 only: not a pair, so it stays out of every reduction
    single = template[(template["model"] == "lcnet_050.ra2_in1k") & (template["runtime"] == "torch-fp32")]
    assert len(rows) == 6 and len(single) == 1
    data = tmp_path / "h200"
    data.mkdir()
    pd.concat([rows, single]).to_csv(data / "summaries.csv", index=False)

    out = _report(data, monkeypatch, capsys)
    assert "| H200 torch-fp32 -> compile-fp16 | 3 |" in out
    assert "| H100 torch-fp32 -> tensorrt-fp16, H200's models | 3 |" in out
    assert "| A100 torch-fp32 -> tensorrt-fp16, H200's models | 3 |" in out


@pytest.mark.slow
def test_report_consistency_section_lists_repeats_and_outliers(tmp_path, monkeypatch, capsys):
    template = _template()
    keep = ["hardcorenas_c.miil_green_in1k", "mobilenetv4_conv_small.e1200_r224_in1k", "tinynet_e.in1k"]
    rows = template[template["model"].isin(keep) & (template["img_size"] != 256)].copy()
    assert len(rows) == 6
    # a second tag of one workload, 20 % dearer: one repeated workload per runtime, spread exactly 1.2
    twin = rows[rows["model"] == "mobilenetv4_conv_small.e1200_r224_in1k"].copy()
    twin["model"] = "mobilenetv4_conv_small.e2400_r224_in1k"
    twin["energy_per_image_j"] *= 1.2
    data = tmp_path / "h200"
    data.mkdir()
    pd.concat([rows, twin]).to_csv(data / "summaries.csv", index=False)

    section = _report(data, monkeypatch, capsys).split("## Consistency")[1]
    for setup in ("H200:torch-fp32", "H200:compile-fp16"):
        assert f"| {setup} | 1 | 2 |" in section and "| 1.200 | 1.200 | 1.20 | 1 |" in section
    assert "| H100:torch-fp32 | 230 | 585 |" in section and "No workload measured" not in section
    # the same two tags on every setup: the H200's made-up 1.2 beside the paper's readings of the same workload
    same = section.split("over the workloads the H200 measured under several tags")[1].split("| setups |")[0]
    sd = f"{100 * np.log(1.2) / np.sqrt(2):.1f}%"  # two tags: SD of the logs = log(spread) / sqrt(2)
    assert f"| H200:compile-fp16 | 1 | {sd} | 1.200 | 1.200 |" in same
    workload = "| e1200_r224_in1k / e2400_r224_in1k (mobilenetv4_conv_small@224) | 1.200 | 1.200 | 1.360 |"
    assert workload in same  # the H100 fp32 pair is the paper's 14.35 and 10.55 mJ
    # the paper's H100 fp32 reading of hardcorenas_c is a third of its A100 one (reference data, exact values)
    assert "- H100:torch-fp32 / A100:torch-fp32: hardcorenas_c.miil_green_in1k@224 13.27 / 42.63 mJ = 0.31" in section
    # ... at 31 % of its power limit against the A100's 100 %: implied power names the H100 reading (28 of 29)
    verdict = "implied power 31 % / 100 % of the limits (0.31x the median ratio): the H100:torch-fp32 reading is off"
    assert verdict in section
    assert "| H100:torch-fp32 / A100:torch-fp32 | 1433 | 0.877 | 29 | 0 | 28 | 1 |" in section


@pytest.mark.slow
def test_report_splits_the_h200_tag_spread_into_one_board_and_all_boards(tmp_path, monkeypatch, capsys):
    template = _template()
    tags = ["resnet18.a1_in1k", "resnet18.a2_in1k", "resnet18.tv_in1k"]
    rows = template[
        (template["model"].isin(tags) & (template["img_size"] == 224)) | (template["model"] == "tinynet_e.in1k")
    ]
    rows = rows.copy()
    assert len(rows) == 8
    # one workload under three tags: a1 and a2 on board A, 2 % apart; tv on board B, 10 % above a1
    scale = {"resnet18.a1_in1k": 1.0, "resnet18.a2_in1k": 1.02, "resnet18.tv_in1k": 1.10}
    board = {"resnet18.a1_in1k": "GPU-a", "resnet18.a2_in1k": "GPU-a", "resnet18.tv_in1k": "GPU-b"}
    mine = rows["model"].isin(tags)
    rows.loc[mine, "energy_per_image_j"] = [0.01 * scale[m] for m in rows["model"][mine]]
    rows.loc[mine, "gpu_uuid"] = [board[m] for m in rows["model"][mine]]
    data = tmp_path / "h200"
    data.mkdir()
    rows.to_csv(data / "summaries.csv", index=False)

    section = _report(data, monkeypatch, capsys).split("within one board and across boards")[1].split("| setups |")[0]
    one = f"{100 * np.log(1.02) / np.sqrt(2):.1f}%"  # two tags on a board: log(spread) / sqrt(2)
    every = f"{100 * np.std(np.log([1.0, 1.02, 1.10]), ddof=1):.1f}%"
    for setup in ("H200:torch-fp32", "H200:compile-fp16"):
        assert f"| {setup} | 1 | 3 | 2 | 2 | {one} | {every} |" in section
        assert f"| resnet18@224 | {setup} | 3 | 2 | 1.020 (2 tags) | 1.100 |" in section
    assert "tinynet_e" not in section  # measured under one tag only


def _stale_section(data: Path, rows: pd.DataFrame, monkeypatch, capsys) -> str:
    rows.to_csv(data / "summaries.csv", index=False)
    return _report(data, monkeypatch, capsys).split("## Searches the current batch search would continue")[1]


@pytest.mark.slow
def test_report_lists_the_ladders_the_current_plateau_rule_would_continue(tmp_path, monkeypatch, capsys):
    from dataclasses import replace

    from joulebench.store.db import Store
    from joulebench.store.records import BatchMeasurement, Failure, ModelSummary, RunRecord

    template = _template()
    rows = template[
        template["model"].isin(["vgg16.tv_in1k", "tinynet_e.in1k", "mobilenetv3_small_050.lamb_in1k"])
    ].copy()
    rows = rows.assign(run_id="old", status="ok")  # torch-fp32 rows too (the report needs both setups)
    assert len(rows) == 6
    data = tmp_path / "h200"
    data.mkdir()
    assert "not checked: no h200.db in" in _stale_section(data, rows, monkeypatch, capsys)
    config = {
        "search": "plateau",
        "start_batch": 1,
        "max_batch": None,
        "plateau_threshold": 0.01,
        "plateau_patience": 2,
    }
    ladders = {
        "vgg16.tv_in1k": {1: 231.0, 2: 144.0, 4: 91.0, 8: 74.0, 16: 102.7, 32: 83.3},  # a bump, then falling
        "tinynet_e.in1k": {1: 20.0, 2: 10.0, 4: 5.0, 8: 5.1, 16: 5.2},  # a plateau: ended as the rule ends it
        "mobilenetv3_small_050.lamb_in1k": {
            1: 30.0,
            2: 20.0,
            4: 15.0,
        },  # still falling, but its worker crashed at 8: capped at 4
    }
    size = dict(zip(rows["model"], rows["img_size"], strict=True))
    with Store(data / "h200.db") as store:
        store.add_run(
            RunRecord(
                run_id="old",
                started_at="2026-11-28T00:00:00+00:00",
                meter="nvml",
                provenance={"gpu_name": "H200"},
                config=config,
            )
        )
        for model, ladder in ladders.items():
            common = {"run_id": "old", "model": model, "img_size": int(size[model]), "runtime": "compile-fp16"}
            windows = [
                BatchMeasurement(**common, precision="fp16", batch_size=b, status="ok", energy_per_image_j=e / 1e3,
                                 meter="nvml", gpu_name="H200", trace_summary={"phase": "scout"})
                for b, e in ladder.items()
            ]  # fmt: skip
            windows.append(replace(windows[-1], batch_size=12, trace_summary={"phase": "full"}))  # not ladder
            best = min(ladder, key=ladder.get)
            summary = ModelSummary(**common, precision="fp16", status="ok", meter="nvml", gpu_name="H200",
                                   optimal_batch=best, energy_per_image_j=ladder[best] / 1e3,
                                   finished_at="2026-11-28T01:00:00+00:00")  # fmt: skip
            crash = [Failure(**common, stage="crash", reason="worker crashed", batch_size=8)] if best == 4 else []
            store.save_task(windows, summary, crash)

    before = (data / "h200.db").read_bytes()
    section = _stale_section(data, rows, monkeypatch, capsys)
    vgg = rows[(rows["model"] == "vgg16.tv_in1k") & (rows["runtime"] == "compile-fp16")]
    optimal = int(vgg["optimal_batch"].iloc[0])  # from summaries.csv, as exported
    assert f"| vgg16.tv_in1k@224 | compile-fp16 | 8: 74.0, 16: 102.7, 32: 83.3 | 64 | -8.7 % | {optimal} |" in section
    assert "tinynet_e" not in section and "mobilenetv3" not in section  # ended on its plateau; capped below its crash
    assert (data / "h200.db").read_bytes() == before  # opened read-only: the committed store stays as it was


@pytest.mark.slow
def test_report_compares_the_first_and_latest_result_of_a_pair_measured_twice(tmp_path, monkeypatch, capsys):
    rows = _template()
    rows = rows[rows["model"].isin(["vgg16.tv_in1k", "tinynet_e.in1k"])].assign(run_id="old", gpu_uuid="GPU-a")
    assert len(rows) == 4
    again = rows[(rows["model"] == "vgg16.tv_in1k") & (rows["runtime"] == "compile-fp16")]
    again = again.assign(run_id="new", gpu_uuid="GPU-b", finished_at="2099-01-01T00:00:00+00:00")
    rows.loc[again.index, ["energy_per_image_j", "optimal_batch"]] = [0.0672, 12]  # the first: stopped at batch 12
    again = again.assign(energy_per_image_j=0.048, optimal_batch=1024)
    data = tmp_path / "h200"
    data.mkdir()
    pd.concat([rows, again]).to_csv(data / "summaries.csv", index=False)
    window = {"model": "vgg16.tv_in1k", "img_size": 224, "runtime": "compile-fp16", "status": "ok"}
    full, scout = '{"phase": "full"}', '{"phase": "scout"}'
    pd.DataFrame(
        [
            {**window, "run_id": "old", "batch_size": 12, "energy_per_image_j": 0.0672, "trace_summary": full},
            {**window, "run_id": "old", "batch_size": 12, "energy_per_image_j": 0.0700, "trace_summary": scout},
            # the new run scouted batch 12 only: the scouting windows are compared, 0.0630 / 0.0700 = 0.9
            {**window, "run_id": "new", "batch_size": 12, "energy_per_image_j": 0.0630, "trace_summary": scout},
            {**window, "run_id": "new", "batch_size": 1024, "energy_per_image_j": 0.048, "trace_summary": full},
        ]
    ).to_csv(data / "measurements.csv", index=False)

    out = _report(data, monkeypatch, capsys)
    section = out.split("## Results measured more than once")[1]
    row = "| vgg16.tv_in1k@224 | compile-fp16 | 67.20 @ 12 | 48.00 @ 1024 | -28.6% "
    row += "| 70.00 -> 63.00 (0.900, scout) | yes |"
    assert row in section and section.count("\n| ") == 3  # the header, its rule and the one pair measured twice
    assert "over 1 pairs: latest / first geometric mean 0.900, GSD 1.000, range 0.900–0.900." in section
    # the rest of the report keeps the latest result of the pair
    assert "| vgg16.tv_in1k@224 |" in out.split("## Per model")[1].split("##")[0]
    assert "| 48.00 | 3." in out.split("## Per model")[1].split("| vgg16.tv_in1k@224 |")[1].split("\n")[0]


@pytest.mark.slow
def test_report_states_where_and_when_the_results_were_measured(tmp_path, monkeypatch, capsys):
    template = _template()
    rows = template[template["model"].isin(["tinynet_e.in1k", "regnetx_002.pycls_in1k"])].copy()
    rows["gpu_uuid"] = ["GPU-a", "GPU-b", "GPU-a", "GPU-a"]
    rows["finished_at"] = ["2026-11-28T10:00:00+00:00"] * 3 + ["2026-11-30T10:00:00+00:00"]
    data = tmp_path / "h200"
    data.mkdir()
    rows.to_csv(data / "summaries.csv", index=False)
    runs = {"gpu_name": "NVIDIA H200", "power_limit_w": 700.0, "driver": "580.1", "cuda": 13.0}
    pd.DataFrame([{**runs, "torch": "2.11.0", "timm": "1.0.29"}, {**runs, "torch": "2.12.0", "timm": "1.0.29"}]).to_csv(
        data / "runs.csv", index=False
    )

    progress = _report(data, monkeypatch, capsys).split("## Reduction")[0]
    assert "| boards (GPU UUIDs) with a result | 2 |" in progress
    assert "| driver / CUDA | 580.1 / 13.0 |" in progress
    assert "| torch / timm | 2.11.0, 2.12.0 / 1.0.29 |" in progress
    assert "| results finished | 2026-11-28 to 2026-11-30 |" in progress

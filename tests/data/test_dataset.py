"""The dataset view: shipped reference data merged with own results from a store and project CSVs."""

from __future__ import annotations

from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")

from joulebench.data import gpu_short_name, load_dataset  # noqa: E402
from joulebench.data.dataset import VIEW_ENERGY_COLUMNS, summaries_to_energy  # noqa: E402
from joulebench.data.gpu_names import BOARD_NAMES  # noqa: E402
from joulebench.errors import ConfigError  # noqa: E402


@pytest.fixture(scope="module")
def reference():
    return load_dataset(data=[], include_cache=False)


def _summary(**kw):
    from joulebench.store.records import ModelSummary

    base = dict(
        run_id="r1",
        model="resnet50.a1_in1k",
        img_size=224,
        runtime="torch-fp32",
        precision="fp32",
        gpu_name="NVIDIA H200",
        meter="sim",
        optimal_batch=256,
        max_batch=1024,
        energy_per_image_j=0.05,
        throughput_ips=4000.0,
        latency_mean_s=0.064,
        power_limit_w=700.0,
        status="ok",
    )
    base.update(kw)
    return ModelSummary(**base)


def _store_with(path: Path, *summaries):
    from joulebench.store import RunRecord, Store

    with Store(path) as store:
        runs = {s.run_id for s in summaries}
        for rid in sorted(runs):
            meter = next(s.meter for s in summaries if s.run_id == rid)
            store.add_run(RunRecord(run_id=rid, started_at="2026-01-01T00:00:00Z", meter=meter))
        for s in summaries:
            store.save_task([], s, [])
    return path


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("NVIDIA H200", "H200"),
        ("NVIDIA A100-PCIE-40GB", "A100"),
        ("NVIDIA H100 PCIe", "H100"),
        ("NVIDIA GeForce RTX 4090", "RTX4090"),
        ("Tesla V100-SXM2-16GB", "V100"),
        ("NVIDIA H100 80GB HBM3", "H100-SXM"),
        ("NVIDIA A100-SXM4-80GB", "A100-SXM"),
        ("nvidia h100 nvl", "H100-NVL"),
        (None, "unknown"),
    ],
)
def test_gpu_short_name(name, short):
    assert gpu_short_name(name) == short


def test_every_listed_board_is_reachable_and_apart_from_the_papers_gpus(reference):
    for board, short in BOARD_NAMES.items():
        assert gpu_short_name(f"NVIDIA {board}") == short  # the key is in the form the lookup builds
    assert not set(BOARD_NAMES.values()) & set(reference.energy["gpu"])


def test_reference_view_has_the_contract_columns(reference):
    assert list(reference.energy.columns) == list(VIEW_ENERGY_COLUMNS)
    assert list(reference.accuracy.columns) == ["model", "img_size", "testset", "top1", "top5", "source"]
    for c in ("model", "arch", "tag", "img_size", "type", "family", "year", "pretrain", "crop_pct", "interpolation",
              "license", "url", "params", "macs", "activations"):  # fmt: skip
        assert c in reference.catalogue.columns
    assert not reference.energy["simulated"].any()
    assert "A100:torch-fp32" in reference.setups()


def test_store_with_one_sim_summary_joins_as_joulebench_and_is_marked(tmp_path):
    db = _store_with(tmp_path / "jb.db", _summary())
    ds = load_dataset(db=db, data=[], include_cache=False)
    own = ds.energy[ds.energy["source"] == "joulebench"]
    assert len(own) == 1
    row = own.iloc[0]
    assert row["gpu"] == "H200" and row["meter"] == "sim" and bool(row["simulated"])
    assert row["setup"] == "H200:torch-fp32:sim"  # never equal to a real setup
    assert row["latency_s"] == pytest.approx(0.064) and row["batch_size"] == 256
    # reference rows are still there; the simulated row stands only for its own setup, never a real one
    assert (ds.energy["source"] == "hidden-joules-2025").sum() > 5000
    with pytest.raises(ConfigError, match="no energy data for setup 'H200:torch-fp32'"):
        ds.model_table(setup="H200:torch-fp32")
    table = ds.model_table(setup="H200:torch-fp32:sim")
    assert table["energy_per_image_j"].notna().sum() == 1


def test_real_own_result_compares_with_the_paper(tmp_path):
    db = _store_with(
        tmp_path / "jb.db",
        _summary(run_id="r2", meter="nvml", gpu_name="NVIDIA H100 PCIe", energy_per_image_j=0.07),
    )
    ds = load_dataset(db=db, data=[], include_cache=False)
    pairs = ds.compare("H100:torch-fp32", "H100:torch-fp32", source_a="hidden-joules-2025", source_b="joulebench")
    assert len(pairs) == 1
    p = pairs.iloc[0]
    paper = ds.energy[
        (ds.energy["model"] == "resnet50.a1_in1k")
        & (ds.energy["img_size"] == 224)
        & (ds.energy["setup"] == "H100:torch-fp32")
        & (ds.energy["source"] == "hidden-joules-2025")
    ]["energy_per_image_j"].iloc[0]
    assert p["energy_a_j"] == pytest.approx(paper)
    assert p["energy_ratio"] == pytest.approx(0.07 / paper)
    table = ds.model_table(setup="H100:torch-fp32")
    r = table[(table["model"] == "resnet50.a1_in1k") & (table["img_size"] == 224)].iloc[0]
    assert r["energy_source"] == "joulebench" and r["energy_per_image_j"] == pytest.approx(0.07)


def test_project_csv_export_is_included(tmp_path):
    rows = [_summary(meter="nvml", energy_per_image_j=0.04).to_dict(), _summary(model="vit_x", status="failed",
            energy_per_image_j=None, meter="nvml").to_dict()]  # fmt: skip
    d = tmp_path / "data"
    d.mkdir()
    pd.DataFrame(rows).to_csv(d / "h200.csv", index=False)
    ds = load_dataset(data=[d], include_cache=False)
    own = ds.energy[ds.energy["source"] == "joulebench"].set_index("model")
    assert own.loc["resnet50.a1_in1k", "setup"] == "H200:torch-fp32"
    assert own.loc["vit_x", "status"] == "failed"


def test_latest_result_wins_across_project_files_and_the_store(tmp_path):
    # folders are read in name order: the newer result sits in the file read first, and in the store
    d = tmp_path / "data"
    (d / "a-dataset").mkdir(parents=True)
    (d / "b-older-panel").mkdir()
    row = _summary(meter="nvml", energy_per_image_j=0.02, finished_at="2026-11-29T10:00:00+00:00").to_dict()
    pd.DataFrame([row]).to_csv(d / "a-dataset" / "summaries.csv", index=False)
    old = _summary(meter="nvml", energy_per_image_j=0.03, finished_at="2026-11-28T09:00:00+01:00").to_dict()
    pd.DataFrame([old]).to_csv(d / "b-older-panel" / "summaries.csv", index=False)

    def own(ds):
        e = ds.energy[(ds.energy["source"] == "joulebench") & (ds.energy["model"] == "resnet50.a1_in1k")]
        return list(e["energy_per_image_j"])

    assert own(load_dataset(data=[d], include_cache=False)) == [0.02]

    db = _store_with(tmp_path / "jb.db", _summary(meter="nvml", energy_per_image_j=0.01, finished_at="2026-11-28"))
    assert own(load_dataset(db=db, data=[d], include_cache=False)) == [0.02]  # the store's result is older


def test_malformed_project_csv_names_file_line_column(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    rows = [_summary(meter="nvml").to_dict(), _summary(model="b", meter="nvml").to_dict()]
    rows[1]["energy_per_image_j"] = "lots"
    pd.DataFrame(rows).to_csv(d / "bad.csv", index=False)
    with pytest.raises(ConfigError, match=r"bad.csv, line 3, column 'energy_per_image_j'"):
        load_dataset(data=[d], include_cache=False)
    pd.DataFrame(rows).drop(columns=["gpu_name"]).to_csv(d / "bad.csv", index=False)
    with pytest.raises(ConfigError, match=r"bad.csv, line 1: missing column\(s\) 'gpu_name'"):
        load_dataset(data=[d], include_cache=False)


def test_summaries_keep_latest_result():
    df = pd.DataFrame([
        _summary(energy_per_image_j=0.1, finished_at="2026-01-01", meter="nvml").to_dict(),
        _summary(energy_per_image_j=0.2, finished_at="2026-02-01", meter="nvml").to_dict(),
    ])  # fmt: skip
    e = summaries_to_energy(df)
    assert len(e) == 1 and e.iloc[0]["energy_per_image_j"] == 0.2


def test_a_failed_remeasurement_does_not_hide_the_latest_success():
    def row(model: str, status: str, day: int, energy: float | None) -> dict:
        return _summary(model=model, status=status, energy_per_image_j=energy, finished_at=f"2026-01-{day:02d}",
                        meter="nvml").to_dict()  # fmt: skip

    df = pd.DataFrame([
        row("a", "ok", 1, 0.1), row("a", "ok", 2, 0.2), row("a", "failed", 3, None),  # redo crashed: keep 0.2
        row("b", "failed", 1, None), row("b", "ok", 2, 0.3),  # crashed, then measured
        row("c", "failed", 1, None), row("c", "failed", 2, None),  # never measured: its latest failure shows
    ])  # fmt: skip
    e = summaries_to_energy(df.iloc[::-1])  # in any row order: finished_at decides
    e = e.set_index("model").sort_index()
    assert list(e.index) == ["a", "b", "c"] and list(e["status"]) == ["ok", "ok", "failed"]
    assert list(e["energy_per_image_j"][:2]) == [0.2, 0.3]


def test_unknown_model_suggests_closest(reference):
    with pytest.raises(ConfigError) as ei:
        reference.resolve("resnet50.a1_in1kk")
    assert "resnet50.a1_in1k" in str(ei.value)
    assert ("resnet50.a1_in1k", 224) in reference.resolve("resnet50.a1_in1k")


def test_unknown_setup_suggests_closest(reference):
    with pytest.raises(ConfigError, match="Did you mean A100:torch-fp32"):
        reference.compare("A100:torch-fp33", "H100:torch-fp32")


def test_project_data_is_searched_recursively_and_skips_other_csvs(tmp_path):
    d = tmp_path / "data" / "h200"
    d.mkdir(parents=True)
    pd.DataFrame([_summary(meter="nvml").to_dict()]).to_csv(d / "summaries.csv", index=False)
    pd.DataFrame([{"model": "x", "batch_size": 8, "energy_per_image_j": 1.0}]).to_csv(d / "batches.csv", index=False)
    ds = load_dataset(data=[tmp_path / "data"], include_cache=False)
    own = ds.energy[ds.energy["source"] == "joulebench"]
    assert list(own["setup"]) == ["H200:torch-fp32"]


def test_the_explorers_upload_names_boards_as_the_package_does():
    import re

    js = (Path(__file__).resolve().parents[2] / "src/joulebench/app/static/js/upload-csv.js").read_text()
    table = re.search(r"var BOARD_NAMES = \{(.*?)\};", js, flags=re.S)
    assert table, "upload-csv.js has no BOARD_NAMES table"
    assert dict(re.findall(r'"([^"]+)":\s*"([^"]+)"', table.group(1))) == BOARD_NAMES

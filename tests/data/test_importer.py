"""The reference importer: regenerating the shipped dataset, and clear errors for malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")

from joulebench.data import importer as I  # noqa: E402
from joulebench.errors import ConfigError  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
needs_reference = pytest.mark.skipif(
    not (REFERENCE / "paper-2025").is_dir(),
    reason=f"reference data not found at {REFERENCE.resolve()} (the repository is expected next to shared/)",
)


@needs_reference
def test_regenerated_dataset_equals_shipped_files(tmp_path):
    res = I.import_reference(REFERENCE, tmp_path)
    for name in ("energy", "accuracy", "throughput"):
        fresh = I.read_table(tmp_path / f"reference_{name}.csv.gz")
        shipped = I.read_table(I.PACKAGE_DATA / f"reference_{name}.csv.gz")
        pd.testing.assert_frame_equal(fresh, shipped, check_exact=True)
    assert (tmp_path / "reference_sources.json").read_text() == (I.PACKAGE_DATA / "reference_sources.json").read_text()
    e = res["energy"]
    assert list(e.columns[:13]) == [
        "model", "img_size", "gpu", "runtime", "precision", "setup", "source", "energy_per_image_j",
        "throughput_ips", "latency_s", "batch_size", "max_batch", "power_limit_w",
    ]  # fmt: skip
    assert set(e["setup"]) == {"A100:torch-fp32", "A100:tensorrt-fp16", "H100:torch-fp32", "H100:tensorrt-fp16"}
    assert set(e["source"]) == {"hidden-joules-2025"}
    assert not e.duplicated(["model", "img_size", "setup"]).any()
    assert set(res["accuracy"]["testset"]) == set(I.TESTSETS)


@needs_reference
def test_units_are_converted_once(tmp_path):
    res = I.import_reference(REFERENCE, False)
    raw = pd.read_csv(REFERENCE / "paper-2025" / "H100_TRT.csv")
    row = raw[raw["Model Name"] == "beit_base_patch16_224.in22k_ft_in22k_in1k"].iloc[0]
    e = res["energy"]
    got = e[(e["model"] == row["Model Name"]) & (e["setup"] == "H100:tensorrt-fp16")].iloc[0]
    assert got["energy_per_image_j"] == pytest.approx(row["Energy"] / 1000)  # mJ -> J
    assert got["latency_s"] == pytest.approx(row["Latency"] / 1000)  # ms -> s
    assert got["throughput_ips"] == pytest.approx(row["Throughput"])
    assert got["power_limit_w"] == 310
    failed = e[e["status"] == "failed"]
    assert len(failed) > 0 and failed["energy_per_image_j"].isna().all()


@needs_reference
def test_paper_names_are_mapped_to_current_tags():
    res = I.import_reference(REFERENCE, False)
    models = set(res["energy"]["model"])
    assert "tnt_s_legacy_patch16_224.in1k" in models and "tnt_s_patch16_224" not in models
    assert "mobilenet_edgetpu_v2_m" not in models


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_missing_column_names_file_line_and_column(tmp_path):
    p = _write(tmp_path / "x.csv", "Model Name,Input Size\nresnet50,224\n")
    with pytest.raises(ConfigError) as ei:
        I.read_csv_rows(p, ["Model Name", "Input Size", "Energy"])
    msg = str(ei.value)
    assert str(p) in msg and "line 1" in msg and "'Energy'" in msg


def test_malformed_number_names_file_line_and_column(tmp_path):
    header = "Type,Family,Model Name,Input Size,Accuracy,Max BS,Optimal BS,Throughput,Latency,Energy,DONE\n"
    good = "TBD,TBD,resnet50.a1_in1k,224,80.1,300,,2000.0,100.0,50.0,True\n"
    bad = "TBD,TBD,resnet18.a1_in1k,224,70.1,300,,2000.0,100.0,fifty,True\n"
    folder = tmp_path / "paper-2025"
    for s in I.PAPER_SETUPS:
        _write(folder / s.file, header + good)
    _write(folder / "A100_TRT.csv", header + good + bad)
    with pytest.raises(ConfigError) as ei:
        I.read_paper_energy(folder)
    msg = str(ei.value)
    assert "A100_TRT.csv" in msg and "line 3" in msg and "'Energy'" in msg and "fifty" in msg


def test_wrong_field_count_names_line(tmp_path):
    p = _write(tmp_path / "results-imagenet.csv", "model,img_size,top1,top5\nresnet50.a1_in1k,224,80.1\n")
    with pytest.raises(ConfigError, match=r"line 2, column 'top5': expected 4 fields, found 3"):
        I.read_csv_rows(p, ["model", "img_size", "top1", "top5"])


def test_bad_input_size_names_line_and_column(tmp_path):
    body = "model,img_size,top1,top5\nresnet50.a1_in1k,-3,80.1,95\n"
    for suffix in I.TIMM_TESTSETS:
        _write(tmp_path / f"results-{suffix}.csv", body)
    with pytest.raises(ConfigError, match=r"results-imagenet.csv, line 2, column 'img_size'"):
        I.read_timm_results(tmp_path)


def test_missing_folder_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="joulebench data import DIR"):
        I.import_reference(tmp_path, False)


def test_benchmark_file_names():
    c = I.parse_benchmark_name("benchmark-infer-amp-nchw-pt291-cu130-5090-dynamo.csv")
    assert c["setup"] == "RTX5090:compile-amp-fp16" and c["torch_version"] == "2.9.1" and c["cuda_version"] == "13.0"
    c = I.parse_benchmark_name("benchmark-infer-amp-nchw-pt291-cu128-4090.csv")
    assert c["setup"] == "RTX4090:torch-amp-fp16"
    with pytest.raises(ConfigError, match="not a timm benchmark file name"):
        I.parse_benchmark_name("benchmark-foo.csv")

"""Bundles: export a store, import it into another, checks refuse what is tampered with or inconsistent."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factories import run, task
from joulebench.cli import app
from joulebench.errors import ConfigError
from joulebench.meters.base import WindowResult
from joulebench.store import Store
from joulebench.store.bundle import import_bundle, read_tables, write_bundle
from joulebench.store.export import export_table

TABLES = ("runs", "summaries", "measurements", "failures", "windows")
ROOT = Path(__file__).resolve().parents[2]


def consistent_task(**kw):
    """A task whose energy per image is its average power over its throughput, as a measured one's is."""
    ms, summary, failures = task(**kw)
    ms = [
        dataclasses.replace(m, avg_power_w=m.energy_per_image_j * m.throughput_ips, ci95_rel=0.004 * (i + 1))
        for i, m in enumerate(ms)
    ]
    summary = dataclasses.replace(
        summary, avg_power_w=summary.energy_per_image_j * summary.throughput_ips, ci95_rel=ms[-1].ci95_rel
    )
    return ms, summary, failures


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "source.db"
    with Store(path) as s:
        s.add_run(run())
        s.add_run(run("run2", meter="sim", gpu="NVIDIA A100", uuid="GPU-b"))
        s.save_task(*consistent_task(model="resnet50.a1_in1k"))
        s.save_task(*consistent_task(model="resnet18.a1_in1k", runtime="torch-fp16", batches=(2, 4)))
        s.save_task(*consistent_task(run_id="run2", model="vit_tiny.augreg_in21k", meter="sim", gpu=None, uuid=None))
        s.finish_run("run1")
        window = WindowResult("nvml", "counter", 42.0, 2.0, counter_energy_j=42.0, sampled_energy_j=40.0)
        s.save_window(run("win"), "python train.py", window, 0)
    return path


def _rows(path):
    with Store.open_readonly(path) as s:
        return {t: s.rows(t) for t in TABLES}


@pytest.mark.parametrize("name", ["runs.zip", "runs-folder/"])
def test_round_trip_into_an_empty_store_gives_identical_rows(source, tmp_path, name):
    bundle = str(tmp_path / name)
    with Store.open_readonly(source) as s:
        manifest = write_bundle(s, bundle)
    assert manifest["files"]["summaries.csv"]["rows"] == 3
    with Store(tmp_path / "empty.db") as target:
        report = import_bundle(target, bundle)
    assert report.kind == "bundle" and report.written
    assert report.added == {"runs": 3, "summaries": 3, "measurements": 8, "failures": 3, "windows": 1}
    assert _rows(tmp_path / "empty.db") == _rows(source)


def test_importing_again_recognises_every_row_as_stored(source, tmp_path):
    bundle = tmp_path / "b.zip"
    with Store.open_readonly(source) as s:
        write_bundle(s, bundle)
    with Store(source) as target:
        report = import_bundle(target, bundle)
    assert sum(report.added.values()) == 0 and not report.written and not report.conflicts
    assert report.duplicates["measurements"] == 8 and report.duplicates["runs"] == 3
    assert _rows(source)["measurements"] == _rows(source)["measurements"]


def _rewrite_zip(path, change):
    with zipfile.ZipFile(path) as z:
        files = {i.filename: z.read(i) for i in z.infolist()}
    change(files)
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)


def _bundle(source, tmp_path):
    bundle = tmp_path / "b.zip"
    with Store.open_readonly(source) as s:
        write_bundle(s, bundle)
    return bundle


def _edit_energy(files):
    text = files["summaries.csv"].decode()
    lines = text.splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    i = header.index("energy_per_image_j")
    cells[i] = str(float(cells[i]) / 2)  # halve a result: the kind of edit a checksum must catch
    files["summaries.csv"] = "\n".join([lines[0], ",".join(cells), *lines[2:]]).encode() + b"\n"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_edit_energy, "checksum of summaries.csv does not match"),
        (lambda f: f.update({"extra.csv": b"model\nx\n"}), "not in its manifest: extra.csv"),
        (lambda f: f.pop("failures.csv"), "missing failures.csv"),
    ],
)
def test_a_tampered_bundle_is_refused_and_nothing_is_imported(source, tmp_path, change, message):
    bundle = _bundle(source, tmp_path)
    _rewrite_zip(bundle, change)
    with Store(tmp_path / "t.db") as target:
        with pytest.raises(ConfigError, match=message):
            import_bundle(target, bundle)
        assert target.count("summaries") == 0 and target.count("runs") == 0


def test_a_bundle_of_a_newer_schema_is_refused(source, tmp_path):
    bundle = _bundle(source, tmp_path)

    def newer(files):
        manifest = json.loads(files["manifest.json"])
        manifest["schema_version"] += 1
        files["manifest.json"] = json.dumps(manifest).encode()

    _rewrite_zip(bundle, newer)
    with Store(tmp_path / "t.db") as target, pytest.raises(ConfigError, match="newer joulebench"):
        import_bundle(target, bundle)


def test_energy_inconsistent_with_power_and_throughput_is_refused(tmp_path):
    src = tmp_path / "src.db"
    with Store(src) as s:
        s.add_run(run())
        s.save_task(*task())  # the helper's energy per image is not its power over its throughput
    bundle = _bundle(src, tmp_path)  # a bundle freshly written: checksums fine, figures not
    with Store(tmp_path / "t.db") as target, pytest.raises(ConfigError, match="is not average power / throughput"):
        import_bundle(target, bundle)


def test_a_window_whose_energy_is_not_its_meter_reading_is_refused(tmp_path):
    src = tmp_path / "src.db"
    with Store(src) as s:
        s.save_window(run("win"), "x", WindowResult("nvml", "counter", 42.0, 2.0, counter_energy_j=30.0), 0)
    with Store(tmp_path / "t.db") as target, pytest.raises(ConfigError, match="not the counter energy 30"):
        import_bundle(target, _bundle(src, tmp_path))


def test_a_conflicting_row_is_reported_and_never_overwrites(source, tmp_path):
    bundle = _bundle(source, tmp_path)
    target_path = tmp_path / "t.db"
    with Store(target_path) as target:
        target.add_run(run())
        ms, summary, failures = consistent_task(model="resnet50.a1_in1k")
        summary = dataclasses.replace(summary, optimal_batch=8, latency_mean_s=0.07)  # measured otherwise here
        target.save_task(ms, summary, failures)
    before = _rows(target_path)
    with Store(target_path) as target, pytest.raises(ConfigError, match=r"2 row\(s\) .* conflict") as e:
        import_bundle(target, bundle)
    assert "summaries (run_id=run1, model=resnet50.a1_in1k, img_size=224, runtime=torch-fp32)" in str(e.value)
    assert "optimal_batch, latency_mean_s differ" in str(e.value)
    assert "runs (run_id=run1): finished_at, status differ" in str(e.value)  # still running here, finished there
    assert _rows(target_path) == before  # nothing imported
    with Store(target_path) as target:
        report = import_bundle(target, bundle, skip_conflicts=True)
    assert [c.table for c in report.conflicts] == ["summaries", "runs"]
    after = _rows(target_path)
    mine = [r for r in after["summaries"] if r["model"] == "resnet50.a1_in1k"]
    assert len(mine) == 1 and mine[0]["optimal_batch"] == 8  # the stored rows kept
    assert [r["status"] for r in after["runs"] if r["run_id"] == "run1"] == ["running"]
    assert len(after["summaries"]) == 3 and len(after["runs"]) == 3


def test_an_export_without_its_runs_lacks_provenance(source, tmp_path):
    out = tmp_path / "summaries.csv"
    with Store.open_readonly(source) as s:
        export_table(s, out)
    with Store(tmp_path / "t.db") as target, pytest.raises(ConfigError, match="provenance is missing"):
        import_bundle(target, out)
    # into a store that holds the runs, the same export's rows are recognised (run facts filled in by export)
    with Store(source) as s:
        report = import_bundle(s, out)
    assert report.kind == "export" and report.duplicates == {"summaries": 3} and not report.conflicts


@pytest.mark.slow
def test_the_h200_dataset_export_resumes_in_an_empty_store(tmp_path):
    data = ROOT / "data/h200/dataset"
    tables = read_tables(data)
    with Store(tmp_path / "fresh.db") as target:
        import_bundle(target, data)
        done = target.done_keys(None, meter="nvml", gpu_name="NVIDIA H200")
        ok = {(r["model"], r["img_size"], r["runtime"]) for r in tables.rows["summaries"] if r["status"] == "ok"}
        assert done == ok and len({(m, s) for m, s, _ in done}) == 156


def test_cli_export_bundle_then_import(source, tmp_path):
    runner = CliRunner()
    bundle = tmp_path / "b.zip"
    r = runner.invoke(app, ["export", "--bundle", str(bundle), "--db", str(source)])
    assert r.exit_code == 0, r.output
    assert hashlib.sha256(bundle.read_bytes()).hexdigest()  # written
    target = tmp_path / "t.db"
    r = runner.invoke(app, ["import", str(bundle), "--db", str(target), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["added"]["summaries"] == 3
    assert _rows(target) == _rows(source)
    r = runner.invoke(app, ["import", str(bundle), "--db", str(target)])
    assert r.exit_code == 0 and "imported 0 row(s)" in r.output and "skipped 18 row(s) already stored" in r.output


def test_cli_refuses_an_output_file_with_bundle(source, tmp_path):
    r = CliRunner().invoke(
        app, ["export", str(tmp_path / "x.csv"), "--bundle", str(tmp_path / "b.zip"), "--db", str(source)]
    )
    assert r.exit_code != 0 and not (tmp_path / "b.zip").exists()


def test_a_schema_2_bundle_gets_each_summarys_ci_from_its_chosen_batch(source, tmp_path):
    bundle = _bundle(source, tmp_path)
    with Store.open_readonly(source) as s:
        want = {r["model"]: r["ci95_rel"] for r in s.summaries()}

    def as_schema_2(files):  # summaries without ci95_rel, manifest and checksums as schema 2 wrote them
        lines = files["summaries.csv"].decode().splitlines()
        i = lines[0].split(",").index("ci95_rel")
        files["summaries.csv"] = ("\n".join(",".join(c for j, c in enumerate(line.split(",")) if j != i)
                                            for line in lines) + "\n").encode()  # fmt: skip
        manifest = json.loads(files["manifest.json"])
        manifest["schema_version"] = 2
        manifest["files"]["summaries.csv"]["sha256"] = hashlib.sha256(files["summaries.csv"]).hexdigest()
        files["manifest.json"] = json.dumps(manifest).encode()

    _rewrite_zip(bundle, as_schema_2)
    with Store(tmp_path / "t.db") as target:
        import_bundle(target, bundle)
        got = {r["model"]: r["ci95_rel"] for r in target.summaries()}
    assert got == want and all(v is not None for v in want.values())


def test_a_bundle_named_in_joulebench_data_joins_the_dataset_view(source, tmp_path, monkeypatch):
    from joulebench.data import load_dataset

    bundle = _bundle(source, tmp_path)
    monkeypatch.setenv("JOULEBENCH_DATA", str(bundle))
    e = load_dataset(include_cache=False).energy
    own = e[(e.source == "joulebench") & (e.setup == "H200:torch-fp16")]
    assert list(own.model) == ["resnet18.a1_in1k"] and own.ci95_rel.iloc[0] == pytest.approx(0.008)


def test_a_filtered_bundle_holds_the_matching_rows_and_only_their_runs(source, tmp_path):
    bundle = tmp_path / "b.zip"
    with Store.open_readonly(source) as s:
        write_bundle(s, bundle, model="resnet*")
    tables = read_tables(bundle).rows
    assert sorted(r["model"] for r in tables["summaries"]) == ["resnet18.a1_in1k", "resnet50.a1_in1k"]
    assert [r["run_id"] for r in tables["runs"]] == ["run1"] and tables["windows"] == []
    with Store(tmp_path / "t.db") as target:
        assert import_bundle(target, bundle).added["measurements"] == 5


def test_a_dry_run_into_a_missing_store_writes_nothing(source, tmp_path):
    target = tmp_path / "none.db"
    r = CliRunner().invoke(app, ["import", str(_bundle(source, tmp_path)), "--db", str(target), "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "would import 18 row(s)" in " ".join(r.output.split()) and not target.exists()


def test_cli_writes_a_bundle_folder_when_the_name_ends_with_a_slash(source, tmp_path):
    folder = tmp_path / "new" / "bundle"
    r = CliRunner().invoke(app, ["export", "--bundle", f"{folder}/", "--db", str(source)])
    assert r.exit_code == 0, r.output
    assert (folder / "manifest.json").is_file() and (folder / "summaries.csv").is_file()
    assert read_tables(folder).kind == "bundle"


def test_a_parquet_export_is_refused_with_what_import_reads(source, tmp_path):
    out = tmp_path / "s.parquet"
    out.write_bytes(b"PAR1 not really")
    with Store(tmp_path / "t.db") as target, pytest.raises(ConfigError, match="import reads bundles and CSV exports"):
        import_bundle(target, out)

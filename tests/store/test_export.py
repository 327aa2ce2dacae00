"""CSV and Parquet exports read back with pandas equal what the store holds."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import sys

import pandas as pd
import pytest

from factories import full, run, task
from joulebench.errors import ConfigError, MissingDependencyError
from joulebench.meters.base import Sample, WindowResult
from joulebench.store import BatchMeasurement, ModelSummary, Store
from joulebench.store.export import EXPLORER_COLUMNS, export_columns, export_table, format_from_path

TABLES = ("summaries", "measurements", "failures", "runs", "windows")


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "r.db") as s:
        s.add_run(run())
        s.add_run(run("run2", meter="sim", gpu="NVIDIA A100", uuid="GPU-b"))
        s.save_task(
            [full(BatchMeasurement, run_id="run1", model="a.x", img_size=224, runtime="torch-fp32")],
            full(ModelSummary, run_id="run1", model="a.x", img_size=224, runtime="torch-fp32", throttled=False),
            [],
        )
        s.save_task(*task(model="b.x"))
        ms, summary, failures = task(run_id="run2", model="c.x", meter="sim", gpu=None, uuid=None)
        s.save_task(ms, dataclasses.replace(summary, energy_per_image_j=1 / 3), failures)
        w = WindowResult("sim", "simulated", 10.0, 2.0, idle_power_w=1.0, trace=(Sample(0.0, 0, 5.0),))
        s.save_window(run("win"), "sleep 2", w, 0)
        yield s


def _expected(store, table):
    """The store's rows with run facts filled in and JSON columns as text, as the export promises."""
    rows = store.rows(table)
    runs = {r["run_id"]: r for r in store.runs()}
    for r in rows:
        for c in ("gpu_name", "gpu_uuid", "meter", "power_limit_w"):
            if table != "runs" and c in r and r[c] is None:
                r[c] = runs[r["run_id"]][c]
        for c in ("provenance", "config", "trace_summary", "devices"):
            if c in r:
                r[c] = json.dumps(r[c], sort_keys=True)
    return pd.DataFrame.from_records(rows, columns=export_columns(table))


def _same(got: pd.DataFrame, want: pd.DataFrame):
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for c in want.columns:
        for g, w in zip(got[c].tolist(), want[c].tolist(), strict=True):
            if w is None or (isinstance(w, float) and w != w):
                assert g is None or pd.isna(g), c
            elif isinstance(w, float):
                assert float(g) == w, c  # exact: floats are written with full precision
            elif isinstance(w, bool):
                assert bool(g) is w, c
            else:
                assert type(w)(g) == w, c


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("name", ["out.csv", "out.csv.gz", "out.parquet"])
def test_export_reads_back_equal(store, tmp_path, table, name):
    out = tmp_path / name
    n = export_table(store, out, table=table)
    got = pd.read_parquet(out) if name.endswith(".parquet") else pd.read_csv(out)
    want = _expected(store, table)
    assert n == len(want) > 0
    _same(got, want)


def test_summaries_export_starts_with_the_explorer_columns(store, tmp_path):
    out = tmp_path / "mine.csv"
    export_table(store, out)
    df = pd.read_csv(out)
    assert (
        tuple(df.columns[: len(EXPLORER_COLUMNS)])
        == EXPLORER_COLUMNS
        == (
            "model",
            "img_size",
            "gpu_name",
            "runtime",
            "precision",
            "energy_per_image_j",
            "throughput_ips",
            "latency_mean_s",
            "optimal_batch",
            "meter",
        )
    )
    c = df[df.model == "c.x"].iloc[0]
    assert c.gpu_name == "NVIDIA A100" and c.meter == "sim"  # filled in from the run
    assert c.energy_per_image_j == 1 / 3


def test_parquet_has_typed_columns_and_metadata(store, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "s.parquet"
    export_table(store, out)
    t = pq.read_table(out)
    assert str(t.schema.field("img_size").type) == "int64"
    assert str(t.schema.field("energy_per_image_j").type) == "double"
    assert str(t.schema.field("throttled").type) == "bool"
    assert str(t.schema.field("error").type) == "string"
    meta = {k.decode(): v.decode() for k, v in t.schema.metadata.items()}
    assert meta["joulebench.table"] == "summaries" and meta["joulebench.schema_version"] == "4"


def test_parquet_without_pyarrow_names_the_extra(store, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingDependencyError, match=r"Parquet.*pip install 'joulebench\[analysis\]'"):
        export_table(store, tmp_path / "s.parquet")
    assert not (tmp_path / "s.parquet").exists()


def test_filters_apply_to_exports(store, tmp_path):
    out = tmp_path / "f.csv"
    assert export_table(store, out, model="b*") == 1
    assert pd.read_csv(out).model.tolist() == ["b.x"]
    assert export_table(store, out, table="measurements", meter="sim") == 3
    assert set(pd.read_csv(out).model) == {"c.x"}


def test_empty_export_keeps_the_header(store, tmp_path):
    out = tmp_path / "none.csv"
    assert export_table(store, out, model="zzz*") == 0
    assert list(pd.read_csv(out).columns) == export_columns("summaries")


def test_export_gets_the_umask_mode_not_a_private_one(store, tmp_path):
    old = os.umask(0o022)
    try:
        export_table(store, tmp_path / "s.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "s.csv").stat().st_mode) == 0o644


def test_explicit_format_beats_the_extension(store, tmp_path):
    out = tmp_path / "data.bin"
    export_table(store, out, fmt="parquet")
    assert len(pd.read_parquet(out)) == 3


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.csv", "csv"), ("A.CSV", "csv"), ("a.csv.gz", "csv"), ("a.parquet", "parquet"), ("a.pq", "parquet")],
)
def test_format_from_path(name, fmt):
    assert format_from_path(name) == fmt


def test_unknown_format_is_a_config_error(store, tmp_path):
    with pytest.raises(ConfigError, match="cannot tell the export format from .*--format"):
        export_table(store, tmp_path / "a.xlsx")
    with pytest.raises(ConfigError, match="unknown export format 'xml'"):
        export_table(store, tmp_path / "a.csv", fmt="xml")
    with pytest.raises(ConfigError, match="unknown table"):
        export_table(store, tmp_path / "a.csv", table="nope")
    assert list(tmp_path.glob("a.*")) == []


def test_failed_export_leaves_no_partial_file(store, tmp_path, monkeypatch):
    out = tmp_path / "keep.csv"
    out.write_text("old contents\n")
    import joulebench.store.export as export_mod

    def boom(*a, **k):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(export_mod.os, "replace", boom)
    with pytest.raises(RuntimeError):
        export_table(store, out)
    assert out.read_text() == "old contents\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".keep")] == []

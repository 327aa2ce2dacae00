"""Export tables of the results store to CSV or Parquet, with SI units in the column names.

The summaries export starts with the columns the web explorer's "load your own results" reads
(:data:`EXPLORER_COLUMNS`). JSON columns (provenance, config, trace summaries) are written as JSON text.
Files are written to a temporary name and renamed, so a failed export never leaves half a file.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from joulebench.errors import ConfigError, MissingDependencyError, StoreError
from joulebench.store import schema
from joulebench.store.db import Store

#: Columns the web explorer needs from a results CSV, in this order at the start of the summaries export.
EXPLORER_COLUMNS = (
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

#: File name endings -> export format.
FORMATS = {".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet", ".pq": "parquet"}

# Row columns that a row may leave empty and its run knows (a summary saved without its GPU name).
_FROM_RUN = ("gpu_name", "gpu_uuid", "meter", "power_limit_w")


def format_from_path(path: str | Path) -> str:
    """The export format implied by a file name (``.csv``, ``.csv.gz``, ``.parquet``, ``.pq``).

    Raises:
        ConfigError: If the ending is none of those.
    """
    name = str(path).lower()
    for ending, fmt in sorted(FORMATS.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(ending):
            return fmt
    raise ConfigError(
        f"cannot tell the export format from '{path}': name the file .csv, .csv.gz or .parquet, "
        "or pass --format csv|parquet"
    )


def export_columns(table: str) -> list[str]:
    """Columns of an export of ``table`` in order (the explorer's columns first for summaries)."""
    cols = Store.columns(table)
    if table == "summaries":
        cols = list(EXPLORER_COLUMNS) + [c for c in cols if c not in EXPLORER_COLUMNS]
    return cols


def export_rows(store: Store, table: str = "summaries", **filters: Any) -> list[dict[str, Any]]:
    """Rows of ``table`` ready to write: run facts filled in where a row lacks them, JSON columns as text."""
    rows = store.rows(table, **filters)
    own = set(Store.columns(table))
    fill = [c for c in _FROM_RUN if c in own] if table != "runs" else []
    if fill and rows:
        runs = {r["run_id"]: r for r in store.runs()}
        for row in rows:
            run = runs.get(row["run_id"], {})
            for c in fill:
                if row[c] is None:
                    row[c] = run.get(c)
    cols = export_columns(table)
    json_cols = schema.JSON_COLUMNS[table]
    out = []
    for row in rows:
        for c in json_cols:
            row[c] = None if row[c] is None else json.dumps(row[c], sort_keys=True)
        out.append({c: row[c] for c in cols})
    return out


def export_table(
    store: Store, out: str | Path, table: str = "summaries", fmt: str | None = None, **filters: Any
) -> int:
    """Write ``table`` (filtered like :meth:`Store.rows`) to ``out`` as CSV or Parquet.

    Args:
        store: An open store.
        out: Output file; its directory is created if missing.
        table: One of ``summaries``, ``measurements``, ``failures``, ``runs``, ``windows``.
        fmt: ``csv`` or ``parquet``; None = from the file name.
        **filters: See :data:`joulebench.store.reads.FILTERS`.

    Returns:
        The number of rows written.

    Raises:
        ConfigError: Unknown table, format or filter.
        StoreError: The output cannot be written.
        MissingDependencyError: Parquet without pyarrow.
    """
    out = Path(out)
    data, n = export_bytes(store, table, fmt or format_from_path(out), gz=str(out).lower().endswith(".gz"), **filters)
    _write_atomic(out, data)
    return n


def export_bytes(store: Store, table: str, fmt: str, gz: bool = False, **filters: Any) -> tuple[bytes, int]:
    """``table`` as the bytes of a CSV (gzipped when ``gz``) or Parquet file, and its number of rows.

    Raises:
        ConfigError: Unknown table, format or filter.
        MissingDependencyError: Parquet without pyarrow.
    """
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"unknown export format '{fmt}': use csv or parquet")
    rows = export_rows(store, table, **filters)
    cols = export_columns(table)
    data = _csv_bytes(rows, cols, gz=gz) if fmt == "csv" else _parquet_bytes(rows, table)
    return data, len(rows)


def _csv_bytes(rows: list[dict[str, Any]], cols: list[str], gz: bool) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for row in rows:
        # repr-exact floats; None as an empty cell (read back as NaN/missing by pandas)
        writer.writerow(["" if row[c] is None else row[c] for c in cols])
    data = buf.getvalue().encode("utf-8")
    return gzip.compress(data, mtime=0) if gz else data


def _parquet_bytes(rows: list[dict[str, Any]], table: str) -> bytes:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingDependencyError("pyarrow", "analysis", "exporting Parquet") from None
    from joulebench import __version__

    types = dict(schema.TABLE_COLUMNS[table])
    bools = schema.BOOL_COLUMNS[table]

    def arrow_type(col: str):
        if col in bools:
            return pa.bool_()
        return {"INTEGER": pa.int64(), "REAL": pa.float64(), "TEXT": pa.string()}[types[col]]

    cols = export_columns(table)
    arrow_schema = pa.schema(
        [pa.field(c, arrow_type(c)) for c in cols],
        metadata={
            "joulebench.table": table,
            "joulebench.schema_version": str(schema.SCHEMA_VERSION),
            "joulebench.version": __version__,
        },
    )
    arrow = pa.Table.from_pydict({c: [r[c] for r in rows] for c in cols}, schema=arrow_schema)
    sink = pa.BufferOutputStream()
    pq.write_table(arrow, sink)
    return sink.getvalue().to_pybytes()


def _write_atomic(out: Path, data: bytes) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    except OSError as e:
        raise StoreError(f"cannot write {out} ({e.strerror or e}): pick a writable path") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        # mkstemp makes the file private (0600); an export is an ordinary file, so it gets the umask's mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, out)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise StoreError(f"cannot write {out} ({e.strerror or e}): pick a writable path") from None
        raise

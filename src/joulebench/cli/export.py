"""``joulebench export``: write a table of the results database to CSV or Parquet."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from joulebench.cli.display import err_console
from joulebench.cli.loading import open_store
from joulebench.cli.options import (
    DbOpt,
    GpuFilterOpt,
    MeterFilterOpt,
    ModelFilterOpt,
    RunFilterOpt,
    RuntimeFilterOpt,
    StatusFilterOpt,
    writable_file,
)


def export(
    out_arg: Path | None = typer.Argument(
        None, metavar="OUT", help="Output file: .csv, .csv.gz or .parquet; - for standard output (as --out)."
    ),
    out_opt: Path | None = typer.Option(
        None, "--out", "-o", help="Output file: .csv, .csv.gz or .parquet; - for standard output (CSV)."
    ),
    table: str = typer.Option("summaries", "--table", "-t", help="summaries, measurements, failures, runs or windows."),
    fmt: str | None = typer.Option(None, "--format", "-f", help="csv or parquet (default: from OUT's extension)."),
    db: Path | None = DbOpt,
    model: str | None = ModelFilterOpt,
    runtime: str | None = RuntimeFilterOpt,
    gpu: str | None = GpuFilterOpt,
    meter: str | None = MeterFilterOpt,
    status: str | None = StatusFilterOpt,
    run: str | None = RunFilterOpt,
    bundle: str | None = typer.Option(  # str: a Path would drop the trailing / that asks for a folder
        None,
        "--bundle",
        help="Write every table (runs with provenance, summaries, batches, failures, windows) to one checksummed,"
        " versioned zip archive (a folder if FILE ends with /) that `joulebench import` merges into another store.",
    ),
) -> None:
    """Export a table of the results database to CSV or Parquet, with SI units in the column names.

    The summaries export starts with model, img_size, gpu_name, runtime, precision, energy_per_image_j,
    throughput_ips, latency_mean_s, optimal_batch, meter: the columns the web explorer loads.
    """
    from joulebench.errors import ConfigError

    if out_arg is not None and out_opt is not None:
        raise ConfigError("name the output file once: as --out FILE or as the argument, not both")
    out = out_opt if out_opt is not None else out_arg
    filters = {"model": model, "runtime": runtime, "gpu": gpu, "meter": meter, "status": status, "run_id": run}
    filters = {k: v for k, v in filters.items() if v is not None}
    if bundle is not None:
        if out is not None:
            raise ConfigError("--bundle writes every table to its own file: drop the output file, or drop --bundle")
        _export_bundle(db, bundle, filters)
        return
    if out is None:
        raise ConfigError("name the output file (`joulebench export --out results.csv`), or pass --bundle FILE")
    writable_file(out, "--out", make_folder=True)
    n = _export_table(db, out, table, fmt, filters)
    err_console().print(
        f"wrote {n} {table} row{'s' if n != 1 else ''} to {'standard output' if str(out) == '-' else out}"
    )


def _export_table(db: Path | None, out: Path, table: str, fmt: str | None, filters: dict[str, Any]) -> int:
    """Write ``table`` to ``out`` (``-``: standard output, CSV unless --format says otherwise); its row count."""
    from joulebench.store.export import export_bytes, export_table

    with open_store(db) as store:
        if str(out) != "-":
            return export_table(store, out, table=table, fmt=fmt, **filters)
        data, n = export_bytes(store, table, fmt or "csv", **filters)
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return n


def _export_bundle(db: Path | None, bundle: str, filters: dict[str, Any]) -> None:
    from joulebench.store.bundle import write_bundle

    with open_store(db) as store:
        manifest = write_bundle(store, bundle, **filters)
    counts = ", ".join(f"{e['rows']} {e['table']}" for e in manifest["files"].values())
    err_console().print(f"wrote the bundle {bundle} ({counts}; schema version {manifest['schema_version']})")


def register(app: typer.Typer) -> None:
    """Add ``export`` to the CLI."""
    app.command("export")(export)

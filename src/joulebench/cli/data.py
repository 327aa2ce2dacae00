"""``joulebench data``: import the reference data, rebuild the catalogue, and list what the dataset holds."""

from __future__ import annotations

from pathlib import Path

import typer

from joulebench.cli import loading
from joulebench.cli.display import console, emit_json, err_console
from joulebench.cli.options import DbOpt, JsonOpt
from joulebench.errors import ConfigError

DEFAULT_REFERENCE = Path("..") / "shared" / "reference"


def _reference_dir(src: Path | None) -> Path:
    if src is not None:
        return Path(src)
    for cand in (DEFAULT_REFERENCE, Path("/work/shared/reference")):
        if cand.is_dir():
            return cand
    raise ConfigError(
        f"no reference folder at {DEFAULT_REFERENCE.resolve()}: pass its path, e.g. `joulebench data import DIR`"
    )


def _import_cmd(
    src: Path | None = typer.Argument(None, help="Reference folder (default ../shared/reference)."),
    out: Path | None = typer.Option(None, "--out", help="Output folder (default: the package's data folder)."),
    json_out: bool = JsonOpt,
) -> None:
    """Normalise the published reference CSVs (paper 2025, timm) into joulebench's dataset files."""
    from joulebench.data.importer import import_reference
    from joulebench.models.catalogue import SHIPPED_CATALOGUE

    known = None
    if SHIPPED_CATALOGUE.exists():
        import pandas as pd

        known = set(pd.read_csv(SHIPPED_CATALOGUE, usecols=["model"])["model"])
    res = import_reference(_reference_dir(src), out, known_models=known)
    summary = {
        "energy_rows": len(res["energy"]),
        "energy_failed_rows": int((res["energy"]["status"] == "failed").sum()),
        "accuracy_rows": len(res["accuracy"]),
        "throughput_rows": len(res["throughput"]),
        "files": [str(p) for p in res["files"]],
        "renamed": res["sources"]["renamed"],
        "dropped": res["sources"]["dropped"],
        "unmatched": res["sources"]["unmatched"],
    }
    if json_out:
        emit_json(summary)
        return
    c = console()
    c.print(
        f"energy: {summary['energy_rows']} rows ({summary['energy_failed_rows']} failed runs kept as status=failed); "
        f"accuracy: {summary['accuracy_rows']}; throughput: {summary['throughput_rows']}"
    )
    for name, r in summary["renamed"].items():
        c.print(f"renamed {name} -> {r['to']}")
    for note in summary["dropped"]:
        c.print(f"dropped {note}")
    if summary["unmatched"]:
        c.print(f"[yellow]not in the catalogue:[/] {', '.join(summary['unmatched'])}")
    for f in summary["files"]:
        c.print(f"wrote {f}")


def _catalogue_cmd(
    src: Path | None = typer.Argument(None, help="Reference folder, for timm's pretraining metadata."),
    out: Path | None = typer.Option(None, "--out", help="Output file (default: the package's catalogue.csv.gz)."),
) -> None:
    """Rebuild the catalogue from the installed timm (type, family, year, pretraining, stats)."""
    from joulebench.data.importer import write_table
    from joulebench.models.catalogue import SHIPPED_CATALOGUE, build_catalogue

    try:
        ref = _reference_dir(src)
    except ConfigError:
        ref = None
        err_console().print("no reference folder: pretraining data comes from the tags only")
    df = build_catalogue(ref)
    dest = Path(out) if out is not None else SHIPPED_CATALOGUE
    write_table(df, dest)
    missing = int(df["macs"].isna().sum())
    console().print(f"wrote {dest}: {len(df)} configurations, {missing} without stats (run `joulebench stats`)")


def _info_cmd(json_out: bool = JsonOpt, db: Path | None = DbOpt) -> None:
    """What the dataset holds: setups with energy data per source, test sets, sources and licences."""
    ds = loading.load(db)
    e = ds.energy
    per = (
        e.groupby(["setup", "source", "status"]).size().unstack("status", fill_value=0).reset_index()
        if len(e)
        else None
    )
    setups = [] if per is None else per.to_dict("records")
    info = {
        "setups": setups,
        "catalogue_configurations": len(ds.catalogue),
        "accuracy_testsets": sorted(ds.accuracy["testset"].unique()) if len(ds.accuracy) else [],
        "throughput_setups": sorted(ds.throughput["setup"].unique()) if len(ds.throughput) else [],
        "sources": {k: v for k, v in ds.sources.items() if k in ("hidden-joules-2025", "timm")},
    }
    if json_out:
        emit_json(info)
        return
    from rich.table import Table

    t = Table(title="energy data per setup")
    for c in ("setup", "source", "ok", "failed"):
        t.add_column(c)
    for r in setups:
        t.add_row(r["setup"], r["source"], str(r.get("ok", 0)), str(r.get("failed", 0)))
    c = console()
    c.print(t)
    c.print(f"catalogue: {info['catalogue_configurations']} configurations")
    c.print(f"test sets: {', '.join(info['accuracy_testsets'])}")
    c.print(f"throughput only (timm): {', '.join(info['throughput_setups'])}")
    for name, s in info["sources"].items():
        c.print(f"{name}: {s.get('license')} (commit {s.get('commit')})")


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group."""
    group = typer.Typer(help="Reference data: import, catalogue, what is in the dataset.", no_args_is_help=True)
    group.command("import")(_import_cmd)
    group.command("catalogue")(_catalogue_cmd)
    group.command("info")(_info_cmd)
    app.add_typer(group, name="data")

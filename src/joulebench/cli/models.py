"""``joulebench models``: filter and sort the catalogue of model configurations, with accuracy and energy.

It reads the shipped catalogue and reference data; it never imports timm or torch.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import typer

from joulebench.cli import loading
from joulebench.cli.display import (
    emit_json,
    fmt_count,
    fmt_num,
    missing,
    print_simulated_banner,
    print_table,
    quick,
    simulated,
)
from joulebench.cli.options import DbOpt, JsonOpt, WideOpt, parse_count, parse_max_energy
from joulebench.errors import ConfigError

_TYPE_ALIASES = {
    "cnn": "CNN",
    "conv": "CNN",
    "transformer": "Transformer",
    "vit": "Transformer",
    "hybrid": "Hybrid CNN-Transformer",
    "hybrid cnn-transformer": "Hybrid CNN-Transformer",
    "mlp": "MLP",
}

#: --sort key -> (column, ascending).
SORTS = {
    "accuracy": ("top1", False),
    "energy": ("energy_per_image_j", True),
    "throughput": ("throughput_ips", False),
    "efficiency": ("top1_per_j", False),
    "params": ("params", True),
    "macs": ("macs", True),
    "activations": ("activations", True),
    "year": ("year", False),
    "name": ("model", True),
    "size": ("img_size", True),
}

#: Columns of ``models --json``.
JSON_COLUMNS = ("model", "img_size", "type", "family", "year", "pretrain", "params", "macs", "activations", "top1",
                "top5", "energy_per_image_j", "throughput_ips", "energy_source", "url")  # fmt: skip


def parse_type(text: str) -> str:
    """Map a user's architecture type ('cnn', 'hybrid'...) to the catalogue's."""
    t = _TYPE_ALIASES.get(text.strip().lower())
    if t is None:
        raise ConfigError(f"unknown architecture type '{text}': use cnn, transformer, hybrid or mlp")
    return t


def _only_family(ds: Any, df: Any, family: str) -> Any:
    fams = set(ds.catalogue["family"])
    if family not in fams:
        from joulebench.models.catalogue import closest_names

        close = closest_names(family, sorted(fams), n=4)
        raise ConfigError(f"unknown family '{family}'. Closest: {', '.join(close) or 'none'}")
    return df[df["family"] == family]


def _matching(df: Any, pattern: str) -> Any:
    """The rows whose model matches ``pattern`` (a glob, else a prefix), refusing a pattern that matches none."""
    rx = re.compile(fnmatch.translate(pattern if any(c in pattern for c in "*?[") else pattern + "*"))
    hits = df[df["model"].map(lambda m: bool(rx.match(m)))]
    if hits.empty:
        from joulebench.models.catalogue import closest_names

        close = closest_names(pattern, sorted(set(df["model"])), n=5)
        raise ConfigError(
            f"no model name matches '{pattern}'. Closest: {', '.join(close) or 'none'} (a glob like 'resnet*' works)"
        )
    return hits


def filter_models(
    ds: Any,
    pattern: str | None = None,
    type_: str | None = None,
    family: str | None = None,
    year_min: int | None = None,
    year_max: int | None = None,
    min_accuracy: float | None = None,
    testset: str = "imagenet",
    max_params: float | None = None,
    setup: str | None = None,
    max_energy_j: float | None = None,
    sort: str = "accuracy",
) -> Any:
    """The catalogue with accuracy/energy columns, filtered and sorted as ``joulebench models`` does.

    Raises:
        ConfigError: For unknown types, families, setups, test sets or sort keys, or ``--max-energy``
            / ``--sort energy`` without ``--setup``.
    """
    if sort not in SORTS:
        raise ConfigError(f"unknown sort key '{sort}': use one of {', '.join(SORTS)}")
    if (max_energy_j is not None or sort in ("energy", "throughput", "efficiency")) and not setup:
        raise ConfigError("energy filters and sorts need a setup: add --setup, e.g. --setup A100:tensorrt-fp16")
    if year_min is not None and year_max is not None and year_min > year_max:
        raise ConfigError(f"--year-min {year_min} is after --year-max {year_max}: no year is in between")
    df = ds.model_table(testset=testset, setup=setup)
    if pattern:
        df = _matching(df, pattern)
    if type_:
        df = df[df["type"] == parse_type(type_)]
    if family:
        df = _only_family(ds, df, family)
    if year_min is not None:
        df = df[df["year"] >= year_min]
    if year_max is not None:
        df = df[df["year"] <= year_max]
    if min_accuracy is not None:
        df = df[df["top1"] >= min_accuracy]
    if max_params is not None:
        df = df[df["params"].astype("Float64") <= max_params]
    if max_energy_j is not None:
        df = df[df["energy_per_image_j"].astype("Float64") <= max_energy_j]
    if setup:
        df = df.assign(top1_per_j=df["top1"] / df["energy_per_image_j"].astype("Float64"))
    col, asc = SORTS[sort]
    df = df.sort_values([col, "model", "img_size"], ascending=[asc, True, True], na_position="last", kind="stable")
    return df.reset_index(drop=True)


def models(
    pattern: str | None = typer.Argument(None, help="Only names matching this glob or prefix (resnet*, vit_base)."),
    type_: str | None = typer.Option(None, "--type", help="cnn, transformer, hybrid or mlp."),
    family: str | None = typer.Option(None, "--family", help="Model family, e.g. convnext, vit, eva02, mobilenetv4."),
    year_min: int | None = typer.Option(None, "--year-min", help="Families published in or after this year."),
    year_max: int | None = typer.Option(None, "--year-max", help="Families published in or before this year."),
    min_accuracy: float | None = typer.Option(
        None, "--min-accuracy", min=0.0, max=100.0, help="Minimum top-1 (%) on --testset."
    ),
    testset: str = typer.Option("imagenet", "--testset", help="Test set for accuracy (imagenet, imagenet-a, ...)."),
    max_params: str | None = typer.Option(None, "--max-params", help="Maximum parameters, e.g. 25M."),
    setup: str | None = typer.Option(None, "--setup", help="Energy setup GPU:runtime, e.g. H100:tensorrt-fp16."),
    max_energy: str | None = typer.Option(None, "--max-energy", help="Maximum energy per image on --setup, e.g. 20mJ."),
    sort: str = typer.Option("accuracy", "--sort", help=f"Sort by {', '.join(SORTS)}."),
    limit: int = typer.Option(50, "--limit", min=0, help="Show at most N rows (0 = all)."),
    json_out: bool = JsonOpt,
    db: Path | None = DbOpt,
    wide: bool = WideOpt,
) -> None:
    """List model configurations with their type, family, year, size, accuracy and energy."""
    if pattern == "list":  # `joulebench models list` reads as "list the models"; no model is named list*
        pattern = None
    ds = loading.load(db)
    df = filter_models(
        ds,
        pattern=pattern,
        type_=type_,
        family=family,
        year_min=year_min,
        year_max=year_max,
        min_accuracy=min_accuracy,
        testset=testset,
        max_params=parse_count(max_params) if max_params else None,
        setup=setup,
        max_energy_j=parse_max_energy(max_energy),
        sort=sort,
    )
    total = len(df)
    if limit:
        df = df.head(limit)
    if json_out:
        from joulebench.data.dataset import _py

        sim = bool(simulated(setup))
        emit_json([{**{c: _py(r.get(c)) for c in JSON_COLUMNS}, "simulated": sim} for r in df.to_dict("records")])
        return
    _print(df, total, testset, setup, wide)


def _print(df: Any, total: int, testset: str, setup: str | None, wide: bool) -> None:
    from rich.table import Table

    energy_col = f"energy {setup}" + (" SIMULATED" if simulated(setup) else "") + (" QUICK" if quick(setup) else "")
    from joulebench.units import fmt_energy

    t = Table(title=f"{total} model configuration(s)" + (f", first {len(df)}" if len(df) < total else ""))
    for c in ("model", "px", "type", "family", "year", "params", "MACs", f"top-1 {testset}"):
        t.add_column(c, justify="right" if c not in ("model", "type", "family") else "left")
    if setup:
        print_simulated_banner(setup)
        t.add_column(energy_col, justify="right")
        t.add_column("img/s", justify="right")
    for r in df.to_dict("records"):
        row = [
            r["model"],
            str(r["img_size"]),
            str(r["type"]).replace("Hybrid CNN-Transformer", "Hybrid"),
            str(r["family"]),
            fmt_num(r["year"], ".0f"),
            fmt_count(r["params"]),
            fmt_count(r["macs"]),
            fmt_num(r["top1"], ".2f"),
        ]
        if setup:
            e = r.get("energy_per_image_j")
            row += [fmt_energy(None if missing(e) else float(e)), fmt_num(r.get("throughput_ips"), ",.0f")]
        t.add_row(*row)
    print_table(t, ("model", "px", f"top-1 {testset}", energy_col), wide)


def register(app: typer.Typer) -> None:
    """Add ``models`` to the CLI."""
    app.command("models")(models)

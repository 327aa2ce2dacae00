"""``joulebench consistency``: identical workloads measured under several tags, and outliers against a setup."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from joulebench.cli import loading
from joulebench.cli.display import console, emit_json, fmt_mj, print_table
from joulebench.cli.options import DbOpt, JsonOpt
from joulebench.errors import ConfigError


def consistency(
    setup: list[str] = typer.Option([], "--setup", "-s", help="Setup(s) to check (default: all)."),
    reference: str | None = typer.Option(
        None,
        "--reference",
        "-r",
        help="Also list the models whose energy ratio to this setup is far from the typical ratio "
        "(needs exactly one --setup), e.g. A100:torch-fp32.",
    ),
    threshold: float = typer.Option(
        1.10, "--threshold", min=1.0, help="Spread (highest / lowest energy) that makes a repeated workload discordant."
    ),
    factor: float = typer.Option(
        1.5, "--factor", min=1.0, help="Distance from the median ratio that makes an outlier."
    ),
    top: int = typer.Option(10, "--top", help="Rows to show per table (all with --json)."),
    json_out: bool = JsonOpt,
    db: Path | None = DbOpt,
) -> None:
    """Check energy data: identical workloads measured under several tags, and outliers against a setup."""
    from joulebench.analysis.consistency import ratio_outliers, repeatabilities, summary_table

    if reference is not None and len(setup) != 1:
        raise ConfigError("--reference compares one setup with another: give exactly one --setup with it")
    if top < 1:
        raise ConfigError(f"--top must be at least 1 (got {top})")
    ds = loading.load(db)
    reps = repeatabilities(ds.energy, setup or None, ds.catalogue, threshold)
    table = summary_table(reps)
    groups = [r.per_group for r in reps] if setup else []  # named setups: each has repeats, or it raised
    outl = None if reference is None else ratio_outliers(ds.energy, setup[0], reference, factor)
    if json_out:
        emit_json(
            {
                "repeatability": table.to_dict("records"),
                "groups": {s: g.to_dict("records") for s, g in zip(setup, groups, strict=True)},
                "ratio_outliers": None
                if outl is None
                else {**outl.to_dict(), "outliers": outl.outliers.to_dict("records")},
            }
        )
        return
    _print_summary(table, threshold)
    for s, g in zip(setup, groups, strict=True):
        _print_groups(s, g, top)
    if outl is not None:
        _print_outliers(outl, top)


def _print_summary(table: Any, threshold: float) -> None:
    from rich.table import Table

    t = Table(title=f"Identical workloads measured under several tags (discordant: spread > {threshold:g})")
    for c in ("setup", "workloads", "configs", "pooled SD", "median spread", "p90", "max", "discordant"):
        t.add_column(c, justify="left" if c == "setup" else "right")
    for _, r in table.iterrows():
        t.add_row(
            r["setup"],
            str(r["groups"]),
            str(r["configs"]),
            f"{100 * r['pooled_sd_log']:.1f}%",
            f"{r['median_spread']:.3f}",
            f"{r['p90_spread']:.3f}",
            f"{r['max_spread']:.2f}",
            str(r["discordant"]),
        )
    print_table(t)
    if table.empty:
        console().print("no setup measured one workload under two or more tags")


def _print_groups(setup: str, groups: Any, top: int) -> None:
    from rich.table import Table

    t = Table(title=f"{setup}: the {min(top, len(groups))} most discordant of {len(groups)} repeated workloads")
    for c in ("workload", "tags", "mJ/img low", "mJ/img high", "spread"):
        t.add_column(c, justify="left" if c in ("workload", "tags") else "right")
    for _, r in groups.head(top).iterrows():
        t.add_row(
            f"{r['arch']}@{r['img_size']}",
            str(r["models"]),
            fmt_mj(r["energy_min_j"]),
            fmt_mj(r["energy_max_j"]),
            f"{r['spread']:.2f}",
        )
    print_table(t)


def _print_outliers(outl: Any, top: int) -> None:
    from rich.table import Table

    t = Table(
        title=f"{outl.setup} / {outl.reference}: median ratio {outl.median_ratio:.3f} over {outl.n} models; "
        f"{outl.low} below and {outl.high} above it by more than {outl.factor:g}x; implied power shows "
        f"one reading off for {outl.blamed}"
    )
    cols = ("model", "px", f"mJ/img {outl.setup}", f"mJ/img {outl.reference}", "ratio", "vs median")
    for c in (*cols, "power vs median", "reading off"):
        t.add_column(c, justify="left" if c in ("model", "reading off") else "right")
    names = {"setup": outl.setup, "reference": outl.reference}
    for _, r in outl.outliers.head(top).iterrows():
        t.add_row(
            str(r["model"]),
            str(r["img_size"]),
            fmt_mj(r["energy_j"]),
            fmt_mj(r["reference_energy_j"]),
            f"{r['ratio']:.3f}",
            f"{r['off_by']:.2f}x",
            f"{r['power_off_by']:.2f}x" if math.isfinite(r["power_off_by"]) else "-",
            names.get(r["blame"], "-"),
        )
    print_table(t)


def register(app: typer.Typer) -> None:
    """Add ``consistency`` to the CLI."""
    app.command("consistency")(consistency)

"""``joulebench panel``: choose which models to measure from the dataset (e.g. for a new GPU)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from joulebench.cli import loading
from joulebench.cli.display import emit_json, print_simulated_banner, print_table
from joulebench.cli.options import DbOpt, JsonOpt, WideOpt


def panel(
    setup: str = typer.Option(..., "--setup", "-s", help="Setup to choose from, e.g. H100:tensorrt-fp16."),
    lowest: int = typer.Option(128, "--lowest", min=0, help="Take this many least-energy models of the setup."),
    frontier: bool = typer.Option(True, "--frontier/--no-frontier", help="Add the setup's Pareto frontier."),
    add: list[str] = typer.Option(
        None, "--add", help="Baseline architectures or tags to add (default: the classic five)."
    ),
    names: bool = typer.Option(False, "--names", help="Print only tag@size, one per line (for `joulebench measure`)."),
    distinct: bool = typer.Option(
        False, "--distinct-first", help="One tag per architecture and size first (same work with random weights)."
    ),
    json_out: bool = JsonOpt,
    db: Path | None = DbOpt,
    wide: bool = WideOpt,
) -> None:
    """Choose a panel of model configurations: the cheapest on a setup, its frontier and classic baselines."""
    from joulebench.analysis.panel import CLASSICS, distinct_first, select_panel

    ds = loading.load(db)
    df = select_panel(ds.energy, ds.accuracy, setup, lowest=lowest, with_frontier=frontier, extra=add or CLASSICS)
    if distinct:
        df = distinct_first(df)
    if names:
        # The size travels with the name: the dataset has some tags at two input sizes.
        typer.echo("\n".join(f"{m}@{int(px)}" for m, px in zip(df["model"], df["img_size"], strict=True)))
    elif json_out:
        emit_json(df.to_dict(orient="records"))
    else:
        print_simulated_banner(setup)
        _print(df, setup, wide)


def _print(df: Any, setup: str, wide: bool) -> None:
    from rich.table import Table

    from joulebench.units import fmt_energy

    t = Table(title=f"{len(df)} model configurations chosen from {setup}")
    for col in ("model", "px", "top-1", "energy", "why"):
        t.add_column(col)
    for r in df.itertuples():
        t.add_row(r.model, str(r.img_size), f"{r.accuracy:.2f}", fmt_energy(r.energy_per_image_j), r.why)
    print_table(t, ("model", "px", "energy"), wide)


def register(app: typer.Typer) -> None:
    """Add ``panel`` to the CLI."""
    app.command("panel")(panel)

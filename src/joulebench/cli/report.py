"""``joulebench report``: a self-contained HTML report (figures, tables and the numbers behind them)."""

from __future__ import annotations

from pathlib import Path

import typer

from joulebench.cli import loading
from joulebench.cli.display import emit_json, err_console
from joulebench.cli.options import CurrencyOpt, DbOpt, IncludeTestOpt, IntensityOpt, JsonOpt, PriceOpt, writable_file


def report(
    setup: list[str] = typer.Option([], "--setup", "-s", help="Setup(s) to report on (default: all)."),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="HTML file to write."),
    intensity: float | None = IntensityOpt,
    price: float | None = PriceOpt,
    currency: str = CurrencyOpt,
    weight: float = typer.Option(0.5, "--weight", "-w", help="W of the score in the ranking tables."),
    include_test_models: bool = IncludeTestOpt,
    json_out: bool = JsonOpt,
    db: Path | None = DbOpt,
) -> None:
    """Write a self-contained HTML report (figures, tables and the numbers behind them)."""
    from joulebench.analysis.report import build_report

    writable_file(out, "--out")  # before minutes of work, not after them
    ds = loading.load(db)
    present = set(ds.energy["setup"].dropna())
    own = [s for s in loading.own_setups(db) if s in present and s not in setup]
    if setup and own:  # the report is about what the user measured too, whatever else it compares
        err_console().print(f"also reporting on your own setup(s): {', '.join(own)}")
        setup = [*setup, *own]
    rep = build_report(
        ds.energy,
        ds.accuracy,
        ds.catalogue,
        loading.dataset_stats(ds),
        setups=setup or None,
        measurements=loading.load_measurements(db),
        intensity_g_per_kwh=intensity,
        price_per_kwh=price,
        currency=currency,
        include_test_models=include_test_models,
        weight=weight,
        command=loading.command_line(),
    )
    path = rep.write(out)
    if json_out:
        emit_json({"out": str(path), "summary": rep.summary})
    else:
        err_console().print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the CLI."""
    app.command("report")(report)

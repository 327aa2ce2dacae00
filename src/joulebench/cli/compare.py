"""``joulebench compare``: the per-model energy reduction of one setup over another."""

from __future__ import annotations

from pathlib import Path

import typer

from joulebench.cli import loading
from joulebench.cli.display import console, emit_json, print_simulated_banner, simulated
from joulebench.cli.options import DbOpt, JsonOpt


def compare(
    baseline: str = typer.Option(..., "--baseline", "-b", help="Baseline setup, e.g. A100:torch-fp32."),
    optimised: str = typer.Option(..., "--optimised", "-o", help="Optimised setup, e.g. A100:tensorrt-fp16."),
    json_out: bool = JsonOpt,
    db: Path | None = DbOpt,
) -> None:
    """Per-model energy reduction of one setup over another (geometric mean, spread, quantiles)."""
    from joulebench.analysis.effects import runtime_reduction

    ds = loading.load(db)
    r = runtime_reduction(ds.energy, baseline, optimised)
    if json_out:
        sims = simulated(baseline, optimised)
        emit_json({**r.to_dict(), "simulated": sims, "per_model": r.per_model.to_dict("records")})
        return
    print_simulated_banner(baseline, optimised)
    d = r.to_dict()
    console().print(
        f"{optimised} vs {baseline} over {r.n} models: {r.geomean:.3g}x less energy per image "
        f"(geometric mean; GSD {r.gsd:.3g}; saving {d['mean_saving']:.0%}); "
        f"p05 {r.quantiles['p05']:.3g}x, median {r.quantiles['median']:.3g}x, p95 {r.quantiles['p95']:.3g}x; "
        f"{r.fraction_worse:.1%} of models spend more."
    )


def register(app: typer.Typer) -> None:
    """Add ``compare`` to the CLI."""
    app.command("compare")(compare)

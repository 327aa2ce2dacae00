"""``joulebench frontier``: the Pareto frontier of energy and accuracy on a setup, its fitted curve and families."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from joulebench.cli import loading
from joulebench.cli.display import (
    console,
    emit_json,
    fmt_mj,
    missing,
    print_simulated_banner,
    print_table,
    simulated,
)
from joulebench.cli.options import DbOpt, DropSuspectOpt, IncludeTestOpt, JsonOpt, SetupOpt, TestsetsOpt
from joulebench.errors import ConfigError


def frontier(
    setup: str = SetupOpt,
    testset: list[str] = TestsetsOpt,
    target: list[float] = typer.Option(
        [], "--target", min=0.0, max=100.0, help="Accuracy (%) to predict the energy for (repeatable)."
    ),
    include_test_models: bool = IncludeTestOpt,
    drop_suspect: bool = DropSuspectOpt,
    json_out: bool = JsonOpt,
    db: Path | None = DbOpt,
) -> None:
    """The Pareto frontier of energy and accuracy on a setup, its fitted curve and the families on it."""
    from joulebench.analysis.fits import fit_frontier
    from joulebench.analysis.frames import drop_test_models, energy_accuracy
    from joulebench.analysis.frontier import frontier as pareto_frontier
    from joulebench.analysis.frontier import frontier_families

    ds = loading.load(db)
    energy, dropped = loading.suspect_filter(ds, setup, drop_suspect, json_out)
    df = energy_accuracy(energy, ds.accuracy, setup, testset, ds.catalogue, loading.dataset_stats(ds))
    if not include_test_models:
        df = drop_test_models(df)
    front = pareto_frontier(df)
    fit = fit_error = None
    try:
        fit = fit_frontier(front)
    except ConfigError as exc:
        fit_error = str(exc)
    preds = predictions(fit, fit_error, target)
    if json_out:
        cols = [c for c in ("model", "img_size", "type", "family", "accuracy", "energy_per_image_j") if c in front]
        emit_json(
            {
                "setup": setup,
                "simulated": bool(simulated(setup)),
                "testsets": testset,
                "accuracy": accuracy_label(testset),
                "models": len(df),
                "frontier": front[cols].to_dict("records"),
                "fit": None if fit is None else fit.to_dict(),
                "fit_error": fit_error,
                "families": frontier_families(front).to_dict("records"),
                "predictions": preds,
                "dropped_suspect": dropped,
            }
        )
        return
    print_simulated_banner(setup)
    _print(setup, front, len(df), fit, fit_error, preds, testset)
    _print_families(frontier_families(front), accuracy_label(testset))


def accuracy_label(testsets: list[str]) -> str:
    """What the accuracy column holds: top-1 on one test set, or the mean over several."""
    if len(testsets) == 1:
        return f"top-1 % ({testsets[0]})" if testsets[0] != "imagenet" else "top-1 %"
    return f"mean top-1 % ({len(testsets)} sets)"


def _print_families(fams: Any, label: str) -> None:
    from rich.table import Table

    t = Table(title=f"Families on the frontier ({len(fams)})")
    for c in ("family", "models", "mJ/img from", "to", f"best {label}"):
        t.add_column(c, justify="left" if c == "family" else "right")
    for r in fams.itertuples():
        t.add_row(str(r.family), str(r.n), fmt_mj(r.min_energy_j), fmt_mj(r.max_energy_j), f"{r.max_accuracy:.2f}")
    print_table(t)


def predictions(fit: Any, fit_error: str | None, targets: list[float]) -> list[dict[str, Any]]:
    """The fitted energy for each target accuracy, or why there is none."""
    preds: list[dict[str, Any]] = []
    for t in targets:
        if fit is None:
            preds.append({"target_accuracy": t, "error": fit_error})
            continue
        try:
            p = fit.energy_for(t)
        except ConfigError as exc:
            preds.append({"target_accuracy": t, "error": str(exc)})
            continue
        preds.append(
            {
                "target_accuracy": t,
                "energy_per_image_j": p.energy_per_image_j,
                "extrapolated": p.extrapolated,
                "note": p.message,
            }
        )
    return preds


def _print(
    setup: str,
    front: Any,
    n: int,
    fit: Any,
    fit_error: str | None,
    preds: list[dict[str, Any]],
    testsets: list[str],
) -> None:
    from rich.table import Table

    t = Table(title=f"Frontier on {setup} ({len(front)} of {n} models)")
    if len(testsets) > 1:
        t.caption = f"accuracy = mean top-1 over {', '.join(testsets)}"
    for c in ("model", "px", "type", accuracy_label(testsets), "mJ/img"):
        t.add_column(c, justify="left" if c in ("model", "type") else "right")
    for _, r in front.iterrows():
        kind = r.get("type", "")
        t.add_row(
            str(r["model"]),
            str(r["img_size"]),
            "" if missing(kind) else str(kind),
            f"{r['accuracy']:.2f}",
            fmt_mj(r["energy_per_image_j"]),
        )
    print_table(t)
    out = console()
    if fit is not None:
        out.print(
            f"fit A(E) = {fit.a:.2f} + {fit.b:.2f}·ln(1 + {fit.c:.3g}·ln(E / {fit.e_min * 1e3:.4g} mJ)), "
            f"R² {fit.r2:.3f}, RMSE {fit.rmse:.2f} points"
        )
    else:
        out.print(f"[yellow]{fit_error}[/yellow]")
    for p in preds:
        if "error" in p:
            out.print(f"{p['target_accuracy']:g}%: [yellow]{p['error']}[/yellow]")
        else:
            out.print(f"{p['target_accuracy']:g}%: {fmt_mj(p['energy_per_image_j'])} mJ/image ({p['note']})")


def register(app: typer.Typer) -> None:
    """Add ``frontier`` to the CLI."""
    app.command("frontier")(frontier)

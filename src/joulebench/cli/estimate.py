"""``joulebench estimate``: a model's energy per image on a setup by every estimator, beside the measurement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from joulebench.cli import loading
from joulebench.cli.display import console, emit_json, fmt_mj, print_simulated_banner, print_table, simulated
from joulebench.cli.options import DbOpt, JsonOpt, SetupOpt


def estimate(
    model: str = typer.Argument(..., help="timm tag, e.g. resnet50.a1_in1k (or an architecture with one tag)."),
    setup: str = SetupOpt,
    img_size: int | None = typer.Option(None, "--img-size", min=1, help="Input size when the model has several."),
    cv: bool = typer.Option(
        False, "--cv", help="Also cross-validate the regressions on this setup, architectures and families held out."
    ),
    fit: bool = typer.Option(
        False, "--fit", help="Also the correlations with params/MACs/activations and the log-linear fit (ln mJ)."
    ),
    flops_per_mac: float = typer.Option(
        2.0, "--flops-per-mac", help="Naive estimate: FLOPs per MAC (2, or 1 as the paper counted)."
    ),
    peak: str = typer.Option(
        "tensor-core", "--peak", help="Naive estimate: peak FLOP/s kind, tensor-core or non-tensor (the paper's)."
    ),
    json_out: bool = JsonOpt,
    db: Path | None = DbOpt,
) -> None:
    """Estimate a model's energy per image on a setup with every estimator, beside the measurement.

    The naive estimate is FLOPs per MAC x MACs / peak FLOP/s x power limit; the paper's convention is
    --flops-per-mac 1 --peak non-tensor. It is no bound: it can be above the measurement (e.g. FP32 CNNs,
    which PyTorch runs in TF32).
    """
    from joulebench.analysis.estimate import estimate_model
    from joulebench.analysis.naive import NaiveConvention

    convention = NaiveConvention(flops_per_mac, peak)
    ds = loading.load(db)
    if "." not in model:  # an architecture with one pretrained tag names that tag
        model = loading.resolve_model(ds, model, img_size)[0][0]
    stats = loading.dataset_stats(ds)
    res = estimate_model(ds.energy, ds.catalogue, model, setup, img_size, stats=stats, convention=convention)
    if cv or fit:
        from joulebench.analysis.frames import attach, dedupe_energy, drop_test_models, static_facts

        d = attach(dedupe_energy(ds.energy[ds.energy["setup"] == setup]), static_facts(ds.catalogue, stats))
        d = drop_test_models(d)
    if cv:
        from joulebench.analysis.estimators import cross_validate_both

        res["cross_validation"] = cross_validate_both(d).to_dict("records")
    if fit:
        from joulebench.analysis.static import loglinear_report, static_correlations

        res["fit"] = {"correlations": static_correlations(d).to_dict("records"), **loglinear_report(d)}
    if json_out:
        emit_json({**res, "simulated": bool(simulated(setup))})
        return
    print_simulated_banner(setup)
    _print(res)


def _print(res: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title=f"{res['model']} @ {res['img_size']} px on {res['setup']}")
    for c in ("estimator", "mJ/image", "error vs measured", "how"):
        t.add_column(c, justify="left" if c in ("estimator", "how") else "right")
    t.add_row("measured", fmt_mj(res["measured_j"]), "", "")
    for e in res["estimates"]:
        err = "" if e["error_pct"] is None else f"{e['error_pct']:+.0f}%"
        t.add_row(e["estimator"], fmt_mj(e["energy_per_image_j"]), err, e["note"])
    print_table(t)
    for r in res.get("cross_validation", []):
        held = "architectures" if r["grouping"] == "arch" else "families"
        console().print(
            f"{r['estimator']}: {r['folds']}-fold MAPE {r['mape']:.1f}% with whole {held} held out ({r['n']} models)"
        )
    if "fit" in res:
        _print_fit(res["setup"], res["fit"])


def _print_fit(setup: str, fit: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    c = Table(title=f"Energy against static statistics on {setup}")
    for col in ("statistic", "n", "Pearson r", "Spearman ρ", "Pearson on logs"):
        c.add_column(col, justify="left" if col == "statistic" else "right")
    for r in fit["correlations"]:
        c.add_row(r["feature"], str(r["n"]), f"{r['pearson']:.3f}", f"{r['spearman']:.3f}", f"{r['pearson_log']:.3f}")
    print_table(c)
    t = Table(title=escape("ln E[mJ] = const + b ln params + c ln GMACs + d ln activations"))
    for col in ("term", "coefficient", "std. error", f"{fit['confidence']:.0%} interval"):
        t.add_column(col, justify="left" if col == "term" else "right")
    for r in fit["coefficients"]:
        t.add_row(r["term"], f"{r['value']:.4f}", f"{r['se']:.4f}", f"[{r['low']:.4f}, {r['high']:.4f}]")
    print_table(t)
    console().print(
        f"n {fit['n']}, R² {fit['r2']:.3f}; MAPE in-sample {fit['in_sample_mape']:.1f}%, {fit['folds']}-fold "
        f"{fit['cv_mape_arch']:.1f}% (architectures held out), {fit['cv_mape_family']:.1f}% (families held out)"
    )


def register(app: typer.Typer) -> None:
    """Add ``estimate`` to the CLI."""
    app.command("estimate")(estimate)

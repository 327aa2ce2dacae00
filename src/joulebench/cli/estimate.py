"""``joulebench estimate``: a model's energy per image on a setup by every estimator, beside the measurement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from joulebench.cli import loading
from joulebench.cli.display import console, emit_json, fmt_mj, table_console
from joulebench.cli.options import DbOpt, JsonOpt, SetupOpt


def estimate(
    model: str = typer.Argument(..., help="timm tag, e.g. resnet50.a1_in1k."),
    setup: str = SetupOpt,
    img_size: int | None = typer.Option(None, "--img-size", help="Input size when the model has several."),
    cv: bool = typer.Option(False, "--cv", help="Also cross-validate the regressions on this setup (slower)."),
    json_out: bool = JsonOpt,
    db: Path | None = DbOpt,
) -> None:
    """Estimate a model's energy per image on a setup with every estimator, beside the measurement."""
    from joulebench.analysis.estimate import estimate_model

    ds = loading.load(db)
    stats = loading.dataset_stats(ds)
    res = estimate_model(ds.energy, ds.catalogue, model, setup, img_size, stats=stats)
    if cv:
        from joulebench.analysis.estimators import cross_validate
        from joulebench.analysis.frames import attach, dedupe_energy, static_facts

        d = attach(dedupe_energy(ds.energy[ds.energy["setup"] == setup]), static_facts(ds.catalogue, stats))
        res["cross_validation"] = cross_validate(d).to_dict("records")
    if json_out:
        emit_json(res)
        return
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
    table_console().print(t)
    for r in res.get("cross_validation", []):
        console().print(f"{r['estimator']}: cross-validated MAPE {r['mape']:.1f}% over {r['n']} models")


def register(app: typer.Typer) -> None:
    """Add ``estimate`` to the CLI."""
    app.command("estimate")(estimate)

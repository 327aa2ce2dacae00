"""``joulebench show``: everything known about one model configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from joulebench.cli import loading
from joulebench.cli.display import (
    WIDE_CI_NOTE,
    any_wide_ci,
    emit_json,
    fmt_ci,
    fmt_count,
    fmt_num,
    print_table,
    quick,
    table_console,
)
from joulebench.cli.options import DbOpt, JsonOpt


def show(
    model: str = typer.Argument(..., help="Pretrained tag (resnet50.a1_in1k) or architecture (resnet50)."),
    img_size: int | None = typer.Option(None, "--img-size", min=1, help="Only this input size."),
    json_out: bool = JsonOpt,
    db: Path | None = DbOpt,
) -> None:
    """Everything known about one model configuration: catalogue, stats, accuracy and energy per setup."""
    ds = loading.load(db)
    configs = loading.resolve_model(ds, model, img_size)
    from joulebench.analysis.consistency import model_checks

    infos = [{**ds.describe(m, s), "checks": model_checks(ds.energy, m, s, ds.catalogue)} for m, s in configs]
    if json_out:
        emit_json(infos if len(infos) > 1 else infos[0])
        return
    for info in infos:
        _print(info)


def _facts(info: dict[str, Any]):
    from rich.table import Table

    cat = info["catalogue"] or {}
    st = info["stats"] or {}
    facts = Table(show_header=False, box=None)
    facts.add_column(style="dim")
    facts.add_column()
    for k in ("type", "family", "year", "pretrain", "crop_pct", "interpolation", "license", "url"):
        if cat.get(k) is not None:
            facts.add_row(k, str(cat[k]))
    for k, unit in (("params", ""), ("macs", " MACs/image"), ("activations", " activations/image")):
        v = st.get(k, cat.get(k))
        if v is not None:
            facts.add_row(k, fmt_count(v, unit))
    if not cat:
        facts.add_row("catalogue", "not a current timm pretrained configuration")
    return facts


def _energy(rows: list[dict[str, Any]]):
    from rich.table import Table

    from joulebench.units import fmt_energy, fmt_time

    t = Table(title="energy per image")
    if any_wide_ci(r.get("ci95_rel") for r in rows):
        t.caption = WIDE_CI_NOTE
    columns = ("setup", "energy", "±CI95", "img/s", "latency/batch", "batch", "max batch", "power limit", "source")
    for c in (*columns, "status"):
        t.add_column(c)
    for r in sorted(rows, key=lambda r: (r["setup"], r["source"])):
        t.add_row(
            r["setup"],
            fmt_energy(r["energy_per_image_j"]),
            fmt_ci(r.get("ci95_rel")),
            fmt_num(r["throughput_ips"], ",.0f"),
            fmt_time(r["latency_s"]),
            fmt_num(r["batch_size"], ".0f"),
            fmt_num(r["max_batch"], ".0f"),
            fmt_num(r["power_limit_w"], ".0f") + " W" if r["power_limit_w"] is not None else "–",
            r["source"]
            + (" [bold magenta]SIMULATED[/]" if r.get("simulated") else "")
            + (" [bold yellow]quick protocol[/]" if quick(r["setup"]) else ""),
            r["status"],
        )
    return t


def _print(info: dict[str, Any]) -> None:
    from rich.table import Table

    out = table_console()
    out.print(f"[bold]{info['model']}[/] at {info['img_size']} px")
    out.print(_facts(info))
    if info["accuracy"]:
        t = Table(title="accuracy (%)")
        for c in ("test set", "top-1", "top-5", "source"):
            t.add_column(c)
        for r in sorted(info["accuracy"], key=lambda r: (r["testset"], r["source"])):
            t.add_row(r["testset"], fmt_num(r["top1"], ".2f"), fmt_num(r["top5"], ".2f"), r["source"])
        print_table(t)
    if info["energy"]:
        print_table(_energy(info["energy"]))
    for c in info.get("checks", []):
        out.print(f"[yellow]check ({c['check']}):[/] {c['message']}")
    if info["throughput"]:
        t = Table(title="timm throughput (no energy)")
        for c in ("setup", "img/s", "batch"):
            t.add_column(c)
        for r in info["throughput"]:
            t.add_row(r["setup"], fmt_num(r["throughput_ips"], ",.0f"), fmt_num(r["batch_size"], ".0f"))
        print_table(t)


def register(app: typer.Typer) -> None:
    """Add ``show`` to the CLI."""
    app.command("show")(show)

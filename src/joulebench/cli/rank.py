"""``joulebench rank``: models on a setup ranked by efficiency score after thresholds, with carbon and cost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from joulebench.cli import loading
from joulebench.cli.display import (
    WIDE_CI_NOTE,
    any_wide_ci,
    emit_json,
    err_console,
    fmt_ci,
    fmt_mj,
    missing,
    print_simulated_banner,
    print_table,
    simulated,
)
from joulebench.cli.options import (
    CurrencyOpt,
    DbOpt,
    DropSuspectOpt,
    IntensityOpt,
    JsonOpt,
    PriceOpt,
    SetupOpt,
    TestsetsOpt,
    WideOpt,
    non_negative,
    parse_accuracy,
    parse_count,
    parse_max_energy,
)

#: Columns of ``rank --json``, in order (those the table has).
JSON_COLUMNS = ("rank", "model", "img_size", "type", "family", "accuracy", "energy_per_image_j", "ci95_rel",
                "latency_s", "throughput_ips", "params", "memory_b", "score", "kwh_per_million", "kg_co2e_per_million",
                "cost_per_million")  # fmt: skip


def thresholds(
    min_accuracy: str | None,
    max_energy: str | None,
    max_latency: str | None,
    max_params: str | None,
    max_memory: str | None,
) -> Any:
    """The ranking's :class:`~joulebench.analysis.scores.Thresholds` from the flags' text (None: no limit)."""
    from joulebench.analysis.scores import Thresholds
    from joulebench.units import parse_bytes, parse_time_s

    return Thresholds(
        min_accuracy=None if min_accuracy is None else parse_accuracy(min_accuracy),
        max_energy_j=parse_max_energy(max_energy),
        max_latency_s=None if max_latency is None else non_negative(parse_time_s(max_latency), "--max-latency"),
        max_params=None if max_params is None else parse_count(max_params),
        max_memory_b=None if max_memory is None else non_negative(parse_bytes(max_memory), "--max-memory"),
    )


def rank(
    setup: str = SetupOpt,
    testset: list[str] = TestsetsOpt,
    min_accuracy: str | None = typer.Option(None, "--min-accuracy", help="Least top-1 in %, e.g. 80."),
    max_energy: str | None = typer.Option(None, "--max-energy", help="Most energy per image, e.g. 20mJ."),
    max_latency: str | None = typer.Option(None, "--max-latency", help="Most latency per batch, e.g. 50ms."),
    max_params: str | None = typer.Option(None, "--max-params", help="Most parameters, e.g. 50M."),
    max_memory: str | None = typer.Option(None, "--max-memory", help="Most memory (peak, else weights), e.g. 2GB."),
    weight: float = typer.Option(0.5, "--weight", "-w", help="Energy's weight W in [0, 1] (manhattan score)."),
    score: str = typer.Option("manhattan", "--score", help="manhattan or acc-per-joule."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Show the best N."),
    intensity: float | None = IntensityOpt,
    price: float | None = PriceOpt,
    currency: str = CurrencyOpt,
    drop_suspect: bool = DropSuspectOpt,
    json_out: bool = JsonOpt,
    db: Path | None = DbOpt,
    wide: bool = WideOpt,
) -> None:
    """Rank models on a setup by efficiency score after thresholds (with carbon and cost per million images)."""
    from joulebench.analysis.carbon import add_carbon_columns
    from joulebench.analysis.frames import energy_accuracy
    from joulebench.analysis.scores import rank as rank_models

    th = thresholds(min_accuracy, max_energy, max_latency, max_params, max_memory)
    ds = loading.load(db)
    energy, dropped = loading.suspect_filter(ds, setup, drop_suspect, json_out)
    df = energy_accuracy(energy, ds.accuracy, setup, testset, ds.catalogue, loading.dataset_stats(ds))
    res = rank_models(df, score, weight, th, limit)
    table = add_carbon_columns(res.table, intensity, price)
    if json_out:
        emit_json(_json(res, table, setup, testset, currency, dropped))
        return
    if res.reason:
        err_console().print(f"[yellow]{res.reason}[/yellow]")
        return
    print_simulated_banner(setup)
    _print(res, table, setup, testset, currency, wide)


def _json(res: Any, table: Any, setup: str, testset: list[str], currency: str, dropped: Any) -> dict[str, Any]:
    order = (*JSON_COLUMNS[:6], *testset, *JSON_COLUMNS[6:])
    cols = list(dict.fromkeys(c for c in order if c in table.columns))
    return {
        "setup": setup,
        "simulated": bool(simulated(setup)),
        "testsets": testset,
        "score": res.score,
        "weight": res.weight,
        "max_energy_j": res.max_energy_j,
        "candidates": res.candidates,
        "filtered": res.filtered,
        "reason": res.reason,
        "currency": currency or None,
        "dropped_suspect": dropped,
        "models": [{**r, "ci95_wide": _wide(r.get("ci95_rel"))} for r in table[cols].to_dict("records")],
    }


def _wide(ci95_rel: Any) -> bool:
    from joulebench.store.records import wide_ci

    return wide_ci(None if missing(ci95_rel) else float(ci95_rel))


def _print(res: Any, table: Any, setup: str, testset: list[str], currency: str, wide: bool) -> None:
    from rich.table import Table

    acc_label = "top-1 %" if testset == ["imagenet"] else f"top-1 % ({'+'.join(testset)})"
    t = Table(title=f"{setup}: {res.score}" + (f" (W={res.weight:g})" if res.score == "manhattan" else ""))
    cols = ["#", "model", "px", "type", acc_label, "mJ/img", "±CI95", "lat ms", "params M", "score"]
    extra = [
        ("kwh_per_million", "kWh/M img"),
        ("kg_co2e_per_million", "kg CO2e/M"),
        ("cost_per_million", f"{currency or 'cost'}/M"),
    ]
    extra = [(c, label) for c, label in extra if c in table.columns]
    for c in cols + [label for _, label in extra]:
        t.add_column(c, justify="left" if c in ("model", "type") else "right")
    for _, r in table.iterrows():
        kind = r.get("type", "")
        t.add_row(
            str(r["rank"]),
            str(r["model"]),
            str(r["img_size"]),
            "" if missing(kind) else str(kind),
            f"{r['accuracy']:.2f}",
            fmt_mj(r["energy_per_image_j"]),
            fmt_ci(r.get("ci95_rel")),
            "–" if missing(r.get("latency_s")) else f"{r['latency_s'] * 1e3:.3g}",
            "–" if missing(r.get("params")) else f"{r['params'] / 1e6:.3g}",
            f"{r['score']:.4g}",
            *[f"{r[c]:.4g}" for c, _ in extra],
        )
    if "ci95_rel" in table.columns and any_wide_ci(table["ci95_rel"]):
        t.caption = WIDE_CI_NOTE
    print_table(t, ("#", "model", "px", acc_label, "mJ/img", "±CI95", "score"), wide)
    dropped = [f"{f['threshold']}: -{f['removed']}" for f in res.filtered if f["removed"]]
    err_console().print(f"{res.candidates} candidates" + (f"; {', '.join(dropped)}" if dropped else ""))


def register(app: typer.Typer) -> None:
    """Add ``rank`` to the CLI."""
    app.command("rank")(rank)

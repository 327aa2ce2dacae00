"""``joulebench results``: look at stored results (summaries, batches, failures, meter windows, stale results)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from joulebench.cli.display import QUICK_NOTE, WIDE_CI_NOTE, any_wide_ci, emit_json, err_console, fmt_ci, print_table
from joulebench.cli.loading import open_store
from joulebench.cli.options import (
    DbOpt,
    GpuFilterOpt,
    JsonOpt,
    MeterFilterOpt,
    MinChangeOpt,
    ModelFilterOpt,
    RunFilterOpt,
    RuntimeFilterOpt,
    StatusFilterOpt,
    WideOpt,
    db_path,
    parse_min_change,
)
from joulebench.store.records import QUICK_PROTOCOL, protocol_of

LAUNCH_BOUND_NOTE = (
    "launch-bound N % = the card was busy N % of the window: energy per image there follows this host's CPU, whose"
    " speed each window records (host_probe_s in --json)"
)
# Row columns that a row may leave empty and its run knows.
_FROM_RUN = ("gpu_name", "gpu_uuid", "meter", "power_limit_w")


def _fill_from_runs(store, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not rows:
        return rows
    runs = {r["run_id"]: r for r in store.runs()}
    for row in rows:
        run = runs.get(row.get("run_id"), {})
        for c in _FROM_RUN:
            if c in row and row[c] is None:
                row[c] = run.get(c)
        if "gpu_name" not in row:  # failures and windows: show where they happened
            row["gpu_name"] = run.get("gpu_name")
        if "meter" not in row:
            row["meter"] = run.get("meter")
        row["protocol"] = protocol_of(run.get("config"))
    return rows


def _mj(j: float | None) -> str:
    return "–" if j is None else f"{j * 1e3:.4g}"


def _ms(s: float | None) -> str:
    return "–" if s is None else f"{s * 1e3:.3g}"


def _num(x: float | None, spec: str = ".4g") -> str:
    return "–" if x is None else format(x, spec)


def _gpu(name: str | None) -> str:
    return "–" if not name else name.removeprefix("NVIDIA ")


def _meter_cell(meter: str | None, protocol: str | None = None) -> str:
    cell = "[bold magenta]sim[/]" if meter == "sim" else meter or "–"
    return cell + (" [bold yellow]quick[/]" if protocol == QUICK_PROTOCOL else "")


def _status_cell(status: str | None, error: str | None = None) -> str:
    if status == "ok":
        return "[green]ok[/]"
    text = status or "–"
    if error:
        text += f": {error if len(error) <= 60 else error[:57] + '...'}"
    return f"[red]{text}[/]"


def _launch_bound_pct(row: dict[str, Any]) -> float | None:
    """The card's utilisation in a stored window that measured launch-bound (its energy follows the host), else None."""
    from joulebench.sweep.summary import launch_bound_util

    return launch_bound_util(row.get("trace_summary"), row.get("method")) if row["status"] == "ok" else None


def _batch_status_cell(row: dict[str, Any]) -> str:
    """The status, and for a launch-bound window the card's utilisation in it."""
    cell, util = _status_cell(row["status"], row["error"]), _launch_bound_pct(row)
    return cell if util is None else cell + f" [yellow]launch-bound {util:.0f} %[/]"


def _power_pct(row: dict[str, Any]) -> str:
    ratio = row.get("power_ratio")
    if ratio is None and row.get("avg_power_w") is not None and row.get("power_limit_w"):
        ratio = row["avg_power_w"] / row["power_limit_w"]
    return "–" if ratio is None else f"{ratio * 100:.0f}%"


def _summaries_table(rows: list[dict[str, Any]]):
    from rich.table import Table

    t = Table(title="Model summaries (energy at the optimal batch)", title_justify="left")
    for name, kw in (
        ("model", {}),
        ("img", {"justify": "right"}),
        ("runtime", {}),
        ("GPU", {}),
        ("meter", {}),
        ("opt. batch", {"justify": "right"}),
        ("mJ/img", {"justify": "right"}),
        ("±CI95", {"justify": "right"}),
        ("dyn. mJ/img", {"justify": "right"}),
        ("img/s", {"justify": "right"}),
        ("p50 ms", {"justify": "right"}),
        ("avg W", {"justify": "right"}),
        ("% limit", {"justify": "right"}),
        ("status", {}),
    ):
        t.add_column(name, **kw)
    for r in rows:
        t.add_row(
            r["model"],
            str(r["img_size"]),
            r["runtime"],
            _gpu(r["gpu_name"]),
            _meter_cell(r["meter"], r.get("protocol")),
            _num(r["optimal_batch"], "d"),
            _mj(r["energy_per_image_j"]),
            fmt_ci(r["ci95_rel"]),
            _mj(r["dynamic_energy_per_image_j"]),
            _num(r["throughput_ips"], ".4g"),
            _ms(r["latency_p50_s"]),
            _num(r["avg_power_w"], ".0f"),
            _power_pct(r),
            _status_cell(r["status"], r["error"]),
            style="dim" if r["meter"] == "sim" else None,
        )
    return t


def _batches_table(rows: list[dict[str, Any]]):
    from rich.table import Table

    t = Table(title="Per-batch measurements", title_justify="left")
    for name in ("model", "img", "runtime", "GPU", "meter", "batch", "mJ/img", "dyn. mJ/img", "img/s", "p50 ms"):
        t.add_column(
            name, justify="right" if name in ("img", "batch", "mJ/img", "dyn. mJ/img", "img/s", "p50 ms") else "left"
        )
    for name in ("p95 ms", "avg W", "peak GiB", "±CI95", "status"):
        t.add_column(name, justify="left" if name == "status" else "right")
    for r in rows:
        peak = r["peak_memory_b"]
        t.add_row(
            r["model"],
            str(r["img_size"]),
            r["runtime"],
            _gpu(r["gpu_name"]),
            _meter_cell(r["meter"], r.get("protocol")),
            str(r["batch_size"]),
            _mj(r["energy_per_image_j"]),
            _mj(r["dynamic_energy_per_image_j"]),
            _num(r["throughput_ips"], ".4g"),
            _ms(r["latency_p50_s"]),
            _ms(r["latency_p95_s"]),
            _num(r["avg_power_w"], ".0f"),
            "–" if peak is None else f"{peak / 1024**3:.2f}",
            fmt_ci(r["ci95_rel"]),
            _batch_status_cell(r),
            style="dim" if r["meter"] == "sim" else None,
        )
    return t


def _failures_table(rows: list[dict[str, Any]]):
    from rich.table import Table

    t = Table(title="Failures", title_justify="left")
    for name in ("model", "img", "runtime", "GPU", "stage", "batch", "reason", "detail", "when"):
        t.add_column(name, justify="right" if name in ("img", "batch") else "left", overflow="fold")
    for r in rows:
        detail = r["detail"] or ""
        t.add_row(
            r["model"],
            _num(r["img_size"], "d"),
            r["runtime"],
            _gpu(r.get("gpu_name")),
            r["stage"],
            _num(r["batch_size"], "d"),
            f"[red]{r['reason']}[/]",
            detail if len(detail) <= 80 else detail[:77] + "...",
            r["occurred_at"] or "–",
        )
    return t


def _windows_table(rows: list[dict[str, Any]]):
    from rich.table import Table

    from joulebench.units import fmt_energy, fmt_power, fmt_time

    t = Table(title="Measured windows (joulebench meter)", title_justify="left")
    for name in ("id", "label", "GPU", "meter", "method", "energy", "dynamic", "duration", "avg power", "exit"):
        t.add_column(
            name, justify="right" if name in ("id", "energy", "dynamic", "duration", "avg power", "exit") else "left"
        )
    for r in rows:
        t.add_row(
            str(r["window_id"]),
            r["label"] or "–",
            _gpu(r.get("gpu_name")),
            _meter_cell(r["meter"]),
            r["method"] or "–",
            fmt_energy(r["energy_j"]),
            fmt_energy(r["dynamic_energy_j"]),
            fmt_time(r["duration_s"]),
            fmt_power(r["avg_power_w"]),
            "–" if r["exit_code"] is None else str(r["exit_code"]),
            style="dim" if r["meter"] == "sim" else None,
        )
    return t


def _stale(
    db: Path | None,
    filters: dict[str, Any],
    limit: int | None,
    as_json: bool,
    wide: bool,
    names: bool = False,
    min_change: float = 0.0,
) -> None:
    """``results --stale``: the stale results among the summaries that match the filters (and ``--min-change``)."""
    from rich.table import Table

    from joulebench.sweep.stale import stale_by_setup

    with open_store(db) as store:
        rows = stale_by_setup(store)
        if filters:  # the filters' own rules (globs, substrings), through the summaries they select
            keep = {(r["run_id"], r["model"], r["img_size"], r["runtime"]) for r in store.rows("summaries", **filters)}
            rows = [r for r in rows if (r["run_id"], r["model"], r["img_size"], r["runtime"]) in keep]
    rows = [r for r in rows if r["expected_change"] >= min_change]
    rows = rows[:limit] if limit is not None else rows
    if names:
        # the order kept, each configuration once: `measure` runs them in the order given
        typer.echo("\n".join(dict.fromkeys(f"{r['model']}@{r['img_size']}" for r in rows)))
        return
    if as_json:
        emit_json(rows)
        return
    if not rows:
        above = f" expected to read at least {100 * min_change:.2g} % lower" if min_change else ""
        err_console().print(
            f"no stale results{above} in {db_path(db)}: the current batch search would end every search there"
            + (" or expect less from it" if min_change else "")
        )
        return
    t = Table(
        title="Results the current batch search would have continued (measure --redo-stale)", title_justify="left"
    )
    for name in ("model", "img", "runtime", "GPU", "meter", "next batch", "expected"):
        t.add_column(name, justify="right" if name in ("img", "next batch", "expected") else "left")
    for r in rows:  # largest expected change first: the order measure --redo-stale takes
        t.add_row(r["model"], str(r["img_size"]), r["runtime"], _gpu(r["gpu_name"]), _meter_cell(r["meter"]),
                  str(r["next_batch"]), f"-{100 * r['expected_change']:.1f} %")  # fmt: skip
    print_table(t, ("model", "img", "runtime", "next batch", "expected"), wide)


#: Each listing: how it is built, and the columns it keeps at any width.
_VIEWS = {
    "summaries": (_summaries_table, ("model", "img", "runtime", "mJ/img", "±CI95", "status")),
    "measurements": (_batches_table, ("model", "img", "runtime", "batch", "mJ/img")),
    "failures": (_failures_table, ("model", "runtime", "reason")),
    "windows": (_windows_table, ("id", "label", "energy")),
}


def results(
    db: Path | None = DbOpt,
    model: str | None = ModelFilterOpt,
    runtime: str | None = RuntimeFilterOpt,
    gpu: str | None = GpuFilterOpt,
    meter: str | None = MeterFilterOpt,
    status: str | None = StatusFilterOpt,
    run: str | None = RunFilterOpt,
    failures: bool = typer.Option(False, "--failures", help="List failures with their reasons instead."),
    batches: bool = typer.Option(False, "--batches", help="List every measured batch size instead."),
    windows: bool = typer.Option(False, "--windows", help="List `joulebench meter` windows instead."),
    stale: bool = typer.Option(
        False,
        "--stale",
        help="List the results whose batch search the current rule would have continued instead (what"
        " `measure --redo-stale` measures again), with the batch it would scout next.",
    ),
    names: bool = typer.Option(
        False,
        "--names",
        help="With --stale: print only tag@size, one per line, largest expected change first (for `joulebench"
        " measure $(...) --runtime R --redo-stale`, with --runtime R here too).",
    ),
    min_change: str | None = MinChangeOpt,
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="Show at most N rows."),
    as_json: bool = JsonOpt,
    wide: bool = WideOpt,
) -> None:
    """Show stored results: per-model summaries (default), per-batch rows, failures, meter windows or stale results.

    Energies are shown in mJ per image; rows from the simulated meter are marked `sim` and are not
    hardware measurements. `--json` prints the rows in SI units (J, s, W, B).
    """
    from joulebench.errors import ConfigError

    flags = (("failures", failures), ("measurements", batches), ("windows", windows), ("stale", stale))
    chosen = [name for name, flag in flags if flag]
    if len(chosen) > 1:
        raise ConfigError("pick one of --failures, --batches, --windows and --stale")
    table = chosen[0] if chosen else "summaries"
    if names and table != "stale":
        raise ConfigError("--names lists the stale results' configurations: add --stale")
    filters = {"model": model, "runtime": runtime, "gpu": gpu, "meter": meter, "status": status, "run_id": run}
    stale_change = parse_min_change(min_change, "--stale", table == "stale")
    if table == "stale":
        _stale(db, {k: v for k, v in filters.items() if v is not None}, limit, as_json, wide, names, stale_change)
        return
    with open_store(db) as store:
        rows = _fill_from_runs(store, store.rows(table, limit=limit, **filters))
        total = store.count(table, **filters) if limit is not None and len(rows) == limit else len(rows)
    if as_json:
        if table in ("summaries", "measurements"):
            from joulebench.store.records import wide_ci

            rows = [{**r, "ci95_wide": wide_ci(r["ci95_rel"])} for r in rows]
        emit_json(rows)
        return
    if not rows:
        active = ", ".join(f"--{'run' if k == 'run_id' else k} {v}" for k, v in filters.items() if v is not None)
        err_console().print(
            f"no {table} in {db_path(db)}" + (f" match {active}" if active else "") + "; measure models with "
            "`joulebench measure MODEL --runtime torch-fp32`" + (", or drop the filters" if active else "")
        )
        return
    build, essential = _VIEWS[table]
    view = build(rows)
    notes = []
    if any(r.get("meter") == "sim" for r in rows):
        notes.append("[bold magenta]sim[/] = simulated meter: not a hardware measurement")
    if any(r.get("protocol") == QUICK_PROTOCOL for r in rows):
        notes.append(QUICK_NOTE)
    if table == "measurements" and any(_launch_bound_pct(r) is not None for r in rows):
        notes.append(LAUNCH_BOUND_NOTE)
    if table in ("summaries", "measurements") and any_wide_ci(r["ci95_rel"] for r in rows):
        notes.append(WIDE_CI_NOTE)
    if total > len(rows):
        notes.append(f"showing {len(rows)} of {total} rows (--limit)")
    if notes:
        view.caption = "; ".join(notes)
    print_table(view, essential, wide)


def register(app: typer.Typer) -> None:
    """Add ``results`` to the CLI."""
    app.command("results")(results)

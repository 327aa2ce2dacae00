"""``joulebench stats``: parameters, MACs and activations per image of model configurations.

Shipped for every pretrained configuration and cached; only others (or ``--refresh``) import timm.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import typer

from joulebench.cli.display import as_float, emit_json, err_console, print_table
from joulebench.cli.options import JsonOpt, WideOpt, timm_knows
from joulebench.errors import ConfigError

Job = tuple[str, int | None]


def _is_glob(name: str) -> bool:
    return any(c in name for c in "*?[")


def configurations(cat: Any, models: list[str] | None, img_size: int | None) -> list[Job]:
    """The (model, size) pairs that ``models`` name in the catalogue ``cat`` (all of it when none are named).

    Raises:
        ConfigError: A name matches nothing and cannot be computed as given.
    """
    if not models:
        return [(m, int(s)) for m, s in zip(cat["model"], cat["img_size"], strict=True)]
    jobs: list[Job] = []
    for name in models:
        if _is_glob(name):
            hits = cat[cat["model"].map(lambda m, p=name: fnmatch.fnmatch(m, p))]
        else:
            hits = cat[(cat["model"] == name) | cat["model"].str.startswith(name + ".")]
        if img_size is not None:
            hits = hits[hits["img_size"] == img_size]
        if len(hits):
            jobs += [(m, int(s)) for m, s in zip(hits["model"], hits["img_size"], strict=True)]
        elif not _is_glob(name) and (img_size is not None or timm_knows(name)):
            jobs.append((name, img_size))  # a non-default size, or an architecture without pretrained weights
        else:
            from joulebench.models.catalogue import closest_names

            close = closest_names(name, cat["model"])
            raise ConfigError(f"unknown model '{name}'. Closest names: {', '.join(close) or 'none'}")
    return list(dict.fromkeys(jobs))


def _statistics(jobs: list[Job], refresh: bool, workers: int) -> list[dict[str, Any]]:
    """One row per job, in order: shipped or cached when known, computed (and cached) otherwise.

    A job without a size takes the model's default one, so its row is found by the model's name.
    """
    from joulebench.models.stats import compute_many, load_stats

    stats = load_stats()
    known = stats.set_index(["model", "img_size"]) if len(stats) else None
    todo = [j for j in jobs if refresh or known is None or j not in known.index]
    rows: dict[Job, dict[str, Any]] = {}
    if known is not None:
        for j in jobs:
            if j in known.index and j not in todo:
                rows[j] = {"model": j[0], "img_size": j[1], **known.loc[j].to_dict()}
    if todo:
        err_console().print(f"computing statistics of {len(todo)} configuration(s) (timm, no weights)...")
        for s in compute_many(todo, workers=workers, refresh=refresh):
            rows[(s.model, s.img_size)] = s.to_dict()
            rows.setdefault((s.model, None), s.to_dict())
    return [rows[j] for j in jobs if j in rows]


def stats(
    models: list[str] | None = typer.Argument(None, help="Names or globs (default: every pretrained configuration)."),
    img_size: int | None = typer.Option(None, "--img-size", min=1, help="Input size (default: each configuration's)."),
    refresh: bool = typer.Option(False, "--refresh", help="Recompute even if shipped or cached (needs timm)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes for computing missing statistics."),
    json_out: bool = JsonOpt,
    wide: bool = WideOpt,
) -> None:
    """Parameters, MACs and activations per image (shipped for all pretrained configurations; cached)."""
    from joulebench.models.catalogue import load_catalogue

    ordered = _statistics(configurations(load_catalogue(), models, img_size), refresh, workers)
    if json_out:
        from joulebench.data.dataset import _py

        cols = ("model", "img_size", "params", "macs", "activations", "method", "timm_version")
        emit_json([{c: _py(r.get(c)) for c in cols} for r in ordered])
        return
    _print(ordered, wide)


def _print(rows: list[dict[str, Any]], wide: bool) -> None:
    from rich.table import Table

    from joulebench.models.stats import human_count

    t = Table(title=f"{len(rows)} configuration(s); MACs and activations per image")
    for c in ("model", "px", "params", "MACs", "activations", "method"):
        t.add_column(c, justify="left" if c in ("model", "method") else "right")
    for r in rows:
        t.add_row(
            r["model"],
            str(r["img_size"]),
            human_count(as_float(r.get("params"))),
            human_count(as_float(r.get("macs"))),
            human_count(as_float(r.get("activations"))),
            str(r.get("method")),
        )
    print_table(t, ("model", "px", "params", "MACs"), wide)


def register(app: typer.Typer) -> None:
    """Add ``stats`` to the CLI."""
    app.command("stats")(stats)

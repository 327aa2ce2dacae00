"""``joulebench models`` (filter and sort the catalogue), ``show`` (one configuration) and ``stats``.

The commands read the shipped catalogue and reference data; they never import timm or torch, except
``stats`` for configurations that are neither shipped nor cached (or with ``--refresh``).
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import typer

from joulebench.commands._common import DbOpt, JsonOpt, console, db_path, emit_json, err_console
from joulebench.errors import ConfigError

_COUNT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*([kKmMgGbBtT]?)\s*$")
_COUNT_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9, "t": 1e12}

_TYPE_ALIASES = {
    "cnn": "CNN",
    "conv": "CNN",
    "transformer": "Transformer",
    "vit": "Transformer",
    "hybrid": "Hybrid CNN-Transformer",
    "hybrid cnn-transformer": "Hybrid CNN-Transformer",
    "mlp": "MLP",
}

#: --sort key -> (column, ascending).
SORTS = {
    "accuracy": ("top1", False),
    "energy": ("energy_per_image_j", True),
    "throughput": ("throughput_ips", False),
    "efficiency": ("top1_per_j", False),
    "params": ("params", True),
    "macs": ("macs", True),
    "activations": ("activations", True),
    "year": ("year", False),
    "name": ("model", True),
    "size": ("img_size", True),
}


def parse_count(text: str) -> float:
    """Parse '25M', '1.5B', '300k' or '25000000' into a number."""
    m = _COUNT.match(str(text))
    if not m:
        raise ConfigError(f"cannot read the count '{text}': write e.g. 25M, 1.5B or 300k")
    return float(m.group(1)) * _COUNT_UNITS[m.group(2).lower()]


def parse_type(text: str) -> str:
    """Map a user's architecture type ('cnn', 'hybrid'...) to the catalogue's."""
    t = _TYPE_ALIASES.get(text.strip().lower())
    if t is None:
        raise ConfigError(f"unknown architecture type '{text}': use cnn, transformer, hybrid or mlp")
    return t


def _dataset(db: Path | None):
    from joulebench.data import load_dataset

    path = db_path(db)
    if db is not None and not path.exists():
        raise ConfigError(f"results database '{path}' does not exist; check --db or run `joulebench measure` first")
    return load_dataset(db=path if path.exists() else None)


def _out():
    from rich.console import Console

    c = console()
    return c if c.is_terminal else Console(width=200)


def _fmt_count(n: Any, unit: str = "") -> str:
    from joulebench.models.stats import human_count

    if n is None or n != n:
        return "–"
    return human_count(float(n)) + unit


def _fmt(x: Any, spec: str) -> str:
    return "–" if x is None or x != x else format(float(x), spec)


def filter_models(
    ds: Any,
    pattern: str | None = None,
    type_: str | None = None,
    family: str | None = None,
    year_min: int | None = None,
    year_max: int | None = None,
    min_accuracy: float | None = None,
    testset: str = "imagenet",
    max_params: float | None = None,
    setup: str | None = None,
    max_energy_j: float | None = None,
    sort: str = "accuracy",
) -> Any:
    """The catalogue with accuracy/energy columns, filtered and sorted as ``joulebench models`` does.

    Raises:
        ConfigError: For unknown types, families, setups, test sets or sort keys, or ``--max-energy``
            / ``--sort energy`` without ``--setup``.
    """
    if sort not in SORTS:
        raise ConfigError(f"unknown sort key '{sort}': use one of {', '.join(SORTS)}")
    if (max_energy_j is not None or sort in ("energy", "throughput", "efficiency")) and not setup:
        raise ConfigError("energy filters and sorts need a setup: add --setup, e.g. --setup A100:tensorrt-fp16")
    df = ds.model_table(testset=testset, setup=setup)
    if pattern:
        rx = re.compile(fnmatch.translate(pattern if any(c in pattern for c in "*?[") else pattern + "*"))
        df = df[df["model"].map(lambda m: bool(rx.match(m)))]
    if type_:
        df = df[df["type"] == parse_type(type_)]
    if family:
        fams = set(ds.catalogue["family"])
        if family not in fams:
            from joulebench.models.catalogue import closest_names

            close = closest_names(family, sorted(fams), n=4)
            raise ConfigError(f"unknown family '{family}'. Closest: {', '.join(close) or 'none'}")
        df = df[df["family"] == family]
    if year_min is not None:
        df = df[df["year"] >= year_min]
    if year_max is not None:
        df = df[df["year"] <= year_max]
    if min_accuracy is not None:
        df = df[df["top1"] >= min_accuracy]
    if max_params is not None:
        df = df[df["params"].astype("Float64") <= max_params]
    if max_energy_j is not None:
        df = df[df["energy_per_image_j"].astype("Float64") <= max_energy_j]
    if setup:
        df = df.assign(top1_per_j=df["top1"] / df["energy_per_image_j"].astype("Float64"))
    col, asc = SORTS[sort]
    df = df.sort_values([col, "model", "img_size"], ascending=[asc, True, True], na_position="last", kind="stable")
    return df.reset_index(drop=True)


def _models_cmd(
    pattern: str | None = typer.Argument(None, help="Only names matching this glob or prefix (resnet*, vit_base)."),
    type_: str | None = typer.Option(None, "--type", help="cnn, transformer, hybrid or mlp."),
    family: str | None = typer.Option(None, "--family", help="Model family, e.g. convnext, vit, eva02, mobilenetv4."),
    year_min: int | None = typer.Option(None, "--year-min", help="Families published in or after this year."),
    year_max: int | None = typer.Option(None, "--year-max", help="Families published in or before this year."),
    min_accuracy: float | None = typer.Option(None, "--min-accuracy", help="Minimum top-1 (%) on --testset."),
    testset: str = typer.Option("imagenet", "--testset", help="Test set for accuracy (imagenet, imagenet-a, ...)."),
    max_params: str | None = typer.Option(None, "--max-params", help="Maximum parameters, e.g. 25M."),
    setup: str | None = typer.Option(None, "--setup", help="Energy setup GPU:runtime, e.g. H100:tensorrt-fp16."),
    max_energy: str | None = typer.Option(None, "--max-energy", help="Maximum energy per image on --setup, e.g. 20mJ."),
    sort: str = typer.Option("accuracy", "--sort", help=f"Sort by {', '.join(SORTS)}."),
    limit: int = typer.Option(50, "--limit", help="Show at most N rows (0 = all)."),
    json_out: bool = JsonOpt,
    db: Path | None = DbOpt,
) -> None:
    """List model configurations with their type, family, year, size, accuracy and energy."""
    from joulebench.units import fmt_energy, parse_energy_j

    ds = _dataset(db)
    df = filter_models(
        ds,
        pattern=pattern,
        type_=type_,
        family=family,
        year_min=year_min,
        year_max=year_max,
        min_accuracy=min_accuracy,
        testset=testset,
        max_params=parse_count(max_params) if max_params else None,
        setup=setup,
        max_energy_j=parse_energy_j(max_energy, "mj") if max_energy else None,
        sort=sort,
    )
    total = len(df)
    if limit:
        df = df.head(limit)
    if json_out:
        from joulebench.data.dataset import _py

        cols = ["model", "img_size", "type", "family", "year", "pretrain", "params", "macs", "activations", "top1",
                "top5", "energy_per_image_j", "throughput_ips", "energy_source", "url"]  # fmt: skip
        emit_json([{c: _py(r.get(c)) for c in cols} for r in df.to_dict("records")])
        return
    from rich.table import Table

    t = Table(title=f"{total} model configuration(s)" + (f", first {len(df)}" if len(df) < total else ""))
    for c in ("model", "px", "type", "family", "year", "params", "MACs", f"top-1 {testset}"):
        t.add_column(c, justify="right" if c not in ("model", "type", "family") else "left")
    if setup:
        t.add_column(f"energy {setup}", justify="right")
        t.add_column("img/s", justify="right")
    for r in df.to_dict("records"):
        row = [
            r["model"],
            str(r["img_size"]),
            str(r["type"]).replace("Hybrid CNN-Transformer", "Hybrid"),
            str(r["family"]),
            _fmt(r["year"], ".0f"),
            _fmt_count(r["params"]),
            _fmt_count(r["macs"]),
            _fmt(r["top1"], ".2f"),
        ]
        if setup:
            e = r.get("energy_per_image_j")
            row += [fmt_energy(None if e is None or e != e else float(e)), _fmt(r.get("throughput_ips"), ",.0f")]
        t.add_row(*row)
    _out().print(t)


def _show_cmd(
    model: str = typer.Argument(..., help="Pretrained tag (resnet50.a1_in1k) or architecture (resnet50)."),
    img_size: int | None = typer.Option(None, "--img-size", help="Only this input size."),
    json_out: bool = JsonOpt,
    db: Path | None = DbOpt,
) -> None:
    """Everything known about one model configuration: catalogue, stats, accuracy and energy per setup."""
    ds = _dataset(db)
    configs = ds.resolve(model, img_size)
    exact = [c for c in configs if c[0] == model]
    if exact:
        configs = exact
    if len({c[0] for c in configs}) > 1:
        names = sorted({c[0] for c in configs})
        raise ConfigError(
            f"'{model}' names {len(names)} pretrained configurations; pick one: "
            + ", ".join(names[:12])
            + (" ..." if len(names) > 12 else "")
        )
    from joulebench.analysis.consistency import model_checks

    infos = [{**ds.describe(m, s), "checks": model_checks(ds.energy, m, s, ds.catalogue)} for m, s in configs]
    if json_out:
        emit_json(infos if len(infos) > 1 else infos[0])
        return
    for info in infos:
        _print_show(info)


def _print_show(info: dict[str, Any]) -> None:
    from rich.table import Table

    from joulebench.units import fmt_energy, fmt_time

    out = _out()
    cat = info["catalogue"] or {}
    st = info["stats"] or {}
    out.print(f"[bold]{info['model']}[/] at {info['img_size']} px")
    facts = Table(show_header=False, box=None)
    facts.add_column(style="dim")
    facts.add_column()
    for k in ("type", "family", "year", "pretrain", "crop_pct", "interpolation", "license", "url"):
        if cat.get(k) is not None:
            facts.add_row(k, str(cat[k]))
    for k, unit in (("params", ""), ("macs", " MACs/image"), ("activations", " activations/image")):
        v = st.get(k, cat.get(k))
        if v is not None:
            facts.add_row(k, _fmt_count(v, unit))
    if not cat:
        facts.add_row("catalogue", "not a current timm pretrained configuration")
    out.print(facts)
    if info["accuracy"]:
        t = Table(title="accuracy (%)")
        for c in ("test set", "top-1", "top-5", "source"):
            t.add_column(c)
        for r in sorted(info["accuracy"], key=lambda r: (r["testset"], r["source"])):
            t.add_row(r["testset"], _fmt(r["top1"], ".2f"), _fmt(r["top5"], ".2f"), r["source"])
        out.print(t)
    if info["energy"]:
        t = Table(title="energy per image")
        for c in ("setup", "energy", "img/s", "latency/batch", "batch", "max batch", "power limit", "source", "status"):
            t.add_column(c)
        for r in sorted(info["energy"], key=lambda r: (r["setup"], r["source"])):
            t.add_row(
                r["setup"],
                fmt_energy(r["energy_per_image_j"]),
                _fmt(r["throughput_ips"], ",.0f"),
                fmt_time(r["latency_s"]),
                _fmt(r["batch_size"], ".0f"),
                _fmt(r["max_batch"], ".0f"),
                _fmt(r["power_limit_w"], ".0f") + " W" if r["power_limit_w"] is not None else "–",
                r["source"] + (" [bold magenta](simulated)[/]" if r.get("simulated") else ""),
                r["status"],
            )
        out.print(t)
    for c in info.get("checks", []):
        out.print(f"[yellow]check ({c['check']}):[/] {c['message']}")
    if info["throughput"]:
        t = Table(title="timm throughput (no energy)")
        for c in ("setup", "img/s", "batch"):
            t.add_column(c)
        for r in info["throughput"]:
            t.add_row(r["setup"], _fmt(r["throughput_ips"], ",.0f"), _fmt(r["batch_size"], ".0f"))
        out.print(t)


def _stats_cmd(
    models: list[str] | None = typer.Argument(None, help="Names or globs (default: every pretrained configuration)."),
    img_size: int | None = typer.Option(None, "--img-size", help="Input size (default: each configuration's)."),
    refresh: bool = typer.Option(False, "--refresh", help="Recompute even if shipped or cached (needs timm)."),
    workers: int = typer.Option(1, "--workers", help="Processes for computing missing statistics."),
    json_out: bool = JsonOpt,
) -> None:
    """Parameters, MACs and activations per image (shipped for all pretrained configurations; cached)."""
    from joulebench.models.catalogue import closest_names, load_catalogue
    from joulebench.models.stats import compute_many, human_count, load_stats

    cat = load_catalogue()
    stats = load_stats()
    known = stats.set_index(["model", "img_size"]) if len(stats) else None
    jobs: list[tuple[str, int | None]] = []
    if not models:
        jobs = [(m, int(s)) for m, s in zip(cat["model"], cat["img_size"], strict=True)]
    for name in models or []:
        if any(c in name for c in "*?["):
            hits = cat[cat["model"].map(lambda m, p=name: fnmatch.fnmatch(m, p))]
        else:
            hits = cat[(cat["model"] == name) | cat["model"].str.startswith(name + ".")]
        if img_size is not None:
            hits = hits[hits["img_size"] == img_size]
        if len(hits):
            jobs += [(m, int(s)) for m, s in zip(hits["model"], hits["img_size"], strict=True)]
        elif not any(c in name for c in "*?[") and img_size is not None:
            jobs.append((name, img_size))  # e.g. a non-default size or an untagged architecture: compute it
        else:
            close = closest_names(name, cat["model"])
            raise ConfigError(f"unknown model '{name}'. Closest names: {', '.join(close) or 'none'}")
    jobs = list(dict.fromkeys(jobs))
    todo = [j for j in jobs if refresh or known is None or j not in known.index]
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    if known is not None:
        for j in jobs:
            if j in known.index and j not in todo:
                rows[j] = {"model": j[0], "img_size": j[1], **known.loc[j].to_dict()}
    if todo:
        err_console().print(f"computing statistics of {len(todo)} configuration(s) (timm, no weights)...")
        for s in compute_many(todo, workers=workers, refresh=refresh):
            rows[(s.model, s.img_size)] = s.to_dict()
    ordered = [rows[j] for j in jobs if j in rows]
    if json_out:
        from joulebench.data.dataset import _py

        cols = ("model", "img_size", "params", "macs", "activations", "method", "timm_version")
        emit_json([{c: _py(r.get(c)) for c in cols} for r in ordered])
        return
    from rich.table import Table

    t = Table(title=f"{len(ordered)} configuration(s); MACs and activations per image")
    for c in ("model", "px", "params", "MACs", "activations", "method"):
        t.add_column(c, justify="left" if c in ("model", "method") else "right")
    for r in ordered:
        t.add_row(
            r["model"],
            str(r["img_size"]),
            human_count(_num(r.get("params"))),
            human_count(_num(r.get("macs"))),
            human_count(_num(r.get("activations"))),
            str(r.get("method")),
        )
    _out().print(t)


def _num(x: Any) -> float | None:
    return None if x is None or x != x else float(x)


def register(app: typer.Typer) -> None:
    """Add ``models``, ``show`` and ``stats`` to the CLI."""
    app.command("models")(_models_cmd)
    app.command("show")(_show_cmd)
    app.command("stats")(_stats_cmd)

"""``joulebench estimate``, ``rank``, ``frontier``, ``compare`` and ``report``: the analyses on the command line.

pandas, scipy, matplotlib and scikit-learn are imported inside the commands so ``joulebench --help`` stays fast.
"""

from __future__ import annotations

import math
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import typer

from joulebench.commands._common import DbOpt, JsonOpt, console, db_path, emit_json, err_console
from joulebench.errors import ConfigError

_COUNT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*([kKmMgGbBtT]?)\s*$")
_COUNT_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9, "t": 1e12}

SetupOpt = typer.Option(..., "--setup", "-s", help="Setup GPU:runtime, e.g. A100:torch-fp32 (see `joulebench data`).")
IntensityOpt = typer.Option(None, "--intensity", help="Grid carbon intensity in g CO2e/kWh, e.g. 400.")
PriceOpt = typer.Option(None, "--price", help="Electricity price per kWh, e.g. 0.30.")
CurrencyOpt = typer.Option("", "--currency", help="Currency label of --price, e.g. EUR.")
IncludeTestOpt = typer.Option(False, "--include-test-models", help="Keep timm's untrained test_* models.")
DropSuspectOpt = typer.Option(
    False,
    "--drop-suspect",
    help="Leave out this setup's readings that fail a consistency check (see `joulebench consistency`).",
)


def parse_count(text: str | float) -> float:
    """Parse '50M', '1.5B', '300k' or '25000000' into a plain number."""
    if isinstance(text, (int, float)):
        return float(text)
    m = _COUNT.match(str(text))
    if not m:
        raise ConfigError(f"cannot read the count '{text}': write e.g. 50M, 1.5B or 300k")
    return float(m.group(1)) * _COUNT_UNITS[m.group(2).lower()]


def parse_accuracy(text: str | float) -> float:
    """Parse '80' or '80%' into accuracy points (80.0)."""
    s = str(text).strip().rstrip("%")
    try:
        v = float(s)
    except ValueError:
        raise ConfigError(f"cannot read the accuracy '{text}': write a percentage such as 80") from None
    if not 0 <= v <= 100:
        raise ConfigError(f"accuracy {text} is outside 0-100 (write percent, e.g. 80 for 80%)")
    return v


def load(db: Path | None):
    """The dataset view (reference data plus the store's own measurements)."""
    try:
        from joulebench.data import load_dataset
    except ImportError as exc:  # the data package is built by another part of the project
        raise ConfigError(f"the dataset view (joulebench.data) cannot be imported: {exc}") from None
    if db is not None and not Path(db).exists():
        raise ConfigError(f"results database '{db}' does not exist; check --db or run `joulebench measure` first")
    return load_dataset(db=db)


def _stats(ds) -> Any:
    s = getattr(ds, "stats", None)
    return s if hasattr(s, "columns") else None


def load_measurements(db: Path | None):
    """Per-batch measurements from the store, or None when there is no store."""
    path = db_path(db)
    if not path.exists():
        return None
    from joulebench.store import Store

    with Store(path, create=False) as store:
        m = store.measurements_frame()
        runs = store.runs_frame()
    # rows may leave the power limit to their run (as `joulebench results` does)
    if len(m) and "run_id" in m.columns and "power_limit_w" in runs.columns:
        limits = runs.set_index("run_id")["power_limit_w"]
        own = m["power_limit_w"] if "power_limit_w" in m.columns else None
        m["power_limit_w"] = m["run_id"].map(limits) if own is None else own.fillna(m["run_id"].map(limits))
    return m


def _out():
    """A console on stdout that does not squeeze tables to 80 columns when output is piped."""
    from rich.console import Console

    c = console()
    return c if c.is_terminal else Console(width=200)


def _mj(j: Any) -> str:
    return "–" if j is None or j != j else f"{j * 1e3:.4g}"


def _suspect_filter(ds: Any, setup: str, drop: bool, quiet: bool) -> tuple[Any, list[dict] | None]:
    """The energy table, without ``setup``'s suspect readings when ``drop`` (and those readings, else None)."""
    if not drop:
        return ds.energy, None
    from joulebench.analysis.consistency import drop_suspect

    energy, why = drop_suspect(ds.energy, setup, ds.catalogue)
    if not quiet:
        names = ", ".join(f"{m}@{s}" for m, s in zip(why["model"][:5], why["img_size"][:5], strict=True))
        more = f" and {len(why) - 5} more" if len(why) > 5 else ""
        err_console().print(
            f"left out {len(why)} suspect reading(s) of {setup}"
            + (f": {names}{more}" if len(why) else "")
            + " (why: joulebench show MODEL, or joulebench consistency)"
        )
    return energy, why.to_dict("records")


def _cmdline() -> str:
    return "joulebench " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def register(app: typer.Typer) -> None:
    """Add the analysis commands to the CLI."""

    @app.command("estimate")
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

        ds = load(db)
        res = estimate_model(ds.energy, ds.catalogue, model, setup, img_size, stats=_stats(ds))
        if cv:
            from joulebench.analysis._common import attach, dedupe_energy, static_facts
            from joulebench.analysis.estimators import cross_validate

            d = attach(dedupe_energy(ds.energy[ds.energy["setup"] == setup]), static_facts(ds.catalogue, _stats(ds)))
            res["cross_validation"] = cross_validate(d).to_dict("records")
        if json_out:
            emit_json(res)
            return
        from rich.table import Table

        t = Table(title=f"{res['model']} @ {res['img_size']} px on {res['setup']}")
        for c in ("estimator", "mJ/image", "error vs measured", "how"):
            t.add_column(c, justify="left" if c in ("estimator", "how") else "right")
        t.add_row("measured", _mj(res["measured_j"]), "", "")
        for e in res["estimates"]:
            err = "" if e["error_pct"] is None else f"{e['error_pct']:+.0f}%"
            t.add_row(e["estimator"], _mj(e["energy_per_image_j"]), err, e["note"])
        _out().print(t)
        for r in res.get("cross_validation", []):
            console().print(f"{r['estimator']}: cross-validated MAPE {r['mape']:.1f}% over {r['n']} models")

    @app.command("rank")
    def rank_cmd(
        setup: str = SetupOpt,
        testset: list[str] = typer.Option(["imagenet"], "--testset", "-t", help="Test set(s); several are averaged."),
        min_accuracy: str | None = typer.Option(None, "--min-accuracy", help="Least top-1 in %, e.g. 80."),
        max_energy: str | None = typer.Option(None, "--max-energy", help="Most energy per image, e.g. 20mJ."),
        max_latency: str | None = typer.Option(None, "--max-latency", help="Most latency per batch, e.g. 50ms."),
        max_params: str | None = typer.Option(None, "--max-params", help="Most parameters, e.g. 50M."),
        max_memory: str | None = typer.Option(None, "--max-memory", help="Most memory (peak, else weights), e.g. 2GB."),
        weight: float = typer.Option(0.5, "--weight", "-w", help="Energy's weight W in [0, 1] (manhattan score)."),
        score: str = typer.Option("manhattan", "--score", help="manhattan or acc-per-joule."),
        limit: int = typer.Option(20, "--limit", "-n", help="Show the best N."),
        intensity: float | None = IntensityOpt,
        price: float | None = PriceOpt,
        currency: str = CurrencyOpt,
        drop_suspect: bool = DropSuspectOpt,
        json_out: bool = JsonOpt,
        db: Path | None = DbOpt,
    ) -> None:
        """Rank models on a setup by efficiency score after thresholds (with carbon and cost per million images)."""
        from joulebench.analysis._common import energy_accuracy
        from joulebench.analysis.carbon import add_carbon_columns
        from joulebench.analysis.scores import Thresholds, rank
        from joulebench.units import parse_bytes, parse_energy_j, parse_time_s

        th = Thresholds(
            min_accuracy=None if min_accuracy is None else parse_accuracy(min_accuracy),
            max_energy_j=None if max_energy is None else parse_energy_j(max_energy),
            max_latency_s=None if max_latency is None else parse_time_s(max_latency),
            max_params=None if max_params is None else parse_count(max_params),
            max_memory_b=None if max_memory is None else parse_bytes(max_memory),
        )
        ds = load(db)
        energy, dropped = _suspect_filter(ds, setup, drop_suspect, json_out)
        df = energy_accuracy(energy, ds.accuracy, setup, testset, ds.catalogue, _stats(ds))
        res = rank(df, score, weight, th, limit)
        table = add_carbon_columns(res.table, intensity, price)
        if json_out:
            cols = [
                c
                for c in (
                    "rank",
                    "model",
                    "img_size",
                    "type",
                    "family",
                    "accuracy",
                    *testset,
                    "energy_per_image_j",
                    "latency_s",
                    "throughput_ips",
                    "params",
                    "memory_b",
                    "score",
                    "kwh_per_million",
                    "kg_co2e_per_million",
                    "cost_per_million",
                )
                if c in table.columns
            ]
            emit_json(
                {
                    "setup": setup,
                    "testsets": testset,
                    "score": res.score,
                    "weight": res.weight,
                    "max_energy_j": res.max_energy_j,
                    "candidates": res.candidates,
                    "filtered": res.filtered,
                    "reason": res.reason,
                    "currency": currency or None,
                    "dropped_suspect": dropped,
                    "models": table[list(dict.fromkeys(cols))].to_dict("records"),
                }
            )
            return
        if res.reason:
            err_console().print(f"[yellow]{res.reason}[/yellow]")
            return
        from rich.table import Table

        acc_label = "top-1 %" if testset == ["imagenet"] else f"top-1 % ({'+'.join(testset)})"
        t = Table(title=f"{setup}: {score}" + (f" (W={weight:g})" if score == "manhattan" else ""))
        cols = ["#", "model", "px", "type", acc_label, "mJ/img", "lat ms", "params M", "score"]
        extra = [
            ("kwh_per_million", "kWh/M img"),
            ("kg_co2e_per_million", "kg CO2e/M"),
            ("cost_per_million", f"{currency or 'cost'}/M"),
        ]
        extra = [(c, label) for c, label in extra if c in table.columns]
        for c in cols + [label for _, label in extra]:
            t.add_column(c, justify="left" if c in ("model", "type") else "right")
        for _, r in table.iterrows():
            t.add_row(
                str(r["rank"]),
                str(r["model"]),
                str(r["img_size"]),
                str(r.get("type", "") if r.get("type", "") == r.get("type", "") else ""),
                f"{r['accuracy']:.2f}",
                _mj(r["energy_per_image_j"]),
                "–"
                if r.get("latency_s") != r.get("latency_s") or r.get("latency_s") is None
                else f"{r['latency_s'] * 1e3:.3g}",
                "–" if r.get("params") != r.get("params") or r.get("params") is None else f"{r['params'] / 1e6:.3g}",
                f"{r['score']:.4g}",
                *[f"{r[c]:.4g}" for c, _ in extra],
            )
        _out().print(t)
        dropped = [f"{f['threshold']}: -{f['removed']}" for f in res.filtered if f["removed"]]
        note = f"{res.candidates} candidates" + (f"; {', '.join(dropped)}" if dropped else "")
        err_console().print(note)

    @app.command("frontier")
    def frontier_cmd(
        setup: str = SetupOpt,
        testset: list[str] = typer.Option(["imagenet"], "--testset", "-t", help="Test set(s); several are averaged."),
        target: list[float] = typer.Option([], "--target", help="Accuracy (%) to predict the energy for (repeatable)."),
        include_test_models: bool = IncludeTestOpt,
        drop_suspect: bool = DropSuspectOpt,
        json_out: bool = JsonOpt,
        db: Path | None = DbOpt,
    ) -> None:
        """The Pareto frontier of energy and accuracy on a setup, its fitted curve and the families on it."""
        from joulebench.analysis._common import drop_test_models, energy_accuracy
        from joulebench.analysis.fits import fit_frontier
        from joulebench.analysis.frontier import frontier, frontier_families

        ds = load(db)
        energy, dropped = _suspect_filter(ds, setup, drop_suspect, json_out)
        df = energy_accuracy(energy, ds.accuracy, setup, testset, ds.catalogue, _stats(ds))
        if not include_test_models:
            df = drop_test_models(df)
        front = frontier(df)
        fit = None
        fit_error = None
        try:
            fit = fit_frontier(front)
        except ConfigError as exc:
            fit_error = str(exc)
        preds = []
        for t in target:
            if fit is None:
                preds.append({"target_accuracy": t, "error": fit_error})
                continue
            try:
                p = fit.energy_for(t)
                preds.append(
                    {
                        "target_accuracy": t,
                        "energy_per_image_j": p.energy_per_image_j,
                        "extrapolated": p.extrapolated,
                        "note": p.message,
                    }
                )
            except ConfigError as exc:
                preds.append({"target_accuracy": t, "error": str(exc)})
        cols = [
            c for c in ("model", "img_size", "type", "family", "accuracy", "energy_per_image_j") if c in front.columns
        ]
        if json_out:
            emit_json(
                {
                    "setup": setup,
                    "testsets": testset,
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
        from rich.table import Table

        t = Table(title=f"Frontier on {setup} ({len(front)} of {len(df)} models)")
        for c in ("model", "px", "type", "top-1 %", "mJ/img"):
            t.add_column(c, justify="left" if c in ("model", "type") else "right")
        for _, r in front.iterrows():
            ty = r.get("type", "")
            t.add_row(
                str(r["model"]),
                str(r["img_size"]),
                str(ty if ty == ty else ""),
                f"{r['accuracy']:.2f}",
                _mj(r["energy_per_image_j"]),
            )
        _out().print(t)
        if fit is not None:
            console().print(
                f"fit A(E) = {fit.a:.2f} + {fit.b:.2f}·ln(1 + {fit.c:.3g}·ln(E / {fit.e_min * 1e3:.4g} mJ)), "
                f"R² {fit.r2:.3f}, RMSE {fit.rmse:.2f} points"
            )
        else:
            console().print(f"[yellow]{fit_error}[/yellow]")
        for p in preds:
            if "error" in p:
                console().print(f"{p['target_accuracy']:g}%: [yellow]{p['error']}[/yellow]")
            else:
                console().print(f"{p['target_accuracy']:g}%: {_mj(p['energy_per_image_j'])} mJ/image ({p['note']})")

    @app.command("compare")
    def compare_cmd(
        baseline: str = typer.Option(..., "--baseline", "-b", help="Baseline setup, e.g. A100:torch-fp32."),
        optimised: str = typer.Option(..., "--optimised", "-o", help="Optimised setup, e.g. A100:tensorrt-fp16."),
        json_out: bool = JsonOpt,
        db: Path | None = DbOpt,
    ) -> None:
        """Per-model energy reduction of one setup over another (geometric mean, spread, quantiles)."""
        from joulebench.analysis.effects import runtime_reduction

        ds = load(db)
        r = runtime_reduction(ds.energy, baseline, optimised)
        if json_out:
            emit_json({**r.to_dict(), "per_model": r.per_model.to_dict("records")})
            return
        d = r.to_dict()
        console().print(
            f"{optimised} vs {baseline} over {r.n} models: {r.geomean:.3g}x less energy per image "
            f"(geometric mean; GSD {r.gsd:.3g}; saving {d['mean_saving']:.0%}); "
            f"p05 {r.quantiles['p05']:.3g}x, median {r.quantiles['median']:.3g}x, p95 {r.quantiles['p95']:.3g}x; "
            f"{r.fraction_worse:.1%} of models spend more."
        )

    @app.command("consistency")
    def consistency_cmd(
        setup: list[str] = typer.Option([], "--setup", "-s", help="Setup(s) to check (default: all)."),
        reference: str | None = typer.Option(
            None,
            "--reference",
            "-r",
            help="Also list the models whose energy ratio to this setup is far from the typical ratio "
            "(needs exactly one --setup), e.g. A100:torch-fp32.",
        ),
        threshold: float = typer.Option(
            1.10, "--threshold", help="Spread (highest / lowest energy) that makes a repeated workload discordant."
        ),
        factor: float = typer.Option(1.5, "--factor", help="Distance from the median ratio that makes an outlier."),
        top: int = typer.Option(10, "--top", help="Rows to show per table (all with --json)."),
        json_out: bool = JsonOpt,
        db: Path | None = DbOpt,
    ) -> None:
        """Check energy data: identical workloads measured under several tags, and outliers against a setup."""
        from joulebench.analysis.consistency import ratio_outliers, repeatabilities, summary_table

        if reference is not None and len(setup) != 1:
            raise ConfigError("--reference compares one setup with another: give exactly one --setup with it")
        if top < 1:
            raise ConfigError(f"--top must be at least 1 (got {top})")
        ds = load(db)
        reps = repeatabilities(ds.energy, setup or None, ds.catalogue, threshold)
        table = summary_table(reps)
        groups = [r.per_group for r in reps] if setup else []  # named setups: each has repeats, or it raised
        outl = None if reference is None else ratio_outliers(ds.energy, setup[0], reference, factor)
        if json_out:
            emit_json(
                {
                    "repeatability": table.to_dict("records"),
                    "groups": {s: g.to_dict("records") for s, g in zip(setup, groups, strict=True)},
                    "ratio_outliers": None
                    if outl is None
                    else {**outl.to_dict(), "outliers": outl.outliers.to_dict("records")},
                }
            )
            return
        from rich.table import Table

        t = Table(title=f"Identical workloads measured under several tags (discordant: spread > {threshold:g})")
        for c in ("setup", "workloads", "configs", "pooled SD", "median spread", "p90", "max", "discordant"):
            t.add_column(c, justify="left" if c == "setup" else "right")
        for _, r in table.iterrows():
            t.add_row(
                r["setup"],
                str(r["groups"]),
                str(r["configs"]),
                f"{100 * r['pooled_sd_log']:.1f}%",
                f"{r['median_spread']:.3f}",
                f"{r['p90_spread']:.3f}",
                f"{r['max_spread']:.2f}",
                str(r["discordant"]),
            )
        _out().print(t)
        if table.empty:
            console().print("no setup measured one workload under two or more tags")
        for s, g in zip(setup, groups, strict=True):
            t = Table(title=f"{s}: the {min(top, len(g))} most discordant of {len(g)} repeated workloads")
            for c in ("workload", "tags", "mJ/img low", "mJ/img high", "spread"):
                t.add_column(c, justify="left" if c in ("workload", "tags") else "right")
            for _, r in g.head(top).iterrows():
                t.add_row(
                    f"{r['arch']}@{r['img_size']}",
                    str(r["models"]),
                    _mj(r["energy_min_j"]),
                    _mj(r["energy_max_j"]),
                    f"{r['spread']:.2f}",
                )
            _out().print(t)
        if outl is not None:
            t = Table(
                title=f"{outl.setup} / {outl.reference}: median ratio {outl.median_ratio:.3f} over {outl.n} models; "
                f"{outl.low} below and {outl.high} above it by more than {outl.factor:g}x; implied power shows "
                f"one reading off for {outl.blamed}"
            )
            cols = ("model", "px", f"mJ/img {outl.setup}", f"mJ/img {outl.reference}", "ratio", "vs median")
            for c in (*cols, "power vs median", "reading off"):
                t.add_column(c, justify="left" if c in ("model", "reading off") else "right")
            names = {"setup": outl.setup, "reference": outl.reference}
            for _, r in outl.outliers.head(top).iterrows():
                t.add_row(
                    str(r["model"]),
                    str(r["img_size"]),
                    _mj(r["energy_j"]),
                    _mj(r["reference_energy_j"]),
                    f"{r['ratio']:.3f}",
                    f"{r['off_by']:.2f}x",
                    f"{r['power_off_by']:.2f}x" if math.isfinite(r["power_off_by"]) else "-",
                    names.get(r["blame"], "-"),
                )
            _out().print(t)

    @app.command("report")
    def report_cmd(
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

        ds = load(db)
        rep = build_report(
            ds.energy,
            ds.accuracy,
            ds.catalogue,
            _stats(ds),
            setups=setup or None,
            measurements=load_measurements(db),
            intensity_g_per_kwh=intensity,
            price_per_kwh=price,
            currency=currency,
            include_test_models=include_test_models,
            weight=weight,
            command=_cmdline(),
        )
        path = rep.write(out)
        if json_out:
            emit_json({"out": str(path), "summary": rep.summary})
        else:
            err_console().print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")

"""Every estimator for one model configuration on one setup, next to its measurement (``joulebench estimate``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from joulebench.analysis.estimators import (
    LogLinear,
    StaticBoost,
    naive_energy,
    peak_flops,
    peak_flops_source,
    throughput_energy,
    transfer_predict,
    usable,
)
from joulebench.analysis.frames import (
    ENERGY,
    LOG_FEATURES_REQUIRED,
    attach,
    check_choice,
    dedupe_energy,
    parse_setup,
    static_facts,
)
from joulebench.analysis.naive import DATASHEET, NaiveConvention
from joulebench.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

PRECISION_OF_RUNTIME = {"fp32": "fp32", "fp16": "fp16", "bf16": "bf16"}


def _precision(runtime: str, rows: pd.DataFrame) -> str:
    if "precision" in rows.columns and rows["precision"].notna().any():
        return str(rows["precision"].dropna().iloc[0])
    for suffix, prec in PRECISION_OF_RUNTIME.items():
        if runtime.endswith(suffix):
            return prec
    return "fp32"


def estimate_model(
    energy: pd.DataFrame,
    catalogue: pd.DataFrame | None,
    model: str,
    setup: str,
    img_size: int | None = None,
    stats: pd.DataFrame | None = None,
    power_limit_w: float | None = None,
    convention: NaiveConvention = DATASHEET,
) -> dict[str, Any]:
    """Estimate energy per image of ``model`` on ``setup`` with every estimator, beside the measurement.

    The regression estimators are fitted on the setup's other architectures (the model's own architecture
    is left out, so the estimate is what you would get for an unmeasured network). The transfer estimator
    uses the model's measurement on each other setup and all models shared by the two setups. ``convention``
    sets the naive estimate's FLOPs per MAC and peak kind (:data:`joulebench.analysis.naive.PAPER` for the
    paper's).

    Returns:
        ``{"model", "img_size", "setup", "measured_j", "estimates": [{"estimator", "energy_per_image_j",
        "error_pct", "note"}]}``; ``error_pct`` is relative to the measurement when there is one.

    Raises:
        ConfigError: Unknown setup, or a model that is neither measured nor in the catalogue.
    """
    check_choice(setup, energy["setup"].unique(), "setup")
    gpu, runtime = parse_setup(setup)
    facts = static_facts(catalogue, stats)
    e_all = dedupe_energy(energy)
    known = set(e_all["model"]) | (set(facts["model"]) if facts is not None else set())
    check_choice(model, known, "model")
    img_size = _resolve_img_size(e_all, facts, model, setup, img_size)

    on_setup = attach(e_all[e_all["setup"] == setup], facts)
    row = _target_row(on_setup, facts, model, setup, img_size)
    measured = float(row[ENERGY].iloc[0]) if ENERGY in row.columns and row[ENERGY].notna().any() else None
    prec = _precision(runtime, row)
    limit = _power_limit(on_setup, row, power_limit_w)

    est = _Estimates(measured)
    has_stats = all(c in row.columns and row[c].notna().all() for c in LOG_FEATURES_REQUIRED)
    _add_naive(est, row, gpu, prec, limit, convention, has_stats)
    _add_throughput(est, row, limit)
    _add_regressions(est, on_setup, row, setup, has_stats)
    _add_transfers(est, energy, e_all, model, img_size, setup)
    return {
        "model": model,
        "img_size": img_size,
        "setup": setup,
        "precision": prec,
        "power_limit_w": limit,
        "naive_convention": {"flops_per_mac": convention.flops_per_mac, "peak": convention.peak},
        "measured_j": measured,
        "estimates": est.out,
    }


class _Estimates:
    """The estimates gathered so far, each with its error against the measurement (when there is one)."""

    def __init__(self, measured: float | None) -> None:
        self.measured = measured
        self.out: list[dict[str, Any]] = []

    def add(self, name: str, value: float | None, note: str) -> None:
        """Append one estimator's estimate (None when it cannot estimate) and its note."""
        err = None
        if value is not None and self.measured:
            err = (value - self.measured) / self.measured * 100.0
        self.out.append({"estimator": name, "energy_per_image_j": value, "error_pct": err, "note": note})


def _resolve_img_size(
    e_all: pd.DataFrame, facts: pd.DataFrame | None, model: str, setup: str, img_size: int | None
) -> int | None:
    """The input size to estimate at: the one given, else the only one measured on ``setup``, else the only one known.

    Raises:
        ConfigError: Several sizes known and none given, or a size the model is not known at.
    """
    candidates = [
        int(v)
        for v in sorted(
            set(e_all.loc[e_all["model"] == model, "img_size"])
            | (
                set(facts.loc[facts["model"] == model, "img_size"])
                if facts is not None and "img_size" in facts
                else set()
            )
        )
    ]
    on_this = sorted(int(v) for v in e_all.loc[(e_all["model"] == model) & (e_all["setup"] == setup), "img_size"])
    if img_size is None and len(on_this) == 1:
        img_size = on_this[0]
    if img_size is None:
        if len(candidates) > 1:
            raise ConfigError(
                f"{model} exists at several input sizes ({', '.join(map(str, candidates))}): pass --img-size"
            )
        img_size = candidates[0] if candidates else None
    if img_size not in candidates:
        raise ConfigError(f"{model} is not known at {img_size} px; known sizes: {', '.join(map(str, candidates))}")
    return img_size


def _target_row(
    on_setup: pd.DataFrame, facts: pd.DataFrame | None, model: str, setup: str, img_size: int | None
) -> pd.DataFrame:
    """The model's row on the setup, or (unmeasured there) one built from the catalogue's facts."""
    row = on_setup[(on_setup["model"] == model) & (on_setup["img_size"] == img_size)]
    import pandas as pd

    if row.empty:
        base = pd.DataFrame({"model": [model], "img_size": [img_size], "setup": [setup]})
        row = attach(base, facts)
    return row


def _power_limit(on_setup: pd.DataFrame, row: pd.DataFrame, power_limit_w: float | None) -> float | None:
    """The power limit given, else the model's reading's, else the median of the setup's readings (or None)."""
    limit = power_limit_w
    if limit is None and "power_limit_w" in on_setup.columns and on_setup["power_limit_w"].notna().any():
        own = row["power_limit_w"].dropna() if "power_limit_w" in row.columns else []
        limit = float(own.iloc[0]) if len(own) else float(on_setup["power_limit_w"].dropna().median())
    return limit


def _add_naive(
    est: _Estimates,
    row: pd.DataFrame,
    gpu: str,
    prec: str,
    limit: float | None,
    convention: NaiveConvention,
    has_stats: bool,
) -> None:
    """The naive estimate: MACs over the GPU's peak FLOP rate, times the power limit."""
    if has_stats and limit is not None:
        try:
            v = float(naive_energy(row["macs"].iloc[0], gpu, prec, limit, convention))
            peak = peak_flops(gpu, prec, convention.peak) / 1e12
            est.add(
                "naive",
                v,
                f"{convention.flops_per_mac:g}*MACs / {peak:g} TFLOP/s {convention.peak} {prec} "
                f"({peak_flops_source(gpu)}) x {limit:g} W",
            )
        except ConfigError as exc:
            est.add("naive", None, str(exc))
    else:
        est.add("naive", None, "needs MACs and the setup's power limit")


def _add_throughput(est: _Estimates, row: pd.DataFrame, limit: float | None) -> None:
    """The throughput estimate: the power limit over the measured images per second."""
    tp = row["throughput_ips"].iloc[0] if "throughput_ips" in row.columns else np.nan
    if limit is not None and tp == tp and tp and tp > 0:
        est.add(
            "throughput",
            float(throughput_energy(limit, tp)),
            f"{limit:g} W / {tp:.4g} images/s (needs a throughput measurement)",
        )
    else:
        est.add("throughput", None, "needs a throughput measurement on this setup")


def _add_regressions(est: _Estimates, on_setup: pd.DataFrame, row: pd.DataFrame, setup: str, has_stats: bool) -> None:
    """The regression estimates, fitted on the setup's other architectures."""
    train = usable(on_setup)
    train = train[train["arch"] != row["arch"].iloc[0]]
    for cls, label in ((LogLinear, "log-linear"), (StaticBoost, "boosted-static")):
        if not has_stats:
            est.add(label, None, "needs params, MACs and activations from the catalogue")
            continue
        try:
            fitted = cls().fit(train)
            est.add(label, float(fitted.predict(row)[0]), f"fitted on {len(train)} other models of {setup}")
        except (ConfigError, MissingDependencyError) as exc:
            est.add(label, None, str(exc))


def _add_transfers(
    est: _Estimates, energy: pd.DataFrame, e_all: pd.DataFrame, model: str, img_size: int | None, setup: str
) -> None:
    """A transfer estimate from every other setup with a measurement of this model."""
    for other in sorted(set(e_all.loc[(e_all["model"] == model) & (e_all["img_size"] == img_size), "setup"]) - {setup}):
        try:
            t = transfer_predict(energy, model, img_size, other, setup)
            est.add(
                f"transfer from {other}", t["energy_per_image_j"], f"log-log fit on {t['shared_models']} shared models"
            )
        except ConfigError as exc:
            est.add(f"transfer from {other}", None, str(exc))

"""Energy estimators and their errors against measurements.

* :func:`naive_energy` — FLOPs / peak FLOP/s x power limit, as prior work did; its convention (FLOPs per MAC,
  peak kind) is explicit and it is no bound (see :mod:`joulebench.analysis.naive`).
* :class:`LogLinear` — ``log E = b0 + b1 log P + b2 log M + b3 log A`` (params, MACs, activations).
* :func:`throughput_energy` — power limit / throughput (needs a throughput measurement).
* :class:`StaticBoost` — gradient-boosted trees on static model facts (sizes, ratios, input size,
  architecture type and family); more accurate than the log-linear model on unseen architectures of known
  families, not always on unseen families (compare the two groupings of :func:`cross_validate_both`).
* :func:`transfer_curve` / :func:`transfer_predict` — predict energy on setup B from setup A with k shared models.

Cross-validation folds are grouped by architecture (``arch``, the timm name without the tag), so the same
network with other weights never sits in both the training and the test fold; that is the question "how wrong
is the estimate for an architecture I have not measured?". Grouped by family (``by="family"``) it asks the
same for a design none of whose relatives was measured.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from joulebench.analysis.frames import ENERGY, KEY, arch_of, dedupe_energy, need, paired_setups, require
from joulebench.analysis.metrics import ape, error_summary, mape
from joulebench.analysis.naive import (
    PEAK_FLOPS,
    PEAK_FLOPS_SOURCE,
    naive_energy,
    naive_errors,
    peak_flops,
    peak_flops_source,
)
from joulebench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

LOG_FEATURES = ("params", "macs", "activations")


# ---------------------------------------------------------------------------------------------- folds


def group_kfold(groups: Sequence[Any], k: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Fold number per row: whole groups are assigned to folds at random, balancing fold sizes."""
    groups = np.asarray([str(g) for g in groups])
    uniq, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if len(uniq) < k:
        raise ConfigError(
            f"{k}-fold cross-validation needs at least {k} architectures (families, when grouped by family), "
            f"the data has {len(uniq)}"
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    order = order[np.argsort(-counts[order], kind="stable")]  # big groups first, random among equals
    fold_of_group = np.empty(len(uniq), dtype=int)
    sizes = np.zeros(k)
    for g in order:
        f = int(np.argmin(sizes))
        fold_of_group[g] = f
        sizes[f] += counts[g]
    folds = fold_of_group[inverse]
    return [np.flatnonzero(folds == f) for f in range(k)]


# ---------------------------------------------------------------------------------------------- throughput


def throughput_energy(power_limit_w, throughput_ips) -> np.ndarray:
    """Energy per image if the GPU drew its power limit the whole time: ``power limit / throughput``."""
    return np.maximum(np.asarray(power_limit_w, dtype=float) / np.asarray(throughput_ips, dtype=float), 0.0)


def throughput_errors(df: pd.DataFrame) -> dict[str, float]:
    """Error of :func:`throughput_energy` against measured energy (rows with throughput and power limit)."""
    d = df.dropna(subset=["throughput_ips", "power_limit_w", ENERGY])
    d = d[d["throughput_ips"] > 0]
    need(len(d), 1, "the throughput estimator")
    return error_summary(throughput_energy(d["power_limit_w"], d["throughput_ips"]), d[ENERGY])


# ---------------------------------------------------------------------------------------------- log-linear


def _log_static(df: pd.DataFrame) -> np.ndarray:
    missing = [c for c in LOG_FEATURES if c not in df.columns]
    if missing:
        raise ConfigError(f"the estimator needs model statistics {', '.join(missing)} (from the catalogue)")
    x = df[list(LOG_FEATURES)].to_numpy(dtype=float)
    return np.log(np.maximum(x, 1.0))


def usable(df: pd.DataFrame) -> pd.DataFrame:
    """Rows with positive energy and every static statistic the estimators need."""
    cols = [c for c in LOG_FEATURES if c in df.columns]
    d = df.dropna(subset=[ENERGY, *cols])
    mask = d[ENERGY] > 0
    for c in cols:
        mask &= d[c] > 0
    return d[mask].reset_index(drop=True)


@dataclass
class LogLinear:
    """``log E = b0 + b1 log params + b2 log MACs + b3 log activations``, least squares."""

    coef: np.ndarray = field(default_factory=lambda: np.zeros(4))
    name: str = "log-linear"

    def fit(self, df: pd.DataFrame) -> LogLinear:
        """Fit on rows with ``params, macs, activations`` and measured energy."""
        need(len(df), 5, "fitting the log-linear estimator")
        x = np.column_stack([np.ones(len(df)), _log_static(df)])
        self.coef, *_ = np.linalg.lstsq(x, np.log(df[ENERGY].to_numpy(dtype=float)), rcond=None)
        return self

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Predicted energy per image (J), always positive."""
        x = np.column_stack([np.ones(len(df)), _log_static(df)])
        return np.exp(x @ self.coef)

    def describe(self) -> dict[str, float]:
        """Named coefficients."""
        return dict(zip(("b0", "b_params", "b_macs", "b_activations"), map(float, self.coef), strict=True))


def _family(df: pd.DataFrame) -> pd.Series:
    arch = df["arch"] if "arch" in df.columns else arch_of(df["model"])
    derived = arch.astype(str).str.extract(r"^([a-z]+)", expand=False).fillna("other")
    if "family" in df.columns:
        return df["family"].fillna(derived).astype(str)
    return derived


def _one_thread():
    """Limit OpenMP to one thread: on small data the boosted trees run several times faster that way."""
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    return threadpool_limits(1)


@dataclass
class StaticBoost:
    """Gradient-boosted trees (scikit-learn ``HistGradientBoostingRegressor``) on log energy.

    Features: log params, log MACs, log activations, log input size, MACs per parameter, activations per
    MAC (a memory-traffic proxy: bytes moved per unit of compute), and the architecture type and family as
    categories. Needs scikit-learn (``pip install 'joulebench[analysis]'``).
    """

    seed: int = 0
    name: str = "boosted-static"
    model: Any = None
    categories: dict[str, list[str]] = field(default_factory=dict)

    def _x(self, df: pd.DataFrame, fit: bool) -> np.ndarray:
        logs = _log_static(df)
        img = np.log(df["img_size"].to_numpy(dtype=float)) if "img_size" in df.columns else np.zeros(len(df))
        cats = {
            "type": (df["type"] if "type" in df.columns else df["model"] * 0).fillna("unknown").astype(str),
            "family": _family(df),
        }
        cols = [logs, img[:, None], (logs[:, 1] - logs[:, 0])[:, None], (logs[:, 2] - logs[:, 1])[:, None]]
        for name, s in cats.items():
            if fit:
                counts = s.value_counts()
                self.categories[name] = sorted(counts[counts >= 2].index)  # rare ones share "other"
            index = {v: i for i, v in enumerate(self.categories[name])}
            cols.append(s.map(index).fillna(-1).to_numpy(dtype=float)[:, None])
        x = np.hstack(cols)
        x[x[:, -2] < 0, -2] = np.nan  # unseen category -> missing, which the trees handle natively
        x[x[:, -1] < 0, -1] = np.nan
        return x

    def fit(self, df: pd.DataFrame) -> StaticBoost:
        """Fit on rows with static statistics and measured energy."""
        ens = require("sklearn.ensemble", purpose="the boosted energy estimator")
        need(len(df), 20, "fitting the boosted estimator")
        x = self._x(df, fit=True)
        n_feat = x.shape[1]
        self.model = ens.HistGradientBoostingRegressor(
            max_iter=200,
            learning_rate=0.1,
            max_leaf_nodes=15,
            min_samples_leaf=5,
            l2_regularization=1.0,
            categorical_features=[n_feat - 2, n_feat - 1],
            random_state=self.seed,
        )
        with _one_thread():
            self.model.fit(x, np.log(df[ENERGY].to_numpy(dtype=float)))
        return self

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Predicted energy per image (J), always positive."""
        with _one_thread():
            return np.exp(self.model.predict(self._x(df, fit=False)))


ESTIMATORS: dict[str, Callable[[], Any]] = {"log-linear": LogLinear, "boosted-static": StaticBoost}


#: What a cross-validation fold holds out whole: an architecture (its other tags never train the model that
#: predicts it) or a family (no relative of the network trains it, the harder and more honest question for a
#: new design).
CV_SCHEMES = ("arch", "family")


def cv_groups(df: pd.DataFrame, by: str = "arch") -> pd.Series:
    """The group of each row for cross-validation by ``by`` (``"arch"`` or ``"family"``)."""
    if by == "arch":
        return df["arch"] if "arch" in df.columns else arch_of(df["model"])
    if by == "family":
        return _family(df)
    raise ConfigError(f"cross-validation grouping '{by}' is unknown; choose one of {', '.join(CV_SCHEMES)}")


def cross_validate(
    df: pd.DataFrame,
    estimators: Sequence[str] = ("log-linear", "boosted-static"),
    k: int = 5,
    seed: int = 0,
    by: str = "arch",
) -> pd.DataFrame:
    """k-fold cross-validated errors of several estimators on the same folds, whole groups held out.

    Args:
        df: One setup's rows with ``params, macs, activations`` and measured energy.
        estimators: Names in :data:`ESTIMATORS`.
        k: Number of folds.
        seed: Seed of the fold assignment.
        by: What a fold holds out whole: ``"arch"`` (architecture) or ``"family"`` (see :data:`CV_SCHEMES`).

    Returns:
        One row per estimator: ``estimator, grouping, folds, n, mape, median_ape,
        geomean_measured_over_predicted``.
    """
    import pandas as pd

    d = usable(df)
    need(len(d), max(2 * k, 10), f"{k}-fold cross-validation")
    folds = group_kfold(cv_groups(d, by), k, seed)
    rows = []
    for name in estimators:
        pred = np.empty(len(d))
        for test in folds:
            train = np.setdiff1d(np.arange(len(d)), test)
            est = ESTIMATORS[name]().fit(d.iloc[train])
            pred[test] = est.predict(d.iloc[test])
        rows.append({"estimator": name, "grouping": by, "folds": k, **error_summary(pred, d[ENERGY])})
    return pd.DataFrame(rows)


def cross_validate_both(
    df: pd.DataFrame, estimators: Sequence[str] = ("log-linear", "boosted-static"), k: int = 5, seed: int = 0
) -> pd.DataFrame:
    """:func:`cross_validate` grouped by architecture and by family, one row per (estimator, grouping)."""
    import pandas as pd

    return pd.concat([cross_validate(df, estimators, k, seed, by) for by in CV_SCHEMES], ignore_index=True)


# ---------------------------------------------------------------------------------------------- transfer


@dataclass(frozen=True)
class Transfer:
    """``log E_b = alpha + beta log E_a`` fitted on shared models (beta fixed to 1 with one model)."""

    alpha: float
    beta: float
    n: int

    def predict(self, energy_a) -> np.ndarray:
        """Predicted energy on setup B (J)."""
        return np.exp(self.alpha + self.beta * np.log(np.asarray(energy_a, dtype=float)))


#: Below this many shared models the transfer is a pure ratio (slope 1): a slope fitted on 2-4 points
#: swings wildly when their energies are close, and the error then explodes (seen on the reference data).
MIN_SLOPE_MODELS = 5


def fit_transfer(energy_a, energy_b, min_slope_models: int = MIN_SLOPE_MODELS) -> Transfer:
    """Fit the log-log transfer on paired energies; with fewer than ``min_slope_models`` pairs, a pure ratio."""
    la = np.log(np.asarray(energy_a, dtype=float))
    lb = np.log(np.asarray(energy_b, dtype=float))
    need(len(la), 1, "cross-GPU transfer")
    if len(la) < min_slope_models or np.ptp(la) == 0:
        return Transfer(float(np.mean(lb - la)), 1.0, len(la))
    beta, alpha = np.polyfit(la, lb, 1)
    return Transfer(float(alpha), float(beta), len(la))


def transfer_curve(
    energy: pd.DataFrame,
    setup_a: str,
    setup_b: str,
    ks: Sequence[int] = (1, 2, 3, 5, 10, 20, 50),
    repeats: int = 50,
    seed: int = 0,
) -> pd.DataFrame:
    """Error of predicting energy on ``setup_b`` from ``setup_a`` as a function of k calibration models.

    For each k, ``repeats`` times: draw k models measured on both, fit :func:`fit_transfer`, predict every
    other shared model; report the mean and quantiles over repeats of the MAPE.
    """
    import pandas as pd

    p = paired_setups(energy, setup_a, setup_b)
    need(len(p), 3, f"transfer from {setup_a} to {setup_b}")
    rng = np.random.default_rng(seed)
    a, b = p["energy_a"].to_numpy(), p["energy_b"].to_numpy()
    rows = []
    for k in ks:
        if k >= len(p):
            continue
        errs = []
        for _ in range(repeats):
            idx = rng.choice(len(p), size=k, replace=False)
            rest = np.setdiff1d(np.arange(len(p)), idx)
            errs.append(mape(fit_transfer(a[idx], b[idx]).predict(a[rest]), b[rest]))
        e = np.asarray(errs)
        rows.append(
            {
                "setup_a": setup_a,
                "setup_b": setup_b,
                "k": k,
                "repeats": repeats,
                "mape_mean": float(e.mean()),
                "mape_p10": float(np.quantile(e, 0.1)),
                "mape_median": float(np.median(e)),
                "mape_p90": float(np.quantile(e, 0.9)),
            }
        )
    return pd.DataFrame(rows)


def transfer_predict(energy: pd.DataFrame, model: str, img_size: int, setup_a: str, setup_b: str) -> dict[str, float]:
    """Predict (model, img_size) on ``setup_b`` from its ``setup_a`` measurement and all other shared models."""
    e = dedupe_energy(energy)
    src = e[(e["model"] == model) & (e["img_size"] == img_size) & (e["setup"] == setup_a)]
    if src.empty:
        raise ConfigError(f"{model} @ {img_size} px has no measurement on {setup_a} to transfer from")
    p = paired_setups(energy, setup_a, setup_b)
    p = p[~((p["model"] == model) & (p["img_size"] == img_size))]
    need(len(p), 2, f"transfer from {setup_a} to {setup_b}")
    t = fit_transfer(p["energy_a"], p["energy_b"])
    pred = float(np.ravel(t.predict(src[ENERGY].iloc[0]))[0])
    in_sample = mape(t.predict(p["energy_a"]), p["energy_b"])
    return {"energy_per_image_j": pred, "from_setup": setup_a, "shared_models": t.n, "fit_mape": in_sample}


def rows_for(df: pd.DataFrame, model: str, img_size: int | None) -> pd.DataFrame:
    """Rows of ``df`` for ``model`` (and ``img_size`` when given)."""
    m = df["model"] == model
    if img_size is not None:
        m &= df["img_size"] == img_size
    return df[m]


__all__ = [
    "KEY",
    "PEAK_FLOPS",
    "PEAK_FLOPS_SOURCE",
    "LogLinear",
    "StaticBoost",
    "Transfer",
    "CV_SCHEMES",
    "cross_validate",
    "cross_validate_both",
    "cv_groups",
    "ape",
    "error_summary",
    "fit_transfer",
    "group_kfold",
    "mape",
    "naive_energy",
    "naive_errors",
    "peak_flops",
    "peak_flops_source",
    "rows_for",
    "throughput_energy",
    "throughput_errors",
    "transfer_curve",
    "transfer_predict",
    "usable",
]

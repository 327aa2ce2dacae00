"""Every quantitative result of "The Hidden Joules", computed on any setups, beside the published value.

:func:`paper_rows` returns one :class:`PaperRow` per quantity, keyed ``<figure>/<setup or pair>/<quantity>``
(e.g. ``table1/A100:tensorrt-fp16~A100:torch-fp32/pearson``, ``table3/A100:torch-fp32/const``). On the
shipped reference data the rows reproduce the paper; on a user's own setups they redraw its figures for that
GPU. The published values come from :mod:`joulebench.analysis.paper_published`: values quoted for the paper,
and values computed from the paper's own published files (:mod:`joulebench.analysis.paper_data`), marked as such.

What each figure key holds:

* ``table1``: Pearson and Spearman of per-model energy between two setups, over the models measured on every
  setup compared (the paper's selection: models present in all four setups).
* ``fig1``: the families on the energy-accuracy (ImageNet top-1) Pareto frontier.
* ``fig5``: measured / naive estimate, geometric mean and spread, in the paper's convention (1 FLOP per MAC,
  non-tensor peak) and in the datasheet one (2 FLOPs per MAC, tensor-core peak).
* ``fig6`` / ``table3``: correlations of energy with params, MACs and activations; the log-linear fit
  ``ln E[mJ] = const + b ln params + c ln GMACs + d ln activations`` with 95 % intervals, in-sample and
  cross-validated MAPE.
* ``cv``: k-fold MAPE of every regression estimator with whole architectures and with whole families held out.
* ``fig9a``: MAPE of power limit / throughput.
* ``fig10``: energy reduction of an optimised runtime over PyTorch FP32 on one GPU (geometric mean, GSD).
* ``a7``: input-size effect (energy exponent, accuracy gain); ``a8``: accuracy drop by family group.

Results whose figure number joulebench does not pin are keyed by what they hold: ``curve`` (the frontier's
fitted growth curve and the energy it needs for a target accuracy), ``types`` (architecture-type centres),
``robustness`` (mean drop, frontier stability) and ``transfer`` (one setup predicted from another).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from joulebench.analysis.correlation import PAPER_SETUPS, TABLE1_PAIRS, setup_correlations
from joulebench.analysis.effects import input_size_accuracy, input_size_effect, runtime_reduction
from joulebench.analysis.estimators import ESTIMATORS, cross_validate_both, throughput_errors, transfer_curve
from joulebench.analysis.fits import fit_frontier
from joulebench.analysis.frames import (
    attach,
    dedupe_energy,
    drop_test_models,
    energy_accuracy,
    parse_setup,
    setups_of,
    static_facts,
)
from joulebench.analysis.frontier import frontier, frontier_families, type_centroids
from joulebench.analysis.naive import DATASHEET, PAPER, naive_errors
from joulebench.analysis.paper_published import (
    AGREES_WITHIN,
    CHECKED,
    FROM_DATA,
    FROM_DATA_NOTE,
    FROM_DATA_WHY,
    PUBLISHED,
    UNCHECKED_NOTE,
)
from joulebench.analysis.robustness import drop_by_family_group, frontier_stability, robustness_frame
from joulebench.analysis.static import loglinear_report, static_correlations
from joulebench.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

BASELINE_RUNTIME = "torch-fp32"
A8_GROUPS = ("CNN", "Hybrid", "Transformer", "CLIP")
#: Accuracies (%) whose energy on the fitted frontier curve is reported.
CURVE_TARGETS = (80.0, 85.0, 90.0)


@dataclass(frozen=True)
class PaperRow:
    """One quantity: its key, what it is, the paper's value (None when not recorded), joulebench's, a note."""

    key: str
    quantity: str
    published: float | None
    computed: float | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


@dataclass(frozen=True)
class PaperData:
    """The tables the paper's analyses read (the dataset view's ``energy``, ``accuracy``, catalogue, stats)."""

    energy: pd.DataFrame
    accuracy: pd.DataFrame
    catalogue: pd.DataFrame | None = None
    stats: pd.DataFrame | None = None


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def _agreement(value: float | None, published: float, agrees: str, why: str) -> list[str]:
    if value is not None and abs(value - published) <= AGREES_WITHIN * abs(published):
        return [agrees]
    return [f"differs: {why}"] if why else []


def _data_why(key: str) -> str:
    return next((why for prefix, why in FROM_DATA_WHY if key.startswith(prefix)), "")


def _finish(key: str, quantity: str, computed: Any, note: str = "") -> PaperRow:
    """Attach the published value and say where it comes from, whether, and why, the two differ.

    A value quoted for the paper (:data:`PUBLISHED`) is the published one; what the paper's own files give
    (:data:`FROM_DATA`) is added to the note. Without a quoted value, the one computed from the paper's files is
    the published value, marked as computed.
    """
    value = _num(computed)
    quoted, data = PUBLISHED.get(key), FROM_DATA.get(key)
    if quoted is None and data is None:
        return PaperRow(key, quantity, None, value, note or "published value not recorded in joulebench")
    parts = [note] if note else []
    if quoted is not None:
        published, why = quoted
        parts += _agreement(value, published, "agrees with the paper (rounding)", why)
        if data is not None:
            parts.append(f"the paper's published data give {data:.4g}")
    else:
        published = data
        parts.append(FROM_DATA_NOTE)
        parts += _agreement(value, published, "agrees with the paper's data (rounding)", _data_why(key))
    if key not in CHECKED:
        parts.append(UNCHECKED_NOTE)
    return PaperRow(key, quantity, published, value, "; ".join(parts))


def guarded(prefix: str, build: Callable[[], list[PaperRow]]) -> list[PaperRow]:
    """Rows of one section, or one row saying why the section could not be computed on this data."""
    try:
        return build()
    except (ConfigError, MissingDependencyError) as exc:
        return [PaperRow(f"{prefix}/unavailable", "section could not be computed", None, None, str(exc))]


def choose_setups(energy: pd.DataFrame, setups: Sequence[str] | None = None) -> list[str]:
    """The named setups (checked), else the paper's four when present, else every setup of the data."""
    have = setups_of(energy)
    if setups:
        missing = [s for s in setups if s not in have]
        if missing:
            raise ConfigError(f"setup(s) {', '.join(missing)} not in the dataset; available: {', '.join(have)}")
        return list(dict.fromkeys(setups))
    paper = [s for s in PAPER_SETUPS if s in have]
    return paper if len(paper) == len(PAPER_SETUPS) else have


# ------------------------------------------------------------------------------------------------ sections


def table1_rows(energy: pd.DataFrame, setups: Sequence[str]) -> list[PaperRow]:
    """Cross-setup correlations over the models measured on every named setup (the paper's four pairs)."""
    pairs = [p for p in TABLE1_PAIRS if set(p) <= set(setups)] if set(PAPER_SETUPS) <= set(setups) else None
    c = setup_correlations(energy, setups, pairs=pairs, common=True)
    rows = []
    for r in c.itertuples():
        key = f"table1/{r.setup_a}~{r.setup_b}"
        sel = f"over the {r.n} models measured on {'both' if len(setups) == 2 else f'all {len(setups)}'} setups"
        rows.append(_finish(f"{key}/pearson", f"Pearson r of energy, {r.setup_a} vs {r.setup_b}", r.pearson, sel))
        rows.append(_finish(f"{key}/spearman", f"Spearman ρ of energy, {r.setup_a} vs {r.setup_b}", r.spearman, sel))
    return rows


def naive_rows(setup: str, d: pd.DataFrame) -> list[PaperRow]:
    """The naive estimate's factor (measured / naive) in the paper's and the datasheet convention."""
    _, paper = naive_errors(d, PAPER)
    _, sheet = naive_errors(d, DATASHEET)
    k = f"fig5/{setup}"
    spread = f"p05 {paper['p05']:.2f}, median {paper['median']:.2f}, p95 {paper['p95']:.2f}; n = {paper['n']}"
    return [
        _finish(
            f"{k}/naive_factor_geomean",
            "measured / naive, geometric mean (paper's convention)",
            paper["geomean"],
            spread,
        ),
        _finish(
            f"{k}/naive_overestimated",
            "share of models the naive estimate overestimates (paper's convention)",
            paper["overestimated"],
        ),
        _finish(
            f"{k}/naive_factor_geomean_datasheet",
            "measured / naive, geometric mean (2 FLOPs per MAC, tensor-core peak)",
            sheet["geomean"],
            f"overestimates {sheet['overestimated']:.0%} of models",
        ),
    ]


def static_rows(setup: str, d: pd.DataFrame, k: int) -> list[PaperRow]:
    """Fig. 6 and Table 3: correlations with the static statistics and the log-linear fit in ln mJ."""
    rows = []
    for r in static_correlations(d).itertuples():
        name = {"macs": "MACs"}.get(r.feature, r.feature)
        note = f"n = {r.n}; Pearson on logs {r.pearson_log:.3f}"
        rows.append(_finish(f"fig6/{setup}/pearson_{r.feature}", f"Pearson r of energy with {name}", r.pearson, note))
        rows.append(_finish(f"fig6/{setup}/spearman_{r.feature}", f"Spearman ρ of energy with {name}", r.spearman))
    fit = loglinear_report(d, k=k)
    n = f"n = {fit['n']}, R² {fit['r2']:.3f}"
    rows.append(_finish(f"fig6/{setup}/loglinear_mape", "log-linear fit, in-sample MAPE (%)", fit["in_sample_mape"], n))
    for by in ("arch", "family"):
        what = "architectures" if by == "arch" else "families"
        rows.append(
            _finish(
                f"fig6/{setup}/loglinear_cv_mape_{by}",
                f"log-linear fit, {k}-fold MAPE (%) with whole {what} held out",
                fit[f"cv_mape_{by}"],
            )
        )
    units = {"const": "constant (ln mJ)", "params": "ln params", "gmacs": "ln GMACs", "activations": "ln activations"}
    for c in fit["coefficients"]:
        ci = f"95 % CI [{c['low']:.4g}, {c['high']:.4g}]"
        rows.append(
            _finish(f"table3/{setup}/{c['term']}", f"log-linear coefficient of {units[c['term']]}", c["value"], ci)
        )
    return rows


def cv_rows(setup: str, d: pd.DataFrame, k: int) -> list[PaperRow]:
    """Every regression estimator's k-fold MAPE, architectures and families held out, on the same folds."""
    try:
        cv = cross_validate_both(d, tuple(ESTIMATORS), k=k)
    except MissingDependencyError:
        cv = cross_validate_both(d, ("log-linear",), k=k)
    rows = []
    for r in cv.itertuples():
        what = "architectures" if r.grouping == "arch" else "families"
        rows.append(
            _finish(
                f"cv/{setup}/{r.estimator}/{r.grouping}_mape",
                f"{r.estimator}, {k}-fold MAPE (%) with whole {what} held out",
                r.mape,
                f"n = {r.n}, median APE {r.median_ape:.1f} %",
            )
        )
    return rows


def throughput_rows(setup: str, d: pd.DataFrame) -> list[PaperRow]:
    """Fig. 9a: power limit / throughput against the measurement."""
    t = throughput_errors(d)
    return [_finish(f"fig9a/{setup}/throughput_mape", "power limit / throughput, MAPE (%)", t["mape"], f"n = {t['n']}")]


def frontier_rows(setup: str, ea: pd.DataFrame) -> tuple[list[PaperRow], set[str]]:
    """Fig. 1 on one setup: the frontier's size and its families (returned too, to intersect across setups)."""
    front = frontier(ea)
    fam = frontier_families(front)
    names = set(fam["family"].astype(str))
    top = ", ".join(f"{r.family} ({r.n})" for r in fam.head(6).itertuples())
    rows = [
        _finish(f"fig1/{setup}/frontier_models", "models on the ImageNet energy-accuracy frontier", len(front)),
        _finish(f"fig1/{setup}/frontier_families", "families on the frontier", len(names), f"most frequent: {top}"),
    ]
    return rows, names


def curve_rows(setup: str, ea: pd.DataFrame) -> list[PaperRow]:
    """The frontier's fitted growth curve A(E) = a + b ln(1 + c ln(E / E_min)) and the energy it needs per target."""
    fit = fit_frontier(frontier(ea))
    k = f"curve/{setup}"
    rows = [_finish(f"{k}/{p}", f"frontier curve parameter {p}", getattr(fit, p)) for p in ("a", "b", "c")]
    rows.append(_finish(f"{k}/r2", "frontier curve R²", fit.r2, f"{fit.n} frontier models, RMSE {fit.rmse:.2f} points"))
    for t in CURVE_TARGETS:
        try:
            p = fit.energy_for(t)
            rows.append(
                _finish(
                    f"{k}/energy_for_{t:g}_mj", f"energy for {t:g} % top-1 (mJ)", p.energy_per_image_j * 1e3, p.message
                )
            )
        except ConfigError as exc:
            rows.append(PaperRow(f"{k}/energy_for_{t:g}_mj", f"energy for {t:g} % top-1 (mJ)", None, None, str(exc)))
    return rows


def type_rows(setup: str, ea: pd.DataFrame) -> list[PaperRow]:
    """Architecture-type centres: geometric-mean energy (mJ) and mean top-1 of each type."""
    rows = []
    for r in type_centroids(ea).itertuples():
        k = f"types/{setup}/{r.type}"
        rows.append(
            _finish(
                f"{k}/centre_energy_mj",
                f"{r.type} centre, geometric-mean energy (mJ)",
                r.centre_energy_j * 1e3,
                f"n = {r.n}",
            )
        )
        rows.append(_finish(f"{k}/centre_accuracy", f"{r.type} centre, mean ImageNet top-1 (%)", r.centre_accuracy))
    return rows


def robustness_rows(data: PaperData, setup: str) -> list[PaperRow]:
    """Mean drop to the shifted sets and the share of the ImageNet frontier near the robust-mean frontier."""
    rf = drop_test_models(robustness_frame(data.energy, data.accuracy, setup, data.catalogue))
    st = frontier_stability(rf).set_index("testset")
    k = f"robustness/{setup}"
    return [
        _finish(
            f"{k}/mean_drop",
            "mean drop, ImageNet top-1 minus shifted-set mean (points)",
            rf["drop"].mean(),
            f"n = {len(rf)}",
        ),
        _finish(
            f"{k}/near_fraction_robust_mean",
            "share of the ImageNet frontier within 1 point of the robust-mean frontier",
            st.loc["robust_mean", "near_fraction"],
        ),
    ]


def transfer_rows(energy: pd.DataFrame, setups: Sequence[str]) -> list[PaperRow]:
    """Median MAPE of predicting one setup from another with 5 shared models (50 draws)."""
    rows = []
    for a, b in itertools.combinations(setups, 2):
        c = transfer_curve(energy, a, b, ks=(5,))
        if len(c):
            rows.append(
                _finish(
                    f"transfer/{a}~{b}/k5_median_mape",
                    f"{a} → {b} from 5 shared models, median MAPE (%)",
                    c["mape_median"].iloc[0],
                )
            )
    return rows


def input_size_rows(setup: str, energy: pd.DataFrame, ea: pd.DataFrame) -> list[PaperRow]:
    """A.7: how energy and accuracy grow with the input size of one model."""
    eff = input_size_effect(energy, setup)
    acc = input_size_accuracy(ea)
    need_rows = f"{len(eff)} architectures, {len(acc)} model tags at several sizes"
    return [
        _finish(f"a7/{setup}/energy_exponent_median", "median k of E ∝ pixels^k", eff["exponent"].median(), need_rows),
        _finish(
            f"a7/{setup}/accuracy_gain_median",
            "median ImageNet top-1 gain (points), largest vs smallest size of a tag",
            acc["accuracy_gain"].median(),
        ),
        _finish(
            f"a7/{setup}/points_per_energy_doubling_median",
            "median top-1 points gained per doubling of energy by a larger input",
            acc["points_per_doubling"].median(),
        ),
    ]


def reduction_rows(energy: pd.DataFrame, setups: Sequence[str]) -> list[PaperRow]:
    """Fig. 10: every optimised runtime against PyTorch FP32 on the same GPU."""
    rows = []
    for s in setups:
        gpu, runtime = parse_setup(s)
        base = f"{gpu}:{BASELINE_RUNTIME}"
        if runtime == BASELINE_RUNTIME or base not in setups:
            continue
        r = runtime_reduction(energy, base, s)
        k = f"fig10/{gpu}" if runtime == "tensorrt-fp16" else f"fig10/{s}"
        note = f"{s} vs {base}, n = {r.n}; {r.fraction_worse:.1%} of models spend more"
        rows.append(_finish(f"{k}/reduction_geomean", "energy reduction factor, geometric mean", r.geomean, note))
        rows.append(_finish(f"{k}/reduction_gsd", "energy reduction factor, geometric standard deviation", r.gsd))
    return rows


def drop_rows(data: PaperData, setup: str) -> list[PaperRow]:
    """A.8: mean drop from ImageNet top-1 to the mean of the five shifted test sets, by family group."""
    rf = drop_test_models(robustness_frame(data.energy, data.accuracy, setup, data.catalogue))
    g = drop_by_family_group(rf).set_index("group")
    rows = []
    for name in [*A8_GROUPS, *(x for x in g.index if x not in A8_GROUPS)]:
        if name not in g.index:
            continue
        n = int(g.loc[name, "n"])
        rows.append(
            _finish(
                f"a8/drop/{name}",
                f"accuracy drop, {name} (points, ImageNet minus shifted-set mean)",
                g.loc[name, "mean_drop"],
                f"n = {n} models of {setup}",
            )
        )
    return rows


# ------------------------------------------------------------------------------------------------ assembly


def _setup_frame(data: PaperData, setup: str) -> pd.DataFrame:
    e = dedupe_energy(data.energy[data.energy["setup"] == setup])
    return drop_test_models(attach(e, static_facts(data.catalogue, data.stats)))


def setup_rows(data: PaperData, setup: str, k: int) -> tuple[list[PaperRow], set[str] | None]:
    """Every per-setup section for ``setup`` and the families on its frontier (None when it has none)."""
    d = _setup_frame(data, setup)
    rows: list[PaperRow] = []
    for prefix, build in (
        (f"fig5/{setup}", lambda: naive_rows(setup, d)),
        (f"fig6/{setup}", lambda: static_rows(setup, d, k)),
        (f"cv/{setup}", lambda: cv_rows(setup, d, k)),
        (f"fig9a/{setup}", lambda: throughput_rows(setup, d)),
    ):
        rows += guarded(prefix, build)
    families = None
    try:
        ea = drop_test_models(
            energy_accuracy(data.energy, data.accuracy, setup, ["imagenet"], data.catalogue, data.stats)
        )
        front_rows, families = frontier_rows(setup, ea)
        rows += front_rows
        rows += guarded(f"curve/{setup}", lambda: curve_rows(setup, ea))
        rows += guarded(f"types/{setup}", lambda: type_rows(setup, ea))
        rows += guarded(f"robustness/{setup}", lambda: robustness_rows(data, setup))
        rows += guarded(f"a7/{setup}", lambda: input_size_rows(setup, data.energy, ea))
    except ConfigError as exc:
        rows.append(PaperRow(f"fig1/{setup}/unavailable", "section could not be computed", None, None, str(exc)))
    return rows, families


def paper_rows(data: PaperData, setups: Sequence[str] | None = None, k: int = 5) -> list[PaperRow]:
    """Every quantitative result of the paper on ``setups`` (default: the paper's four when present).

    Args:
        data: The dataset view's tables.
        setups: Setups to compute on; several are needed for Table 1 and Fig. 10.
        k: Folds of every cross-validation.

    Raises:
        ConfigError: A named setup is not in the data (the message lists the available ones).
    """
    setups = choose_setups(data.energy, setups)
    rows: list[PaperRow] = []
    if len(setups) >= 2:
        rows += guarded("table1", lambda: table1_rows(data.energy, setups))
    common: set[str] | None = None
    for s in setups:
        srows, fams = setup_rows(data, s, k)
        rows += srows
        if fams is not None:
            common = fams if common is None else common & fams
    if common is not None:
        note = ", ".join(sorted(common)) or "none"
        rows.append(_finish("fig1/frontier_families", "families on the frontier of every setup", len(common), note))
    rows += guarded("fig10", lambda: reduction_rows(data.energy, setups))
    rows += guarded("transfer", lambda: transfer_rows(data.energy, setups))
    a8_setup = "A100:torch-fp32" if "A100:torch-fp32" in setups else setups[0]
    rows += guarded("a8", lambda: drop_rows(data, a8_setup))
    return rows

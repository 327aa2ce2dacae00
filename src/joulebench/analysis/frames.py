"""The analysis core: the dataset view's column names, selecting and joining its frames, lazy optional extras.

Every analysis module builds on these: :func:`energy_accuracy` joins energy to accuracy, :func:`dedupe_energy`
keeps one row per (model, img_size, setup), :func:`paired_setups` lines two setups up, and :func:`require` imports
an optional package or raises :class:`~joulebench.errors.MissingDependencyError` naming the extra to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from joulebench.data.importer import TESTSETS  # noqa: F401 - re-exported for the analysis modules
from joulebench.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

KEY = ["model", "img_size"]
ENERGY = "energy_per_image_j"
ACC = "accuracy"
#: Test sets averaged for "robustness": the five sets that are not ImageNet itself and not a "-clean"
#: subset (the clean subsets are the ImageNet classes of A/R, which measure the class subset, not shift).
ROBUST_TESTSETS = ("imagenet-real", "imagenetv2", "sketch", "imagenet-a", "imagenet-r")
STATIC = ("params", "macs", "activations")
#: When several sources give the same (model, img_size, setup), the first in this order wins.
SOURCE_PRIORITY = ("joulebench", "hidden-joules-2025", "timm")
#: Accuracy: timm's own validation results first (as the explorer does), then the paper's copy of them.
ACCURACY_SOURCE_PRIORITY = ("joulebench", "timm", "hidden-joules-2025")


def require(module: str, extra: str = "analysis", purpose: str = "this analysis") -> Any:
    """Import an optional module or raise MissingDependencyError naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(module.split(".")[0], extra, purpose) from None


def pyplot():
    """matplotlib.pyplot with the non-interactive Agg backend."""
    mpl = require("matplotlib", purpose="drawing figures")
    mpl.use("Agg", force=True)
    return importlib.import_module("matplotlib.pyplot")


def _check_columns(df: pd.DataFrame, cols: Iterable[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ConfigError(
            f"the {what} table lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, df.columns))}"
        )


def available(values: Iterable[Any]) -> str:
    """Sorted, comma-separated list for error messages."""
    return ", ".join(sorted({str(v) for v in values if v == v}))


def check_choice(value: str, values: Iterable[Any], what: str) -> str:
    """Raise ConfigError listing the available values when ``value`` is not one of them."""
    vals = {str(v) for v in values if v == v}
    if value not in vals:
        import difflib

        close = difflib.get_close_matches(value, vals, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        if len(vals) > _LIST_AT_MOST:  # thousands of names help nobody: say where to list them
            where = _WHERE_LISTED.get(what, "")
            raise ConfigError(f"{what} '{value}' is not in the dataset.{hint} ({len(vals)} {what}s in all{where})")
        raise ConfigError(
            f"{what} '{value}' is not in the dataset.{hint} Available {what}s: {available(vals) or 'none'}"
        )
    return value


# An error lists the values it accepts only when they are this few; otherwise it names a command that lists them.
_LIST_AT_MOST = 30
_WHERE_LISTED = {"model": "; list them with `joulebench models`", "setup": "; list them with `joulebench data info`"}


def dedupe_energy(energy: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, img_size, setup): own measurements before the paper's, before timm's."""
    _check_columns(energy, [*KEY, "setup", ENERGY], "energy")
    e = energy[energy[ENERGY].notna() & (energy[ENERGY] > 0)]
    if "status" in e.columns:  # failed runs of the dataset view carry no energy; keep only successful rows
        e = e[e["status"].isna() | (e["status"] == "ok")]
    e = e.copy()
    if "source" in e.columns:
        rank = {s: i for i, s in enumerate(SOURCE_PRIORITY)}
        e["_prio"] = e["source"].map(rank).fillna(len(rank))
        e = e.sort_values("_prio", kind="stable").drop(columns="_prio")
    return e.drop_duplicates([*KEY, "setup"], keep="first").reset_index(drop=True)


def select_setup(energy: pd.DataFrame, setup: str) -> pd.DataFrame:
    """Energy rows of one setup (deduplicated); ConfigError listing the setups when unknown."""
    _check_columns(energy, ["setup"], "energy")
    check_choice(setup, energy["setup"].unique(), "setup")
    return dedupe_energy(energy[energy["setup"] == setup])


def accuracy_wide(accuracy: pd.DataFrame, testsets: Sequence[str] | None = None) -> pd.DataFrame:
    """Top-1 per (model, img_size) with one column per test set (sources averaged).

    Raises:
        ConfigError: If a requested test set is absent; the message lists the available ones.
    """
    import pandas as pd

    _check_columns(accuracy, [*KEY, "testset", "top1"], "accuracy")
    have = accuracy["testset"].unique()
    for t in testsets or ():
        check_choice(t, have, "test set")
    a = accuracy[accuracy["top1"].notna()]
    if testsets:
        a = a[a["testset"].isin(list(testsets))]
    if a.empty:
        return pd.DataFrame(columns=[*KEY, *(testsets or [])])
    if "source" in a.columns:  # one source per (model, size, test set), by priority; sources agree to ~0.01 points
        rank = {s: i for i, s in enumerate(ACCURACY_SOURCE_PRIORITY)}
        a = a.assign(_prio=a["source"].map(rank).fillna(len(rank))).sort_values("_prio", kind="stable")
        a = a.drop_duplicates([*KEY, "testset"], keep="first")
    w = a.pivot_table(index=KEY, columns="testset", values="top1", aggfunc="mean").reset_index()
    w.columns.name = None
    return w


def static_facts(catalogue: pd.DataFrame | None, stats: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """Per (model, img_size) static facts: arch, type, family, year, pretrain, params, macs, activations.

    Catalogue values come first; ``stats`` (computed model statistics) fills the ones the catalogue lacks and
    adds configurations the catalogue does not list. Either may be None.
    """
    import pandas as pd

    cols = ("model", "img_size", "arch", "type", "family", "year", "pretrain", *STATIC)

    def usable_table(f):  # ``stats`` may be something other than a table; only tables keyed on model count
        return f is not None and hasattr(f, "columns") and len(f) and "model" in f.columns

    frames = [f[[c for c in cols if c in f.columns]] for f in (catalogue, stats) if usable_table(f)]
    if not frames:
        return None
    out = frames[0].drop_duplicates([k for k in KEY if k in frames[0].columns])
    if len(frames) == 2:
        st = frames[1]
        keys = [k for k in KEY if k in out.columns and k in st.columns]
        st = st.drop_duplicates(keys)
        merged = out.merge(st, on=keys, how="outer", suffixes=("", "_stats"))
        for c in st.columns:
            if c in keys:
                continue
            if f"{c}_stats" in merged.columns:
                merged[c] = merged[c].fillna(merged.pop(f"{c}_stats"))
        out = merged
    for c in STATIC:
        if c in out.columns:
            out[c] = pd.to_numeric(out[c], errors="coerce")
    return out.reset_index(drop=True)


def attach(df: pd.DataFrame, facts: pd.DataFrame | None) -> pd.DataFrame:
    """Left-join static facts on (model, img_size), or on model alone when facts lack img_size."""
    if facts is None:
        out = df.copy()
    else:
        on = [k for k in KEY if k in facts.columns]
        extra = [c for c in facts.columns if c not in df.columns or c in on]
        out = df.merge(facts[extra], on=on, how="left")
    if "arch" not in out.columns:
        out["arch"] = arch_of(out["model"])
    else:
        out["arch"] = out["arch"].fillna(arch_of(out["model"]))
    return out


def energy_accuracy(
    energy: pd.DataFrame,
    accuracy: pd.DataFrame,
    setup: str,
    testsets: Sequence[str] = ("imagenet",),
    catalogue: pd.DataFrame | None = None,
    stats: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per model configuration measured on ``setup`` with its accuracy and static facts.

    ``accuracy`` is the mean top-1 (%) over ``testsets``; each test set also gets its own column. Models
    without accuracy on every requested test set are dropped.

    Raises:
        ConfigError: Unknown setup or test set (the message lists the available ones).
    """
    testsets = list(testsets) or ["imagenet"]
    e = select_setup(energy, setup)
    w = accuracy_wide(accuracy, testsets)
    df = e.merge(w, on=KEY, how="inner").dropna(subset=testsets)
    df[ACC] = df[testsets].mean(axis=1)
    return attach(df, static_facts(catalogue, stats)).reset_index(drop=True)


def arch_of(models: pd.Series) -> pd.Series:
    """The timm architecture of each model name: the part before the tag (``resnet50`` of ``resnet50.a1_in1k``)."""
    return models.astype(str).str.split(".").str[0]


def setups_of(energy: pd.DataFrame) -> list[str]:
    """Setups present in an energy table, sorted."""
    return sorted(energy["setup"].dropna().unique().tolist())


def parse_setup(setup: str) -> tuple[str, str]:
    """Split ``GPU:runtime`` into its two parts."""
    if ":" not in setup:
        raise ConfigError(f"setup '{setup}' must be written GPU:runtime, e.g. A100:torch-fp32")
    gpu, runtime = setup.split(":", 1)
    return gpu, runtime


def need(n: int, minimum: int, what: str) -> None:
    """Raise ConfigError when fewer than ``minimum`` models are available for ``what``."""
    if n < minimum:
        raise ConfigError(
            f"{what} needs at least {minimum} models with the required data, but only {n} are available; "
            "choose a setup or test set with more measured models"
        )


def paired_setups(energy: pd.DataFrame, setup_a: str, setup_b: str) -> pd.DataFrame:
    """Models measured on both setups: columns ``model, img_size, energy_a, energy_b``."""
    for s in (setup_a, setup_b):
        check_choice(s, energy["setup"].unique(), "setup")
    e = dedupe_energy(energy)
    a = e[e["setup"] == setup_a][[*KEY, ENERGY]].rename(columns={ENERGY: "energy_a"})
    b = e[e["setup"] == setup_b][[*KEY, ENERGY]].rename(columns={ENERGY: "energy_b"})
    return a.merge(b, on=KEY, how="inner")


LOG_FEATURES_REQUIRED = STATIC


def drop_test_models(df: pd.DataFrame) -> pd.DataFrame:
    """Rows without timm's ``test_*`` models (untrained fixtures that would distort frontiers and fits)."""
    return df[~df["model"].astype(str).str.startswith("test_")]

"""Where commands get their data: the results store and the dataset view (reference data plus the store).

Commands call these through the module (``loading.load(db)``) so that tests can stand a dataset in for them.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from joulebench.cli.display import err_console
from joulebench.cli.options import db_path, results_file, timm_knows
from joulebench.errors import ConfigError


def open_store(db: Path | None):
    """The results store, opened without creating it: looking at results must never leave an empty file behind."""
    from joulebench.store import Store

    return Store(db_path(db), create=False)


def load(db: Path | None):
    """The dataset view: reference data, the shipped datasets and the results file (see :func:`results_file`)."""
    from joulebench.data import load_dataset

    return load_dataset(db=results_file(db))


def own_setups(db: Path | None) -> list[str]:
    """The setups measured in the results file (see :func:`results_file`), sorted; none without one."""
    path = results_file(db)
    if path is None:
        return []
    from joulebench.data import load_dataset

    energy = load_dataset(db=path, data=[], reference=False, include_cache=False).energy
    return sorted(energy["setup"].dropna().unique().tolist()) if len(energy) else []


def _one_tag(configs: list[tuple[str, int]], model: str) -> list[tuple[str, int]]:
    """The configurations of ``model``, refusing a name that covers several pretrained tags."""
    exact = [c for c in configs if c[0] == model]
    if exact:
        configs = exact
    names = sorted({c[0] for c in configs})
    if len(names) > 1:
        raise ConfigError(
            f"'{model}' names {len(names)} pretrained configurations; pick one: "
            + ", ".join(names[:12])
            + (" ..." if len(names) > 12 else "")
        )
    return configs


def _configurations(ds: Any, model: str, img_size: int | None) -> list[tuple[str, int]]:
    """The dataset's configurations of ``model``; for a timm architecture it lacks, say what to run instead."""
    try:
        return ds.resolve(model, img_size)
    except ConfigError:
        if img_size is not None or "." in model or not timm_knows(model):  # a tag that is not there: a typo
            raise
    raise ConfigError(
        f"'{model}' is a timm architecture without a pretrained configuration in the dataset, so nothing is known"
        f" about it here yet: `joulebench stats {model}` counts its size, `joulebench measure {model} --runtime"
        " torch-fp32` measures it"
    )


def resolve_model(ds: Any, model: str, img_size: int | None = None) -> list[tuple[str, int]]:
    """The configurations ``(tag, size)`` of one pretrained tag that ``model`` names, as every command reads names.

    ``model`` is a tag (``resnet50.a1_in1k``) or an architecture with one tag in the dataset.

    Raises:
        ConfigError: Nothing matches (the closest names, or for a timm architecture what to run instead), or
            an architecture names several tags (they are listed to pick from).
    """
    return _one_tag(_configurations(ds, model, img_size), model)


def dataset_stats(ds: Any) -> Any:
    """The dataset's per-configuration statistics table, or None when it has none."""
    s = getattr(ds, "stats", None)
    return s if hasattr(s, "columns") else None


def load_measurements(db: Path | None):
    """Per-batch measurements from the store, or None when there is no store."""
    path = results_file(db)
    if path is None:
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


def suspect_filter(ds: Any, setup: str, drop: bool, quiet: bool) -> tuple[Any, list[dict] | None]:
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


def command_line() -> str:
    """The command as the user typed it, for the record in a report."""
    return "joulebench " + " ".join(shlex.quote(a) for a in sys.argv[1:])

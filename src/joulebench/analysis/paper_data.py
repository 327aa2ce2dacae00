"""The paper's values recomputed from its own published files, for the keys of :mod:`joulebench.analysis.paper`.

"The Hidden Joules" publishes its measurements (energy, throughput per setup), its model statistics (params,
MACs, activations) and its accuracies on eight test sets. Many of its figures are functions of those files
alone. :func:`published_data_rows` computes them with joulebench's section functions on the paper's own
columns, read in place from the reference folder (never copied), so that what ``joulebench paper`` puts beside
its own value is the paper's data, not joulebench's re-counted MACs or timm's accuracies.

What "the paper's data" means here, choice by choice:

* energy, throughput: the four setup files as the importer reads them (an untagged duplicate of a tagged row
  dropped, one renamed tag; :func:`joulebench.data.importer.read_paper_energy`), timm's ``test_*`` fixtures
  left out as joulebench's own rows leave them out;
* params: ``params_tinfo``; MACs: per model the larger of ``macs_tinfo`` and ``macs_ptflops`` (the two
  counters disagree for attention, where one of them misses the attention products); activations: the
  ``activations`` column;
* accuracy: ``model_accuracy.csv``;
* architecture type and family, which the paper's files leave unfilled (``TBD``): joulebench's catalogue. The
  keys that group by them (``a8/drop/*``, ``fig1/frontier_families``) say so in :data:`USES_CATALOGUE`.

``benchmarks/paper_data_values.py`` prints the values; :data:`joulebench.analysis.paper_published.FROM_DATA`
records them, and a test recomputes them from the reference folder when it is present.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from joulebench.analysis.correlation import PAPER_SETUPS
from joulebench.analysis.frames import attach, dedupe_energy, drop_test_models, energy_accuracy, static_facts
from joulebench.analysis.paper import (
    PaperData,
    PaperRow,
    drop_rows,
    frontier_rows,
    guarded,
    naive_rows,
    reduction_rows,
    static_rows,
    table1_rows,
    throughput_rows,
)
from joulebench.data.importer import map_paper_name, read_paper_accuracy, read_paper_energy
from joulebench.data.reading import read_csv_rows
from joulebench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Catalogue columns the paper's files lack; every other static fact comes from the paper's model_stats.csv.
CATALOGUE_COLUMNS = ("model", "img_size", "arch", "type", "family")
#: Keys whose computation groups models by joulebench's catalogue (type, family), since the paper's are unfilled.
USES_CATALOGUE = ("a8/", "fig1/")
#: Folds of the log-linear fit's cross-validation (its MAPEs are not recorded; the coefficients do not depend on it).
FOLDS = 5


@dataclass(frozen=True)
class PaperFiles:
    """The paper's published tables in the dataset view's columns (SI units)."""

    energy: pd.DataFrame
    accuracy: pd.DataFrame
    stats: pd.DataFrame


def read_paper_stats(folder: Path) -> pd.DataFrame:
    """``model_stats.csv`` as ``model, img_size, params, macs, activations`` (MACs: the larger of the two counts)."""
    import pandas as pd

    path = folder / "model_stats.csv"
    cols = ["model_name", "input_size_csv", "params_tinfo", "macs_tinfo", "macs_ptflops", "activations"]
    rows = read_csv_rows(path, cols)
    df = pd.DataFrame([r for _, r in rows], columns=cols)
    num = df[cols[2:]].apply(pd.to_numeric, errors="coerce")
    out = pd.DataFrame(
        {
            "model": df["model_name"].map(map_paper_name),
            "img_size": pd.to_numeric(df["input_size_csv"], errors="coerce").astype("Int64"),
            "params": num["params_tinfo"],
            "macs": num[["macs_tinfo", "macs_ptflops"]].max(axis=1),
            "activations": num["activations"],
        }
    )
    return out.dropna(subset=["img_size"]).astype({"img_size": int}).drop_duplicates(["model", "img_size"])


def read_paper_files(folder: Path) -> PaperFiles:
    """The paper's energy, accuracy and model statistics, read in place from ``folder`` (its ``paper-2025/``).

    Raises:
        ConfigError: A file is missing or malformed (the message names the file, line and column).
    """
    import pandas as pd

    if not (folder / "A100_PT.csv").exists():
        raise ConfigError(f"{folder} holds none of the paper's files (A100_PT.csv ...); pass its paper-2025 folder")
    rows, _ = read_paper_energy(folder)
    energy = drop_test_models(pd.DataFrame(rows))
    accuracy = pd.DataFrame(read_paper_accuracy(folder))
    return PaperFiles(energy, accuracy, read_paper_stats(folder))


def _families_of_every_frontier(data: PaperData) -> tuple[list[PaperRow], set[str]]:
    rows: list[PaperRow] = []
    common: set[str] | None = None
    for s in PAPER_SETUPS:
        ea = drop_test_models(energy_accuracy(data.energy, data.accuracy, s, ["imagenet"], data.catalogue, data.stats))
        r, fams = frontier_rows(s, ea)
        rows += r
        common = fams if common is None else common & fams
    return rows, common or set()


def published_data_rows(folder: Path, catalogue: pd.DataFrame) -> list[PaperRow]:
    """The paper's quantities computed on its own published files (``computed`` holds the value).

    Args:
        folder: The reference ``paper-2025/`` folder.
        catalogue: joulebench's model catalogue; only ``arch``, ``type`` and ``family`` are taken from it.

    Returns:
        Rows keyed as :func:`joulebench.analysis.paper.paper_rows` keys them, for the four setups.
    """
    files = read_paper_files(folder)
    cat = catalogue[[c for c in CATALOGUE_COLUMNS if c in catalogue.columns]]
    data = PaperData(files.energy, files.accuracy, cat, files.stats)
    facts = static_facts(cat, files.stats)
    rows = guarded("table1", lambda: table1_rows(files.energy, PAPER_SETUPS))
    for s in PAPER_SETUPS:
        d = attach(dedupe_energy(files.energy[files.energy["setup"] == s]), facts)
        rows += guarded(f"fig5/{s}", partial(naive_rows, s, d))
        rows += guarded(f"fig6/{s}", partial(static_rows, s, d, FOLDS))
        rows += guarded(f"fig9a/{s}", partial(throughput_rows, s, d))
    rows += guarded("fig10", lambda: reduction_rows(files.energy, PAPER_SETUPS))
    rows += guarded("a8", lambda: drop_rows(data, "A100:torch-fp32"))
    front, common = _families_of_every_frontier(data)
    rows += front
    rows.append(PaperRow("fig1/frontier_families", "families on the frontier of every setup", None, len(common), ""))
    return rows


def published_data_values(folder: Path, catalogue: pd.DataFrame) -> dict[str, float]:
    """``{key: value}`` of :func:`published_data_rows`, rounded to 4 significant digits as they are recorded."""
    return {r.key: float(f"{r.computed:.4g}") for r in published_data_rows(folder, catalogue) if r.computed is not None}

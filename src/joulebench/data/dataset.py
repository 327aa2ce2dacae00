"""The dataset view: the shipped reference data, project datasets and the user's own store, as DataFrames.

``load_dataset()`` returns a :class:`Dataset` with

* ``energy`` — one row per (model configuration, setup, source): ``model, img_size, gpu, runtime, precision,
  setup, source, energy_per_image_j, throughput_ips, latency_s, batch_size, max_batch, power_limit_w`` plus
  ``status`` (``ok``/``failed``), ``meter``, ``simulated`` and ``ci95_rel`` (the 95 % interval of the energy per
  image, relative; own results only);
* ``accuracy`` — ``model, img_size, testset, top1, top5, source``;
* ``catalogue`` — every pretrained timm configuration (see :mod:`joulebench.models.catalogue`);
* ``stats`` — params, MACs, activations per configuration (see :mod:`joulebench.models.stats`);
* ``throughput`` — timm's published throughput (no energy).

Own measurements (source ``joulebench``) come from the results store, from the project's datasets that ship in
the package (``datasets/*.csv.gz``: summaries exports of the bundles in the repository's ``data/``) and from
CSV exports or bundle folders named in ``$JOULEBENCH_DATA``. A source checkout and a wheel read the same.
Rows measured with the simulated meter keep ``meter = sim``, get ``simulated = True`` and a setup ending in
``:sim`` (``H200:torch-fp32:sim``), so they never group or compare with real measurements. Rows of the quick
protocol (``measure --quick``) get ``:quick`` before it (``CPU:cpu-fp32:quick:sim``) for the same reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from joulebench.data.gpu_names import gpu_short_name
from joulebench.data.importer import ACCURACY_COLUMNS, ENERGY_COLUMNS, PACKAGE_DATA, TESTSETS, read_table
from joulebench.errors import ConfigError
from joulebench.store.records import QUICK_PROTOCOL, protocol_of

OWN_SOURCE = "joulebench"
DATA_ENV = "JOULEBENCH_DATA"
#: The project's own datasets shipped in the package: one summaries export per dataset (``h200_summaries.csv.gz``
#: is the summaries table of the bundle ``data/h200/dataset/``; ``tests/data/test_packaged.py`` keeps them equal).
DATASETS = PACKAGE_DATA / "datasets"

#: ``ci95_rel``: relative half-width of the 95 % confidence interval of energy per image (own results; the
#: reference data has none).
VIEW_ENERGY_COLUMNS = (*ENERGY_COLUMNS, "simulated", "ci95_rel")


def summaries_to_energy(df: Any, source: str = OWN_SOURCE) -> Any:
    """Turn store summaries (``ModelSummary`` columns) into energy-view rows, the latest result per setup.

    Args:
        df: DataFrame with at least ``model, img_size, runtime, precision, gpu_name, energy_per_image_j,
            throughput_ips, latency_mean_s, optimal_batch, power_limit_w, meter, status``.
        source: Value of the ``source`` column.

    Raises:
        ConfigError: If required columns are missing.
    """
    return _latest_by_time(_energy_rows(df, source))


_FINISHED = "_finished_at"


def _latest_by_time(rows: Any) -> Any:
    """:func:`_latest` of :func:`_energy_rows` output (of one or several sources), ordered by finish time."""
    rows = rows.sort_values(_FINISHED, kind="stable", na_position="first").reset_index(drop=True)
    return _latest(rows).drop(columns=[_FINISHED])


def _energy_rows(df: Any, source: str = OWN_SOURCE) -> Any:
    """Every summary as an energy-view row, with its finish time (``_finished_at``; NaT when unknown)."""
    import pandas as pd

    need = ("model", "img_size", "runtime", "precision", "gpu_name", "energy_per_image_j", "throughput_ips",
            "latency_mean_s", "optimal_batch", "power_limit_w", "meter", "status")  # fmt: skip
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ConfigError(
            f"summaries lack column(s) {', '.join(missing)}: export them with `joulebench export FILE.csv`"
        )
    if not len(df):
        return pd.DataFrame(columns=[*VIEW_ENERGY_COLUMNS, _FINISHED])
    finished = (
        pd.to_datetime(df["finished_at"], utc=True, errors="coerce", format="ISO8601")
        if "finished_at" in df.columns
        else pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns, UTC]")
    )
    gpu = df["gpu_name"].map(gpu_short_name)
    sim = df["meter"].astype("string").fillna("").str.lower().eq("sim")
    quick = df.get("protocol", pd.Series("default", index=df.index)).eq(QUICK_PROTOCOL)  # CPU:cpu-fp32:quick:sim
    setup = gpu + ":" + df["runtime"].astype(str) + quick.map({True: ":quick", False: ""})
    setup = setup + sim.map({True: ":sim", False: ""})
    out = pd.DataFrame(
        {
            "model": df["model"].astype(str),
            "img_size": pd.to_numeric(df["img_size"], errors="coerce").astype("Int64"),
            "gpu": gpu,
            "runtime": df["runtime"].astype(str),
            "precision": df["precision"],
            "setup": setup,
            "source": source,
            "energy_per_image_j": pd.to_numeric(df["energy_per_image_j"], errors="coerce"),
            "throughput_ips": pd.to_numeric(df["throughput_ips"], errors="coerce"),
            "latency_s": pd.to_numeric(df["latency_mean_s"], errors="coerce"),
            "batch_size": pd.to_numeric(df["optimal_batch"], errors="coerce").astype("Int64"),
            "max_batch": pd.to_numeric(df["max_batch"], errors="coerce").astype("Int64")
            if "max_batch" in df.columns
            else pd.array([pd.NA] * len(df), dtype="Int64"),
            "power_limit_w": pd.to_numeric(df["power_limit_w"], errors="coerce"),
            "status": df["status"].where(df["status"].eq("ok"), "failed"),
            "meter": df["meter"],
            "simulated": sim.astype(bool),
            "ci95_rel": pd.to_numeric(df["ci95_rel"], errors="coerce")
            if "ci95_rel" in df.columns
            else pd.Series(float("nan"), index=df.index),
            _FINISHED: finished.dt.tz_convert(None).to_numpy(),  # UTC, naive: sorts across files
        }
    )
    return out.reset_index(drop=True)


def _latest(energy: Any) -> Any:
    """One row per configuration, setup and source: the latest success, else the latest failure.

    A re-measurement replaces an older result, but one that failed (a crash, a timeout) does not hide a valid
    older result: its reason stays in the store's ``failures``. Rows are taken to be in time order; the rows
    kept stay in that order.
    """
    import numpy as np

    order = np.argsort(energy["status"].eq("ok").to_numpy(), kind="stable")  # failures first, each in time order
    last = ~energy.iloc[order].duplicated(["model", "img_size", "setup", "source"], keep="last").to_numpy()
    return energy.iloc[np.sort(order[last])].reset_index(drop=True)


def project_data_dirs(dirs: list[Path] | None = None) -> list[Path]:
    """The project data folders: ``dirs`` if given, else the shipped datasets and ``$JOULEBENCH_DATA``."""
    if dirs is not None:
        return list(dirs)
    out = [DATASETS]
    env = os.environ.get(DATA_ENV)
    if env:
        out += [Path(p) for p in env.split(os.pathsep) if p]
    return out


def project_data_files(dirs: list[Path] | None = None) -> list[Path]:
    """CSV exports of store summaries to include: the shipped datasets and those named in ``$JOULEBENCH_DATA``.

    Folders are searched recursively for ``*.csv`` and ``*.csv.gz``; only files with an ``optimal_batch``
    column (summaries exports, and the summaries of a bundle folder) are used. A file named directly may also
    be a bundle archive (``joulebench export --bundle``): its summaries are used.
    """
    import zipfile

    files: list[Path] = []
    for d in project_data_dirs(dirs):
        d = Path(d)
        if d.is_file():
            files.append(d)
        elif d.is_dir():
            files += sorted(d.rglob("*.csv")) + sorted(d.rglob("*.csv.gz"))
    return [f for f in files if zipfile.is_zipfile(f) or _is_summaries_export(f)]


def _is_summaries_export(path: Path) -> bool:
    """True for a CSV export of store summaries (recognised by its ``optimal_batch`` column).

    Other CSVs in a data folder (per-batch measurements, panels...) are not energy summaries and are left out.
    """
    import csv
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as f:
            header = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read this project data file ({e})") from None
    return "optimal_batch" in [h.strip() for h in header]


def _read_project_file(path: Path) -> Any:
    import zipfile

    import pandas as pd

    from joulebench.data.importer import read_csv_rows

    if zipfile.is_zipfile(path):  # a bundle: its summaries, checksums verified
        from joulebench.store import Store
        from joulebench.store.bundle import read_tables

        return pd.DataFrame.from_records(read_tables(path).rows["summaries"], columns=Store.columns("summaries"))

    # header check with file/line/column reporting before pandas parses it
    read_csv_rows(path, ["model", "img_size", "runtime", "energy_per_image_j", "gpu_name", "meter", "status"])
    df = pd.read_csv(path)
    for col in ("precision", "throughput_ips", "latency_mean_s", "optimal_batch", "power_limit_w"):
        if col not in df.columns:
            df[col] = None
    bad = pd.to_numeric(df["energy_per_image_j"], errors="coerce").isna() & df["energy_per_image_j"].notna()
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise ConfigError(
            f"{path}, line {i + 2}, column 'energy_per_image_j': cannot read '{df['energy_per_image_j'].iloc[i]}' "
            "as a number"
        )
    return df


@dataclass
class Dataset:
    """Reference and own results as pandas DataFrames (SI units). See the module docstring for columns."""

    energy: Any
    accuracy: Any
    catalogue: Any
    stats: Any
    throughput: Any
    sources: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------------------------------- queries

    def setups(self, include_failed: bool = False) -> list[str]:
        """Setups with energy data (``A100:torch-fp32``...), sorted."""
        e = self.energy if include_failed else self.energy[self.energy["status"] == "ok"]
        return sorted(e["setup"].dropna().unique())

    def check_setup(self, setup: str) -> str:
        """Return ``setup`` if there is energy data for it.

        Raises:
            ConfigError: With the closest known setups otherwise.
        """
        known = self.setups(include_failed=True)
        if setup in known:
            return setup
        import difflib

        close = difflib.get_close_matches(setup, known, n=3, cutoff=0.3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"no energy data for setup '{setup}'.{hint} Known setups: {', '.join(known)}")

    def check_testset(self, testset: str) -> str:
        """Return ``testset`` if known.

        Raises:
            ConfigError: Listing the test sets otherwise.
        """
        if testset not in TESTSETS:
            raise ConfigError(f"unknown test set '{testset}': use one of {', '.join(TESTSETS)}")
        return testset

    def known_models(self) -> list[str]:
        """Every model name the dataset knows (catalogue tags, reference and own results)."""
        names = set(self.catalogue["model"]) if len(self.catalogue) else set()
        names |= set(self.energy["model"]) | set(self.accuracy["model"])
        return sorted(names)

    def resolve(self, name: str, img_size: int | None = None) -> list[tuple[str, int]]:
        """The configurations ``(model, img_size)`` a name refers to.

        ``name`` may be a full tag (``resnet50.a1_in1k``) or an architecture (``resnet50``: all its tags).

        Raises:
            ConfigError: If nothing matches; the message lists the closest names.
        """
        from joulebench.models.catalogue import closest_names

        configs: set[tuple[str, int]] = set()
        for df in (self.catalogue, self.energy, self.accuracy):
            if not len(df):
                continue
            hit = df[(df["model"] == name) | (df["model"].str.startswith(name + "."))]
            configs |= {(str(m), int(s)) for m, s in zip(hit["model"], hit["img_size"], strict=True) if s == s}
        if img_size is not None:
            configs = {c for c in configs if c[1] == img_size}
        if not configs:
            close = closest_names(name, self.known_models())
            hint = f" Closest names: {', '.join(close)}." if close else ""
            size = f" at {img_size} px" if img_size else ""
            raise ConfigError(f"unknown model '{name}'{size}.{hint} List models with `joulebench models`.")
        return sorted(configs)

    def describe(self, model: str, img_size: int) -> dict[str, Any]:
        """Everything known about one configuration: catalogue, stats, accuracy per test set, energy per setup."""

        def records(df: Any) -> list[dict[str, Any]]:
            if not len(df):
                return []
            sub = df[(df["model"] == model) & (df["img_size"] == img_size)]
            return [{k: _py(v) for k, v in r.items()} for r in sub.to_dict("records")]

        cat = records(self.catalogue)
        stats = records(self.stats)
        arch = model.split(".")[0]
        thr = self.throughput[(self.throughput["model"] == arch) & (self.throughput["img_size"] == img_size)]
        return {
            "model": model,
            "img_size": img_size,
            "catalogue": cat[0] if cat else None,
            "stats": stats[0] if stats else None,
            "accuracy": records(self.accuracy),
            "energy": records(self.energy),
            "throughput": [{k: _py(v) for k, v in r.items()} for r in thr.to_dict("records")],
        }

    def compare(self, setup_a: str, setup_b: str, source_a: str | None = None, source_b: str | None = None) -> Any:
        """Per-configuration pairs of two setups (only configurations measured successfully on both).

        Args:
            setup_a: First setup (``H100:torch-fp32``).
            setup_b: Second setup (``H200:torch-fp32``).
            source_a: Restrict the first side to one source (``hidden-joules-2025``, ``joulebench``).
            source_b: Restrict the second side to one source.

        Returns:
            DataFrame ``model, img_size, energy_a_j, energy_b_j, energy_ratio (b/a), throughput_a_ips,
            throughput_b_ips, source_a, source_b``.
        """
        self.check_setup(setup_a)
        self.check_setup(setup_b)
        e = self.energy[self.energy["status"] == "ok"]
        cols = ["model", "img_size", "energy_per_image_j", "throughput_ips", "source"]

        def side(setup: str, source: str | None, tag: str) -> Any:
            d = e[e["setup"] == setup]
            if source:
                d = d[d["source"] == source]
            d = d[cols].drop_duplicates(["model", "img_size"], keep="last")
            return d.rename(
                columns={
                    "energy_per_image_j": f"energy_{tag}_j",
                    "throughput_ips": f"throughput_{tag}_ips",
                    "source": f"source_{tag}",
                }  # fmt: skip
            )

        m = side(setup_a, source_a, "a").merge(side(setup_b, source_b, "b"), on=["model", "img_size"])
        m["energy_ratio"] = m["energy_b_j"] / m["energy_a_j"]
        order = ["model", "img_size", "energy_a_j", "energy_b_j", "energy_ratio", "throughput_a_ips",
                 "throughput_b_ips", "source_a", "source_b"]  # fmt: skip
        return m[order].sort_values(["model", "img_size"]).reset_index(drop=True)

    def model_table(self, testset: str = "imagenet", setup: str | None = None) -> Any:
        """One row per catalogue configuration with its top-1 on ``testset`` and its energy on ``setup``.

        Accuracy prefers timm's published results and falls back to the paper's. Energy prefers own
        measurements, then the paper. Simulated rows have setups of their own (``...:sim``), so they show
        only where such a setup is named.
        """
        import pandas as pd

        self.check_testset(testset)
        base = self.catalogue.copy()
        acc = self.accuracy[self.accuracy["testset"] == testset]
        acc = acc.assign(_rank=acc["source"].map({"timm": 0}).fillna(1)).sort_values("_rank", kind="stable")
        acc = acc.drop_duplicates(["model", "img_size"])[["model", "img_size", "top1", "top5"]]
        base = base.merge(acc, on=["model", "img_size"], how="left")
        if setup:
            self.check_setup(setup)
            e = self.energy[(self.energy["setup"] == setup) & (self.energy["status"] == "ok")]
            e = e.assign(_rank=e["source"].map({OWN_SOURCE: 0}).fillna(1)).sort_values("_rank", kind="stable")
            e = e.drop_duplicates(["model", "img_size"])[
                ["model", "img_size", "energy_per_image_j", "throughput_ips", "source"]
            ]
            base = base.merge(e.rename(columns={"source": "energy_source"}), on=["model", "img_size"], how="left")
        else:
            base["energy_per_image_j"] = pd.NA
            base["throughput_ips"] = pd.NA
            base["energy_source"] = pd.NA
        return base


def _py(v: Any) -> Any:
    import pandas as pd

    if v is None or (pd.api.types.is_scalar(v) and pd.isna(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def _empty(columns: tuple[str, ...]) -> Any:
    import pandas as pd

    return pd.DataFrame(columns=list(columns))


def load_reference(folder: Path | None = None) -> dict[str, Any]:
    """The shipped reference tables (energy, accuracy, throughput, catalogue, stats, sources)."""
    import json

    folder = Path(folder) if folder is not None else PACKAGE_DATA
    out: dict[str, Any] = {}
    for key, name in (
        ("energy", "reference_energy.csv.gz"),
        ("accuracy", "reference_accuracy.csv.gz"),
        ("throughput", "reference_throughput.csv.gz"),
        ("catalogue", "catalogue.csv.gz"),
        ("stats", "model_stats.csv.gz"),
    ):
        p = folder / name
        out[key] = read_table(p) if p.exists() else None
    p = folder / "reference_sources.json"
    out["sources"] = json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}
    return out


def load_dataset(
    db: Path | None = None,
    data: list[Path] | None = None,
    *,
    reference: bool = True,
    include_cache: bool = True,
) -> Dataset:
    """Load the dataset view.

    Args:
        db: SQLite results store to include (source ``joulebench``); None = no store.
        data: Project data folders/files with CSV exports of store summaries (default: the datasets shipped in
            the package and ``$JOULEBENCH_DATA``; ``[]`` = none).
        reference: Include the shipped reference data.
        include_cache: Let the user's stats cache (``joulebench stats``) override the shipped stats.

    Raises:
        ConfigError: If a project data file is malformed (file, line and column named).
        StoreError: If ``db`` is not a joulebench store.
    """
    import pandas as pd

    ref = load_reference() if reference else {}
    energy_parts = []
    if ref.get("energy") is not None:
        e = ref["energy"].copy()
        e["simulated"] = False
        e["ci95_rel"] = float("nan")  # the paper reports no per-result interval
        energy_parts.append(e)
    own = []
    for path in project_data_files(data):
        own.append(_energy_rows(_read_project_file(path)))
    if db is not None:
        db = Path(db)
        if not db.exists():
            raise ConfigError(f"results store {db} does not exist: measure first or pass the right --db")
        from joulebench.store import Store

        with Store.open_readonly(db) as store:
            protocols = {r["run_id"]: protocol_of(r["config"]) for r in store.runs()}
            summaries = store.summaries_frame()
            own.append(_energy_rows(summaries.assign(protocol=summaries["run_id"].map(protocols))))
    own = [o for o in own if len(o)]
    if own:
        # the latest result wins across files and the store, whatever order they were read in
        energy_parts.append(_latest_by_time(pd.concat(own, ignore_index=True)))
    energy_parts = [p for p in energy_parts if len(p)]
    energy = pd.concat(energy_parts, ignore_index=True) if energy_parts else _empty(VIEW_ENERGY_COLUMNS)
    energy = energy[list(VIEW_ENERGY_COLUMNS)]
    energy["simulated"] = energy["simulated"].astype(bool)

    stats = ref.get("stats")
    if include_cache:
        from joulebench.models.stats import load_stats

        stats = load_stats(include_cache=True)
    return Dataset(
        energy=energy.reset_index(drop=True),
        accuracy=ref["accuracy"] if ref.get("accuracy") is not None else _empty(ACCURACY_COLUMNS),
        catalogue=ref["catalogue"] if ref.get("catalogue") is not None else _load_catalogue_columns(),
        stats=stats if stats is not None else _empty(("model", "img_size", "params", "macs", "activations")),
        throughput=ref["throughput"] if ref.get("throughput") is not None else _empty(("model", "img_size")),
        sources=ref.get("sources", {}),
    )


def _load_catalogue_columns() -> Any:
    from joulebench.models.catalogue import CATALOGUE_COLUMNS

    return _empty(CATALOGUE_COLUMNS)

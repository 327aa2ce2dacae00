"""The model catalogue: every pretrained timm configuration (tag + input size) with what is known about it.

The catalogue is built from timm once (``build_catalogue()``, run by ``joulebench data import``) and shipped
as ``joulebench/data/catalogue.csv.gz``; commands read the shipped table (``load_catalogue()``) and never
import timm or torch, which take seconds to import.

Columns: ``model, arch, tag, img_size, type, family, year, pretrain, crop_pct, interpolation, license, url,
params, macs, activations`` (the last three from :mod:`joulebench.models.stats`), plus ``default_size``
(True for the configuration's training/pretrained input size, False for timm's test size).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from joulebench.errors import ConfigError

SHIPPED_CATALOGUE = Path(__file__).resolve().parents[1] / "data" / "catalogue.csv.gz"

CATALOGUE_COLUMNS = (
    "model",
    "arch",
    "tag",
    "img_size",
    "type",
    "family",
    "year",
    "pretrain",
    "crop_pct",
    "interpolation",
    "license",
    "url",
    "params",
    "macs",
    "activations",
    "default_size",
    "timm_version",
)

HF_URL = "https://huggingface.co/timm/{model}"


def pretrained_configurations(names: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every pretrained timm configuration with its pretrained-config facts (imports timm).

    A configuration is a pretrained tag at its ``input_size``, plus at its ``test_input_size`` when timm
    gives a different one (timm's validation results use the test size).

    Args:
        names: Pretrained tags to describe (default: ``timm.list_pretrained()``).

    Returns:
        Dicts with ``model, arch, tag, img_size, default_size, crop_pct, interpolation, license, hf_hub_id,
        num_classes``, sorted by model and size.
    """
    try:
        import timm
    except ImportError:
        from joulebench.errors import MissingDependencyError

        raise MissingDependencyError("timm", "torch", "Building the model catalogue") from None

    out = []
    for name in sorted(names if names is not None else timm.list_pretrained()):
        cfg = timm.models.get_pretrained_cfg(name)
        arch, _, tag = name.partition(".")
        sizes = [(int(cfg.input_size[-1]), True, cfg.crop_pct)]
        test = getattr(cfg, "test_input_size", None)
        if test and int(test[-1]) != sizes[0][0]:
            sizes.append((int(test[-1]), False, getattr(cfg, "test_crop_pct", None) or cfg.crop_pct))
        for size, default, crop in sizes:
            out.append(
                {
                    "model": name,
                    "arch": arch,
                    "tag": tag,
                    "img_size": size,
                    "default_size": default,
                    "crop_pct": crop,
                    "interpolation": cfg.interpolation,
                    "license": getattr(cfg, "license", None),
                    "hf_hub_id": getattr(cfg, "hf_hub_id", None),
                    "num_classes": cfg.num_classes,
                }
            )
    return out


def model_url(model: str, hf_hub_id: str | None = None) -> str:
    """The model page: the configuration's Hugging Face Hub repo (``https://huggingface.co/timm/<tag>``)."""
    if hf_hub_id:
        return f"https://huggingface.co/{hf_hub_id}"
    return HF_URL.format(model=model)


# Tag tokens that name data (as opposed to methods like augreg, mim, fcmae, dist or recipes like ra3_e3600).
_DATA_TOKENS = (
    "in1k", "in12k", "in21k", "in22k", "inw21k", "laion2b", "laion400m", "laiona", "openai", "webli", "pali",
    "pali2", "jft", "ig1b", "yfcc100m", "yfcc15m", "lvd142m", "lvd1689m", "sat493m", "m38m", "m30m", "merged2b",
    "datacomp1b", "datacompxl", "dfn2b", "dfn5b", "dfndr2b", "metaclip", "metaclip2", "mclip", "mclip2", "cc12m",
    "sa1b", "swag", "seer",
)  # fmt: skip


def pretrain_from_tag(tag: str) -> str | None:
    """The pretraining data chain named by a pretrained tag, e.g. ``laion2b>in12k>in1k``; None if it names none.

    The data tokens of the tag are listed in order (repeats collapsed), so ``augreg_in21k_ft_in1k`` gives
    ``in21k>in1k`` and ``clip_laion2b_soup_ft_in12k_in1k`` gives ``laion2b>in12k>in1k``.
    """
    chain: list[str] = []
    for tok in re.split(r"[_.]", tag.lower()):
        if tok in _DATA_TOKENS and (not chain or chain[-1] != tok):
            chain.append(tok)
    return ">".join(chain) or None


def pretrain_of(model: str, metadata: dict[str, str]) -> str | None:
    """Pretraining data of a configuration: from its tag, else timm's ``model_metadata-in1k.csv`` entry."""
    arch, _, tag = model.partition(".")
    return pretrain_from_tag(tag) or metadata.get(model) or metadata.get(arch)


def build_catalogue(reference: Path | None = None, stats: Any = None, names: Iterable[str] | None = None):
    """Build the catalogue from timm (imports timm) and joulebench's stats.

    Args:
        reference: Reference folder with ``timm/model_metadata-in1k.csv`` (pretraining data); optional.
        stats: Stats DataFrame (default: :func:`joulebench.models.stats.load_stats`).
        names: Pretrained tags (default: all of ``timm.list_pretrained()``).

    Returns:
        A pandas DataFrame with :data:`CATALOGUE_COLUMNS`.

    Raises:
        ConfigError: If an architecture has no family in ``models/families.py``.
    """
    import pandas as pd
    import timm

    from joulebench.models.families import classify
    from joulebench.models.stats import load_stats

    metadata: dict[str, str] = {}
    if reference is not None:
        from joulebench.data.importer import read_pretrain_metadata

        metadata = read_pretrain_metadata(Path(reference) / "timm")
    rows = []
    for c in pretrained_configurations(names):
        hit = classify(c["arch"])
        if hit is None:
            raise ConfigError(f"'{c['arch']}' has no family: add a rule to joulebench/models/families.py")
        fam, typ = hit
        rows.append(
            {
                "model": c["model"],
                "arch": c["arch"],
                "tag": c["tag"],
                "img_size": c["img_size"],
                "type": typ,
                "family": fam.name,
                "year": fam.year,
                "pretrain": pretrain_of(c["model"], metadata),
                "crop_pct": c["crop_pct"],
                "interpolation": c["interpolation"],
                "license": c["license"],
                "url": model_url(c["model"], c["hf_hub_id"]),
                "default_size": c["default_size"],
                "timm_version": timm.__version__,
            }
        )
    df = pd.DataFrame(rows)
    st = load_stats() if stats is None else stats
    st = st[["model", "img_size", "params", "macs", "activations"]].drop_duplicates(["model", "img_size"])
    df = df.merge(st, on=["model", "img_size"], how="left")
    for col in ("params", "macs", "activations"):
        df[col] = df[col].astype("Int64")
    return df[list(CATALOGUE_COLUMNS)].sort_values(["model", "img_size"]).reset_index(drop=True)


def load_catalogue():
    """The shipped catalogue as a pandas DataFrame (reads the shipped file; never imports timm).

    Raises:
        ConfigError: If the shipped file is missing (a broken install).
    """
    import pandas as pd

    if not SHIPPED_CATALOGUE.exists():
        raise ConfigError(
            f"the shipped catalogue {SHIPPED_CATALOGUE} is missing: reinstall joulebench "
            "or run `joulebench data catalogue`"
        )
    return pd.read_csv(SHIPPED_CATALOGUE)


def closest_names(name: str, candidates: Iterable[str], n: int = 5) -> list[str]:
    """The known names closest to ``name`` (for 'did you mean' messages)."""
    cands = list(dict.fromkeys(candidates))
    close = difflib.get_close_matches(name, cands, n=n, cutoff=0.5)
    if len(close) < n:
        arch = re.split(r"[.]", name)[0]
        for c in cands:
            if c.startswith(arch) and c not in close:
                close.append(c)
            if len(close) >= n:
                break
    return close[:n]

"""Choose a measurement panel from a dataset: the cheapest models of a setup, its frontier and baselines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from joulebench.analysis.frames import ENERGY, KEY, arch_of, drop_test_models, energy_accuracy
from joulebench.analysis.frontier import frontier

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Classic baselines every panel keeps, so new setups can be compared with familiar numbers.
CLASSICS = ("resnet50", "vgg16", "vit_base_patch16_224", "convnext_base", "efficientnet_b0")


def select_panel(
    energy: pd.DataFrame,
    accuracy: pd.DataFrame,
    setup: str,
    *,
    lowest: int = 128,
    with_frontier: bool = True,
    extra: Sequence[str] = CLASSICS,
    testsets: Sequence[str] = ("imagenet",),
    include_test_models: bool = False,
) -> pd.DataFrame:
    """Model configurations to measure: the ``lowest`` least-energy ones on ``setup``, its frontier, and ``extra``.

    ``extra`` entries are timm architecture names or pretrained tags; an architecture picks its
    least-energy configuration on the setup (the one the reference measured). Rows keep the reason(s)
    each model was chosen (``why``) and are ordered by energy on the setup.

    Raises:
        ConfigError: Unknown setup or test set.
    """
    import pandas as pd

    df = energy_accuracy(energy, accuracy, setup, testsets)
    if not include_test_models:
        df = drop_test_models(df)
    df = df.sort_values(ENERGY).drop_duplicates(KEY)
    reasons: dict[tuple[str, int], list[str]] = {}

    def add(rows: pd.DataFrame, why: str) -> None:
        for key in zip(rows["model"], rows["img_size"], strict=True):
            reasons.setdefault((str(key[0]), int(key[1])), []).append(why)

    add(df.head(lowest), f"lowest-{lowest}")
    if with_frontier:
        add(frontier(df), "frontier")
    for name in extra:
        hit = df[(df["model"] == name) | (arch_of(df["model"]) == name)]
        if hit.empty:
            raise_unknown(name, df)
        add(hit.head(1), "baseline")
    keys = pd.DataFrame([(m, s, ",".join(w)) for (m, s), w in reasons.items()], columns=[*KEY, "why"])
    out = keys.merge(df[[*KEY, ENERGY, "accuracy"]], on=KEY, how="left")
    return out.sort_values(ENERGY).reset_index(drop=True)


def distinct_first(panel: pd.DataFrame) -> pd.DataFrame:
    """The panel reordered: one configuration per (architecture, input size) first, then the other tags.

    With random weights, tags of one architecture at one input size run the same computation, so the first
    pass covers every distinct workload early (useful when a sweep spans several sessions); the rest then
    measure those workloads again under their own tags. Order within each pass is kept.
    """
    import pandas as pd

    arch = arch_of(panel["model"])
    repeat = pd.Series(list(zip(arch, panel["img_size"], strict=True)), index=panel.index).duplicated()
    return pd.concat([panel[~repeat], panel[repeat]]).reset_index(drop=True)


def raise_unknown(name: str, df: pd.DataFrame) -> None:
    """ConfigError for a baseline missing from the setup, with the closest names."""
    import difflib

    from joulebench.errors import ConfigError

    close = difflib.get_close_matches(name, sorted(set(df["model"].astype(str))), n=3)
    hint = f" Closest: {', '.join(close)}." if close else ""
    raise ConfigError(f"baseline '{name}' has no measurement with accuracy on this setup.{hint}")

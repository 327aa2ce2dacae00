"""The numbers the prose of docs/ANALYSIS.md quotes, each computed under a name.

In the docs a quoted number sits between ``<!-- fact:NAME -->`` and ``<!-- /fact -->``;
``benchmarks/analysis_figures.py --write docs/ANALYSIS.md`` replaces each with :class:`Facts`' value of that name
(:func:`write_facts`), so no number in the prose is typed by hand.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

from joulebench.analysis.consistency import drop_suspect
from joulebench.analysis.correlation import PAPER_SETUPS, setup_correlations
from joulebench.analysis.effects import input_size_accuracy, input_size_effect
from joulebench.analysis.frames import arch_of, dedupe_energy, drop_test_models, energy_accuracy
from joulebench.analysis.frontier import frontier
from joulebench.analysis.gpu_outliers import gpu_pairs, power_fractions, ratio_outliers
from joulebench.analysis.model_checks import model_checks
from joulebench.analysis.naive import DATASHEET, PAPER, naive_errors
from joulebench.analysis.repeatability import repeatability
from joulebench.analysis.static import loglinear_fit

A100_SETUPS = ("A100:torch-fp32", "A100:tensorrt-fp16")


FACT = re.compile(r"<!-- fact:(\w+) -->.*?<!-- /fact -->", re.S)
#: A reading the implied power names as wrong, and its setup: the plain case section 9 of the docs quotes.
POWER_EXAMPLE = ("eva_large_patch14_196.in22k_ft_in22k_in1k", 196, "H100:torch-fp32")
#: The model whose ``joulebench show`` checks the docs quote.
SHOW_EXAMPLE = ("resnet50.ram_in1k", 224)
DETAIL_SETUP = "H100:torch-fp32"


def pct(lo: float, hi: float | None = None) -> str:
    """Fractions as a percentage or a percentage range."""
    return (
        f"{lo * 100:.0f} %" if hi is None or round(lo * 100) == round(hi * 100) else f"{lo * 100:.0f}–{hi * 100:.0f} %"
    )


def span(values, fmt: str = ".2f") -> str:
    """``lo–hi`` of ``values`` (one number when they agree at that precision)."""
    lo, hi = f"{min(values):{fmt}}", f"{max(values):{fmt}}"
    return lo if lo == hi else f"{lo}–{hi}"


class Facts:
    """The numbers quoted in the docs' prose, each under a name, from the tables of a ``Figures`` of the script."""

    def __init__(self, fig) -> None:
        self.ds, self.energy, self.accuracy = fig.ds, fig.energy, fig.accuracy
        self.catalogue, self.stats, self.setups = fig.catalogue, fig.stats, fig.setups
        self.ea, self.static = fig.ea, fig.static

    def values(self) -> dict[str, str]:
        """Every fact by name."""
        names = [n for n in dir(self) if n.startswith("fact_")]
        return {n.removeprefix("fact_"): getattr(self, n)() for n in names}

    def fact_accuracy_agreement(self) -> str:
        w = self.accuracy.pivot_table(index=["model", "img_size", "testset"], columns="source", values="top1")
        return f"{(w['timm'] - w['hidden-joules-2025']).abs().mean():.3f}"

    def fact_test_model_top1(self) -> str:
        a = self.accuracy
        t = a[a["model"].str.startswith("test_") & (a["testset"] == "imagenet")]["top1"]
        return f"{t.min():.0f}–{t.max():.0f} %"

    def fact_costliest_fp32(self) -> str:
        e = self.energy[self.energy["setup"].str.endswith(":torch-fp32")]["energy_per_image_j"]
        return f"{e.max():.0f} J"

    def _power_medians(self) -> dict[str, float]:
        return power_fractions(self.ds.energy).groupby("setup")["power_fraction"].median().to_dict()

    def fact_power_median_paper(self) -> str:
        m = self._power_medians()
        return pct(min(m[s] for s in PAPER_SETUPS), max(m[s] for s in PAPER_SETUPS))

    def fact_power_median_other(self) -> str:
        m = self._power_medians()
        return "; ".join(f"{s}: {pct(v)}" for s, v in m.items() if s not in PAPER_SETUPS) or "none"

    def fact_power_example(self) -> str:
        model, size, setup = POWER_EXAMPLE
        fr = power_fractions(self.ds.energy).merge(dedupe_energy(self.ds.energy), on=["setup", "model", "img_size"])
        fr = fr[(fr["setup"] == setup) & (fr["img_size"] == size) & (arch_of(fr["model"]) == model.split(".")[0])]
        me, twin = fr[fr["model"] == model].iloc[0], fr[fr["model"] != model].iloc[0]
        median = self._power_medians()[setup]
        return (
            f"{model}: {me.energy_per_image_j * 1e3:,.0f} mJ at {me.throughput_ips:.0f} images/s is {me.power_w:.0f} W "
            f"on a {me.power_limit_w:.0f} W card whose readings draw {pct(median)} of their limit, while its twin tag "
            f"reads {twin.energy_per_image_j * 1e3:,.0f} mJ at {twin.throughput_ips:.0f} images/s, {twin.power_w:.0f} W"
        )

    def _frontier_without_suspects(self, setup: str) -> tuple[int, int, int, list[str]]:
        """Rows dropped, frontier size before and after, and the flagged frontier models."""
        kept, why = drop_suspect(self.ds.energy, setup, self.catalogue)
        before = frontier(self.ea[setup])
        after = frontier(
            drop_test_models(energy_accuracy(kept, self.accuracy, setup, ["imagenet"], self.catalogue, self.stats))
        )
        flagged = before.merge(why[["model", "img_size"]], on=["model", "img_size"])
        return len(why), len(before), len(after), [f"{r.model}@{r.img_size}" for r in flagged.itertuples()]

    def fact_drop_suspect(self) -> str:
        n, before, after, _ = self._frontier_without_suspects(DETAIL_SETUP)
        return f"On {DETAIL_SETUP} that drops {n} rows, and the frontier goes from {before} to {after} models"

    def fact_frontier_sizes(self) -> str:
        return span([len(frontier(self.ea[s])) for s in self.setups], "d")

    def fact_spearman_same_runtime(self) -> str:
        c = setup_correlations(self.energy, self.setups)
        same = [r.spearman for r in c.itertuples() if r.setup_a.split(":")[1] == r.setup_b.split(":")[1]]
        return span(same, ".3f")

    def fact_naive_paper_a100(self) -> str:
        return " and ".join(f"{naive_errors(self.static[s], PAPER)[1]['geomean']:.2f}" for s in A100_SETUPS)

    def fact_naive_datasheet_range(self) -> str:
        g = {s: naive_errors(self.static[s], DATASHEET)[1]["geomean"] for s in self.setups}
        lo, hi = min(g, key=g.get), max(g, key=g.get)
        return f"{g[lo]:.2f} ({lo}) to {g[hi]:.2f} ({hi})"

    def fact_activation_slope(self) -> str:
        slopes = [loglinear_fit(self.static[s])["coefficients"][3]["value"] for s in self.setups]
        return span(slopes)

    def fact_input_size(self) -> str:
        k = [input_size_effect(self.energy, s)["exponent"].median() for s in self.setups]
        acc = [input_size_accuracy(self.ea[s]) for s in self.setups]
        gain = span([a["accuracy_gain"].median() for a in acc])
        per = span([a["points_per_doubling"].median() for a in acc])
        return f"k {span(k)}; a larger input adds a median {gain} points of top-1, {per} points per doubling of energy"

    def fact_show_example(self) -> str:
        model, size = SHOW_EXAMPLE
        lines = [f"    $ joulebench show {model} --img-size {size}", "    ..."]
        for c in model_checks(self.ds.energy, model, size, self.catalogue):
            wrapped = textwrap.wrap(f"check ({c['check']}): {c['message']}", 110)
            lines += [f"    {w}" for w in wrapped]
        return "\n" + "\n".join(lines) + "\n"

    def fact_consistency_detail(self) -> str:
        return "\n" + "\n".join([*self._repeats(), *self._ratios(), *self._frontiers()]) + "\n"

    def _repeats(self) -> list[str]:
        parts = []
        for s in self.setups:
            r = repeatability(self.ds.energy, s, self.catalogue)
            worst = "; ".join(
                f"{g.arch}@{g.img_size}: {g.energy_min_j * 1e3:,.0f}–{g.energy_max_j * 1e3:,.0f} mJ over {g.n} tags"
                for g in r.per_group.head(3).itertuples()
            )
            parts.append(
                f"- **{s}**: {r.discordant} of {r.groups} repeated workloads differ by more than "
                f"{(r.threshold - 1) * 100:.0f} %, up to {r.max_spread:.1f}× (most discordant: {worst})."
            )
        return parts

    def _ratios(self) -> list[str]:
        parts = []
        for setup, ref in gpu_pairs(self.setups):
            o = ratio_outliers(self.ds.energy, setup, ref)
            low = o.outliers[o.outliers["off_by"] < 1]["ratio"]
            undecided = [f"{r.model}@{r.img_size}" for r in o.outliers.itertuples() if not r.blame]
            below = f"{o.low} lie more than {o.factor}× below it" + (f" (ratios {span(low)})" if len(low) else "")
            named = [
                self._blamed(o.outliers, side, col, name)
                for side, col, name in (
                    ("setup", "power_fraction", setup),
                    ("reference", "reference_power_fraction", ref),
                )
            ]
            parts.append(
                f"- **{setup} / {ref}**: median energy ratio {o.median_ratio:.3f} over {o.n:,} models; {below}, "
                f"{o.high} above. The implied power names {' and '.join(named)}"
                + (f"; undecided: {', '.join(undecided)}." if undecided else ".")
            )
        return parts

    @staticmethod
    def _blamed(outliers, side: str, column: str, setup: str) -> str:
        """How many outlying readings the implied power names on one side, and the power they imply."""
        hit = outliers[outliers["blame"] == side][column]
        implied = f" (implying {pct(hit.min(), hit.max())} of the power limit)" if len(hit) else ""
        return f"the {setup} reading of {len(hit)}{implied}"

    def _frontiers(self) -> list[str]:
        parts = []
        for s in self.setups:
            n, before, after, flagged = self._frontier_without_suspects(s)
            which = f" ({', '.join(flagged)})" if flagged else ""
            parts.append(
                f"- **{s} frontier**: `suspect_readings` flags {len(flagged)} of its {before} models{which}; "
                f"without the {n} flagged rows of the setup it has {after} models."
            )
        return parts


def write_facts(path: Path, facts: dict[str, str]) -> None:
    """Replace the text of every ``<!-- fact:NAME -->…<!-- /fact -->`` of ``path`` with ``facts[NAME]``."""
    doc = path.read_text(encoding="utf-8")
    unknown = sorted(set(FACT.findall(doc)) - set(facts))
    if unknown:
        sys.exit(f"{path} quotes facts the script does not compute: {', '.join(unknown)}")
    new = FACT.sub(lambda m: f"<!-- fact:{m.group(1)} -->{facts[m.group(1)]}<!-- /fact -->", doc)
    path.write_text(new, encoding="utf-8")

"""Every table and number of docs/ANALYSIS.md's results section, computed from the dataset view.

Prints Markdown; ``--write docs/ANALYSIS.md`` replaces the part of that file between the markers
``<!-- analysis_figures:begin -->`` and ``<!-- analysis_figures:end -->`` with it, and every number the prose
quotes between ``<!-- fact:NAME -->`` and ``<!-- /fact -->`` with the value ``analysis_facts.py`` computes under
that name, so the docs never carry a hand-typed figure.

    PYTHONPATH=src python3 benchmarks/analysis_figures.py [--setup S ...] [--db results.db] [--write docs/ANALYSIS.md]
        [--paper-stats ../shared/reference/paper-2025/model_stats.csv]

``--paper-stats`` reads the paper's published model statistics in place (never copied) and adds a table of
what its MAC and activation columns give, beside joulebench's own counts: the reason two published values
differ from joulebench's.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from joulebench.analysis.consistency import repeatabilities, summary_table
from joulebench.analysis.correlation import PAPER_SETUPS, TABLE1_PAIRS, setup_correlations
from joulebench.analysis.effects import input_size_accuracy, input_size_effect, runtime_reduction
from joulebench.analysis.estimators import cross_validate_both, throughput_errors, transfer_curve
from joulebench.analysis.fits import fit_frontier
from joulebench.analysis.frames import (
    attach,
    dedupe_energy,
    drop_test_models,
    energy_accuracy,
    static_facts,
)
from joulebench.analysis.frontier import frontier, frontier_families, type_centroids
from joulebench.analysis.naive import DATASHEET, PAPER, naive_errors, naive_factor_by
from joulebench.analysis.paper import PaperData, choose_setups, paper_rows
from joulebench.analysis.paper_published import FROM_DATA, PUBLISHED
from joulebench.analysis.report.inputs import runtime_pairs
from joulebench.analysis.robustness import drop_by, drop_by_family_group, frontier_stability, robustness_frame
from joulebench.analysis.static import loglinear_report, static_correlations
from joulebench.data import load_dataset

BEGIN, END = "<!-- analysis_figures:begin -->", "<!-- analysis_figures:end -->"
TARGETS = (80.0, 85.0, 88.0, 90.0)
TYPES = ("CNN", "Hybrid CNN-Transformer", "MLP", "Transformer")
FOLDS = 5
A100_SETUPS = ("A100:torch-fp32", "A100:tensorrt-fp16")


def md(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def mj(j: float) -> str:
    return "–" if j is None or not np.isfinite(j) else f"{j * 1e3:.1f}"


class Figures:
    """The dataset, its chosen setups and per-setup frames, and one method per table of the docs."""

    def __init__(self, ds, setups: Sequence[str]) -> None:
        self.ds = ds
        self.energy = drop_test_models(ds.energy)
        self.accuracy, self.catalogue = ds.accuracy, ds.catalogue
        self.stats = ds.stats if hasattr(getattr(ds, "stats", None), "columns") else None
        self.facts = static_facts(self.catalogue, self.stats)
        self.setups = list(setups)
        self.ea = {
            s: energy_accuracy(self.energy, self.accuracy, s, ["imagenet"], self.catalogue, self.stats)
            for s in self.setups
        }
        self.static = {
            s: attach(dedupe_energy(self.energy[self.energy["setup"] == s]), self.facts) for s in self.setups
        }

    def frontier_fit(self) -> str:
        rows = []
        for s in self.setups:
            df = self.ea[s]
            front = frontier(df)
            f = fit_frontier(front)
            need = []
            for t in TARGETS:
                try:
                    need.append(mj(f.energy_for(t).energy_per_image_j))
                except Exception:  # noqa: BLE001 - a refused target prints as a dash; the docs say why
                    need.append("–")
            rows.append(
                [s, len(df), len(front), f"{f.a:.2f}", f"{f.b:.2f}", f"{f.c:.2f}", f"{f.e_min * 1e3:.2f}"]
                + [f"{f.r2:.3f}", f"{f.rmse:.2f}", *need]
            )
        head = ["setup", "models", "frontier", "a", "b", "c", "E_min (mJ)", "R²", "RMSE (pts)"]
        return md(rows, head + [f"E for {t:g} % (mJ)" for t in TARGETS])

    def centres(self) -> str:
        rows = []
        for s in self.setups:
            c = type_centroids(self.ea[s]).set_index("type")
            cells = [
                f"{mj(c.loc[t, 'centre_energy_j'])} mJ, {c.loc[t, 'centre_accuracy']:.2f} % ({int(c.loc[t, 'n'])})"
                if t in c.index
                else "–"
                for t in TYPES
            ]
            rows.append([s, *cells])
        return md(rows, ["setup", *TYPES])

    def families(self) -> str:
        rows, every = [], None
        for s in self.setups:
            fam = frontier_families(frontier(self.ea[s]))
            names = set(fam["family"])
            every = names if every is None else every & names
            rows.append([s, len(names), ", ".join(f"{r.family} ({r.n})" for r in fam.head(5).itertuples())])
        table = md(rows, ["setup", "families on the frontier", "most frequent (models)"])
        return table + f"\n\nOn the frontier of every setup: {', '.join(sorted(every or [])) or 'none'}."

    def robustness(self) -> str:
        rows = []
        groups = ("CNN", "Hybrid", "MLP", "Transformer", "CLIP")
        for s in self.setups:
            rf = drop_test_models(robustness_frame(self.energy, self.accuracy, s, self.facts))
            g = drop_by_family_group(rf).set_index("group")["mean_drop"]
            st = frontier_stability(rf).set_index("testset")
            onnear = [f"{st.loc[t, 'on_fraction']:.2f}/{st.loc[t, 'near_fraction']:.2f}" for t in st.index]
            rows.append([s, f"{rf['drop'].mean():.1f}", *(f"{g.get(x, np.nan):.1f}" for x in groups), *onnear])
        head = ["setup", "mean drop (pts)", *groups, "on/near: real", "v2", "sketch", "A", "R", "robust mean"]
        return md(rows, head)

    def drop_by_decile(self) -> str:
        s = self.setups[0]
        d = drop_by(drop_test_models(robustness_frame(self.energy, self.accuracy, s, self.facts)), "energy_decile")
        return f"Drop by energy decile on {s} (1 = cheapest tenth): " + ", ".join(
            f"{int(r.energy_decile)}: {r.mean_drop:.1f}" for r in d.itertuples()
        )

    def agreement(self) -> str:
        c = setup_correlations(self.energy, self.setups)
        rows = [
            [r.setup_a, r.setup_b, r.n, f"{r.pearson:.3f}", f"{r.pearson_log:.3f}", f"{r.spearman:.3f}"]
            + [f"{r.median_ratio_b_over_a:.3f}"]
            for r in c.itertuples()
        ]
        out = md(rows, ["setup A", "setup B", "n", "Pearson", "Pearson (log)", "Spearman", "median B/A"])
        if set(PAPER_SETUPS) <= set(self.setups):
            t1 = setup_correlations(self.energy, PAPER_SETUPS, pairs=TABLE1_PAIRS, common=True)
            rows = [[r.setup_a, r.setup_b, r.n, f"{r.pearson:.4f}", f"{r.spearman:.4f}"] for r in t1.itertuples()]
            out += "\n\nTable 1's selection (models measured on all four setups; test models left out):\n\n"
            out += md(rows, ["setup A", "setup B", "n", "Pearson", "Spearman"])
        return out

    def consistency(self) -> str:
        t = summary_table(repeatabilities(self.energy, self.setups, self.catalogue))
        cols = [c for c in t.columns if c != "threshold"]
        return md(
            [[(f"{v:.3g}" if isinstance(v, float) else v) for v in r] for r in t[cols].itertuples(index=False)], cols
        )

    def naive(self) -> str:
        rows, by_type = [], []
        for s in self.setups:
            rp, p = naive_errors(self.static[s], PAPER)
            _, d = naive_errors(self.static[s], DATASHEET)
            rows.append(
                [s, p["n"], f"{p['geomean']:.2f}", f"{p['p05']:.2f}–{p['p95']:.2f}", f"{p['overestimated']:.1%}"]
                + [f"{d['geomean']:.2f}", f"{d['p05']:.2f}–{d['p95']:.2f}", f"{d['overestimated']:.1%}"]
            )
            rd, _ = naive_errors(self.static[s], DATASHEET)
            t = naive_factor_by(rd, "type").set_index("type")
            by_type.append([s, *(f"{t.loc[x, 'overestimated']:.0%}" if x in t.index else "–" for x in TYPES)])
        head = ["setup", "n", "paper: geomean", "p05–p95", "over", "datasheet: geomean", "p05–p95", "over"]
        out = md(rows, head)
        out += "\n\nShare of models the datasheet convention overestimates, by type:\n\n"
        return out + md(by_type, ["setup", *TYPES])

    def estimators(self) -> tuple[str, str]:
        rows, worse = [], []
        for s in self.setups:
            d = self.static[s]
            cv = cross_validate_both(d, k=FOLDS).set_index(["estimator", "grouping"])["mape"]
            thr = throughput_errors(d)
            rows.append(
                [s, int(len(d)), f"{thr['mape']:.2f} %"]
                + [f"{cv[(e, g)]:.1f} %" for e in ("log-linear", "boosted-static") for g in ("arch", "family")]
            )
            for g in ("arch", "family"):
                if cv[("boosted-static", g)] >= cv[("log-linear", g)]:
                    worse.append(
                        f"{s} with whole {'architectures' if g == 'arch' else 'families'} held out "
                        f"({cv[('boosted-static', g)]:.1f} % against {cv[('log-linear', g)]:.1f} %)"
                    )
            ratio = [cv[("log-linear", g)] / cv[("boosted-static", g)] for g in ("arch", "family")]
            rows[-1].append(" / ".join(f"{r:.2f}×" for r in ratio))
        head = ["setup", "n", "throughput MAPE", "log-linear, arch held out", "log-linear, family held out"]
        head += ["boosted, arch held out", "boosted, family held out", "log-linear / boosted (arch / family)"]
        verdict = (
            "The boosted estimator does not beat log-linear on: " + "; ".join(worse) + "."
            if worse
            else "The boosted estimator beats log-linear under both cross-validations on every setup."
        )
        return md(rows, head), verdict

    def static_fit(self) -> str:
        rows, coefs = [], []
        for s in self.setups:
            c = static_correlations(self.static[s]).set_index("feature")
            fit = loglinear_report(self.static[s], k=FOLDS)
            rows.append(
                [s, fit["n"]]
                + [f"{c.loc[f, 'pearson']:.3f} / {c.loc[f, 'spearman']:.3f}" for f in ("params", "macs", "activations")]
                + [f"{fit['in_sample_mape']:.1f} %", f"{fit['cv_mape_arch']:.1f} %", f"{fit['cv_mape_family']:.1f} %"]
            )
            coefs.append([s, *(f"{x['value']:.3f} [{x['low']:.3f}, {x['high']:.3f}]" for x in fit["coefficients"])])
        head = ["setup", "n", "params r / ρ", "MACs r / ρ", "activations r / ρ", "in-sample MAPE"]
        out = md(rows, head + ["k-fold, arch", "k-fold, family"])
        out += (
            "\n\nLog-linear coefficients, ln E[mJ] = const + b ln params + c ln GMACs + d ln activations (95 % CI):\n\n"
        )
        return out + md(coefs, ["setup", "const", "params", "GMACs", "activations"])

    def transfer(self) -> str:
        curves = [transfer_curve(self.energy, a, b, ks=(1, 5, 20)) for a, b in itertools.combinations(self.setups, 2)]
        tc = pd.concat(curves, ignore_index=True)
        p = tc.pivot_table(index=["setup_a", "setup_b"], columns="k", values="mape_median")
        rows = [[f"{a} → {b}", *(f"{p.loc[(a, b), k]:.1f} %" for k in p.columns)] for a, b in p.index]
        return md(rows, ["from → to", *(f"k = {k}" for k in p.columns)])

    def runtimes(self) -> str:
        rows = []
        for base, opt in runtime_pairs(self.setups):
            r = runtime_reduction(self.energy, base, opt)
            q = r.quantiles
            rows.append(
                [f"{opt} vs {base}", r.n, f"{r.geomean:.2f}", f"{r.gsd:.2f}", f"{q['p05']:.2f}", f"{q['median']:.2f}"]
                + [f"{q['p95']:.2f}", f"{r.fraction_worse:.1%}"]
            )
        return md(rows, ["comparison", "n", "geomean factor", "GSD", "p05", "median", "p95", "optimised worse"])

    def input_size(self) -> str:
        rows = []
        for s in self.setups:
            e = input_size_effect(self.energy, s)
            a = input_size_accuracy(self.ea[s])
            rows.append(
                [s, len(e), f"{e['exponent'].median():.2f}", len(a), f"{a['accuracy_gain'].median():.2f}"]
                + [f"{a['points_per_doubling'].median():.2f}"]
            )
        head = ["setup", "architectures", "median k (E ∝ pixels^k)", "tags", "median top-1 gain (pts)"]
        return md(rows, head + ["points per energy doubling"])

    def published_stats(self, path: Path) -> str:
        """Naive factor and activations correlation with the paper's published statistics against joulebench's."""
        ms = pd.read_csv(path).rename(columns={"model_name": "model", "input_size_csv": "img_size"})
        ms["paper_macs"] = ms[["macs_tinfo", "macs_ptflops"]].max(axis=1)  # they disagree for attention models
        rows = []
        for s in [x for x in self.setups if x.startswith("A100:")]:
            d = self.static[s].merge(
                ms[["model", "img_size", "paper_macs", "activations"]],
                on=["model", "img_size"],
                suffixes=("", "_paper"),
            )
            own = naive_errors(d, PAPER)[1]["geomean"]
            pub = naive_errors(d.assign(macs=d["paper_macs"]), PAPER)[1]["geomean"]
            ok = d.dropna(subset=["activations_paper"])
            r_own = np.corrcoef(ok["activations"], ok["energy_per_image_j"])[0, 1]
            r_pub = np.corrcoef(ok["activations_paper"], ok["energy_per_image_j"])[0, 1]
            rows.append([s, len(d), f"{own:.2f}", f"{pub:.2f}", f"{r_own:.3f}", f"{r_pub:.3f}"])
        head = ["setup", "n", "naive factor, own MACs", "paper's MACs", "Pearson(activations), own", "paper's column"]
        return md(rows, head)

    def paper(self) -> str:
        data = PaperData(self.energy, self.accuracy, self.catalogue, self.stats)
        rows = [r for r in paper_rows(data, self.setups, k=FOLDS) if r.published is not None]
        out = [
            [r.key, f"{r.published:.4g}", "quoted" if r.key in PUBLISHED else "paper's data files"]
            + [f"{r.computed:.4g}", "agrees" if "agrees with the paper" in r.note else "differs"]
            for r in rows
        ]
        table = md(out, ["key", "published", "from", "joulebench", ""])
        quoted = [r for r in rows if r.key in PUBLISHED and r.key in FROM_DATA]
        lines = [
            f"- {r.key}: quoted {PUBLISHED[r.key][0]:g}, the paper's data files give {FROM_DATA[r.key]:.4g}"
            for r in quoted
        ]
        return table + "\n\nQuoted values beside what the paper's own data files give:\n\n" + "\n".join(lines)


SECTIONS: tuple[tuple[str, Callable[[Figures], str]], ...] = (
    ("Frontier and fit", Figures.frontier_fit),
    ("Type centres (geometric-mean energy, mean ImageNet top-1, n)", Figures.centres),
    ("Frontier families", Figures.families),
    ("Robustness (drop by group: CLIP models apart, the rest by type)", Figures.robustness),
    ("Cross-setup agreement (models in common)", Figures.agreement),
    ("Consistency of the data (repeated workloads)", Figures.consistency),
    ("Naive estimator: measured / naive", Figures.naive),
    ("Energy against static statistics (Fig. 6, Table 3)", Figures.static_fit),
    ("Transfer (median MAPE over 50 draws of k shared models)", Figures.transfer),
    ("Runtime reduction", Figures.runtimes),
    ("Input size", Figures.input_size),
    ("Published values beside joulebench's", Figures.paper),
)


def render(fig: Figures, paper_stats: Path | None = None) -> str:
    """All sections as Markdown (and, with ``paper_stats``, what the paper's published statistics give)."""
    parts = []
    for title, build in SECTIONS:
        parts.append(f"#### {title}\n\n{build(fig)}")
        if build is Figures.robustness:
            parts.append(fig.drop_by_decile())
        if build is Figures.naive:
            table, verdict = fig.estimators()
            parts.append(f"#### Estimators, {FOLDS}-fold cross-validation on the same folds\n\n{table}\n\n{verdict}")
    if paper_stats is not None:
        parts.append(
            f"#### The paper's published statistics against joulebench's counts\n\n{fig.published_stats(paper_stats)}"
        )
    return "\n\n".join(parts) + "\n"


def write_into(path: Path, text: str) -> None:
    """Replace the marked block of ``path`` with ``text``."""
    doc = path.read_text(encoding="utf-8")
    if BEGIN not in doc or END not in doc:
        sys.exit(f"{path} lacks the markers {BEGIN} and {END}")
    new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: f"{BEGIN}\n\n{text}\n{END}", doc, flags=re.S)
    path.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--setup", action="append", default=[])
    ap.add_argument("--db")
    ap.add_argument("--write", type=Path, help="Markdown file whose marked block to replace.")
    ap.add_argument("--paper-stats", type=Path, help="The paper's model_stats.csv, read in place.")
    args = ap.parse_args(argv)
    ds = load_dataset(db=args.db)
    setups = choose_setups(ds.energy, args.setup or None)
    fig = Figures(ds, setups)
    text = render(fig, args.paper_stats)
    if args.write:
        from analysis_facts import Facts, write_facts  # the script's folder is on sys.path when it runs

        write_into(args.write, text)
        write_facts(args.write, Facts(fig).values())
        print(f"wrote {args.write}")
    else:
        print(text)


if __name__ == "__main__":
    main()

"""Compare joulebench's MACs and activations with timm's published ``infer_gmacs``/``infer_macts``.

Usage: ``python benchmarks/stats_vs_timm.py [REFERENCE_DIR] [--tol 0.05] [--list]``

timm's benchmark files key on the architecture (no tag) and input size; each is matched with the
pretrained configuration of that architecture and size whose parameter count is closest to timm's
``param_count`` (tags differ only in their classifier head). timm rounds GMACs and M-activations to two
decimals, so tiny models are compared with that rounding allowed. Prints a table; writes JSON under $OUT.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("reference", nargs="?", default=str(Path("..") / "shared" / "reference"))
    ap.add_argument("--tol", type=float, default=0.05)
    ap.add_argument("--list", action="store_true", help="list every disagreement")
    args = ap.parse_args()

    import pandas as pd

    from joulebench.data.importer import read_timm_benchmarks
    from joulebench.models.stats import load_stats

    ref = pd.DataFrame(read_timm_benchmarks(Path(args.reference) / "timm"))
    ref = ref.drop_duplicates(["model", "img_size"])[["model", "img_size", "params", "macs", "activations"]]
    st = load_stats(include_cache=True)
    st = st[st["method"] != "failed"].copy()
    st["arch"] = st["model"].str.split(".").str[0]
    m = ref.merge(st, left_on=["model", "img_size"], right_on=["arch", "img_size"], suffixes=("_timm", ""))
    m["dparams"] = (m["params"] - m["params_timm"]).abs()
    m = m.sort_values("dparams").drop_duplicates(["model_timm", "img_size"]).copy()

    def rel(ours: pd.Series, theirs: pd.Series, unit: float) -> pd.Series:
        # timm prints 2 decimals of G (MACs) / M (activations): allow that rounding on top of the tolerance
        err = (ours - theirs).abs()
        return (err - 0.005 * unit).clip(lower=0) / theirs.abs()

    m["macs_rel"] = rel(m["macs"], m["macs_timm"], 1e9)
    m["acts_rel"] = rel(m["activations"], m["activations_timm"], 1e6)
    m["agree"] = (m["macs_rel"] <= args.tol) & (m["acts_rel"] <= args.tol)
    n = len(m)
    rows = [
        ("timm benchmark configurations", len(ref)),
        ("matched with joulebench stats", n),
        (f"MACs within {args.tol:.0%}", f"{(m['macs_rel'] <= args.tol).mean():.1%}"),
        (f"activations within {args.tol:.0%}", f"{(m['acts_rel'] <= args.tol).mean():.1%}"),
        ("both within tolerance", f"{m['agree'].mean():.1%} ({int(m['agree'].sum())}/{n})"),
        ("median |MACs diff|", f"{(m['macs'] / m['macs_timm'] - 1).abs().median():.2%}"),
        ("median |activations diff|", f"{(m['activations'] / m['activations_timm'] - 1).abs().median():.2%}"),
    ]
    w = max(len(str(k)) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{w}}  {v}")
    bad = m[~m["agree"]].sort_values("model_timm")
    if args.list and len(bad):
        print()
        print(f"{'timm model':<45} {'px':>4} {'MACs ours/timm':>15} {'acts ours/timm':>15}")
        for r in bad.itertuples():
            print(
                f"{r.model_timm:<45} {r.img_size:>4} {r.macs / r.macs_timm:>15.3f} "
                f"{r.activations / r.activations_timm:>15.3f}"
            )
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        payload = {"summary": dict(rows), "disagreements": bad[["model_timm", "img_size"]].values.tolist()}
        (Path(out) / "stats_vs_timm.json").write_text(json.dumps(payload, indent=1, default=str))


if __name__ == "__main__":
    main()

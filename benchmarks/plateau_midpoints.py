"""Do the plateau search's midpoints pay? Replays stored searches: the best full window against the best scout.

The plateau search scouts by doubling, then measures with the full protocol the best scouted batch and the
midpoints between it and its scouted neighbours. For every (model configuration, runtime) of a store this
prints how much the best full window beat the full window at the best scouted batch: with the midpoints
left out, that is the energy per image the search would have lost. Reads the rows only (no GPU).

    PYTHONPATH=src python3 benchmarks/plateau_midpoints.py [--db STORE_OR_BUNDLE]   # default: data/h200/dataset
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from joulebench.store.bundle import store_of  # noqa: E402
from joulebench.store.db import Store  # noqa: E402


def gains(rows: list[dict]) -> list[tuple[str, float]]:
    """Per (model@size runtime): 1 - best full energy / full energy at the best scouted batch."""
    searches: dict[str, list[dict]] = {}
    for r in rows:
        if r["status"] == "ok" and r["energy_per_image_j"] is not None:
            searches.setdefault(f"{r['model']}@{r['img_size']} {r['runtime']}", []).append(r)
    out = []
    for key, ms in searches.items():
        scouts = [m for m in ms if (m["trace_summary"] or {}).get("phase") == "scout"]
        full = [m for m in ms if (m["trace_summary"] or {}).get("phase") == "full"]
        if not scouts or not full:
            continue
        b = min(scouts, key=lambda m: m["energy_per_image_j"])["batch_size"]
        at_b = [m["energy_per_image_j"] for m in full if m["batch_size"] == b]
        if at_b:
            out.append((key, 1 - min(m["energy_per_image_j"] for m in full) / at_b[0]))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--db", type=Path, default=ROOT / "data/h200/dataset", help="a store, or a bundle of one")
    a = p.parse_args(argv)
    with Store.open_readonly(a.db) if a.db.is_file() and a.db.suffix == ".db" else store_of(a.db) as store:
        g = gains(store.rows("measurements"))
    if not g:
        print(f"no plateau searches with scouting and full windows in {a.db}")
        return 1
    print(f"{len(g)} plateau searches in {a.db}")
    print("| a midpoint beat the best scouted batch by | searches |")
    print("| --- | --- |")
    for label, lo in (("more than 0 %", 0.0), ("1 % or more", 0.01), ("2 % or more", 0.02)):
        n = sum(x > lo if lo == 0 else x >= lo for _, x in g)
        print(f"| {label} | {n} |")
    key, best = max(g, key=lambda t: t[1])
    print(f"largest: {best:.1%} ({key})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

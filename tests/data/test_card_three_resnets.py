"""The three-resnets card quotes its bundle: each result's batch, energy, cost, host probe and finals' utilisation."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from joulebench.store.bundle import import_bundle
from joulebench.store.db import Store

FOLDER = Path(__file__).resolve().parents[2] / "data" / "h100" / "three-resnets"


def _read(name: str) -> list[dict[str, str]]:
    with open(FOLDER / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _rows_from_bundle() -> list[list[str]]:
    measurements = _read("measurements.csv")
    rows = []
    for s in _read("summaries.csv"):
        mine = [
            m for m in measurements if (m["model"], m["runtime"]) == (s["model"], s["runtime"]) and m["status"] == "ok"
        ]
        traces = [json.loads(m["trace_summary"]) for m in mine]
        probes = [t["host_probe_s"] for t in traces]
        util = [t["gpu_util_pct_mean"] for t in traces if t["phase"] == "full"]
        rows.append(
            [
                f"{s['model']}@{s['img_size']}",
                s["runtime"],
                s["optimal_batch"],
                f"{1e3 * float(s['energy_per_image_j']):.2f}",
                f"{float(s['gpu_seconds']):.0f}",
                f"{sum(t['prepare_s'] for t in traces):.0f}",
                f"x{max(probes) / min(probes):.2f}",
                f"{min(util):.1f}–{max(util):.1f}",
            ]
        )
    return rows


def _card() -> str:
    return (FOLDER / "README.md").read_text(encoding="utf-8")


def test_the_cards_table_is_the_bundles():
    table = [line for line in _card().splitlines() if line.startswith("| ") and "@" in line]
    quoted = [[cell.strip() for cell in line.strip("|").split("|")] for line in table]
    assert quoted == _rows_from_bundle()


def test_the_cards_statements_are_the_bundles():
    card = " ".join(_card().split())
    rows = _rows_from_bundle()
    lowest = min(float(r[-1].split("–")[0]) for r in rows)
    assert f"at least {lowest:.1f} % of its window, so none was launch-bound" in card
    failures = _read("failures.csv")
    assert sorted(f["stage"] for f in failures) == ["deadline", "oom", "oom"] and "three rows" in card
    stop = next(f for f in failures if f["stage"] == "deadline")
    assert f"task of `{stop['model']}` after {float(stop['gpu_seconds']):.0f} s. The bundle holds no batch" in card
    assert not any(m["model"] == stop["model"] and m["runtime"] == stop["runtime"] for m in _read("measurements.csv"))
    compiled = [m for m in _read("measurements.csv") if m["runtime"] == "compile-fp16" and m["status"] == "ok"]
    traces = [(m["model"], int(m["batch_size"]), json.loads(m["trace_summary"])) for m in compiled]
    finals = {(model, batch): t["prepare_s"] for model, batch, t in traces if t["phase"] == "full"}
    for model, big, small in (("resnet18d", 16384, 4096), ("resnet34", 8192, 2048)):
        name = next(k[0] for k in finals if k[0].startswith(model))
        said = f"{model}: {finals[name, big]:.1f} s at {big}, {finals[name, small]:.1f} s at {small}"
        assert said in card
    (run,) = _read("runs.csv")
    assert run["gpu_uuid"] in card and run["driver"] in card and run["torch"] in card
    assert json.loads(run["provenance"])["search_revision"] == 4 and "search revision 4" in card
    assert len(re.findall(r"\S+@\d+", run["command"])) == 14 and "fourteen configurations" in card


def test_the_bundle_imports(tmp_path):
    with Store(tmp_path / "r.db") as store:
        report = import_bundle(store, FOLDER)
        assert len(store.summaries()) == 5, report

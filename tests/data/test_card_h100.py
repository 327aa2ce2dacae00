"""Every figure data/h100/README.md quotes comes from the dataset report, the dataset view or the bundle itself."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from card_tables import row, rows
from joulebench.data.dataset import load_dataset
from joulebench.store.bundle import read_tables

ROOT = Path(__file__).resolve().parents[2]
CARD = ROOT / "data/h100/README.md"
DATA = ROOT / "data/h100/dataset"
WORDS = {2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven", 8: "Eight", 9: "Nine", 10: "Ten"}


@pytest.fixture(scope="module")
def report() -> str:
    from joulebench.analysis.dataset_report import report

    return report(DATA)


@pytest.fixture(scope="module")
def card() -> str:
    return CARD.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def tables() -> dict[str, list[dict]]:
    return read_tables(DATA).rows


def _flat(text: str) -> str:
    return " ".join(text.split())


def _spread(values: list[float]) -> str:
    return f"{100 * (max(values) / min(values) - 1):.1f} %"


def _latest(summaries: list[dict]) -> dict[tuple[str, str], dict]:
    """The result every command shows per (model, runtime): the one finished last."""
    return {(s["model"], s["runtime"]): s for s in sorted(summaries, key=lambda s: s["finished_at"])}


def _revisions(runs: list[dict]) -> list[list[dict]]:
    """The runs grouped by protocol (``config``), in the order the protocols were first used."""
    groups: dict[str, list[dict]] = {}
    for r in sorted(runs, key=lambda r: r["finished_at"]):
        groups.setdefault(json.dumps(r["config"], sort_keys=True), []).append(r)
    return list(groups.values())


@pytest.mark.slow
def test_the_cards_provenance_and_progress_are_the_reports(report, card):
    for what in ("boards (GPU UUIDs) with a result", "driver / CUDA", "torch / timm", "results finished"):
        assert row(card, what) == row(report, what)
    gpu, limit = row(report, "GPU")[1], float(row(report, "power limit (W)")[1])
    assert row(card, "GPU")[1] == f"{gpu}, power limit {limit:.0f} W"
    boards = int(row(report, "boards (GPU UUIDs) with a result")[1])
    assert f"**{WORDS[boards]} boards.**" in card
    fp32, compiled = (row(report, f"H100-SXM:{rt}") for rt in ("torch-fp32", "compile-fp16"))
    text = f"{fp32[1]} of {fp32[2]} on `torch-fp32` and {compiled[1]} of {compiled[2]} on `compile-fp16`"
    assert text in _flat(card)
    left = WORDS[int(compiled[2]) - int(compiled[1])].lower()
    assert f"Not measured: the other {left} models on `compile-fp16`" in _flat(card)


@pytest.mark.slow
def test_the_cards_comparisons_are_the_reports(report, card):
    card = _flat(card)
    ratio = {r[0]: r for r in rows(report, "| H100-SXM:torch-fp32 / ")}
    pci, a100 = ratio["H100-SXM:torch-fp32 / H100:torch-fp32"], ratio["H100-SXM:torch-fp32 / A100:torch-fp32"]
    n = WORDS[int(pci[1])].lower()
    assert f"Over the {n} `torch-fp32` models" in card
    assert f"`H100-SXM:torch-fp32 / H100:torch-fp32` is {pci[2]}" in card
    assert f"`H100-SXM:torch-fp32 / A100:torch-fp32` {a100[2]}" in card
    assert float(pci[2]) > 1 and "spends more per image than the paper's H100 PCIe" in card
    spearman = {r[1]: r[3] for r in rows(report, "| H100-SXM:torch-fp32 | ") if len(r) == 6}
    assert spearman["H100:torch-fp32"] == spearman["A100:torch-fp32"]
    assert f"(Spearman {spearman['H100:torch-fp32']} against both; {n} models only)" in card
    (resnet,) = rows(report, "| resnet50.a1_in1k@224 | ")[:1]
    own, paper = resnet[3].replace("x", "×"), resnet[6].replace("x", "×")
    assert f"`compile-fp16` spends {own} less than `torch-fp32`" in card
    assert f"saves {paper} with TensorRT FP16" in card


@pytest.mark.slow
def test_the_cards_two_search_revisions_are_the_reports(report, card):
    card = _flat(card)
    section = report[report.index("## Results measured more than once") :]
    again = [r for r in rows(section, "| ") if r[0].endswith("@224")]
    assert f"{WORDS[len(again)]} models were measured under both revisions" in card
    m = re.search(
        r"over (\d+) pairs: latest / first geometric mean (\d+\.\d+), GSD \d+\.\d+, range (\d+\.\d+)–(\d+\.\d+)",
        section,
    )
    assert m and int(m[1]) == len(again)
    gm = float(m[2])
    assert gm < 1 and f"the later revision's board reads {100 * (1 - gm):.1f} % less" in card
    assert f"geometric mean {m[2]}, range {m[3]}–{m[4]} over the {m[1]} pairs" in card
    moved = [(r[0].split("@")[0], r[2].split(" @ ")[1], r[3].split(" @ ")[1]) for r in again]
    moved = [(model, first, latest) for model, first, latest in moved if first != latest]
    assert f"{WORDS[len(moved)]} end at a smaller batch" in card
    for model, first, latest in moved:
        assert int(latest) < int(first) and f"`{model}` at {latest} instead of {first}" in card


def test_the_cards_results_are_what_the_commands_show(card, monkeypatch):
    monkeypatch.delenv("JOULEBENCH_DATA", raising=False)
    e = load_dataset(include_cache=False).energy
    e = e[e.setup.str.startswith("H100-SXM:") & (e.status == "ok")]
    quoted = {(r[0].strip("`"), r[1].strip("`")): r[2:] for r in rows(card, "| `") if len(r) == 4}
    shown = {
        (m, rt): [f"{j * 1e3:.2f}", str(int(b))]
        for m, rt, j, b in zip(e.model, e.runtime, e.energy_per_image_j, e.batch_size, strict=True)
    }
    assert quoted == shown


def test_the_cards_repeats_are_the_bundles(card, tables):
    runs = {r["run_id"]: r for r in tables["runs"]}
    summaries = sorted(tables["summaries"], key=lambda s: s["finished_at"])
    reps = [s for s in summaries if (s["model"], s["runtime"]) == ("resnet50.a1_in1k", "torch-fp32")]
    earlier, later = (json.dumps(g[0]["config"], sort_keys=True) for g in _revisions(tables["runs"]))
    old = [s for s in reps if json.dumps(runs[s["run_id"]]["config"], sort_keys=True) == earlier]
    new = [s for s in reps if json.dumps(runs[s["run_id"]]["config"], sort_keys=True) == later]
    assert reps == old + new and (len(old), len(new)) == (3, 2)
    boards = [s["gpu_uuid"] for s in reps]
    assert boards[0] != boards[1] == boards[2] != boards[3] == boards[4] and boards[3] != boards[0]
    mj = [f"{s['energy_per_image_j'] * 1e3:.2f}" for s in reps]
    text = _flat(card)
    assert (
        f"measured {WORDS[len(reps)].lower()} times: under the earlier revision {mj[0]} mJ "
        f"(batch {reps[0]['optimal_batch']}) on one board, then {mj[1]} and {mj[2]} mJ "
        f"(batch {reps[2]['optimal_batch']}) on another, in a row; under the later revision {mj[3]} and {mj[4]} mJ "
        f"(batch {reps[4]['optimal_batch']}) on a third"
    ) in text
    assert reps[0]["optimal_batch"] != reps[1]["optimal_batch"] == reps[2]["optimal_batch"]
    assert reps[3]["optimal_batch"] == reps[4]["optimal_batch"]
    between = {s["model"] for s in summaries if reps[3]["finished_at"] < s["finished_at"] < reps[4]["finished_at"]}
    assert "resnet50.a1_in1k" not in between
    assert f"with the other {WORDS[len(between)].lower()} models between them" in text
    e = [s["energy_per_image_j"] for s in reps]
    pairs = max(_spread(e[1:3]), _spread(e[3:]), key=lambda p: float(p.split()[0]))
    assert f"Each pair on one board agrees within {pairs}; the three under the earlier revision within " in text
    assert f"{_spread(e[:3])}; all five within {_spread(e)}" in text
    assert f"show the latest ({mj[-1]} mJ)" in text and f"keeps all {WORDS[len(reps)].lower()} rows" in text
    assert f"read it up to {_spread(e)} apart" in text


def test_the_cards_files_and_boards_are_the_bundles(card, tables):
    text = _flat(card)
    summaries, latest = tables["summaries"], _latest(tables["summaries"])
    per = {}
    for s in summaries:
        per[(s["model"], s["runtime"])] = per.get((s["model"], s["runtime"]), 0) + 1
    twice = [k for k, n in per.items() if n == 2 and k[1] == "torch-fp32"]
    assert per[("resnet50.a1_in1k", "torch-fp32")] == 5 and sum(per.values()) == len(summaries)
    assert set(per.values()) == {1, 2, 5}
    assert f"{len(summaries)} rows: `resnet50.a1_in1k` on `torch-fp32` has five, " in text
    assert f"{WORDS[len(twice)].lower()} other `torch-fp32` models two each" in text
    panel = (DATA / "panel.txt").read_text(encoding="utf-8").split()
    assert {f"{m}@{s['img_size']}" for (m, _), s in latest.items()} <= set(panel)
    assert f"({WORDS[len(panel)].lower()} models; {WORDS[len(latest)].lower()} results measured, below)" in text
    fp32 = {s["gpu_uuid"] for (_, rt), s in latest.items() if rt == "torch-fp32"}
    (board,) = fp32  # every torch-fp32 result shown comes from one board
    (later,) = _revisions(tables["runs"])[1:]
    assert {r["gpu_uuid"] for r in later} == {board}
    assert (
        f"a fourth the {WORDS[len(later)].lower()} later runs, so every `torch-fp32` result shown comes from it" in text
    )
    assert latest[("resnet50.a1_in1k", "compile-fp16")]["gpu_uuid"] != board
    assert "The two results come from different boards" in text
    shown = [k for k in latest if k[1] == "torch-fp32"]
    assert f"The {WORDS[len(shown)].lower()} `torch-fp32` results shown come from one board" in text


def test_the_cards_protocol_and_commands_are_the_bundles(card, tables):
    text = _flat(card)
    earlier, later = _revisions(tables["runs"])  # two protocols, one after the other
    assert max(r["finished_at"] for r in earlier) < min(r["finished_at"] for r in later)
    c0, c1 = earlier[0]["config"], later[0]["config"]
    assert {k for k in c0.keys() | c1.keys() if c0.get(k) != c1.get(k)} == {"scan_max_iter_s", "scan_margin"}
    assert f"the first {WORDS[len(earlier)].lower()} runs scout no batch whose one iteration would take longer " in text
    assert f"than {c0['scan_max_iter_s']:g} s; the {WORDS[len(later)].lower()} later ones allow " in text
    assert f"{c1['scan_max_iter_s']:g} s and keep as finalists only scouts within {100 * c1['scan_margin']:g} %" in text
    for c in (c0, c1):
        assert f"the `{c['search']}` batch search" in text
        assert f"windows of {c['min_window_s']:g} to {c['max_window_s']:g} s" in text
        assert f"95 % interval is within {100 * c['precision']:g} %" in text
        assert f"a {c['warmup_s']:g} s warm-up and a {c['idle_s']:g} s idle baseline" in text
    # the later runs' commands: one sweep per model in the benchmark's order, the first model again last
    measured = [r["command"].split()[2] for r in later]
    for n, r in enumerate(later):
        assert re.fullmatch(
            rf"joulebench measure \S+ --runtime torch-fp32 --db \S*sweep-{n}\.db --json --meter nvml", r["command"]
        )
    order = list(dict.fromkeys(measured))
    assert measured == [*order, order[0]]
    command = text.replace(" \\ ", " ")  # the card's shell lines continue with a backslash
    repeats = measured.count(order[0])
    assert f"search_regret.py run {' '.join(order)} --runtime torch-fp32 --repeats {repeats} --sweep-only" in command
    assert f"N = 0 to {len(later) - 1}, in this order" in text


def test_the_cards_intervals_are_the_bundles(card, tables):
    runs = {r["run_id"]: r for r in tables["runs"]}
    latest = _latest(tables["summaries"]).values()
    wide = [s for s in latest if s["ci95_rel"] > runs[s["run_id"]]["config"]["precision"]]
    for s in wide:  # each one's final window ran to the window limit without reaching the precision
        final = [
            m for m in tables["measurements"]
            if m["run_id"] == s["run_id"] and m["batch_size"] == s["optimal_batch"]
            and (m["trace_summary"] or {}).get("phase", "full") != "scout"
        ]  # fmt: skip
        assert final and all(m["duration_s"] >= runs[s["run_id"]]["config"]["max_window_s"] for m in final)
    worst = max(s["ci95_rel"] for s in wide)
    text = _flat(card)
    assert f"{len(wide)} of the {len(latest)} results shown keep a wider one, at most {100 * worst:.1f} %" in text

"""Every figure data/h100/README.md quotes comes from the dataset report, the dataset view or the bundle itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from card_tables import row, rows
from joulebench.data.dataset import load_dataset
from joulebench.store.bundle import read_tables

ROOT = Path(__file__).resolve().parents[2]
CARD = ROOT / "data/h100/README.md"
DATA = ROOT / "data/h100/dataset"
WORDS = {2: "Two", 3: "Three", 4: "Four", 5: "Five"}


@pytest.fixture(scope="module")
def report() -> str:
    from joulebench.analysis.dataset_report import report

    return report(DATA)


@pytest.fixture(scope="module")
def card() -> str:
    return CARD.read_text(encoding="utf-8")


def _flat(text: str) -> str:
    return " ".join(text.split())


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


@pytest.mark.slow
def test_the_cards_comparisons_are_the_reports(report, card):
    card = _flat(card)
    ratio = {r[0]: r for r in rows(report, "| H100-SXM:torch-fp32 / ")}
    pci, a100 = ratio["H100-SXM:torch-fp32 / H100:torch-fp32"], ratio["H100-SXM:torch-fp32 / A100:torch-fp32"]
    assert f"Over the {WORDS[int(pci[1])].lower()} `torch-fp32` models" in card
    assert f"`H100-SXM:torch-fp32 / H100:torch-fp32` is {pci[2]}" in card
    assert f"`H100-SXM:torch-fp32 / A100:torch-fp32` {a100[2]}" in card
    assert float(pci[2]) > 1 and "spends more per image than the paper's H100 PCIe" in card
    spearman = {r[1]: r[3] for r in rows(report, "| H100-SXM:torch-fp32 | ") if len(r) == 6}
    assert spearman["H100:torch-fp32"] == spearman["A100:torch-fp32"]
    assert f"(Spearman {spearman['H100:torch-fp32']} against both" in card
    (resnet,) = rows(report, "| resnet50.a1_in1k@224 | ")[:1]
    own, paper = resnet[3].replace("x", "×"), resnet[6].replace("x", "×")
    assert f"`compile-fp16` spends {own} less than `torch-fp32`" in card
    assert f"saves {paper} with TensorRT FP16" in card


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


def test_the_cards_repeats_and_protocol_are_the_bundles(card):
    tables = read_tables(DATA).rows
    runs = tables["summaries"]
    reps = sorted(
        (s for s in runs if (s["model"], s["runtime"]) == ("resnet50.a1_in1k", "torch-fp32")),
        key=lambda s: s["finished_at"],
    )
    mj = [f"{s['energy_per_image_j'] * 1e3:.2f}" for s in reps]
    text = _flat(card)
    assert f"measured {WORDS[len(reps)].lower()} times: {mj[0]} mJ (batch {reps[0]['optimal_batch']})" in text
    assert f"then {mj[1]} and {mj[2]} mJ (batch {reps[2]['optimal_batch']}) on another" in text
    assert reps[0]["gpu_uuid"] != reps[1]["gpu_uuid"] == reps[2]["gpu_uuid"]
    assert f"show the latest ({mj[-1]} mJ)" in text

    def spread(values: list[float]) -> str:
        return f"{100 * (max(values) / min(values) - 1):.1f} %"

    energies = [s["energy_per_image_j"] for s in reps]
    assert f"on one board agree within {spread(energies[1:])}; all three within {spread(energies)}" in text
    assert f"read it {spread(energies)} apart" in text
    (config,) = {json.dumps(r["config"], sort_keys=True) for r in tables["runs"]}  # one protocol for every run
    c = json.loads(config)
    assert f"the `{c['search']}` batch search" in text
    assert f"windows of {c['min_window_s']:g} to {c['max_window_s']:g} s" in text
    assert f"95 % interval is within {100 * c['precision']:g} %" in text
    assert f"a {c['warmup_s']:g} s warm-up and a {c['idle_s']:g} s idle baseline" in text

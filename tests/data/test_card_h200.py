"""Every figure data/h200/README.md quotes is what ``python3 -m joulebench.analysis.dataset_report`` prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from card_tables import row as _row
from card_tables import rows as _rows

ROOT = Path(__file__).resolve().parents[2]
CARD = ROOT / "data/h200/README.md"
DATA = ROOT / "data/h200/dataset"

pytestmark = pytest.mark.slow  # the report reads the whole dataset (a few CPU seconds)


@pytest.fixture(scope="module")
def report() -> str:
    from joulebench.analysis.dataset_report import report

    if not (DATA / "summaries.csv").exists():
        pytest.skip(f"{DATA} is not in this checkout")
    return report(DATA)


@pytest.mark.parametrize(
    ("printed", "quoted"),
    [
        ("H200 torch-fp32 -> compile-fp16", "H200 `torch-fp32` → `compile-fp16`"),
        (
            "H100 torch-fp32 -> tensorrt-fp16, H200's models",
            "H100 `torch-fp32` → `tensorrt-fp16` (the paper), same models",
        ),
        (
            "A100 torch-fp32 -> tensorrt-fp16, H200's models",
            "A100 `torch-fp32` → `tensorrt-fp16` (the paper), same models",
        ),
    ],
)
def test_the_cards_reductions_are_the_reports(report, printed, quoted):
    _, n, geomean, _, quantiles, _ = _row(report, printed)
    card = _row(CARD.read_text(encoding="utf-8"), quoted)
    assert card[1:] == [n, geomean.replace("x", "×") + " less", quantiles.replace("x", "×")]


def test_the_cards_provenance_is_the_reports(report):
    card = CARD.read_text(encoding="utf-8")
    for what in ("boards (GPU UUIDs) with a result", "driver / CUDA", "torch / timm", "results finished"):
        assert _row(card, what) == _row(report, what)
    gpu, limit = _row(report, "GPU")[1], float(_row(report, "power limit (W)")[1])
    assert _row(card, "GPU")[1] == f"{gpu}, power limit {limit:.0f} W"


def test_the_cards_agreement_and_spread_are_the_reports(report):
    card = " ".join(CARD.read_text(encoding="utf-8").split())
    spearman = {r[1]: r[3] for r in _rows(report, "| H200:torch-fp32 | ") if len(r) == 6}
    assert f"Spearman {spearman['A100:torch-fp32']} and {spearman['H100:torch-fp32']}" in card
    # the boards table: setup, workloads, tags, boards, tags sharing a board, pooled SD on one board and on all
    boards = {r[0]: r for r in _rows(report, "| H200:") if len(r) == 7}
    one = [boards[s][5].replace("%", " %") for s in ("H200:torch-fp32", "H200:compile-fp16")]
    every = [boards[s][6].replace("%", " %") for s in ("H200:torch-fp32", "H200:compile-fp16")]
    assert f"pooled SD of {one[0]} (torch-fp32) and {one[1]} (compile-fp16) on one board" in card
    assert f"and {every[0].removesuffix(' %')} % and {every[1]} across the boards" in card
    # the paper's H100 FP32 readings of the H200's models that implied power names as off (against the A100)
    off = (
        r"^- H100:torch-fp32 / A100:torch-fp32: .* implied power (\d+) % / \d+ % .*the H100:torch-fp32 reading is off$"
    )
    powers = [int(p) for p in re.findall(off, report, flags=re.MULTILINE)]
    words = {4: "Four", 5: "Five", 6: "Six", 7: "Seven"}
    assert f"{words[len(powers)]} of the paper's H100 FP32 readings" in card
    assert f"({min(powers)}–{max(powers)} % of the power limit)" in card


def test_the_cards_known_limits_count_what_the_report_lists(report):
    card = " ".join(CARD.read_text(encoding="utf-8").split())
    boards = _row(report, "boards (GPU UUIDs) with a result")[1]
    assert f"Results come from {boards} boards" in card
    repeats = report.split("## Results measured more than once")[1].split("\n\nAt the first result's batch")[0]
    pairs = len([r for r in _rows(repeats, "| ") if r[0] not in ("model", "---")])  # not the header and its rule
    assert f"{pairs} configuration-runtime pairs were measured again" in card


def test_the_cards_count_of_stale_results_is_the_reports(report):
    count = re.search(r"^(\d+) results to measure again", report, flags=re.M).group(1)
    card = " ".join(CARD.read_text(encoding="utf-8").split())
    # and how much they are expected to change, as the report's count line says
    most, over = re.search(r"at most ([\d.]+) % lower at the next batch, over 0.5 % for (\d+)", report).groups()
    assert f"That leaves {count} results to measure again: at most {most} % lower at the next batch, over 0.5 % " \
        f"for {over} of them" in card  # fmt: skip
    search_page = " ".join((ROOT / "docs/validation/search.md").read_text(encoding="utf-8").split())
    assert f"were measured again and {count} remain, expected to read at most {most} % lower" in search_page


def test_min_change_keeps_the_stale_results_the_card_counts_over_half_a_percent(report, tmp_path):
    import json

    from typer.testing import CliRunner

    from joulebench.cli import app

    over = re.search(r"over 0.5 % for (\d+)", report).group(1)
    card = " ".join(CARD.read_text(encoding="utf-8").split())
    assert "`--min-change 0.5%` in both commands of the loop" in card and f"keeps it to those {over}." in card
    env = {"COLUMNS": "200", "JOULEBENCH_DB": ""}
    db = str(tmp_path / "h200.db")
    assert CliRunner().invoke(app, ["import", str(DATA), "--db", db], env=env).exit_code == 0
    r = CliRunner().invoke(app, ["results", "--stale", "--min-change", "0.5%", "--json", "--db", db], env=env)
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)) == int(over)


def test_the_results_measured_again_under_the_current_protocol_are_the_ones_the_card_names(report):
    from joulebench.store.bundle import read_tables

    tables = read_tables(DATA).rows
    scan_runs = {r["run_id"] for r in tables["runs"] if r["config"]["search"] == "scan"}
    again = {(r["model"], r["img_size"], r["runtime"]) for r in tables["summaries"] if r["run_id"] in scan_runs}
    card = " ".join(CARD.read_text(encoding="utf-8").split())
    words = {6: "six", 7: "seven", 8: "eight"}
    assert f"this loop measured the {words[len(again)]} results at the head of the list again" in card
    assert f"for all but {words[len(again)]} results" in card
    named = card.split("at the head of the list again: ")[1].split(". ")[0]  # "`a`, `b` under `rt`, `c` under `rt2`"
    parts = re.split(r" under `([\w-]+)`,?", named)
    by_runtime = dict(zip(parts[1::2], parts[0::2], strict=False))
    for model, size, runtime in again:  # each as a configuration, its input size named where it is not 224
        assert (f"`{model}`" if size == 224 else f"`{model}@{size}`") in by_runtime[runtime], model
    # their changes as the report's rows give them: against the first result, and at the first result's batch
    rows = {(r[0], r[1]): r for r in _rows(report.split("## Results measured more than once")[1], "| ")}
    mine = [rows[(f"{m}@{s}", rt)] for m, s, rt in again]
    changes = [float(r[4].rstrip("%")) for r in mine]
    ratios = [float(r[5].split("(")[1].split(",")[0]) for r in mine if r[5] != "–"]
    assert f"read from {-min(changes):.1f} % lower to {max(changes):.1f} % higher" in card
    assert f"the new board read {(min(ratios) - 1) * 100:.1f} to {(max(ratios) - 1) * 100:.1f} % higher" in card
    expected = [100 * e for e in _expected_changes_of_the_first_results(again)]
    assert f"The next scouts were expected to read {min(expected):.1f} to {max(expected):.1f} % lower" in card


def _expected_changes_of_the_first_results(keys):
    """What the stale list expected of each key's next scout, judged on its latest plateau-search result."""
    import tempfile

    from joulebench.store import Store
    from joulebench.store.bundle import import_bundle
    from joulebench.sweep.stale import stale_with_changes

    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "h200.db") as store:
        import_bundle(store, DATA)
        first = [r for r in store.finished_results(None) if r["config"]["search"] == "plateau"]
        judged = stale_with_changes(store, first, {}, only=keys)
    assert set(judged) == set(keys)
    return [change for _, change in judged.values()]

"""Every figure data/h100/README.md quotes comes from the dataset report, the dataset view or the bundle itself."""

from __future__ import annotations

import csv
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
SWEEPS = ROOT / "data/h100/search-ladders/sweeps.csv"
WORDS = {2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven", 8: "Eight", 9: "Nine", 10: "Ten"}
ORDINAL = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh", 8: "eighth"}
WORDS |= {11: "Eleven", 12: "Twelve", 17: "Seventeen", 20: "Twenty", 22: "Twenty-two", 28: "Twenty-eight"}
WORDS |= {14: "Fourteen", 16: "Sixteen", 32: "Thirty-two", 35: "Thirty-five"}
#: The search revisions the card tells apart, in order (``SEARCH_REVISION`` numbers them; 4 and 5 made no result here).
REVISIONS = (1, 2, 3, 6)


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


def _boards(runs: list[dict]) -> list[list[dict]]:
    """The runs grouped by board, boards in the order of their first run."""
    boards: dict[str, list[dict]] = {}
    for r in sorted(runs, key=lambda r: r["finished_at"]):
        boards.setdefault(r["gpu_uuid"], []).append(r)
    return list(boards.values())


def _revisions(runs: list[dict]) -> list[list[dict]]:
    """The runs grouped by search revision, in order, as the card tells them apart (:data:`REVISIONS`).

    The first revision has a protocol (``config``) of its own; the second and third share theirs (the third changed
    rules that have no option). The second ran on one board; the third on the boards that came after it (its
    ``torch-fp32`` runs on one, its ``compile-fp16`` runs on another). The sixth has a protocol of its own again.
    """
    groups: dict[str, list[dict]] = {}
    for r in sorted(runs, key=lambda r: r["finished_at"]):
        groups.setdefault(json.dumps(r["config"], sort_keys=True), []).append(r)
    first, later, sixth = groups.values()
    second, *third = _boards(later)
    return [first, second, [r for board in third for r in board], sixth]


def _revision_of(runs: list[dict]) -> dict[str, int]:
    """Each run's search revision (1, 2, 3, 6) by :func:`_revisions`."""
    return {r["run_id"]: n for n, group in zip(REVISIONS, _revisions(runs), strict=True) for r in group}


MEASURE = re.compile(
    r"joulebench measure (?P<models>.+?) --runtime (?P<runtime>\S+) --db (?P<state>\S*)sweep-\d+\.db --json "
    r"--meter nvml(?: --deadline (?P<deadline>\d+)s)?"
)


def _calls(runs: list[dict], runtime: str = "torch-fp32") -> list[list[dict]]:
    """Runs of one revision and runtime grouped by the benchmark call that made them (its ``--state`` folder)."""
    calls: dict[str, list[dict]] = {}
    for r in runs:
        m = MEASURE.fullmatch(r["command"])
        assert m, r["command"]
        if m["runtime"] == runtime:
            calls.setdefault(m["state"], []).append(r)
    return list(calls.values())


@pytest.mark.slow
def test_the_cards_provenance_and_progress_are_the_reports(report, card, tables):
    for what in ("boards (GPU UUIDs) with a result", "driver / CUDA", "torch / timm", "results finished"):
        assert row(card, what) == row(report, what)
    gpu, limit = row(report, "GPU")[1], float(row(report, "power limit (W)")[1])
    assert row(card, "GPU")[1] == f"{gpu}, power limit {limit:.0f} W"
    boards = int(row(report, "boards (GPU UUIDs) with a result")[1])
    assert f"**{WORDS[boards]} boards.**" in card
    fp32, compiled = (row(report, f"H100-SXM:{rt}") for rt in ("torch-fp32", "compile-fp16"))
    text = f"{fp32[1]} of {fp32[2]} on `torch-fp32` and {compiled[1]} of {compiled[2]} on `compile-fp16`"
    assert text in _flat(card)
    panel = (DATA / "panel.txt").read_text(encoding="utf-8").split()
    done = {f"{s['model']}@{s['img_size']}" for s in tables["summaries"] if s["runtime"] == "compile-fp16"}
    assert done == set(panel) and fp32[1] == fp32[2] == compiled[1] == compiled[2] == str(len(panel))
    assert "**The panel, once.**" in card and "Not measured" not in card


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
    times = {r[0]: [c.replace("x", "×") for c in r] for r in rows(report, "| H100-SXM torch-fp32 -> ")}
    times |= {r[0]: [c.replace("x", "×") for c in r] for r in rows(report, "| H100 torch-fp32 -> ")}
    times |= {r[0]: [c.replace("x", "×") for c in r] for r in rows(report, "| A100 torch-fp32 -> ")}
    own = times["H100-SXM torch-fp32 -> compile-fp16"]
    pcie = times["H100 torch-fp32 -> tensorrt-fp16, H100-SXM's models"]
    a100 = times["A100 torch-fp32 -> tensorrt-fp16, H100-SXM's models"]
    n = WORDS[int(own[1])].lower()
    assert own[1] == pcie[1] == a100[1]
    assert f"Over the {n} models measured on both runtimes, `compile-fp16` spends {own[2]} less" in card
    assert f"(geometric mean; median {own[4].split(' / ')[1]})" in card
    assert (
        f"on the same {n} models the paper's H100 PCIe saves {pcie[2]} with TensorRT FP16, and its A100 {a100[2]}"
        in card
    )
    section = report[report.index("## Per model: ") : report.index("## Rank agreement")]
    per = [r for r in rows(section, "| ") if r[0].endswith("@224")]
    assert len(per) == int(own[1])
    least, most = min(per, key=lambda r: float(r[3][:-1])), max(per, key=lambda r: float(r[3][:-1]))
    assert (
        f"`compile-fp16` saves from {least[3].replace('x', '×')} (`{least[0].split('@')[0]}`) to "
        f"{most[3].replace('x', '×')} (`{most[0].split('@')[0]}`)"
    ) in card

    def name(r: list[str]) -> str:
        return f"`{r[0].split('@')[0]}`"

    def pair(r: list[str]) -> str:  # the H100 PCIe's TensorRT saving against this board's compile-fp16 one
        return f"{r[6].replace('x', '×')} against {r[3].replace('x', '×')}"

    more = sorted((r for r in per if float(r[7]) > 1.1), key=lambda r: float(r[7]))
    alike = [r for r in per if 0.9 <= float(r[7]) <= 1.1]
    less = sorted((r for r in per if float(r[7]) < 0.9), key=lambda r: -float(r[7]))
    listed = ", ".join(name(r) for r in more[:-1]) + f" and {name(more[-1])}"
    assert f"saves {more[0][7]} to {more[-1][7]} times as much on {listed} ({name(more[-1])}: {pair(more[-1])})" in card
    assert len(alike) == 3  # the transformers and the mixer, in the report's order
    assert (
        f"about as much on the transformers and the mixer ({', '.join(f'{name(r)}: {pair(r)}' for r in alike)})" in card
    )
    assert f"and less on {name(less[0])} ({pair(less[0])}) and {name(less[1])} ({pair(less[1])})" in card
    compiled = {r[1]: r[3] for r in rows(report, "| H100-SXM:compile-fp16 | ") if len(r) == 6}
    assert f"rank as on `H100:tensorrt-fp16` with Spearman {compiled['H100:tensorrt-fp16']}" in card
    assert f"*Rank agreement*; {n} models only)" in card
    both = re.search(r"- on both frontiers \((\d+)\)", report)
    assert re.search(r"- only on the H100-SXM frontier \(0\)", report)
    (alone,) = re.search(r"- only on the H100 frontier \(1\): (\S+)", report).groups()
    assert f"over them, {WORDS[int(both[1])].lower()} lie on both this dataset's and the H100 PCIe's TensorRT" in card
    assert f"`{alone.split('@')[0]}` on the H100 PCIe's only (section *ImageNet frontier*)" in card


def test_the_revisions_the_card_tells_apart_are_the_benchmarks(tables):
    """Each run's revision by :func:`_revisions` is the ``search_rev`` the benchmark wrote for it, where it lists it."""
    revision = _revision_of(tables["runs"])
    assert sorted(set(revision.values())) == list(REVISIONS)
    groups = _revisions(tables["runs"])
    for before, after in zip(groups, groups[1:], strict=False):  # one revision after the other
        assert max(r["finished_at"] for r in before) < min(r["finished_at"] for r in after)
    with SWEEPS.open(newline="", encoding="utf-8") as f:
        listed = {s["run_id"]: int(s["search_rev"]) for s in csv.DictReader(f) if s["run_id"] in revision}
    assert {1, 2, 6} <= set(listed.values())
    assert listed == {run: revision[run] for run in listed}


@pytest.mark.slow
def test_the_cards_search_revisions_are_the_reports(report, card, tables):
    card = _flat(card)
    section = report[report.index("## Results measured more than once") :]
    again = [r for r in rows(section, "| ") if r[0].endswith("@224")]
    revision = _revision_of(tables["runs"])
    under: dict[tuple[str, str], set[int]] = {}
    for s in tables["summaries"]:
        under.setdefault((s["model"], s["runtime"]), set()).add(revision[s["run_id"]])
    assert {(r[0].split("@")[0], r[1]) for r in again} == {k for k, revs in under.items() if len(revs) > 1}
    fp32 = [r for r in again if r[1] == "torch-fp32"]
    everywhere = [k for k, revs in under.items() if revs == {1, 2, 3} and k[1] == "torch-fp32"]
    later = [k for k, revs in under.items() if revs == {2, 3} and k[1] == "torch-fp32"]
    assert len(everywhere) + len(later) == len(fp32)
    compiled, again_compiled = (r for r in again if r[1] == "compile-fp16")  # resnet50, then vit_base
    assert under[(compiled[0].split("@")[0], "compile-fp16")] == {1, 3, 6}
    assert under[(again_compiled[0].split("@")[0], "compile-fp16")] == {3, 6}
    assert f"{WORDS[len(again)]} results were measured under more than one revision" in card
    assert (
        f"on `torch-fp32` {WORDS[len(fp32)].lower()} models, {WORDS[len(everywhere)].lower()} under all three, "
        f"{WORDS[len(later)].lower()} under the second and third; on `compile-fp16` `{compiled[0].split('@')[0]}`, "
        f"under the first, third and sixth, and `{again_compiled[0].split('@')[0]}`, under the third and sixth"
    ) in card
    m = re.search(
        r"over (\d+) pairs: latest / first geometric mean (\d+\.\d+), GSD \d+\.\d+, range (\d+\.\d+)–(\d+\.\d+)",
        section,
    )
    unpaired = [r for r in again if r[5] == "–"]
    assert m and int(m[1]) == len(again) - len(unpaired)
    gm = float(m[2])
    assert gm < 1 and f"the latest result reads {100 * (1 - gm):.1f} % less" in card
    assert f"geometric mean {m[2]}, range {m[3]}–{m[4]} over the {m[1]} pairs" in card
    pairs = [(r, re.fullmatch(r"(\S+) -> (\S+) \((\S+), (\w+)\)", r[5])) for r in again if r[5] != "–"]
    # the compiled pair: both full windows at one batch, first and latest (the sixth revision's)
    (low, lm), (vit, vm) = [p for p in pairs if p[0][1] == "compile-fp16"]
    assert lm[4] == "full" and low[2].split(" @ ")[1] == low[3].split(" @ ")[1]
    assert (
        f"`{low[0].split('@')[0]}` on `compile-fp16` reads {lm[3]} at batch {low[2].split(' @ ')[1]} in full windows "
        f"({lm[1]} and {lm[2]} mJ)"
    ) in card
    assert (
        vm[4] == "scout"
        and (
            f"`{vit[0].split('@')[0]}` reads {vm[3]} at batch {vit[2].split(' @ ')[1]} in scouting windows "
            f"({vm[1]} and {vm[2]} mJ)"
        )
        in card
    )
    fp32_ratios = [p[1][3] for p in pairs if p[0][1] == "torch-fp32"]
    lo, hi = min(fp32_ratios, key=float), max(fp32_ratios, key=float)
    assert f"The {WORDS[len(fp32_ratios)].lower()} `torch-fp32` pairs range {lo}–{hi}" in card
    for r in unpaired:
        first_batch = r[2].split(" @ ")[1]
        assert (
            f"`{r[0].split('@')[0]}` on `{r[1]}` has no pair, as its latest sweep measured no window at batch "
            f"{first_batch}"
        ) in card
    moved = [(r[0].split("@")[0], r[1], r[2].split(" @ ")[1], r[3].split(" @ ")[1]) for r in again]
    moved = [(model, rt, first, latest) for model, rt, first, latest in moved if first != latest]
    assert f"{WORDS[len(moved)]} end at another batch: " in card
    for model, rt, first, latest in moved:
        where = "" if rt == "torch-fp32" else " on `compile-fp16`"
        assert f"`{model}`{where} at {latest} instead of {first}" in card


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
    summaries = sorted(tables["summaries"], key=lambda s: s["finished_at"])
    revision = _revision_of(tables["runs"])
    reps = [s for s in summaries if (s["model"], s["runtime"]) == ("resnet50.a1_in1k", "torch-fp32")]
    per = [[s for s in reps if revision[s["run_id"]] == n] for n in (1, 2, 3)]
    assert reps == per[0] + per[1] + per[2] and [len(p) for p in per] == [3, 2, 4]
    boards = [s["gpu_uuid"] for s in reps]
    assert boards[0] != boards[1] == boards[2] and len(set(boards)) == 4
    assert all(len({s["gpu_uuid"] for s in p}) == 1 for p in per[1:])  # each later revision on a board of its own
    mj = [f"{s['energy_per_image_j'] * 1e3:.2f}" for s in reps]
    batch = [s["optimal_batch"] for s in reps]
    assert batch[0] != batch[1] == batch[2] and batch[3] == batch[4] and len(set(batch[5:])) == 1

    def between(a: dict, b: dict) -> set[str]:
        return {s["model"] for s in summaries if a["finished_at"] < s["finished_at"] < b["finished_at"]}

    assert between(reps[1], reps[2]) == set() and between(reps[7], reps[8]) == set()  # in a row
    others = between(reps[3], reps[4])
    assert "resnet50.a1_in1k" not in others and between(reps[5], reps[6]) == others
    seven = WORDS[len(others)].lower()
    text = _flat(card)
    assert (
        f"measured {WORDS[len(reps)].lower()} times: under the first revision {mj[0]} mJ (batch {batch[0]}) on one "
        f"board, then {mj[1]} and {mj[2]} mJ (batch {batch[2]}) on another, in a row; under the second {mj[3]} and "
        f"{mj[4]} mJ (batch {batch[4]}) on a third, with the other {seven} models between them; under the third "
        f"{mj[5]} and {mj[6]} mJ on a fourth, with the other {seven} models between them, then {mj[7]} and {mj[8]} mJ "
        f"in a row (batch {batch[8]} for all four)"
    ) in text
    e = [s["energy_per_image_j"] for s in reps]
    one_board = [
        [s["energy_per_image_j"] for s in per[0][1:]],
        *([s["energy_per_image_j"] for s in p] for p in per[1:]),
    ]
    widest = max((_spread(v) for v in one_board), key=lambda p: float(p.split()[0]))
    assert f"The runs of one revision on one board agree within {widest}; the three under the first revision " in text
    assert f"within {_spread(e[:3])}; all {WORDS[len(reps)].lower()} within {_spread(e)}" in text
    assert f"show the latest ({mj[-1]} mJ)" in text and f"keeps all {WORDS[len(reps)].lower()} rows" in text
    assert f"read it up to {_spread(e)} apart" in text
    compiled = [s for s in summaries if (s["model"], s["runtime"]) == ("resnet50.a1_in1k", "compile-fp16")]
    assert [revision[s["run_id"]] for s in compiled] == [1, 3, 6]
    order = [b[0]["gpu_uuid"] for b in _boards(tables["runs"])]  # the boards as *Provenance* counts them
    (a, b, c) = (
        (f"{s['energy_per_image_j'] * 1e3:.2f}", s["optimal_batch"], order.index(s["gpu_uuid"]) + 1) for s in compiled
    )
    assert (
        f"`compile-fp16` was measured three times: {a[0]} mJ (batch {a[1]}) under the first revision, {b[0]} mJ "
        f"(batch {b[1]}) under the third and {c[0]} mJ (batch {c[1]}) under the sixth, on the {ORDINAL[a[2]]}, the "
        f"{ORDINAL[b[2]]} and the {ORDINAL[c[2]]} board of *Provenance*"
    ) in text


def test_the_cards_files_and_boards_are_the_bundles(card, tables):
    text = _flat(card)
    summaries, latest = tables["summaries"], _latest(tables["summaries"])
    per = {}
    for s in summaries:
        per[(s["model"], s["runtime"])] = per.get((s["model"], s["runtime"]), 0) + 1
    thrice = [k for k, n in per.items() if n == 3 and k[1] == "torch-fp32"]
    twice = [k for k, n in per.items() if n == 2 and k[1] == "torch-fp32"]
    assert per[("resnet50.a1_in1k", "torch-fp32")] == 9 and sum(per.values()) == len(summaries)
    assert set(per.values()) == {1, 2, 3, 9}
    assert f"{len(summaries)} rows: `resnet50.a1_in1k` on `torch-fp32` has nine, " in text
    assert (
        f"{WORDS[len(thrice)].lower()} other `torch-fp32` models three each, {WORDS[len(twice)].lower()} two each"
    ) in text
    once = [k for k, n in per.items() if n == 1]
    assert {k[1] for k in once} == {"compile-fp16"} and per[("resnet50.a1_in1k", "compile-fp16")] == 3
    (two,) = [k[0] for k, n in per.items() if n == 2 and k[1] == "compile-fp16"]
    assert (
        f"on `compile-fp16` `resnet50.a1_in1k` has three, `{two}` two, {WORDS[len(once)].lower()} other models one each"
    ) in text
    runs = tables["runs"]
    assert f"{len(runs)} runs for {len(summaries)} results" in text
    per_run = {r["run_id"]: sum(s["run_id"] == r["run_id"] for s in summaries) for r in runs}
    (several,) = [r for r in runs if per_run[r["run_id"]] > 1]
    assert several["gpu_uuid"] == _boards(runs)[5][0]["gpu_uuid"]
    assert f"(one run on the sixth board measures {WORDS[per_run[several['run_id']]].lower()} models)" in text
    failures = tables["failures"]
    (failure,) = {(f["runtime"], f["model"], f["batch_size"], f["stage"]) for f in failures}  # the same in each
    assert (
        f"{WORDS[len(failures)].lower()}: the `{failure[0]}` scout of `{failure[1]}` at batch {failure[2]} ran out of "
        f"memory (stage `{failure[3]}`) in {WORDS[len(failures)].lower()} of its sweeps"
    ) in text
    panel = (DATA / "panel.txt").read_text(encoding="utf-8").split()
    assert {f"{m}@{s['img_size']}" for (m, _), s in latest.items()} <= set(panel)
    assert f"({WORDS[len(panel)].lower()} models; {WORDS[len(latest)].lower()} results measured, below)" in text
    (board,) = {s["gpu_uuid"] for (_, rt), s in latest.items() if rt == "torch-fp32"}  # one board for all
    second, third, sixth = _revisions(tables["runs"])[1:]
    compiled = next(r["gpu_uuid"] for r in third if r["gpu_uuid"] != board)
    seventh, eighth = dict.fromkeys(r["gpu_uuid"] for r in sixth)
    assert {s["gpu_uuid"] for (_, rt), s in latest.items() if rt == "compile-fp16"} == {compiled, seventh, eighth}
    boards = [b[0]["gpu_uuid"] for b in _boards(tables["runs"])]
    assert boards[3:] == [second[0]["gpu_uuid"], board, compiled, seventh, eighth]
    assert {r["gpu_uuid"] for r in second} == {second[0]["gpu_uuid"]} and {r["gpu_uuid"] for r in third} == {
        board,
        compiled,
    }
    on = {b: [r for r in third if r["gpu_uuid"] == b] for b in (board, compiled)}
    assert all(MEASURE.fullmatch(r["command"])["runtime"] == "torch-fp32" for r in on[board])
    assert all(MEASURE.fullmatch(r["command"])["runtime"] == "compile-fp16" for r in on[compiled] + sixth)
    shown = {b: WORDS[sum(s["gpu_uuid"] == b for s in latest.values())].lower() for b in (compiled, seventh, eighth)}
    runs_on = {b: WORDS[sum(r["gpu_uuid"] == b for r in sixth)].lower() for b in (seventh, eighth)}
    assert (
        f"a fourth the {WORDS[len(second)].lower()} runs of the second revision; a fifth ({board}) the "
        f"{WORDS[len(on[board])].lower()} `torch-fp32` runs of the third, so every `torch-fp32` result shown comes "
        f"from it; a sixth ({compiled}) the {WORDS[len(on[compiled])].lower()} `compile-fp16` runs of the third, a "
        f"seventh ({seventh}) {runs_on[seventh]} of the sixth revision and an eighth ({eighth}) its other "
        f"{runs_on[eighth]}, so {shown[compiled]} `compile-fp16` results shown come from the sixth board, "
        f"{shown[seventh]} from the seventh and {shown[eighth]} from the eighth"
    ) in text
    assert "The two runtimes' results come from different boards" in text
    fp32 = [k for k in latest if k[1] == "torch-fp32"]
    assert (
        f"The {WORDS[len(fp32)].lower()} `torch-fp32` results shown come from one board and the "
        f"{WORDS[len(latest) - len(fp32)].lower()} `compile-fp16` results from three others"
    ) in text


def test_the_cards_protocol_and_commands_are_the_bundles(card, tables):
    text = _flat(card)
    earlier, second, third, rev6 = _revisions(tables["runs"])
    c0, c1, c6 = earlier[0]["config"], second[0]["config"], rev6[0]["config"]
    assert all(r["config"] == c1 for r in second + third)  # the third revision changed no option
    assert {k for k in c0.keys() | c1.keys() if c0.get(k) != c1.get(k)} == {"scan_max_iter_s", "scan_margin"}
    assert {k for k in c1.keys() | c6.keys() if c1.get(k) != c6.get(k)} == {"scan_finalists", "scan_margin"}
    assert (
        f"The last {WORDS[len(rev6)].lower()}, of the sixth revision, confirm up to {c6['scan_finalists']} finalists "
        f"within {100 * c6['scan_margin']:g} % (`scan_finalists`)"
    ) in text
    assert f"the first {WORDS[len(earlier)].lower()} runs scout no batch whose one iteration would take longer " in text
    later = WORDS[len(second) + len(third)].lower()
    assert f"than {c0['scan_max_iter_s']:g} s; the {later} later ones allow " in text
    assert f"{c1['scan_max_iter_s']:g} s and keep as finalists only scouts within {100 * c1['scan_margin']:g} %" in text
    fifth, sixth = ([r for r in third if r["gpu_uuid"] == b] for b in dict.fromkeys(r["gpu_uuid"] for r in third))
    assert (
        f"are the {WORDS[len(fifth)].lower()} on the fifth board and the {WORDS[len(sixth)].lower()} on the sixth"
        in text
    )
    for c in (c0, c1, c6):
        assert f"the `{c['search']}` batch search" in text
        assert f"windows of {c['min_window_s']:g} to {c['max_window_s']:g} s" in text
        assert f"95 % interval is within {100 * c['precision']:g} %" in text
        assert f"a {c['warmup_s']:g} s warm-up and a {c['idle_s']:g} s idle baseline" in text
    command = text.replace(" \\ ", " ")  # the card's shell lines continue with a backslash
    # each benchmark call: one sweep per model in the benchmark's order, the first model again last
    for revision in (second, third):
        for call in _calls(revision):
            measured = [r["command"].split()[2] for r in call]
            assert [int(re.search(r"sweep-(\d+)\.db", r["command"])[1]) for r in call] == list(range(len(call)))
            order = list(dict.fromkeys(measured))
            repeats = measured.count(order[0])
            assert measured == [*order, *[order[0]] * (repeats - 1)]
            assert f"search_regret.py run {' '.join(order)} --runtime torch-fp32 --repeats {repeats}" in command
    assert f"N = 0 to {len(second) - 1}, in this order" in text
    calls = [len(c) - 1 for c in _calls(third)]
    assert (
        f"(`sweeps3/sweep-N.db`, N = 0 to {calls[0]}, " in text
        and f"`sweeps3b/sweep-N.db`, N = 0 to {calls[1]})" in text
    )
    assert f"# the {WORDS[len(earlier) + len(second)].lower()} earlier results" in text
    # each --together call: one measure of every model it was given, with a fresh store and the call's deadline
    together = _calls(third, "compile-fp16")
    assert [len(c) for c in together] == [1] * len(together) == [1, 1]
    summaries = tables["summaries"]
    for n, (run,) in enumerate(together, 1):
        m = MEASURE.fullmatch(run["command"])
        assert run["command"].endswith(f"--db {m['state']}sweep-0.db --json --meter nvml --deadline {m['deadline']}s")
        assert (
            f"search_regret.py run {m['models']} --runtime compile-fp16 --together --state c{n} "
            f"--deadline {m['deadline']}"
        ) in command
        assert f"`c{n}/sweep-0.db`" in text
        finished = [
            s["model"] for s in sorted(summaries, key=lambda s: s["finished_at"]) if s["run_id"] == run["run_id"]
        ]
        assert finished == m["models"].split()[: len(finished)]  # in the order given, none after the deadline stopped
        names = [f"`{f}`" for f in finished]
        started = " and ".join([", ".join(names[:-1]), names[-1]] if names[1:] else names)
        assert f"finished {started} and started no" in text
    before = [s for s in summaries if s["finished_at"] < min(r["started_at"] for r in sixth)]
    assert f"# the {WORDS[len(before)].lower()} earlier results" in text
    # the sixth revision: one benchmark call per model, each a measure with a fresh store in the call's state folder
    states = {MEASURE.fullmatch(r["command"])["state"] for r in rev6}
    assert {MEASURE.fullmatch(r["command"])["runtime"] for r in rev6} == {"compile-fp16"} and len(states) == 1
    assert f"--state {states.pop().rstrip('/')} " in command
    seventh, eighth = ([r for r in rev6 if r["gpu_uuid"] == b] for b in dict.fromkeys(r["gpu_uuid"] for r in rev6))
    for runs, said in ((seventh, "then the sixth revision's"), (eighth, "then the eighth board's")):
        models = " ".join(r["command"].split()[2] for r in sorted(runs, key=lambda r: r["started_at"]))
        assert command.count(f"for m in {models}; do") == 2  # measure, then import
        before = [s for s in summaries if s["finished_at"] < min(r["started_at"] for r in runs)]
        assert f"# the {WORDS[len(before)].lower()} earlier results, {said}" in text


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

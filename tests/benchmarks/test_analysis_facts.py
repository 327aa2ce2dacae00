"""benchmarks/analysis_facts.py: the numbers quoted in the prose of docs/ANALYSIS.md, computed under a name."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from benchmark_script import load_benchmark

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
DOC = BENCH.parent / "docs" / "ANALYSIS.md"


@pytest.fixture(scope="module")
def facts():
    return load_benchmark("analysis_facts")


def test_ranges_and_percentages(facts):
    assert facts.pct(0.981) == "98 %" and facts.pct(0.981, 0.996) == "98–100 %" and facts.pct(0.981, 0.984) == "98 %"
    assert facts.span([0.99, 1.024, 1.0]) == "0.99–1.02" and facts.span([26, 41], "d") == "26–41"
    assert facts.span([1.001, 0.999]) == "1.00"


def test_write_facts_fills_every_marker_and_refuses_unknown_ones(facts, tmp_path):
    doc = tmp_path / "doc.md"
    x, y, end = "<!-- fact:x -->", "<!-- fact:y -->", "<!-- /fact -->"
    doc.write_text(f"a {x}old{end} b {y}\nold\nlines{end} c {x}{end}\n")
    facts.write_facts(doc, {"x": "1.5", "y": "\n    code\n", "unused": "9"})
    assert doc.read_text() == f"a {x}1.5{end} b {y}\n    code\n{end} c {x}1.5{end}\n"
    doc.write_text("<!-- fact:nope -->1<!-- /fact -->\n")
    with pytest.raises(SystemExit, match="does not compute: nope"):
        facts.write_facts(doc, {"x": "1"})


def test_every_fact_the_docs_quote_is_computed(facts):
    quoted = set(facts.FACT.findall(DOC.read_text(encoding="utf-8")))
    computed = {n.removeprefix("fact_") for n in dir(facts.Facts) if n.startswith("fact_")}
    assert quoted and quoted <= computed, quoted - computed
    assert not computed - quoted, f"facts computed but quoted nowhere: {computed - quoted}"


def _fig(accuracy, energy):
    return SimpleNamespace(
        ds=SimpleNamespace(energy=energy),
        energy=energy,
        accuracy=accuracy,
        catalogue=None,
        stats=None,
        setups=[],
        ea={},
        static={},
    )


def test_facts_from_hand_made_tables(facts):
    acc = pd.DataFrame(
        {
            "model": ["a.t", "a.t", "b.t", "b.t", "test_x.r", "test_y.r"],
            "img_size": 224,
            "testset": "imagenet",
            "top1": [80.0, 80.02, 70.0, 70.0, 41.2, 55.1],
            "source": ["timm", "hidden-joules-2025"] * 2 + ["timm", "timm"],
        }
    )
    energy = pd.DataFrame(
        {
            "model": ["a.t", "b.t", "a.t", "b.t"],
            "img_size": 224,
            "setup": ["A:torch-fp32", "A:torch-fp32", "B:torch-fp32", "B:tensorrt-fp16"],
            "energy_per_image_j": [1.0, 2.0, 60.6, 99.0],
            "throughput_ips": [100.0, 50.0, 2.0, 1.0],  # 100 W on A; 121.2 W on B
            "power_limit_w": [200.0, 200.0, 250.0, 250.0],
        }
    )
    f = facts.Facts(_fig(acc, energy))
    assert f.fact_accuracy_agreement() == "0.010"  # (0.02 + 0) / 2
    assert f.fact_test_model_top1() == "41–55 %"
    assert f.fact_costliest_fp32() == "61 J"  # the TensorRT row is not FP32
    assert f._power_medians()["A:torch-fp32"] == pytest.approx(0.5)


@pytest.mark.slow
def test_every_fact_on_the_shipped_data(facts):
    pytest.importorskip("scipy")
    sys.path.insert(0, str(BENCH))
    try:
        import analysis_figures
    finally:
        sys.path.remove(str(BENCH))
    from joulebench.data import load_dataset

    ds = load_dataset()
    values = facts.Facts(analysis_figures.Figures(ds, analysis_figures.choose_setups(ds.energy))).values()
    assert all(v.strip() for v in values.values()), values
    assert values["drop_suspect"].startswith("On H100:torch-fp32 that drops")
    assert values["show_example"].startswith("\n    $ joulebench show resnet50.ram_in1k")

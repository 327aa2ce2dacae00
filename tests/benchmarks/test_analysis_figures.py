"""benchmarks/analysis_figures.py: Markdown tables and the marked block it rewrites in the docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark_script import load_benchmark

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "analysis_figures.py"


@pytest.fixture(scope="module")
def figures():
    pytest.importorskip("scipy")
    return load_benchmark("analysis_figures")


@pytest.mark.slow
def test_markdown_table(figures):
    assert figures.md([[1, "a"], [2, "b"]], ["n", "x"]).splitlines() == [
        "| n | x |",
        "| --- | --- |",
        "| 1 | a |",
        "| 2 | b |",
    ]
    assert figures.mj(0.0123) == "12.3" and figures.mj(float("nan")) == "–"


def test_write_replaces_only_the_marked_block(figures, tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(f"intro\n{figures.BEGIN}\nold table\n{figures.END}\noutro\n", encoding="utf-8")
    figures.write_into(doc, "| new |\n")
    text = doc.read_text(encoding="utf-8")
    assert "old table" not in text and "| new |" in text
    assert text.startswith("intro\n") and text.endswith(f"{figures.END}\noutro\n")
    bare = tmp_path / "bare.md"
    bare.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="lacks the markers"):
        figures.write_into(bare, "x")


def test_docs_carry_the_marked_block(figures):
    doc = (SCRIPT.parents[1] / "docs" / "ANALYSIS.md").read_text(encoding="utf-8")
    block = doc.split(figures.BEGIN, 1)[1].split(figures.END, 1)[0]
    for title, _ in figures.SECTIONS:
        assert f"#### {title}" in block


def test_published_statistics_table(figures, tmp_path):
    import numpy as np
    import pandas as pd

    fig = figures.Figures.__new__(figures.Figures)  # only the per-setup frames are needed
    fig.setups = ["A100:torch-fp32"]
    macs = np.array([1e9, 2e9, 4e9])
    unit = 19.5e12 / 250  # MACs per joule at the paper's convention on an A100
    fig.static = {
        "A100:torch-fp32": pd.DataFrame(
            {
                "model": ["a", "b", "c"],
                "img_size": 224,
                "gpu": "A100",
                "precision": "fp32",
                "power_limit_w": 250.0,
                "macs": macs,
                "activations": [1.0, 2.0, 3.0],
                "energy_per_image_j": 3 * macs / unit,  # 3x the naive estimate with joulebench's MACs
            }
        )
    }
    stats = tmp_path / "model_stats.csv"
    pd.DataFrame(
        {
            "model_name": ["a", "b", "c"],
            "input_size_csv": 224,
            "macs_tinfo": macs * 2,  # the paper's larger count is 2x: its factor is half
            "macs_ptflops": macs,
            "activations": [3.0, 2.0, 1.0],  # anti-correlated with energy
        }
    ).to_csv(stats, index=False)
    row = fig.published_stats(stats).splitlines()[-1].split(" | ")
    assert row[0] == "| A100:torch-fp32" and row[2:4] == ["3.00", "1.50"]
    assert float(row[4]) > 0.9 and float(row[5].rstrip(" |")) < -0.9

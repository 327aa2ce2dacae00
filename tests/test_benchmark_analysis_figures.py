"""benchmarks/analysis_figures.py: Markdown tables and the marked block it rewrites in the docs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "analysis_figures.py"


@pytest.fixture(scope="module")
def figures():
    pytest.importorskip("scipy")
    spec = importlib.util.spec_from_file_location("analysis_figures", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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

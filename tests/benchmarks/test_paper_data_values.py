"""benchmarks/paper_data_values.py: the FROM_DATA block it writes into paper_published.py."""

from __future__ import annotations

import ast

import pytest

from benchmark_script import load_benchmark


@pytest.fixture(scope="module")
def script():
    return load_benchmark("paper_data_values")


def test_write_replaces_only_the_block_with_a_literal_that_reads_back(script, tmp_path):
    target = tmp_path / "published.py"
    target.write_text(f"A = 1\n{script.BEGIN}\nFROM_DATA: dict[str, float] = {{}}\n{script.END}\nB = 2\n")
    values = {"table1/a~b/pearson": 0.8552, "fig10/A100/reduction_gsd": 1.575}
    script.write_block(target, values)
    text = target.read_text()
    assert text.startswith("A = 1\n") and text.endswith(f"{script.END}\nB = 2\n")
    tree = ast.parse(text)
    literal = next(n for n in tree.body if isinstance(n, ast.AnnAssign) and n.target.id == "FROM_DATA")
    assert ast.literal_eval(literal.value) == values
    bare = tmp_path / "bare.py"
    bare.write_text("X = 1\n")
    with pytest.raises(SystemExit, match="lacks the markers"):
        script.write_block(bare, values)


def test_table_shows_the_quoted_value_beside_the_data(script):
    rows = script.table({"fig10/A100/reduction_geomean": 3.937, "a8/drop/CNN": 29.76}).splitlines()
    assert rows[2] == "| fig10/A100/reduction_geomean | 3.937 | 3.94 |"  # quoted for the paper
    assert rows[3] == "| a8/drop/CNN | 29.76 | – |"

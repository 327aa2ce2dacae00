"""Tables are readable where people read them: piped as plain text, at 80 columns with whole names."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from factories import run, task
from joulebench.cli import app
from joulebench.store import Store

LONG = "vit_tiny_patch16_224.augreg_in21k_ft_in1k"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "results.db"
    with Store(path) as s:
        s.add_run(run())
        s.save_task(*task(model=LONG))
        s.save_task(*task(model="resnet50.a1_in1k", runtime="torch-fp16"))
    return path


def invoke(args, terminal_width=None):
    env = {"JOULEBENCH_DB": "", "COLUMNS": str(terminal_width or 80), "TTY_COMPATIBLE": "1" if terminal_width else "0"}
    r = CliRunner().invoke(app, [str(a) for a in args], env=env)
    assert r.exit_code == 0, r.output
    return r.stdout


def test_piped_tables_are_plain_text_with_every_column(db):
    out = invoke(["results", "--db", db])
    assert LONG in out and "resnet50.a1_in1k" in out
    assert not ANSI.search(out) and not set("│┃━─┏└") & set(out)
    header = next(line for line in out.splitlines() if line.strip().startswith("model"))
    for column in ("runtime", "mJ/img", "img/s", "p50 ms", "avg W", "% limit", "status"):
        assert column in header


@pytest.mark.parametrize(
    "args",
    [
        ["results"],
        ["results", "--batches"],
        ["models", "vit_tiny_patch16", "--setup", "H100:torch-fp32"],
        ["rank", "-s", "A100:torch-fp32", "-n", "5"],
        ["stats", "vit_tiny_patch16_224.augreg_in21k_ft_in1k"],
    ],
)
def test_at_80_columns_names_are_whole_and_columns_fewer(db, args):
    out = ANSI.sub("", invoke([*args, "--db", db] if args[0] == "results" else args, terminal_width=80))
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert not any("…" in line for line in lines)  # nothing cut short
    if args[0] in ("results", "models", "stats"):
        assert LONG in out
    if args[0] != "stats":  # stats' six columns fit
        assert "--wide shows all" in " ".join(out.split())


def test_wide_shows_every_column(db):
    out = ANSI.sub("", invoke(["results", "--db", db, "--wide"], terminal_width=80))
    assert LONG in out and "% limit" in out and "--wide shows all" not in out

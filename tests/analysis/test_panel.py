"""`joulebench panel`: the cheapest configurations of a setup, its frontier and baselines, as `tag@size`."""

from __future__ import annotations

import pytest

pytest.importorskip("timm")

from typer.testing import CliRunner  # noqa: E402

from joulebench.analysis.frontier import frontier  # noqa: E402
from joulebench.analysis.panel import select_panel  # noqa: E402
from joulebench.cli import app  # noqa: E402
from joulebench.data import load_dataset  # noqa: E402
from joulebench.errors import ConfigError  # noqa: E402
from joulebench.models.resolve import resolve_models  # noqa: E402

SETUP = "H100:tensorrt-fp16"


@pytest.fixture(scope="module")
def ds():
    return load_dataset()


def test_panel_holds_the_cheapest_the_frontier_and_the_baselines(ds):
    from joulebench.analysis.frames import drop_test_models, energy_accuracy

    df = drop_test_models(energy_accuracy(ds.energy, ds.accuracy, SETUP))
    panel = select_panel(ds.energy, ds.accuracy, SETUP, lowest=10, extra=("resnet50", "vgg16.tv_in1k"))
    keys = set(zip(panel["model"], panel["img_size"], strict=True))
    cheapest = df.sort_values("energy_per_image_j").head(10)
    assert set(zip(cheapest["model"], cheapest["img_size"], strict=True)) <= keys
    front = frontier(df)
    assert set(zip(front["model"], front["img_size"], strict=True)) <= keys
    assert any(m.startswith("resnet50.") for m in panel["model"]) and "vgg16.tv_in1k" in set(panel["model"])
    assert panel["energy_per_image_j"].is_monotonic_increasing
    assert len(keys) == len(panel)  # a configuration is listed once, whatever the reasons
    assert panel.loc[panel["model"] == "vgg16.tv_in1k", "why"].item().endswith("baseline")


def test_unknown_baseline_names_the_closest(ds):
    with pytest.raises(ConfigError, match="baseline 'resnet5' .*Closest"):
        select_panel(ds.energy, ds.accuracy, SETUP, lowest=3, extra=("resnet5",))


@pytest.mark.slow
def test_names_carry_the_input_size_and_measure_resolves_them(ds):
    out = CliRunner().invoke(app, ["panel", "--setup", SETUP, "--lowest", "40", "--names"])
    assert out.exit_code == 0, out.output
    lines = out.output.split()
    panel = select_panel(ds.energy, ds.accuracy, SETUP, lowest=40)
    assert lines == [f"{m}@{s}" for m, s in zip(panel["model"], panel["img_size"], strict=True)]
    # Some tags are in the dataset at two input sizes: both survive, as two configurations.
    tags = [line.split("@")[0] for line in lines]
    assert len(set(tags)) < len(tags)
    specs = resolve_models(lines)
    assert [(s.model, s.img_size) for s in specs] == [(m, int(px)) for m, px in (line.split("@") for line in lines)]


def test_distinct_first_puts_one_tag_per_architecture_and_size_first(ds):
    from joulebench.analysis.panel import distinct_first

    panel = select_panel(ds.energy, ds.accuracy, SETUP, lowest=60)
    ordered = distinct_first(panel)
    assert sorted(zip(ordered["model"], ordered["img_size"], strict=True)) == sorted(
        zip(panel["model"], panel["img_size"], strict=True)
    )
    work = [(m.split(".")[0], s) for m, s in zip(ordered["model"], ordered["img_size"], strict=True)]
    n_distinct = len(set(work))
    assert len(set(work[:n_distinct])) == n_distinct  # every workload once, before any repeat
    assert n_distinct < len(work)  # the 60 cheapest do repeat architectures (resnet18 tags)
    first = ordered.head(n_distinct)
    assert first["energy_per_image_j"].is_monotonic_increasing  # the order within a pass is kept
    out = CliRunner().invoke(app, ["panel", "--setup", SETUP, "--lowest", "60", "--names", "--distinct-first"])
    assert out.output.split() == [f"{m}@{s}" for m, s in zip(ordered["model"], ordered["img_size"], strict=True)]

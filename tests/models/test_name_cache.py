"""The timm names: a name shipped or resolved once resolves without timm, to the same spec, for this timm only."""

from __future__ import annotations

import gzip
import json
import sys

import pytest

pytest.importorskip("timm")
import timm  # noqa: E402

from joulebench.errors import MissingDependencyError  # noqa: E402
from joulebench.models import name_cache, resolve  # noqa: E402
from joulebench.models.name_cache import SHIPPED_NAMES, shipped_names, timm_installation, write_shipped_names  # noqa: E402
from joulebench.models.resolve import resolve_models  # noqa: E402

# a default tag, an explicit tag, untrained architectures (one whose default tag has no weights), a test size
NAMES = ["test_vit", "test_vit.r160_in1k", "test_coatnet", "test_vit4", "test_mambaout", "test_vit@128"]
SIZES = [{}, {"img_size": "test"}, {"img_size": 96}]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder of joulebench's own (``$JOULEBENCH_CACHE``), and no shipped names."""
    monkeypatch.setenv("JOULEBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(name_cache, "SHIPPED_NAMES", tmp_path / "no-shipped-names.csv.gz")
    return tmp_path


@pytest.fixture
def shipped_release():
    release, _ = shipped_names(SHIPPED_NAMES)
    if release != timm.__version__:
        pytest.skip(f"the shipped names are timm {release}'s, this is timm {timm.__version__}")
    return release


def _refuse_timm(monkeypatch):
    def refuse():
        raise AssertionError("timm was asked")

    monkeypatch.setattr(resolve, "_timm", refuse)


def test_a_name_resolved_once_resolves_again_to_the_same_spec_without_timm(cache, monkeypatch):
    fresh = {
        (name, i): resolve_models([name], **({} if "@" in name else kw)) for name in NAMES for i, kw in enumerate(SIZES)
    }
    assert [f.name for f in cache.iterdir()] == [f"timm-names-{timm.__version__}.json"]
    _refuse_timm(monkeypatch)
    for (name, i), specs in fresh.items():
        assert resolve_models([name], **({} if "@" in name else SIZES[i])) == specs
    # what is not an exact name resolved before still asks timm: globs, unknown names, other tags
    for pattern in ("test_vit*", "resnet5O", "test_vit.other_tag"):
        with pytest.raises(AssertionError, match="timm was asked"):
            resolve_models([pattern])


def test_the_cache_of_another_timm_installation_is_not_read(cache):
    (spec,) = resolve_models(["test_vit"])
    path = cache / f"timm-names-{timm.__version__}.json"
    data = json.loads(path.read_text())
    data["timm"][1] = "/another/site-packages/timm"
    data["names"]["test_vit"]["input_size"] = [3, 7, 7]  # what that timm might say
    path.write_text(json.dumps(data))
    assert resolve_models(["test_vit"]) == [spec]
    assert json.loads(path.read_text())["timm"] == list(timm_installation())  # rewritten for this one


def test_a_damaged_cache_is_read_again_from_timm_and_rewritten(cache):
    path = cache / f"timm-names-{timm.__version__}.json"
    path.write_text('{"timm": ["1.0', encoding="utf-8")  # cut short
    (spec,) = resolve_models(["test_vit"])
    assert spec.model == "test_vit.r160_in1k"
    assert json.loads(path.read_text())["names"]["test_vit"]["tag"] == "r160_in1k"


def test_a_cache_that_cannot_be_written_is_said_and_resolution_goes_on(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("JOULEBENCH_CACHE", str(tmp_path / "file" / "cache"))  # under a file: no folder there
    monkeypatch.setattr(name_cache, "SHIPPED_NAMES", tmp_path / "no-shipped-names.csv.gz")
    with pytest.warns(UserWarning, match="cannot write the timm name cache"):
        (spec,) = resolve_models(["test_vit"])
    assert spec.model == "test_vit.r160_in1k"


def test_without_timm_a_cached_name_still_says_what_to_install(cache, monkeypatch):
    resolve_models(["test_vit"])
    monkeypatch.setitem(sys.modules, "timm", None)  # as if uninstalled: the cache cannot tell whose names it holds
    assert timm_installation() is None
    with pytest.raises(MissingDependencyError, match=r"joulebench\[torch\]"):
        resolve_models(["test_vit"])


def test_on_a_first_run_the_shipped_names_resolve_without_timm(cache, monkeypatch, shipped_release):
    expected = {name: resolve_models([name]) for name in NAMES}  # from timm (the fixture hides the shipped ones)
    monkeypatch.setattr(name_cache, "SHIPPED_NAMES", SHIPPED_NAMES)
    for f in cache.iterdir():
        f.unlink()
    _refuse_timm(monkeypatch)
    assert {name: resolve_models([name]) for name in NAMES} == expected
    assert list(cache.iterdir()) == []  # nothing needed writing


def test_shipped_names_of_another_timm_release_are_not_used(cache, monkeypatch):
    other = cache / "other.csv.gz"
    other.write_bytes(
        gzip.compress(b"name,arch,tag,input_size,test_input_size,timm_version\ntest_vit,test_vit,,3x7x7,,0.0.1\n")
    )
    monkeypatch.setattr(name_cache, "SHIPPED_NAMES", other)
    assert shipped_names(other)[0] == "0.0.1"
    assert resolve_models(["test_vit"])[0].img_size == 160  # from timm, not 7


@pytest.mark.slow
def test_the_shipped_names_are_what_this_timm_says(tmp_path, shipped_release):
    # rewritten from the installed timm, the table is the same to the byte: every name, every fact
    assert write_shipped_names(tmp_path / "names.csv.gz") == len(shipped_names(SHIPPED_NAMES)[1])
    assert (tmp_path / "names.csv.gz").read_bytes() == SHIPPED_NAMES.read_bytes()

"""Model resolution: names, tags, globs, pretrained_only, img_size, custom factories, weights."""

from __future__ import annotations

import sys
import textwrap

import pytest

pytest.importorskip("timm")
import timm  # noqa: E402
import torch  # noqa: E402

from joulebench.errors import ConfigError  # noqa: E402
from joulebench.models.resolve import ModelSpec, create_model, load_weights, resolve_models  # noqa: E402


def test_architecture_resolves_to_its_default_pretrained_tag():
    (spec,) = resolve_models(["resnet50"])
    default = timm.get_pretrained_cfg("resnet50")
    assert spec.model == f"resnet50.{default.tag}"
    assert (spec.arch, spec.tag) == ("resnet50", default.tag)
    assert spec.input_shape == tuple(default.input_size)
    assert spec.img_size == default.input_size[-1] == spec.default_img_size
    assert not spec.custom and spec.weights is None


def test_pretrained_tag_keeps_its_own_config():
    (spec,) = resolve_models("test_vit.r160_in1k")
    assert spec.model == "test_vit.r160_in1k" and spec.tag == "r160_in1k"
    assert spec.input_shape == tuple(timm.get_pretrained_cfg("test_vit.r160_in1k").input_size)
    assert spec.key == ("test_vit.r160_in1k", spec.img_size)


def test_unknown_tag_lists_the_architectures_tags():
    with pytest.raises(ConfigError, match="a1_in1k"):
        resolve_models(["resnet50.nonexistent_tag"])


def test_unknown_name_suggests_close_names():
    with pytest.raises(ConfigError, match="resnet50") as e:
        resolve_models(["resnet5O"])
    assert "unknown model 'resnet5O'" in str(e.value)


def test_glob_expands_to_architectures_or_to_pretrained_tags():
    archs = resolve_models(["test_vit*"])
    tags = resolve_models(["test_vit*"], pretrained_only=True)
    assert {s.arch for s in archs} == set(timm.list_models("test_vit*"))
    assert [s.model for s in tags] == timm.list_models("test_vit*", pretrained=True)
    assert all(s.tag for s in tags)
    # architectures without pretrained weights are keyed on the bare architecture
    bare = [s for s in archs if s.tag is None]
    assert all(s.model == s.arch for s in bare)
    assert not set(timm.list_models("test_vit*", pretrained=True)) - {s.model for s in tags}


def test_glob_with_a_tag_part_matches_tags():
    specs = resolve_models(["resnet50.a*"])
    assert specs and all(s.arch == "resnet50" and s.tag.startswith("a") for s in specs)


def test_glob_matching_nothing_is_a_config_error():
    with pytest.raises(ConfigError, match="no timm model matches"):
        resolve_models(["zzz_no_such_model*"])


def test_pretrained_only_refuses_an_architecture_without_weights():
    no_weights = next(m for m in timm.list_models("test_*") if not timm.is_model_pretrained(m))
    assert resolve_models([no_weights])[0].tag is None
    with pytest.raises(ConfigError, match="no pretrained weights"):
        resolve_models([no_weights], pretrained_only=True)


def test_duplicates_are_removed_in_order():
    specs = resolve_models(["test_vit", "test_vit.r160_in1k", "test_resnet"])
    assert [s.arch for s in specs] == ["test_vit", "test_resnet"]


def test_img_size_override_and_test_size():
    (spec,) = resolve_models(["resnet50.a1_in1k"], img_size=160)
    assert spec.img_size == 160 and spec.input_shape == (3, 160, 160) and spec.default_img_size == 224
    (test,) = resolve_models(["resnet50.a1_in1k"], img_size="test")
    assert test.img_size == timm.get_pretrained_cfg("resnet50.a1_in1k").test_input_size[-1]
    with pytest.raises(ConfigError, match="contradicts"):
        resolve_models(["resnet50"], img_size=160, input_shape=(3, 224, 224))
    with pytest.raises(ConfigError, match="positive"):
        resolve_models(["resnet50"], img_size=0)


def test_name_at_size_sets_the_size_for_that_name_only():
    specs = resolve_models(["resnet18.a3_in1k@224", "resnet18.a3_in1k", "resnet18.a3_in1k@224", "test_vit*@96"])
    assert [(s.model, s.img_size) for s in specs] == [
        ("resnet18.a3_in1k", 224),
        ("resnet18.a3_in1k", 160),  # its pretrained config's size: a second configuration
        *[(s.model, 96) for s in resolve_models(["test_vit*"], img_size=96)],
    ]
    assert resolve_models(["resnet18.a3_in1k@224"], img_size=224)[0].img_size == 224  # agreeing is fine
    for bad, kw, msg in [
        ("resnet18@", {}, "input size after '@'"),
        ("resnet18@big", {}, "input size after '@'"),
        ("resnet18@0", {}, "input size after '@'"),
        ("resnet18@224", {"img_size": 256}, "names its input size"),
        ("resnet18@224", {"input_shape": (3, 224, 224)}, "names its input size"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            resolve_models([bad], **kw)


@pytest.mark.slow
def test_img_size_override_builds_a_model_for_that_size():
    # test_vit has a fixed input size: the override must be passed to timm as img_size
    (vit,) = resolve_models(["test_vit"], img_size=128)
    with torch.inference_mode():
        assert create_model(vit)(torch.randn(1, *vit.input_shape)).shape == (1, 1000)
    # a CNN takes no img_size argument; the model is built without it and runs at any size
    (cnn,) = resolve_models(["test_resnet"], img_size=96)
    with torch.inference_mode():
        assert create_model(cnn)(torch.randn(1, *cnn.input_shape)).shape == (1, 1000)


def test_input_shape_strings_are_parsed_and_checked():
    (spec,) = resolve_models(["test_resnet"], input_shape="3,128,96")
    assert spec.input_shape == (3, 128, 96)
    with pytest.raises(ConfigError, match="C, H, W"):
        resolve_models(["test_resnet"], input_shape=(3, 128))
    with pytest.raises(ConfigError, match="cannot read input shape"):
        resolve_models(["test_resnet"], input_shape="a,b,c")


def test_no_model_is_a_config_error():
    with pytest.raises(ConfigError, match="no model given"):
        resolve_models([" "])


def test_create_model_is_random_init_in_eval_mode():
    (spec,) = resolve_models(["test_efficientnet"])
    a, b = create_model(spec), create_model(spec)
    assert not a.training
    wa = next(iter(a.state_dict().values()))
    wb = next(iter(b.state_dict().values()))
    assert wa.shape == wb.shape and not torch.equal(wa, wb)  # random init, nothing downloaded


@pytest.fixture
def factory_module(tmp_path, monkeypatch):
    code = textwrap.dedent(
        """
        import torch

        def tiny():
            return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1),
                                       torch.nn.Flatten(), torch.nn.Linear(4, 5))

        def not_a_module():
            return 42

        VALUE = 3
        """
    )
    (tmp_path / "jb_tiny_factory.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "jb_tiny_factory"
    sys.modules.pop("jb_tiny_factory", None)


def test_custom_factory(factory_module):
    (spec,) = resolve_models([f"{factory_module}:tiny"], input_shape=(3, 32, 48))
    assert spec == ModelSpec(
        model=f"{factory_module}:tiny",
        arch=f"{factory_module}:tiny",
        tag=None,
        img_size=32,
        input_shape=(3, 32, 48),
        custom=True,
    )
    model = create_model(spec)
    assert not model.training
    with torch.inference_mode():
        assert model(torch.randn(2, *spec.input_shape)).shape == (2, 5)


def test_custom_factory_errors(factory_module):
    with pytest.raises(ConfigError, match="input_shape"):
        resolve_models([f"{factory_module}:tiny"])
    with pytest.raises(ConfigError, match="no attribute 'nope'"):
        resolve_models([f"{factory_module}:nope"], input_shape=(3, 8, 8))
    with pytest.raises(ConfigError, match="cannot import module"):
        resolve_models(["jb_no_such_module_x:tiny"], input_shape=(3, 8, 8))
    with pytest.raises(ConfigError, match="not callable"):
        resolve_models([f"{factory_module}:VALUE"], input_shape=(3, 8, 8))
    with pytest.raises(ConfigError, match="package.module:factory"):
        resolve_models([":tiny"], input_shape=(3, 8, 8))
    (bad,) = resolve_models([f"{factory_module}:not_a_module"], input_shape=(3, 8, 8))
    with pytest.raises(ConfigError, match="not a torch.nn.Module"):
        create_model(bad)


@pytest.mark.parametrize("fmt", ["pt", "safetensors", "wrapped"])
def test_weights_are_loaded_from_a_local_file(tmp_path, fmt):
    (spec,) = resolve_models(["test_resnet"])
    source = create_model(spec)
    path = tmp_path / f"w.{'safetensors' if fmt == 'safetensors' else 'pt'}"
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    elif fmt == "wrapped":
        torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, path)
    else:
        torch.save(state, path)
    (wspec,) = resolve_models(["test_resnet"], weights=path)
    assert wspec.weights == str(path)
    loaded = create_model(wspec)
    for k, v in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


def test_weights_mismatch_names_the_keys(tmp_path):
    (spec,) = resolve_models(["test_resnet"])
    state = create_model(spec).state_dict()
    first = next(iter(state))
    state["extra.weight"] = torch.zeros(1)
    del state[first]
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(ConfigError, match="do not match") as e:
        load_weights(create_model(spec), str(path))
    assert first in str(e.value) and "extra.weight" in str(e.value)
    # the classifier of another model has another shape
    other = create_model(resolve_models(["test_efficientnet"])[0]).state_dict()
    torch.save(other, path)
    with pytest.raises(ConfigError, match="do not match"):
        load_weights(create_model(spec), str(path))


def test_weights_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_models(["test_resnet"], weights=tmp_path / "missing.pt")
    path = tmp_path / "w.pt"
    torch.save({}, path)
    with pytest.raises(ConfigError, match="exactly one model"):
        resolve_models(["test_resnet", "test_vit"], weights=path)
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    (spec,) = resolve_models(["test_resnet"], weights=junk)
    with pytest.raises(ConfigError, match="cannot read weights"):
        create_model(spec)


def test_resolution_does_not_build_models(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("resolution must not instantiate models")

    monkeypatch.setattr(timm, "create_model", boom)
    assert len(resolve_models(["resnet*"], pretrained_only=True)) > 10

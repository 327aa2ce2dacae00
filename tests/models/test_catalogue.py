"""The curated family table and the catalogue: every pretrained timm model is classified."""

from __future__ import annotations

import re

import pytest

from joulebench.errors import ConfigError
from joulebench.models import families as F
from joulebench.models.catalogue import closest_names, pretrain_from_tag


def test_every_pretrained_timm_model_is_classified():
    timm = pytest.importorskip("timm")
    missing = sorted({n.split(".")[0] for n in timm.list_pretrained() if F.classify(n) is None})
    assert missing == [], f"add rules to joulebench/models/families.py for: {missing}"


def test_every_timm_architecture_is_classified():
    timm = pytest.importorskip("timm")
    assert [a for a in timm.list_models() if F.classify(a) is None] == []


def test_family_table_is_consistent():
    used = {fam for _, fam, _ in F.RULES}
    assert set(F.FAMILIES) == used, "every family has a rule and every rule a family"
    for f in F.FAMILIES.values():
        assert f.type in F.TYPES
        assert 2010 <= f.year <= 2030
        m = re.search(r"arxiv\.org/abs/(\d{2})(\d{2})\.", f.url)
        if m:  # the year is the first arXiv version's year
            assert f.year == 2000 + int(m.group(1)), f.name


@pytest.mark.parametrize(
    ("arch", "family", "type_"),
    [
        ("resnet50", "resnet", "CNN"),
        ("seresnext50_32x4d", "senet", "CNN"),
        ("convnext_tiny", "convnext", "CNN"),
        ("convnextv2_atto", "convnextv2", "CNN"),
        ("vit_base_patch16_224", "vit", "Transformer"),
        ("vit_base_patch16_clip_224", "clip", "Transformer"),
        ("vit_base_r50_s16_384", "vit-hybrid", "Hybrid CNN-Transformer"),
        ("eva02_large_patch14_448", "eva02", "Transformer"),
        ("mobilenetv4_conv_small", "mobilenetv4", "CNN"),
        ("mobilenetv4_hybrid_medium", "mobilenetv4", "Hybrid CNN-Transformer"),
        ("mixer_b16_224", "mlp-mixer", "MLP"),
        ("coatnet_0_rw_224", "coatnet", "Hybrid CNN-Transformer"),
        ("tf_efficientnetv2_s", "efficientnetv2", "CNN"),
        ("swinv2_tiny_window8_256", "swinv2", "Transformer"),
    ],
)
def test_known_classifications(arch, family, type_):
    fam, typ = F.classify(arch + ".some_tag")
    assert (fam.name, typ) == (family, type_)


def test_unclassified_architecture_is_a_config_error():
    with pytest.raises(ConfigError, match="families.py"):
        F.family_of("totally_new_net")


@pytest.mark.parametrize(
    ("tag", "chain"),
    [
        ("a1_in1k", "in1k"),
        ("augreg_in21k_ft_in1k", "in21k>in1k"),
        ("clip_laion2b_soup_ft_in12k_in1k", "laion2b>in12k>in1k"),
        ("in22k_ft_in22k_in1k", "in22k>in1k"),
        ("openai", "openai"),
        ("apple_pt", None),
    ],
)
def test_pretrain_from_tag(tag, chain):
    assert pretrain_from_tag(tag) == chain


@pytest.mark.slow
def test_shipped_catalogue_covers_this_timm():
    timm = pytest.importorskip("timm")
    from joulebench.models.catalogue import load_catalogue

    cat = load_catalogue()
    versions = set(cat["timm_version"])
    if versions != {timm.__version__}:
        pytest.skip(f"shipped catalogue was built with timm {versions}, this is timm {timm.__version__}")
    assert set(timm.list_pretrained()) <= set(cat["model"])
    assert not cat.duplicated(["model", "img_size"]).any()
    assert cat["url"].str.startswith("https://huggingface.co/").all()
    assert set(cat["type"]) <= set(F.TYPES)


def test_closest_names():
    names = ["resnet50.a1_in1k", "resnet50.tv_in1k", "resnet18.a1_in1k", "vit_base_patch16_224.augreg_in1k"]
    assert closest_names("resnet50.a1_inlk", names)[0] == "resnet50.a1_in1k"
    assert "resnet50.tv_in1k" in closest_names("resnet50", names)

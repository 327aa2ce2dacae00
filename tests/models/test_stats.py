"""MACs/activations/params counting checked against hand-computed values."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

from joulebench.models import stats as S  # noqa: E402


class TinyConvNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, kernel_size=3, padding=1, stride=2)  # 16x16 -> 8x8
        self.dw = torch.nn.Conv2d(8, 8, kernel_size=3, padding=1, groups=8)  # depthwise
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, 10)

    def forward(self, x):
        x = self.bn(self.dw(self.conv(x))).relu()
        return self.fc(x.mean((2, 3)))


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_tiny_conv_net_by_hand(device):
    m = TinyConvNet().to(device)
    macs, acts = S.count_module(m, 16, device=device)
    conv = 8 * 8 * 8 * (3 * 3 * 3)  # out elems x C_in x k x k
    dw = 8 * 8 * 8 * (1 * 3 * 3)  # groups=8: C_in/groups = 1
    fc = 8 * 10
    assert macs == conv + dw + fc
    assert acts == 8 * 8 * 8 + 8 * 8 * 8 + 10  # outputs of conv, dw and fc; BN/ReLU/pool not counted
    assert S.count_params(m) == (8 * 3 * 9 + 8) + (8 * 9 + 8) + (8 + 8) + (8 * 10 + 10)


def test_linear_on_tokens_and_batch():
    lin = torch.nn.Linear(5, 7, bias=False)
    x = torch.randn(2, 3, 5, device="meta")
    macs, acts = S.count_macs_activations(lambda: lin.to("meta")(x))
    assert macs == 2 * 3 * 5 * 7 and acts == 2 * 3 * 7


def test_fused_attention_counts_as_two_matmuls():
    b, h, lq, s, e = 2, 3, 5, 7, 4
    q = torch.randn(b, h, lq, e)
    k = torch.randn(b, h, s, e)
    v = torch.randn(b, h, s, e)
    fused = S.count_macs_activations(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v))
    explicit = S.count_macs_activations(lambda: (q @ k.transpose(-1, -2)).softmax(-1) @ v)
    assert fused == explicit == (b * h * lq * s * e * 2, b * h * lq * s + b * h * lq * e)


@pytest.mark.slow
def test_resnet50_params_match_the_model_exactly():
    st = S.compute_stats("resnet50", 224)
    real = sum(p.numel() for p in timm.create_model("resnet50", pretrained=False).parameters())
    assert st.method == "meta"
    assert st.params == real
    assert 25.5e6 < st.params < 25.6e6
    # MACs at 160 px scale with the pixel count for a fully convolutional network (up to the fixed head)
    small = S.compute_stats("resnet50", 160)
    assert small.params == st.params
    assert small.macs == pytest.approx(st.macs * (160 / 224) ** 2, rel=0.01)


@pytest.mark.slow
def test_vit_attention_is_counted():
    st = S.compute_stats("test_vit", None)
    m = timm.create_model("test_vit")
    cfg = m.pretrained_cfg
    size = cfg["input_size"][-1]
    macs_cpu, acts_cpu = S.count_module(m, size, device="cpu")
    assert (st.macs, st.activations) == (macs_cpu, acts_cpu)  # meta and real forward agree
    assert st.img_size == size


def test_unknown_model_is_config_error():
    from joulebench.errors import ConfigError

    with pytest.raises(ConfigError, match="no model"):
        S.compute_stats("resnet_does_not_exist")


def test_cache_is_incremental(tmp_path):
    cache = tmp_path / "stats.jsonl"
    seen = []
    first = S.compute_many([("test_resnet", None), ("test_convnext", 96)], cache=cache, progress=seen.append)
    assert len(seen) == 2 and all(s.method == "meta" for s in first)
    again = []
    second = S.compute_many(
        [(first[0].model, first[0].img_size), ("test_convnext", 96)], cache=cache, progress=again.append
    )
    assert again == []  # nothing recomputed
    assert [s.macs for s in second] == [s.macs for s in first]
    refreshed = []
    S.compute_many([("test_convnext", 96)], cache=cache, refresh=True, progress=refreshed.append)
    assert len(refreshed) == 1
    assert (("test_convnext", 96, timm.__version__)) in S.read_cache(cache)

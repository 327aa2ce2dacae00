"""joulebench's curated architecture table: family -> (type, year, paper), and architecture name -> family.

``FAMILIES`` names each model family with its architecture type, the year the family's paper first
appeared (the year of its first arXiv version where there is one, else of its release), and the paper.
``RULES`` are ordered regular expressions over timm architecture names (the part before the ``.tag``);
the first one that matches gives the family, and optionally a type that overrides the family's (for
families with both convolutional and hybrid members, like MobileNetV4).

Types:
    * ``CNN``: token/spatial mixing by convolution (or pooling), no self-attention.
    * ``Transformer``: spatial mixing by self-attention (patch embedding and positional convs allowed).
    * ``Hybrid CNN-Transformer``: convolutional stages or blocks and self-attention blocks together.
    * ``MLP``: spatial mixing by MLPs (and recurrent token mixers, which have no type of their own here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from joulebench.errors import ConfigError

CNN = "CNN"
TRANSFORMER = "Transformer"
HYBRID = "Hybrid CNN-Transformer"
MLP = "MLP"

#: The architecture types, in display order.
TYPES = (CNN, TRANSFORMER, HYBRID, MLP)


@dataclass(frozen=True)
class Family:
    """One model family.

    Attributes:
        name: Short family name (lower case).
        type: One of :data:`TYPES`.
        year: Year the family's paper first appeared.
        title: Paper (or release) title.
        url: Paper URL (arXiv abstract where there is one).
    """

    name: str
    type: str
    year: int
    title: str
    url: str = ""


def _f(name: str, type_: str, year: int, title: str, arxiv: str = "", url: str = "") -> Family:
    return Family(name, type_, year, title, url or (f"https://arxiv.org/abs/{arxiv}" if arxiv else ""))


_FAMILY_LIST = (
    # --- convolutional networks
    _f("vgg", CNN, 2014, "Very Deep Convolutional Networks for Large-Scale Image Recognition", "1409.1556"),
    _f("inception-v3", CNN, 2015, "Rethinking the Inception Architecture for Computer Vision", "1512.00567"),
    _f(
        "inception-v4", CNN, 2016, "Inception-v4, Inception-ResNet and the Impact of Residual Connections", "1602.07261"
    ),
    _f("resnet", CNN, 2015, "Deep Residual Learning for Image Recognition", "1512.03385"),
    _f("resnetv2", CNN, 2016, "Identity Mappings in Deep Residual Networks", "1603.05027"),
    _f("wide-resnet", CNN, 2016, "Wide Residual Networks", "1605.07146"),
    _f("resnext", CNN, 2016, "Aggregated Residual Transformations for Deep Neural Networks", "1611.05431"),
    _f("densenet", CNN, 2016, "Densely Connected Convolutional Networks", "1608.06993"),
    _f("xception", CNN, 2016, "Xception: Deep Learning with Depthwise Separable Convolutions", "1610.02357"),
    _f("mobilenetv1", CNN, 2017, "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision", "1704.04861"),
    _f("senet", CNN, 2017, "Squeeze-and-Excitation Networks", "1709.01507"),
    _f("dpn", CNN, 2017, "Dual Path Networks", "1707.01629"),
    _f("dla", CNN, 2017, "Deep Layer Aggregation", "1707.06484"),
    _f("nasnet", CNN, 2017, "Learning Transferable Architectures for Scalable Image Recognition", "1707.07012"),
    _f("pnasnet", CNN, 2017, "Progressive Neural Architecture Search", "1712.00559"),
    _f("mobilenetv2", CNN, 2018, "MobileNetV2: Inverted Residuals and Linear Bottlenecks", "1801.04381"),
    _f("mnasnet", CNN, 2018, "MnasNet: Platform-Aware Neural Architecture Search for Mobile", "1807.11626"),
    _f("darknet", CNN, 2018, "YOLOv3: An Incremental Improvement", "1804.02767"),
    _f("fbnet", CNN, 2018, "FBNet: Hardware-Aware Efficient ConvNet Design via Differentiable NAS", "1812.03443"),
    _f("sknet", CNN, 2019, "Selective Kernel Networks", "1903.06586"),
    _f("res2net", CNN, 2019, "Res2Net: A New Multi-scale Backbone Architecture", "1904.01169"),
    _f("gcnet", CNN, 2019, "GCNet: Non-local Networks Meet Squeeze-Excitation Networks and Beyond", "1904.11492"),
    _f(
        "spnasnet",
        CNN,
        2019,
        "Single-Path NAS: Designing Hardware-Efficient ConvNets in less than 4 Hours",
        "1904.02877",
    ),
    _f("mobilenetv3", CNN, 2019, "Searching for MobileNetV3", "1905.02244"),
    _f(
        "efficientnet",
        CNN,
        2019,
        "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
        "1905.11946",
    ),
    _f("mixnet", CNN, 2019, "MixConv: Mixed Depthwise Convolutional Kernels", "1907.09595"),
    _f("selecsls", CNN, 2019, "XNect: Real-time Multi-Person 3D Motion Capture with a Single RGB Camera", "1907.00837"),
    _f("hrnet", CNN, 2019, "Deep High-Resolution Representation Learning for Visual Recognition", "1908.07919"),
    _f(
        "ecanet", CNN, 2019, "ECA-Net: Efficient Channel Attention for Deep Convolutional Neural Networks", "1910.03151"
    ),
    _f("cspnet", CNN, 2019, "CSPNet: A New Backbone that can Enhance Learning Capability of CNN", "1911.11929"),
    _f("vovnet", CNN, 2019, "CenterMask: Real-Time Anchor-Free Instance Segmentation (VoVNetV2)", "1911.06667"),
    _f("ghostnet", CNN, 2019, "GhostNet: More Features from Cheap Operations", "1911.11907"),
    _f("bit", CNN, 2019, "Big Transfer (BiT): General Visual Representation Learning", "1912.11370"),
    _f("tresnet", CNN, 2020, "TResNet: High Performance GPU-Dedicated Architecture", "2003.13630"),
    _f("regnet", CNN, 2020, "Designing Network Design Spaces", "2003.13678"),
    _f("resnest", CNN, 2020, "ResNeSt: Split-Attention Networks", "2004.08955"),
    _f("gernet", CNN, 2020, "Neural Architecture Design for GPU-Efficient Networks", "2006.14090"),
    _f("fbnetv3", CNN, 2020, "FBNetV3: Joint Architecture-Recipe Search using Predictor Pretraining", "2006.02049"),
    _f("rexnet", CNN, 2020, "Rethinking Channel Dimensions for Efficient Model Design", "2007.00992"),
    _f(
        "bat",
        CNN,
        2020,
        "Non-Local Neural Networks With Grouped Bilinear Attentional Transforms (CVPR 2020)",
        url="https://openaccess.thecvf.com/content_CVPR_2020/html/Chi_Non-Local_Neural_Networks_With_Grouped_Bilinear_Attentional_Transforms_CVPR_2020_paper.html",
    ),
    _f("tinynet", CNN, 2020, "Model Rubik's Cube: Twisting Resolution, Depth and Width for TinyNets", "2010.14819"),
    _f("repvgg", CNN, 2021, "RepVGG: Making VGG-style ConvNets Great Again", "2101.03697"),
    _f("nfnet", CNN, 2021, "High-Performance Large-Scale Image Recognition Without Normalization", "2102.06171"),
    _f(
        "hardcorenas",
        CNN,
        2021,
        "HardCoRe-NAS: Hard Constrained diffeRentiable Neural Architecture Search",
        "2102.11646",
    ),
    _f("resnet-rs", CNN, 2021, "Revisiting ResNets: Improved Training and Scaling Strategies", "2103.07579"),
    _f("regnetz", CNN, 2021, "Fast and Accurate Model Scaling", "2103.06877"),
    _f("efficientnetv2", CNN, 2021, "EfficientNetV2: Smaller Models and Faster Training", "2104.00298"),
    _f("lcnet", CNN, 2021, "PP-LCNet: A Lightweight CPU Convolutional Neural Network", "2109.15099"),
    _f("poolformer", CNN, 2021, "MetaFormer Is Actually What You Need for Vision", "2111.11418"),
    _f("convnext", CNN, 2022, "A ConvNet for the 2020s", "2201.03545"),
    _f("convmixer", CNN, 2022, "Patches Are All You Need?", "2201.09792"),
    _f("focalnet", CNN, 2022, "Focal Modulation Networks", "2203.11926"),
    _f(
        "hgnet",
        CNN,
        2022,
        "PP-HGNet (PaddleClas release)",
        url="https://github.com/PaddlePaddle/PaddleClas/blob/release/2.5.1/docs/en/models/PP-HGNet_en.md",
    ),
    _f("mobileone", CNN, 2022, "MobileOne: An Improved One millisecond Mobile Backbone", "2206.04040"),
    _f("cspnext", CNN, 2022, "RTMDet: An Empirical Study of Designing Real-Time Object Detectors", "2212.07784"),
    _f("convformer", CNN, 2022, "MetaFormer Baselines for Vision", "2210.13452"),
    _f("repghostnet", CNN, 2022, "RepGhost: A Hardware-Efficient Ghost Module via Re-parameterization", "2211.06088"),
    _f("ghostnetv2", CNN, 2022, "GhostNetV2: Enhance Cheap Operation with Long-Range Attention", "2211.12905"),
    _f(
        "mobilenet-edgetpu-v2",
        CNN,
        2022,
        "Searching for Efficient Neural Architectures for On-Device ML on Edge TPUs",
        "2204.14007",
    ),
    _f(
        "convnextv2", CNN, 2023, "ConvNeXt V2: Co-designing and Scaling ConvNets with Masked Autoencoders", "2301.00808"
    ),
    _f("fasternet", CNN, 2023, "Run, Don't Walk: Chasing Higher FLOPS for Faster Neural Networks", "2303.03667"),
    _f("inceptionnext", CNN, 2023, "InceptionNeXt: When Inception Meets ConvNeXt", "2303.16900"),
    _f("repvit", CNN, 2023, "RepViT: Revisiting Mobile CNN From ViT Perspective", "2307.09283"),
    _f("rdnet", CNN, 2024, "DenseNets Reloaded: Paradigm Shift Beyond ResNets and ViTs", "2403.19588"),
    _f("starnet", CNN, 2024, "Rewrite the Stars", "2403.19967"),
    _f("ghostnetv3", CNN, 2024, "GhostNetV3: Exploring the Training Strategies for Compact Models", "2404.11202"),
    _f("mobilenetv4", CNN, 2024, "MobileNetV4: Universal Models for the Mobile Ecosystem", "2404.10518"),
    _f("mambaout", CNN, 2024, "MambaOut: Do We Really Need Mamba for Vision?", "2405.07992"),
    _f(
        "cpubone",
        CNN,
        2026,
        "CPUBone: Efficient Vision Backbone Design for Devices with Low Parallelization Capabilities",
        "2603.26425",
    ),
    # --- MLPs (and the LSTM-based Sequencer, closest to them: no attention, no spatial convolution)
    _f("mlp-mixer", MLP, 2021, "MLP-Mixer: An all-MLP Architecture for Vision", "2105.01601"),
    _f(
        "resmlp",
        MLP,
        2021,
        "ResMLP: Feedforward networks for image classification with data-efficient training",
        "2105.03404",
    ),
    _f("gmlp", MLP, 2021, "Pay Attention to MLPs", "2105.08050"),
    _f("sequencer", MLP, 2022, "Sequencer: Deep LSTM for Image Classification", "2205.01972"),
    # --- transformers
    _f(
        "vit",
        TRANSFORMER,
        2020,
        "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale",
        "2010.11929",
    ),
    _f(
        "deit",
        TRANSFORMER,
        2020,
        "Training data-efficient image transformers & distillation through attention",
        "2012.12877",
    ),
    _f(
        "clip", TRANSFORMER, 2021, "Learning Transferable Visual Models From Natural Language Supervision", "2103.00020"
    ),
    _f("tnt", TRANSFORMER, 2021, "Transformer in Transformer", "2103.00112"),
    _f("pit", TRANSFORMER, 2021, "Rethinking Spatial Dimensions of Vision Transformers", "2103.16302"),
    _f("crossvit", TRANSFORMER, 2021, "CrossViT: Cross-Attention Multi-Scale Vision Transformer", "2103.14899"),
    _f(
        "swin",
        TRANSFORMER,
        2021,
        "Swin Transformer: Hierarchical Vision Transformer using Shifted Windows",
        "2103.14030",
    ),
    _f("cait", TRANSFORMER, 2021, "Going deeper with Image Transformers", "2103.17239"),
    _f(
        "convit",
        TRANSFORMER,
        2021,
        "ConViT: Improving Vision Transformers with Soft Convolutional Inductive Biases",
        "2103.10697",
    ),
    _f("coat", TRANSFORMER, 2021, "Co-Scale Conv-Attentional Image Transformers", "2104.06399"),
    _f(
        "twins",
        TRANSFORMER,
        2021,
        "Twins: Revisiting the Design of Spatial Attention in Vision Transformers",
        "2104.13840",
    ),
    _f("nest", TRANSFORMER, 2021, "Nested Hierarchical Transformer", "2105.12723"),
    _f("beit", TRANSFORMER, 2021, "BEiT: BERT Pre-Training of Image Transformers", "2106.08254"),
    _f("xcit", TRANSFORMER, 2021, "XCiT: Cross-Covariance Image Transformers", "2106.09681"),
    _f("volo", TRANSFORMER, 2021, "VOLO: Vision Outlooker for Visual Recognition", "2106.13112"),
    _f("pvt-v2", TRANSFORMER, 2021, "PVT v2: Improved Baselines with Pyramid Vision Transformer", "2106.13797"),
    _f("swin-s3", TRANSFORMER, 2021, "Searching the Search Space of Vision Transformer", "2111.14725"),
    _f("swinv2", TRANSFORMER, 2021, "Swin Transformer V2: Scaling Up Capacity and Resolution", "2111.09883"),
    _f("mvitv2", TRANSFORMER, 2021, "MViTv2: Improved Multiscale Vision Transformers", "2112.01526"),
    _f("deit3", TRANSFORMER, 2022, "DeiT III: Revenge of the ViT", "2204.07118"),
    _f("davit", TRANSFORMER, 2022, "DaViT: Dual Attention Vision Transformers", "2204.03645"),
    _f(
        "beitv2",
        TRANSFORMER,
        2022,
        "BEiT v2: Masked Image Modeling with Vector-Quantized Visual Tokenizers",
        "2208.06366",
    ),
    _f(
        "beit3",
        TRANSFORMER,
        2022,
        "Image as a Foreign Language: BEiT Pretraining for All Vision and Vision-Language Tasks",
        "2208.10442",
    ),
    _f(
        "eva",
        TRANSFORMER,
        2022,
        "EVA: Exploring the Limits of Masked Visual Representation Learning at Scale",
        "2211.07636",
    ),
    _f("flexivit", TRANSFORMER, 2022, "FlexiViT: One Model for All Patch Sizes", "2212.08013"),
    _f("eva02", TRANSFORMER, 2023, "EVA-02: A Visual Representation for Neon Genesis", "2303.11331"),
    _f("siglip", TRANSFORMER, 2023, "Sigmoid Loss for Language Image Pre-Training", "2303.15343"),
    _f("dinov2", TRANSFORMER, 2023, "DINOv2: Learning Robust Visual Features without Supervision", "2304.07193"),
    _f("sam", TRANSFORMER, 2023, "Segment Anything", "2304.02643"),
    _f(
        "hiera",
        TRANSFORMER,
        2023,
        "Hiera: A Hierarchical Vision Transformer without the Bells-and-Whistles",
        "2306.00989",
    ),
    _f("rope-vit", TRANSFORMER, 2024, "Rotary Position Embedding for Vision Transformer", "2403.13298"),
    _f("aimv2", TRANSFORMER, 2024, "Multimodal Autoregressive Pre-training of Large Vision Encoders", "2411.14402"),
    _f(
        "internvit",
        TRANSFORMER,
        2024,
        "Mini-InternVL: A Flexible-Transfer Pocket Multimodal Model with 5% Parameters and 90% Performance",
        "2410.16261",
    ),
    _f(
        "radio",
        TRANSFORMER,
        2024,
        "RADIO Amplified: Improved Baselines for Agglomerative Vision Foundation Models",
        "2412.07679",
    ),
    _f("naflexvit", TRANSFORMER, 2025, "SigLIP 2 (NaFlex variant); timm's NaFlex Vision Transformer", "2502.14786"),
    _f(
        "perception-encoder",
        TRANSFORMER,
        2025,
        "Perception Encoder: The best visual embeddings are not at the output of the network",
        "2504.13181",
    ),
    _f("dinov3", TRANSFORMER, 2025, "DINOv3", "2508.10104"),
    _f("qwen3-vit", TRANSFORMER, 2025, "Qwen3-VL Technical Report", "2511.21631"),
    _f(
        "tipsv2",
        TRANSFORMER,
        2026,
        "TIPSv2: Advancing Vision-Language Pretraining with Enhanced Patch-Text Alignment",
        "2604.12012",
    ),
    _f("sapiens2", TRANSFORMER, 2026, "Sapiens2", "2604.21681"),
    _f("gemma4-vit", TRANSFORMER, 2026, "Gemma 4 Technical Report", "2607.02770"),
    _f(
        "lingbot-vision",
        TRANSFORMER,
        2026,
        "Vision Pretraining for Dense Spatial Perception (LingBot-Vision)",
        "2607.05247",
    ),
    _f(
        "deepseek-vit",
        TRANSFORMER,
        2026,
        "DeepSeek-V4.1-Flash: Pushing the Limits of KV Cache Compression",
        "2609.19969",
    ),
    # --- hybrids of convolution and attention
    _f("vit-hybrid", HYBRID, 2020, "An Image is Worth 16x16 Words (ResNet + ViT hybrids)", "2010.11929"),
    _f("botnet", HYBRID, 2021, "Bottleneck Transformers for Visual Recognition", "2101.11605"),
    _f("lambdanet", HYBRID, 2021, "LambdaNetworks: Modeling Long-Range Interactions Without Attention", "2102.08602"),
    _f("halonet", HYBRID, 2021, "Scaling Local Self-Attention for Parameter Efficient Visual Backbones", "2103.12731"),
    _f("visformer", HYBRID, 2021, "Visformer: The Vision-friendly Transformer", "2104.12533"),
    _f("levit", HYBRID, 2021, "LeViT: a Vision Transformer in ConvNet's Clothing for Faster Inference", "2104.01136"),
    _f("coatnet", HYBRID, 2021, "CoAtNet: Marrying Convolution and Attention for All Data Sizes", "2106.04803"),
    _f(
        "mobilevit",
        HYBRID,
        2021,
        "MobileViT: Light-weight, General-purpose, and Mobile-friendly Vision Transformer",
        "2110.02178",
    ),
    _f("maxvit", HYBRID, 2022, "MaxViT: Multi-Axis Vision Transformer", "2204.01697"),
    _f(
        "efficientvit-mit",
        HYBRID,
        2022,
        "EfficientViT: Multi-Scale Linear Attention for High-Resolution Dense Prediction",
        "2205.14756",
    ),
    _f("efficientformer", HYBRID, 2022, "EfficientFormer: Vision Transformers at MobileNet Speed", "2206.01191"),
    _f(
        "edgenext",
        HYBRID,
        2022,
        "EdgeNeXt: Efficiently Amalgamated CNN-Transformer Architecture for Mobile Vision",
        "2206.10589",
    ),
    _f("gcvit", HYBRID, 2022, "Global Context Vision Transformers", "2206.09959"),
    _f("mobilevitv2", HYBRID, 2022, "Separable Self-attention for Mobile Vision Transformers", "2206.02680"),
    _f("tiny-vit", HYBRID, 2022, "TinyViT: Fast Pretraining Distillation for Small Vision Transformers", "2207.10666"),
    _f("next-vit", HYBRID, 2022, "Next-ViT: Next Generation Vision Transformer for Efficient Deployment", "2207.05501"),
    _f("caformer", HYBRID, 2022, "MetaFormer Baselines for Vision", "2210.13452"),
    _f("efficientformerv2", HYBRID, 2022, "Rethinking Vision Transformers for MobileNet Size and Speed", "2212.08059"),
    _f(
        "fastvit",
        HYBRID,
        2023,
        "FastViT: A Fast Hybrid Vision Transformer using Structural Reparameterization",
        "2303.14189",
    ),
    _f(
        "swiftformer",
        HYBRID,
        2023,
        "SwiftFormer: Efficient Additive Attention for Transformer-based Real-time Mobile Vision Applications",
        "2303.15446",
    ),
    _f(
        "efficientvit-msra",
        HYBRID,
        2023,
        "EfficientViT: Memory Efficient Vision Transformer with Cascaded Group Attention",
        "2305.07027",
    ),
    _f(
        "mobileclip",
        HYBRID,
        2023,
        "MobileCLIP: Fast Image-Text Models through Multi-Modal Reinforced Training",
        "2311.17049",
    ),
    _f("shvit", HYBRID, 2024, "SHViT: Single-Head Vision Transformer with Memory Efficient Macro Design", "2401.16456"),
    _f("vitamin", HYBRID, 2024, "ViTamin: Designing Scalable Vision Models in the Vision-Language Era", "2404.02132"),
    _f(
        "lowformer",
        HYBRID,
        2024,
        "LowFormer: Hardware Efficient Design for Convolutional Transformer Backbones",
        "2409.03460",
    ),
    _f(
        "efficientvim",
        HYBRID,
        2024,
        "EfficientViM: Efficient Vision Mamba with Hidden State Mixer based State Space Duality",
        "2411.15241",
    ),
    _f("iformer", HYBRID, 2025, "iFormer: Integrating ConvNet and Transformer for Mobile Application", "2501.15369"),
    _f(
        "mobilenetv5",
        HYBRID,
        2025,
        "MobileNet-V5 (Gemma 3n vision encoder; blocks from MobileNetV4)",
        url="https://ai.google.dev/gemma/docs/gemma-3n",
    ),
    _f(
        "csatv2",
        HYBRID,
        2025,
        "CSATv2 (timm release; DCT front end with spatial attention, paper TBD)",
        url="https://github.com/huggingface/pytorch-image-models",
    ),
    # --- timm's own tiny test networks (random-weight smoke tests)
    _f(
        "test",
        CNN,
        2024,
        "timm test models (tiny networks for unit tests)",
        url="https://github.com/huggingface/pytorch-image-models",
    ),
)

#: Family name -> :class:`Family`.
FAMILIES: dict[str, Family] = {f.name: f for f in _FAMILY_LIST}

# Ordered (regex over the architecture name, family, type override or None). First match wins, so
# specific patterns come before the general ones they would otherwise fall under.
RULES: tuple[tuple[str, str, str | None], ...] = (
    (r"^test_vit", "test", TRANSFORMER),
    (r"^test_", "test", None),
    # ResNet and its many descendants
    (r"^(resnet\d+x?\d*_clip)", "clip", CNN),
    (r"^resnetv2_\d+x\d+_bit", "bit", None),
    (r"^resnetv2_", "resnetv2", None),
    (r"^resnetrs", "resnet-rs", None),
    (r"^resnest", "resnest", None),
    (r"^res2ne(t|xt)|^dla60_res2ne", "res2net", None),
    (r"^wide_resnet", "wide-resnet", None),
    (r"^(legacy_)?se(resnet|resnext|net)|^legacy_senet|^senet", "senet", None),
    (r"^resnext", "resnext", None),
    (r"^eca_?resnet|^eca_?resnext", "ecanet", None),
    (r"^gc_?resne", "gcnet", None),
    (r"^sk_?resne", "sknet", None),
    (r"^eca_botnext|^sebotnet|^botnet", "botnet", None),
    (r"^lambda_|^lamhalobotnet", "lambdanet", None),
    (r"^halo|^sehalonet|^eca_halonext", "halonet", None),
    (r"^bat_", "bat", None),
    (r"^resnet|^resnetaa|^resnetblur", "resnet", None),
    (r"^tresnet", "tresnet", None),
    # CSP / darknet
    (r"^cspnext", "cspnext", None),
    (r"^(cs3|csp)", "cspnet", None),
    (r"^(se)?darknet", "darknet", None),
    # EfficientNet and mobile search spaces
    (r"^(tf_|gc_)?efficientnetv2|^tf_efficientnetv2", "efficientnetv2", None),
    (r"^(tf_)?efficientnet_", "efficientnet", None),
    (r"^tinynet", "tinynet", None),
    (r"^(tf_)?mixnet", "mixnet", None),
    (r"^(se)?mnasnet", "mnasnet", None),
    (r"^spnasnet", "spnasnet", None),
    (r"^mobilenet_edgetpu", "mobilenet-edgetpu-v2", None),
    (r"^mobilenetv1", "mobilenetv1", None),
    (r"^mobilenetv2", "mobilenetv2", None),
    (r"^(tf_)?mobilenetv3|^mobilenetv3", "mobilenetv3", None),
    (r"^mobilenetv4_hybrid", "mobilenetv4", HYBRID),
    (r"^mobilenetv4", "mobilenetv4", None),
    (r"^mobilenetv5", "mobilenetv5", None),
    (r"^fbnetv3", "fbnetv3", None),
    (r"^fbnet", "fbnet", None),
    (r"^hardcorenas", "hardcorenas", None),
    (r"^lcnet", "lcnet", None),
    (r"^ghostnetv3", "ghostnetv3", None),
    (r"^ghostnetv2", "ghostnetv2", None),
    (r"^ghostnet", "ghostnet", None),
    (r"^repghostnet", "repghostnet", None),
    (r"^rexnet", "rexnet", None),
    (r"^mobileone", "mobileone", None),
    # classic CNNs
    (r"^vgg", "vgg", None),
    (r"^inception_v3|^adv_inception_v3|^tf_inception_v3|^gluon_inception_v3", "inception-v3", None),
    (r"^inception_v4|^inception_resnet_v2|^ens_adv_inception_resnet_v2", "inception-v4", None),
    (r"^inception_next", "inceptionnext", None),
    (r"^(legacy_)?xception", "xception", None),
    (r"^densenet", "densenet", None),
    (r"^dpn", "dpn", None),
    (r"^dla", "dla", None),
    (r"^nasnet", "nasnet", None),
    (r"^pnasnet", "pnasnet", None),
    (r"^selecsls", "selecsls", None),
    (r"^hrnet", "hrnet", None),
    (r"^(ese_|eca_)?vovnet", "vovnet", None),
    (r"^regnetz|^haloregnetz", "regnetz", None),
    (r"^regnet", "regnet", None),
    (r"^gernet", "gernet", None),
    (r"^repvgg", "repvgg", None),
    (r"^(dm_|eca_)?nfnet|^nf_", "nfnet", None),
    (r"^hgnet", "hgnet", None),
    (r"^convnextv2", "convnextv2", None),
    (r"^convnext", "convnext", None),
    (r"^convmixer", "convmixer", None),
    (r"^focalnet", "focalnet", None),
    (r"^poolformer", "poolformer", None),
    (r"^convformer", "convformer", None),
    (r"^caformer", "caformer", None),
    (r"^fasternet", "fasternet", None),
    (r"^repvit", "repvit", None),
    (r"^rdnet", "rdnet", None),
    (r"^starnet", "starnet", None),
    (r"^mambaout", "mambaout", None),
    (r"^cpubone", "cpubone", None),
    # MLPs
    (r"^g?mixer_", "mlp-mixer", None),
    (r"^resmlp", "resmlp", None),
    (r"^gmlp", "gmlp", None),
    (r"^sequencer", "sequencer", None),
    # hybrids
    (r"^vit_(tiny|small|base|large)_r\d*_s\d+|^vit_base_r50|^vit_large_r50", "vit-hybrid", None),
    (r"^coatnet|^coatnext", "coatnet", None),
    (r"^maxx?vit", "maxvit", None),
    (r"^levit", "levit", None),
    (r"^visformer", "visformer", None),
    (r"^mobilevitv2", "mobilevitv2", None),
    (r"^mobilevit", "mobilevit", None),
    (r"^efficientvit_[bl]", "efficientvit-mit", None),
    (r"^efficientvit_m", "efficientvit-msra", None),
    (r"^efficientformerv2", "efficientformerv2", None),
    (r"^efficientformer", "efficientformer", None),
    (r"^edgenext", "edgenext", None),
    (r"^gcvit", "gcvit", None),
    (r"^tiny_vit", "tiny-vit", None),
    (r"^nextvit", "next-vit", None),
    (r"^vit_base_mci", "mobileclip", TRANSFORMER),
    (r"^fastvit_mci", "mobileclip", None),
    (r"^fastvit", "fastvit", None),
    (r"^swiftformer", "swiftformer", None),
    (r"^shvit", "shvit", None),
    (r"^vitamin", "vitamin", None),
    (r"^lowformer", "lowformer", None),
    (r"^efficientvim", "efficientvim", None),
    (r"^iformer", "iformer", None),
    (r"^csatv2", "csatv2", None),
    # transformers
    (r"^aimv2", "aimv2", None),
    (r"^beit3", "beit3", None),
    (r"^beitv2", "beitv2", None),
    (r"^beit", "beit", None),
    (r"^cait", "cait", None),
    (r"^coat_", "coat", None),
    (r"^convit", "convit", None),
    (r"^crossvit", "crossvit", None),
    (r"^davit", "davit", None),
    (r"^deit3", "deit3", None),
    (r"^deit", "deit", None),
    (r"^eva02", "eva02", None),
    (r"^eva_", "eva", None),
    (r"^flexivit", "flexivit", None),
    (r"^hiera|^sam2_hiera", "hiera", None),
    (r"^samvit", "sam", None),
    (r"^mvitv2", "mvitv2", None),
    (r"^naflexvit_.*radio", "radio", None),
    (r"^naflexvit_.*siglip", "siglip", None),
    (r"^naflexvit", "naflexvit", None),
    (r"^nest_", "nest", None),
    (r"^pit_", "pit", None),
    (r"^pvt_v2", "pvt-v2", None),
    (r"^swin_s3", "swin-s3", None),
    (r"^swinv2", "swinv2", None),
    (r"^swin_", "swin", None),
    (r"^tnt_", "tnt", None),
    (r"^twins_", "twins", None),
    (r"^volo_", "volo", None),
    (r"^xcit_", "xcit", None),
    (r"^deepseek_vit", "deepseek-vit", None),
    (r"^gemma4_vit", "gemma4-vit", None),
    (r"^qwen3_vit", "qwen3-vit", None),
    (r"^vit_.*_dinov3", "dinov3", None),
    (r"^vit_.*_dinov2", "dinov2", None),
    (r"^vit_.*_sapiens2", "sapiens2", None),
    (r"^vit_.*_tipsv2", "tipsv2", None),
    (r"^vit_.*_lingbot", "lingbot-vision", None),
    (r"^vit_.*_radio", "radio", None),
    (r"^vit_pe_", "perception-encoder", None),
    (r"^vit_intern", "internvit", None),
    (r"^vit_.*siglip", "siglip", None),
    (r"^vit_.*_clip", "clip", None),
    (r"^vit_.*_rope", "rope-vit", None),
    (r"^vit_", "vit", None),
)

_COMPILED = tuple((re.compile(p), fam, typ) for p, fam, typ in RULES)


def _check_rules() -> None:
    for _, fam, typ in RULES:
        if fam not in FAMILIES:
            raise ValueError(f"rule maps to unknown family '{fam}'")
        if typ is not None and typ not in TYPES:
            raise ValueError(f"rule has unknown type '{typ}'")


_check_rules()


@lru_cache(maxsize=8192)
def classify(arch: str) -> tuple[Family, str] | None:
    """The family of a timm architecture and its type, or None if no rule matches.

    Args:
        arch: timm architecture name; a ``.tag`` suffix is ignored.

    Returns:
        ``(family, type)``: the type is the rule's override or the family's type.
    """
    arch = arch.split(".")[0]
    for rx, fam, typ in _COMPILED:
        if rx.search(arch):
            f = FAMILIES[fam]
            return f, typ or f.type
    return None


def family_of(arch: str) -> Family:
    """The :class:`Family` of a timm architecture.

    Raises:
        ConfigError: If no rule matches (extend ``RULES`` in ``joulebench/models/families.py``).
    """
    hit = classify(arch)
    if hit is None:
        raise ConfigError(
            f"architecture '{arch}' has no family in joulebench's table: add a rule to joulebench/models/families.py"
        )
    return hit[0]

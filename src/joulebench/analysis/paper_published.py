"""Values "The Hidden Joules" (ICML 2025) publishes, keyed as :mod:`joulebench.analysis.paper` keys its rows.

Only values joulebench has a record of are listed; a row without one prints its computed value alone, with a
note saying the published value is not recorded here. Each entry may carry a standing note: why joulebench's
computation differs from the published value. :data:`SOURCES` says where each value was taken from, and a value
not in :data:`CHECKED` (not yet read in the paper's own text) is flagged as such in its row's note.
"""

from __future__ import annotations

#: key -> (published value, note on why joulebench's value differs; "" when it should agree).
PUBLISHED: dict[str, tuple[float, str]] = {
    "fig5/A100:torch-fp32/naive_factor_geomean": (
        3.13,
        "same convention (1 FLOP per MAC, 19.5 TFLOP/s FP32 peak), other MAC counts: with the paper's published "
        "counts (per model the larger of its torchinfo and ptflops MACs) it gives 3.10; joulebench counts MACs "
        "itself on the timm model (benchmarks/analysis_figures.py --paper-stats prints both)",
    ),
    "fig5/A100:tensorrt-fp16/naive_factor_geomean": (
        3.16,
        "same convention (1 FLOP per MAC, 78 TFLOP/s non-tensor FP16 peak), other MAC counts: the paper's "
        "published counts give 3.12 (benchmarks/analysis_figures.py --paper-stats)",
    ),
    "fig6/A100:torch-fp32/pearson_activations": (
        0.90,
        "the activations column the paper published gives a Pearson correlation of 0.669 against its own "
        "energies; joulebench's activation counts (one per output element of every layer) give the value shown",
    ),
    "fig9a/A100:torch-fp32/throughput_mape": (1.65, ""),
    "fig9a/A100:tensorrt-fp16/throughput_mape": (1.55, ""),
    "fig10/A100/reduction_geomean": (3.94, ""),
    "fig10/A100/reduction_gsd": (1.58, ""),
    "fig10/H100/reduction_geomean": (4.03, ""),
    "fig10/H100/reduction_gsd": (1.61, ""),
}

#: Where each value in :data:`PUBLISHED` was taken from. The stored copy of the paper (arXiv 2412.09731v1, ar5iv
#: HTML) that could be searched holds only its abstract and the opening of its introduction, none of these numbers;
#: every value below is quoted from the request for ``joulebench paper`` (issue 33), not from the paper's text.
_FROM_REQUEST = "quoted by the request for joulebench paper; not found in the stored paper text"
SOURCES: dict[str, str] = {key: _FROM_REQUEST for key in PUBLISHED}

#: Keys whose published value has been read in the paper's own text (section, table or figure in :data:`SOURCES`).
CHECKED: frozenset[str] = frozenset()

#: Note a row gets while its published value is not in :data:`CHECKED`.
UNCHECKED_NOTE = "published value not yet checked against the paper's text"

#: Relative difference below which a computed value counts as agreeing with a published one (rounding).
AGREES_WITHIN = 0.02

"""Which figure or table of "The Hidden Joules" each key of ``joulebench paper`` belongs to, and how sure that is.

The request for ``joulebench paper`` names Table 1, Figs. 1–3 and 5–10, Table 3, A.7 and A.8, and says what most
of them show. Figs. 2, 3, 7 and 8 it names without saying what they show, and the paper's text is not available
here: joulebench gives those numbers to its sections the request does not place (the frontier's growth curve, the
architecture-type centres, robustness, transfer between setups), in the order of the paper's argument, and says
that the number is inferred. :data:`FIGURES` lists every one; :func:`figure_of` finds a key's figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: How a figure's number was established.
NAMED = "number and content named together by the request for joulebench paper"
INFERRED = (
    "number inferred: the request names this figure without what it shows, and the paper's text is not available; "
    "joulebench gives it to a section the request does not place, in the order of the paper's argument"
)
A7 = (
    "number inferred: the request lists A.7 beside A.8 and asks for the input-size effect beside the drop by family "
    "(A.8) without tying A.7 to it"
)
EXTRA = "not one of the paper's figures: joulebench's addition"


@dataclass(frozen=True)
class PaperFigure:
    """One figure or table: its number, what it shows, the key prefix of its rows and how sure the number is."""

    number: str
    shows: str
    prefix: str
    number_source: str

    @property
    def label(self) -> str:
        """The number, with "(?)" where it is inferred."""
        return f"{self.number} (?)" if self.number_source in (INFERRED, A7) else self.number

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


FIGURES: tuple[PaperFigure, ...] = (
    PaperFigure("Table 1", "correlation of per-model energy between two setups, four pairs", "table1/", NAMED),
    PaperFigure("Fig. 1", "energy against ImageNet top-1 with the Pareto frontier and its families", "fig1/", NAMED),
    PaperFigure("Fig. 2", "the frontier's growth curve: accuracy against log energy, fitted", "curve/", INFERRED),
    PaperFigure(
        "Fig. 3", "architecture types as clusters on the energy-accuracy plane (their centres)", "types/", INFERRED
    ),
    PaperFigure("Fig. 5", "measured energy over the naive FLOPs / peak estimate", "fig5/", NAMED),
    PaperFigure("Fig. 6", "energy against params, MACs and activations; the log-linear fit's error", "fig6/", NAMED),
    PaperFigure(
        "Table 3", "the log-linear fit's coefficients (ln mJ, ln params, ln GMACs, ln activations)", "table3/", NAMED
    ),
    PaperFigure(
        "Fig. 7", "robustness: accuracy on the shifted test sets against energy, the drop", "robustness/", INFERRED
    ),
    PaperFigure(
        "Fig. 8", "one setup's energy predicted from another's with a few shared models", "transfer/", INFERRED
    ),
    PaperFigure(
        "Fig. 9a", "the throughput estimate (power limit / throughput) against the measurement", "fig9a/", NAMED
    ),
    PaperFigure("Fig. 10", "energy reduction of TensorRT FP16 over PyTorch FP32 on one GPU", "fig10/", NAMED),
    PaperFigure("A.7", "the input size's effect on energy and on accuracy", "a7/", A7),
    PaperFigure("A.8", "accuracy drop to the shifted test sets by family group (CLIP apart)", "a8/", NAMED),
    PaperFigure("–", "every regression estimator under both cross-validations", "cv/", EXTRA),
)


def figure_of(key: str) -> PaperFigure | None:
    """The figure whose rows ``key`` belongs to (by its first path component), or None."""
    head = key.split("/", 1)[0] + "/"
    return next((f for f in FIGURES if f.prefix == head), None)

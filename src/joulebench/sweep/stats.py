"""Statistics of a measured window: Student's t, percentiles, the ratio estimator's interval, sub-windows.

Sub-windows are spans between ``(t, cumulative J)`` marks (counter updates, or fixed instants over a sampled
power trace); images completed by each mark are interpolated from the iteration completion times.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from joulebench.meters.base import Sample

# Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom (beyond: the normal's 1.96).
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t975(df: int) -> float:
    """Student's t 97.5% quantile for ``df`` degrees of freedom."""
    return _T975[df - 1] if 1 <= df <= len(_T975) else 1.96


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (``q`` in [0, 100]) of ``values``, None when empty."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def ratio_ci95_rel(energies: Sequence[float], images: Sequence[float]) -> float | None:
    """Relative half-width of the 95% CI of ``sum(energies) / sum(images)`` over sub-windows.

    Uses the ratio estimator's linearised variance: residuals ``E_k - R * I_k`` over the mean images.
    Returns None with fewer than three sub-windows.
    """
    pairs = [(e, i) for e, i in zip(energies, images, strict=True) if i > 0]
    n = len(pairs)
    if n < 3:
        return None
    tot_e = sum(e for e, _ in pairs)
    tot_i = sum(i for _, i in pairs)
    if tot_e <= 0 or tot_i <= 0:
        return None
    r = tot_e / tot_i
    s2 = sum((e - r * i) ** 2 for e, i in pairs) / (n - 1)
    se = math.sqrt(s2 / n) / (tot_i / n)
    return t975(n - 1) * se / r


def block_ci95_rel(energies: Sequence[float], images: Sequence[float], blocks: int | None = None) -> float | None:
    """:func:`ratio_ci95_rel` over ``blocks`` runs of consecutive sub-windows (default: about ``sqrt(n)`` of them).

    A counter sub-window's energy carries the error of when the counter's update was seen and of the power's
    rhythm within an iteration; both shift energy between neighbouring sub-windows and cancel in their sum. Blocks
    of several sub-windows keep the interval to the variation that does not cancel (the batch-means method).
    Returns None with fewer than three blocks.
    """
    n = min(len(energies), len(images))
    k = blocks if blocks is not None else max(3, math.isqrt(n))
    if n < 3 or k < 3 or k > n:
        return None
    size = n // k
    edges = [j * size for j in range(k)] + [n]  # the remainder joins the last block
    e = [sum(energies[a:b]) for a, b in zip(edges, edges[1:], strict=False)]
    i = [sum(images[a:b]) for a, b in zip(edges, edges[1:], strict=False)]
    return ratio_ci95_rel(e, i)


def images_at(t: float, completions: Sequence[float], batch_size: int) -> float:
    """Images completed by time ``t``, interpolating linearly within the iteration running at ``t``."""
    if not completions or t <= 0:
        return 0.0
    prev = 0.0
    for k, c in enumerate(completions):
        if t < c:
            frac = (t - prev) / (c - prev) if c > prev else 1.0
            return (k + frac) * batch_size
        prev = c
    return len(completions) * batch_size


def subwindows_from_marks(
    marks: Sequence[tuple[float, float]], completions: Sequence[float], batch_size: int
) -> tuple[list[float], list[float]]:
    """Sub-windows between consecutive ``(t, cumulative energy)`` marks: lists of energies and images."""
    energies, imgs = [], []
    for (t0, e0), (t1, e1) in zip(marks, marks[1:], strict=False):
        i = images_at(t1, completions, batch_size) - images_at(t0, completions, batch_size)
        if t1 > t0 and i > 0:
            energies.append(e1 - e0)
            imgs.append(i)
    return energies, imgs


def marks_from_trace(trace: Sequence[Sample], duration_s: float, n: int = 20) -> list[tuple[float, float]]:
    """Fixed-length sub-window boundaries over a power trace: ``(t, cumulative J)`` at ``n + 1`` instants.

    The trace of every device is integrated (trapezoid) and the devices summed.
    """
    by_dev: dict[int, list[tuple[float, float]]] = {}
    for s in trace:
        if s.power_w is not None:
            by_dev.setdefault(s.device, []).append((s.t_s, s.power_w))
    if not by_dev or duration_s <= 0:
        return []
    edges = [duration_s * k / n for k in range(n + 1)]
    totals = [0.0] * len(edges)
    for pts in by_dev.values():
        pts.sort()
        if len(pts) < 2:
            return []
        cum = [0.0]
        for (ta, pa), (tb, pb) in zip(pts, pts[1:], strict=False):
            cum.append(cum[-1] + (tb - ta) * (pa + pb) / 2)
        times = [t for t, _ in pts]
        for j, t in enumerate(edges):
            totals[j] += _interp(t, times, cum)
    return list(zip(edges, totals, strict=True))


def _interp(t: float, xs: Sequence[float], ys: Sequence[float]) -> float:
    if t <= xs[0]:
        return ys[0]
    if t >= xs[-1]:
        return ys[-1]
    import bisect

    k = bisect.bisect_right(xs, t)
    x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
    return y0 + (y1 - y0) * (t - x0) / (x1 - x0) if x1 > x0 else y1


__all__ = [
    "block_ci95_rel",
    "images_at",
    "marks_from_trace",
    "percentile",
    "ratio_ci95_rel",
    "subwindows_from_marks",
    "t975",
]

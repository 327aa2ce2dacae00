"""A nested-logarithmic growth curve fitted to the energy-accuracy frontier, and its inverse.

Form (documented in docs/ANALYSIS.md)::

    A(E) = a + b * ln(1 + c * ln(E / E_min))        for E >= E_min

``E_min`` is the energy of the cheapest frontier model and is *fixed*, not fitted: that removes the
scale/offset degeneracy of forms like ``a + b*log(log(E/E0))`` (where ``E0`` and ``a`` trade off and the
curve is undefined below ``E0``). The three free parameters then have a meaning: ``a`` is the accuracy at
``E_min`` (bounded to [0, 100]), ``b >= 0`` the gain per e-fold of log-energy growth and ``c > 0`` the
curvature. As ``c -> 0`` the curve becomes linear in log energy; for large ``c`` it becomes ``log(log E)``.
It rises monotonically and ever more slowly, with no finite asymptote, so the inverse exists for every
target below 100 %; targets past the measured frontier are flagged as extrapolation, and targets whose
predicted energy exceeds ``MAX_EXTRAPOLATION`` times the costliest frontier model are refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from joulebench.analysis.frames import ACC, ENERGY, need, require
from joulebench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Predictions above this multiple of the costliest frontier energy are refused as meaningless.
MAX_EXTRAPOLATION = 1000.0
MIN_POINTS = 4


def nested_log(energy_j, a: float, b: float, c: float, e_min: float):
    """Evaluate ``a + b*ln(1 + c*ln(E/e_min))`` (energies below ``e_min`` are clipped to it)."""
    x = np.log(np.maximum(np.asarray(energy_j, dtype=float), e_min) / e_min)
    return a + b * np.log1p(c * x)


@dataclass(frozen=True)
class EnergyPrediction:
    """The energy the fitted curve needs for a target accuracy."""

    target_accuracy: float
    energy_per_image_j: float
    extrapolated: bool
    message: str


@dataclass(frozen=True)
class FrontierFit:
    """Fitted nested-log curve ``A(E) = a + b*ln(1 + c*ln(E/e_min))``.

    Attributes:
        a, b, c: Fitted parameters (a: accuracy at e_min, %).
        e_min: Energy of the cheapest frontier model (J), fixed.
        e_max: Energy of the costliest frontier model (J).
        acc_max: Accuracy of the most accurate frontier model (%).
        n: Frontier points fitted.
        r2, rmse: Goodness of fit on those points (accuracy points).
    """

    a: float
    b: float
    c: float
    e_min: float
    e_max: float
    acc_max: float
    n: int
    r2: float
    rmse: float

    def predict(self, energy_j):
        """Accuracy (%) the curve gives at ``energy_j``."""
        return nested_log(energy_j, self.a, self.b, self.c, self.e_min)

    def energy_for(self, target_accuracy: float) -> EnergyPrediction:
        """Inverse of the curve: energy per image needed to reach ``target_accuracy`` (%).

        Raises:
            ConfigError: If the target is at or above 100 %, or beyond the range the curve can speak for.
        """
        t = float(target_accuracy)
        if not 0 < t < 100:
            raise ConfigError(f"target accuracy {t:g}% is outside (0, 100): no model can reach it")
        if t <= self.a:
            return EnergyPrediction(t, self.e_min, False, f"the cheapest frontier model already reaches {self.a:.2f}%")
        if self.b <= 0 or self.c <= 0:
            raise ConfigError("the fitted curve is flat, so it cannot predict the energy for a higher accuracy")
        z = (t - self.a) / self.b
        limit = MAX_EXTRAPOLATION * self.e_max
        try:
            inner = math.expm1(z) / self.c
            energy = self.e_min * math.exp(inner)
        except OverflowError:
            energy = math.inf
        if not math.isfinite(energy) or energy > limit:
            reach = float(self.predict(limit))
            raise ConfigError(
                f"target accuracy {t:g}% is beyond the fitted curve's range: even {MAX_EXTRAPOLATION:g}x the costliest "
                f"frontier model's energy only reaches {reach:.2f}% "
                f"(the measured frontier tops out at {self.acc_max:.2f}%)"
            )
        extrapolated = t > self.acc_max
        msg = (
            f"extrapolated beyond the measured frontier (best {self.acc_max:.2f}%); treat as a rough guide"
            if extrapolated
            else "interpolated within the measured frontier"
        )
        return EnergyPrediction(t, energy, extrapolated, msg)

    def to_dict(self) -> dict:
        """Plain dict of the parameters and fit quality."""
        return {k: getattr(self, k) for k in ("a", "b", "c", "e_min", "e_max", "acc_max", "n", "r2", "rmse")}


def fit_frontier(front: pd.DataFrame, energy_col: str = ENERGY, acc_col: str = ACC) -> FrontierFit:
    """Fit the nested-log curve to frontier points with ``scipy.optimize.curve_fit`` (bounded TRF).

    Args:
        front: Frontier rows (see :func:`joulebench.analysis.frontier.frontier`).
        energy_col: Column with energy per image (J).
        acc_col: Column with accuracy (%).

    Raises:
        ConfigError: Fewer than 4 frontier points, or the fit fails to converge.
    """
    curve_fit = require("scipy.optimize", purpose="fitting the frontier curve").curve_fit

    d = front.dropna(subset=[energy_col, acc_col]).sort_values(energy_col)
    need(len(d), MIN_POINTS, "fitting the frontier curve (3 parameters)")
    e = d[energy_col].to_numpy(dtype=float)
    y = d[acc_col].to_numpy(dtype=float)
    e_min = float(e.min())
    if e.max() <= e_min:
        raise ConfigError(
            "the frontier points all have the same energy; a curve of accuracy against energy needs a spread"
        )
    span = math.log1p(math.log(e.max() / e_min))
    p0 = [float(np.clip(y[0], 0, 100)), max((y[-1] - y[0]) / span, 1e-3), 1.0]
    bounds = ([0.0, 0.0, 1e-3], [100.0, 500.0, 1e3])
    try:
        popt, _ = curve_fit(
            lambda x, a, b, c: nested_log(x, a, b, c, e_min), e, y, p0=p0, bounds=bounds, method="trf", maxfev=20000
        )
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"the frontier curve did not converge ({exc}); check the frontier has a rising trend"
        ) from None
    a, b, c = (float(v) for v in popt)
    pred = nested_log(e, a, b, c, e_min)
    ss_res = float(np.sum((y - pred) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return FrontierFit(
        a=a,
        b=b,
        c=c,
        e_min=e_min,
        e_max=float(e.max()),
        acc_max=float(y.max()),
        n=len(d),
        r2=1 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
        rmse=math.sqrt(ss_res / len(d)),
    )

"""Carbon and cost of inference from a user-given grid intensity and electricity price."""

from __future__ import annotations

import math

from joulebench.errors import ConfigError

J_PER_KWH = 3.6e6
IMAGES = 1_000_000


def carbon_cost(
    energy_per_image_j: float,
    intensity_g_per_kwh: float | None = None,
    price_per_kwh: float | None = None,
    images: int = IMAGES,
) -> dict[str, float | None]:
    """Energy, emissions and money for ``images`` inferences (default one million).

    Only the GPU board energy is counted (no host, cooling or PUE); multiply by your data centre's PUE
    for a facility figure.

    Args:
        energy_per_image_j: Energy per image, joules.
        intensity_g_per_kwh: Grid carbon intensity, g CO2e per kWh (None: no emissions figure).
        price_per_kwh: Electricity price per kWh in any currency (None: no cost figure).
        images: How many images the figures are for.

    Returns:
        ``{"images", "kwh", "kg_co2e", "cost"}`` (``kg_co2e``/``cost`` None when their input is None).

    Raises:
        ConfigError: A negative or non-finite input.
    """
    for name, v in (
        ("energy per image", energy_per_image_j),
        ("intensity", intensity_g_per_kwh),
        ("price", price_per_kwh),
    ):
        if v is not None and (not math.isfinite(float(v)) or float(v) < 0):
            raise ConfigError(f"{name} must be a finite number >= 0, got {v}")
    kwh = float(energy_per_image_j) * images / J_PER_KWH
    return {
        "images": images,
        "kwh": kwh,
        "kg_co2e": None if intensity_g_per_kwh is None else kwh * float(intensity_g_per_kwh) / 1000.0,
        "cost": None if price_per_kwh is None else kwh * float(price_per_kwh),
    }


def add_carbon_columns(
    df, intensity_g_per_kwh: float | None, price_per_kwh: float | None, energy_col: str = "energy_per_image_j"
):
    """Copy of ``df`` with ``kwh_per_million``, ``kg_co2e_per_million`` and ``cost_per_million`` columns."""
    out = df.copy()
    out["kwh_per_million"] = out[energy_col] * IMAGES / J_PER_KWH
    if intensity_g_per_kwh is not None:
        carbon_cost(0.0, intensity_g_per_kwh, price_per_kwh)  # validates
        out["kg_co2e_per_million"] = out["kwh_per_million"] * float(intensity_g_per_kwh) / 1000.0
    if price_per_kwh is not None:
        carbon_cost(0.0, intensity_g_per_kwh, price_per_kwh)
        out["cost_per_million"] = out["kwh_per_million"] * float(price_per_kwh)
    return out

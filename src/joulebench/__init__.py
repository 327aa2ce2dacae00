"""joulebench: energy per inference on real accelerators, and accuracy per joule.

The three-line API for measuring any callable::

    import joulebench
    result = joulebench.measure_callable(lambda: model(x), meter="nvml")
    print(result.energy_j, result.avg_power_w)
"""

from __future__ import annotations

__version__ = "0.1.0"

from joulebench.errors import JoulebenchError  # noqa: E402

__all__ = ["JoulebenchError", "__version__", "get_meter", "measure_callable"]


def get_meter(name: str = "auto", **kwargs):
    """Return a meter instance by registered name (``nvml``, ``smi``, ``sim``, ``rapl`` or ``auto``).

    Args:
        name: Registered meter name, or ``auto`` to pick NVML when available.
        **kwargs: Passed to the meter's constructor (for example ``device=0``).

    Returns:
        A :class:`joulebench.meters.base.Meter`.
    """
    from joulebench.meters import get_meter as _get

    return _get(name, **kwargs)


def measure_callable(fn, *, meter="auto", repeat: int = 1, **meter_kwargs):
    """Measure the energy of calling ``fn`` ``repeat`` times inside one meter window.

    Args:
        fn: Any zero-argument callable (work launched on the device is synchronised at the window edges).
        meter: A meter name or a meter instance.
        repeat: How many times to call ``fn`` inside the window.
        **meter_kwargs: Passed to the meter's constructor when ``meter`` is a name.

    Returns:
        The frozen :class:`joulebench.meters.base.WindowResult` of the window.
    """
    from joulebench.meters.base import Meter

    m = meter if isinstance(meter, Meter) else get_meter(meter, **meter_kwargs)
    with m.window() as w:
        for _ in range(repeat):
            fn()
    return w.result

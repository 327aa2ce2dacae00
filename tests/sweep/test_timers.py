"""Iteration timers: CUDA events keep the host at most two iterations ahead of the GPU."""

from __future__ import annotations

from types import SimpleNamespace

from joulebench.sweep.timers import CpuTimer, CudaTimer


class _Event:
    """A CUDA event stand-in that remembers which ones the host waited for."""

    waited: list[int] = []

    def __init__(self, enable_timing: bool = False):
        self.n = len(_Event.made)
        _Event.made.append(self)

    def record(self) -> None:
        pass

    def synchronize(self) -> None:
        _Event.waited.append(self.n)

    made: list[_Event] = []


def _fake_torch() -> SimpleNamespace:
    _Event.made, _Event.waited = [], []
    return SimpleNamespace(cuda=SimpleNamespace(Event=_Event))


def test_the_cuda_timer_waits_for_the_iteration_two_launches_back():
    timer = CudaTimer(_fake_torch())
    timer.start()  # event 0
    for _ in range(4):
        timer.throttle(2)
        timer.mark()  # events 1..4: one per launched iteration
    # before the 3rd launch the host waits for the 1st iteration's event, before the 4th for the 2nd
    assert _Event.waited == [1, 2]


def test_the_cpu_timer_never_waits():
    timer = CpuTimer(clock=iter(range(10)).__next__)
    timer.start()
    timer.throttle(2)
    timer.mark()
    assert timer.completions() == [1]

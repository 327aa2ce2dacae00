"""Batch-size searches against synthetic energy-per-image curves (no torch, no meter)."""

from __future__ import annotations

import math

import pytest

from joulebench.errors import ConfigError
from joulebench.sweep.search import SEARCHES, Point, get_search, paper_search, plateau_search
from joulebench.sweep.stale import first_unscouted


class Curve:
    """A fake measure function: energy per image ``a / b + c + d * b``, out of memory above ``fits``."""

    def __init__(self, a=1.0, c=0.1, d=0.0, fits=10**9, error_at=None):
        self.a, self.c, self.d, self.fits, self.error_at = a, c, d, fits, error_at
        self.calls: list[tuple[int, str]] = []

    def energy(self, b: int) -> float:
        return self.a / b + self.c + self.d * b

    def __call__(self, b: int, phase: str) -> Point:
        self.calls.append((b, phase))
        if self.error_at is not None and b >= self.error_at:
            return Point(b, "error", None, phase)
        if b > self.fits:
            return Point(b, "oom", None, phase)
        return Point(b, "ok", self.energy(b), phase)

    def true_min(self, max_batch: int) -> float:
        return min(self.energy(b) for b in range(1, min(max_batch, self.fits) + 1))


def test_paper_doubles_then_bisects_to_the_oom_boundary():
    curve = Curve(fits=300)
    res = paper_search(curve, max_batch=65536)
    assert [b for b, _ in curve.calls[:10]] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    assert res.largest_fit == 300 and res.first_fail == 301
    assert res.stopped == "oom"
    assert all(phase == "full" for _, phase in curve.calls)
    assert len(set(res.measured)) == len(res.measured)  # nothing measured twice
    # bisection between 256 and 512 takes log2(256) = 8 steps
    assert len(res.measured) == 10 + 8


def test_paper_stops_at_max_batch_including_a_non_power_of_two():
    curve = Curve()
    res = paper_search(curve, max_batch=100)
    assert res.measured == [1, 2, 4, 8, 16, 32, 64, 100]
    assert res.stopped == "max_batch" and res.first_fail is None


def test_paper_oom_at_batch_one_measures_nothing_else():
    res = paper_search(Curve(fits=0), max_batch=1024)
    assert res.measured == [1] and res.best is None and res.stopped == "oom"


@pytest.mark.parametrize(
    "a,c,d",
    [
        (1.0, 0.05, 0.0),  # monotone, flattening (launch overhead amortised)
        (1.0, 0.02, 1e-5),  # convex with an interior minimum near sqrt(a/d) ~ 316
        (5.0, 0.5, 2e-3),  # minimum near 50
        (0.2, 1.0, 1e-4),  # flat early: minimum near 45
    ],
)
def test_plateau_finds_the_minimum_of_unimodal_curves_cheaply(a, c, d):
    max_batch = 4096
    curve = Curve(a=a, c=c, d=d, fits=3000)
    res = plateau_search(curve, max_batch=max_batch)
    best = res.best
    assert best is not None and best.status == "ok"
    assert best.energy_per_image_j <= curve.true_min(max_batch) * 1.02
    paper = Curve(a=a, c=c, d=d, fits=3000)
    paper_search(paper, max_batch=max_batch)
    full = [b for b, p in curve.calls if p == "full"]
    assert len(full) <= 3  # only the final candidates get full windows
    assert len(curve.calls) < len(paper.calls)


def test_plateau_stops_after_two_flat_doublings():
    # improvements: 1->2 large, then flat from 64 on (c dominates): stops two doublings after the last gain
    curve = Curve(a=1.0, c=1000.0)
    res = plateau_search(curve, max_batch=65536)
    scouts = [b for b, p in curve.calls if p == "scout"]
    assert res.stopped == "plateau"
    assert scouts == [1, 2, 4]
    # refinement around the best scouted batch (4): midpoint to its lower neighbour (3); 4 re-measured in full
    assert sorted(b for b, p in curve.calls if p == "full") == [3, 4]


class Table(Curve):
    """A measured curve given as a table of energy per image by batch (what is not listed fits, at the last value)."""

    def __init__(self, table: dict[int, float]):
        super().__init__()
        self.table = table

    def energy(self, b: int) -> float:
        below = [k for k in self.table if k <= b]
        return self.table[max(below)] if below else self.table[min(self.table)]


def test_plateau_goes_on_when_the_curve_falls_again_after_a_bump():
    # vgg16 under compile-fp16 on the H200 (mJ per image, scouts): a bump at 16, falling again at 32; the old
    # rule stopped there and kept batch 8; the curve's real minimum lies far above
    curve = Table({1: 231.0, 2: 144.0, 4: 91.0, 8: 74.0, 16: 102.7, 32: 83.3, 64: 60.0, 128: 50.0, 256: 47.0})
    res = plateau_search(curve, max_batch=65536)
    scouts = [b for b, p in curve.calls if p == "scout"]
    assert scouts == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    assert res.stopped == "plateau"
    assert res.best.batch_size >= 256 and res.best.energy_per_image_j == 47.0


def test_plateau_bump_extension_is_bounded_on_a_zigzag():
    # a curve that zigzags around its best without ever beating it: falling steps extend the search, but at
    # most patience (2) more doublings than the plain rule
    zig = {1: 10.0, 2: 5.0, 4: 6.0, 8: 5.5, 16: 6.0, 32: 5.5, 64: 6.0, 128: 5.5, 256: 6.0, 512: 5.5}
    curve = Table(zig)
    res = plateau_search(curve, max_batch=65536)
    scouts = [b for b, p in curve.calls if p == "scout"]
    assert res.stopped == "plateau"
    assert scouts == [1, 2, 4, 8, 16]  # plain rule: [1, 2, 4, 8]; 8 fell, so 16 is tried; it rose: stop
    assert res.best.batch_size == 2


def test_plateau_bump_extension_ends_after_twice_the_patience():
    # falling steadily after a bump but never back to the best: four doublings without a new best end it
    curve = Table({1: 10.0, 2: 5.0, 4: 9.0, 8: 8.0, 16: 7.0, 32: 6.0, 64: 5.5, 128: 4.0})
    res = plateau_search(curve, max_batch=65536)
    assert [b for b, p in curve.calls if p == "scout"] == [1, 2, 4, 8, 16, 32]
    assert res.stopped == "plateau"


def test_plateau_rising_curve_still_stops_after_patience():
    curve = Table({1: 10.0, 2: 5.0, 4: 6.0, 8: 7.0, 16: 8.0})
    plateau_search(curve, max_batch=65536)
    assert [b for b, p in curve.calls if p == "scout"] == [1, 2, 4, 8]


def test_replaying_stored_ladders_finds_those_the_current_rule_would_continue():
    def ladder(table, oom_at=None):
        pts = {b: Point(b, "ok", e, "scout") for b, e in table.items()}
        if oom_at is not None:
            pts[oom_at] = Point(oom_at, "oom", None, "scout")
        return pts

    vgg16 = {1: 231.0, 2: 144.0, 4: 91.0, 8: 74.0, 16: 102.7, 32: 83.3}  # stored before the bump rule
    assert first_unscouted(ladder(vgg16), max_batch=65536) == 64
    rising = {1: 10.0, 2: 5.0, 4: 6.0, 8: 7.0}
    assert first_unscouted(ladder(rising), max_batch=65536) is None  # the current rule ends there too
    assert first_unscouted(ladder({1: 10.0, 2: 5.0, 4: 4.0}, oom_at=8), max_batch=65536) is None  # memory ended it
    assert first_unscouted(ladder({1: 10.0, 2: 5.0}), max_batch=2) is None  # so did the maximum
    capped = {1: 10.0, 2: 5.0, 4: 4.0, 6: 3.9}  # the scan's last scout at its predicted memory limit, not 8
    assert first_unscouted(ladder(capped), max_batch=65536, search="scan") is None
    assert first_unscouted(ladder({1: 10.0, 2: 5.0, 4: 4.0}), max_batch=65536) == 8  # still improving: cut short
    assert first_unscouted(ladder({16: 9.0, 32: 8.0, 64: 8.0, 128: 8.0}), max_batch=65536, start=16) is None


def test_plateau_refines_towards_the_oom_boundary():
    curve = Curve(a=1.0, c=0.001, fits=700)  # still improving when memory runs out at 1024
    res = plateau_search(curve, max_batch=65536)
    assert res.stopped == "oom"
    assert [b for b, p in curve.calls if p == "scout"][-1] == 1024
    full = sorted(b for b, p in curve.calls if p == "full")
    assert full == [384, 512, 768]  # 768 does not fit: recorded, and 512 stays the best
    assert res.best.batch_size == 512 and res.first_fail == 768


def test_non_memory_error_ends_the_search_without_bisection():
    curve = Curve(error_at=16)
    res = paper_search(curve, max_batch=1024)
    assert res.measured == [1, 2, 4, 8, 16] and res.stopped == "error"
    res = plateau_search(Curve(error_at=16), max_batch=1024)
    assert res.stopped == "error" and res.best.batch_size == 8


def test_should_stop_interrupts_between_batches():
    curve = Curve()
    n = iter(range(100))
    res = paper_search(curve, max_batch=4096, should_stop=lambda: next(n) >= 3)
    assert res.measured == [1, 2, 4] and res.stopped == "interrupted"


def test_scout_can_be_turned_off():
    curve = Curve(a=1.0, c=1.0)
    plateau_search(curve, max_batch=64, scout=False)
    assert {p for _, p in curve.calls} == {"full"}


def test_searches_are_registered_by_name():
    assert SEARCHES.names() == ["paper", "plateau", "scan"]
    assert get_search("plateau") is plateau_search
    with pytest.raises(ConfigError, match="plateau"):
        get_search("platau")


def test_best_prefers_full_windows_over_scouts():
    # a scout reading luckily low must not become the optimum once full windows exist
    calls = {}

    def measure(b, phase):
        calls[(b, phase)] = True
        e = 1.0 / b + 0.1
        if phase == "scout" and b == 8:
            e *= 0.5
        return Point(b, "ok", e, phase)

    res = plateau_search(measure, max_batch=8)
    assert res.best.phase == "full"
    assert not math.isinf(res.best.energy_per_image_j)

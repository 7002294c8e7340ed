"""APGR, CPT and the bootstrap on cases small enough to compute by hand."""

from __future__ import annotations

import numpy as np
import pytest

from keyroute.router.metrics import (
    DegenerateGap,
    apgr,
    apgr_of_outcomes,
    bootstrap,
    curve,
)

# strong/weak correctness of four prompts: mean strong 0.75, mean weak 0.25, gap 0.5
STRONG = [1, 1, 1, 0]
WEAK = [0, 0, 1, 0]


def test_best_order_by_hand() -> None:
    c = curve([4, 3, 2, 1], STRONG, WEAK)
    assert c.share.tolist() == [0, 0.25, 0.5, 0.75, 1]
    assert c.pgr.tolist() == [0, 0.5, 1, 1, 1]
    # trapezoids: .25*.25 + .25*.75 + .25 + .25
    assert c.apgr() == pytest.approx(0.75)
    assert c.cpt(0.5) == 0.25
    assert c.cpt(0.8) == 0.5
    assert c.threshold.tolist() == [np.inf, 4, 3, 2, 1]


def test_worst_order_by_hand() -> None:
    assert apgr([1, 2, 3, 4], strong=STRONG, weak=WEAK) == pytest.approx(0.25)
    assert curve([1, 2, 3, 4], STRONG, WEAK).cpt(0.8) == 1.0


def test_constant_scores_are_random_routing() -> None:
    assert apgr([0.3] * 4, strong=STRONG, weak=WEAK) == pytest.approx(0.5)


def test_ties_are_one_step() -> None:
    c = curve([2, 2, 1, 1], STRONG, WEAK)
    assert c.share.tolist() == [0, 0.5, 1]
    assert c.apgr() == pytest.approx(0.75)


def test_decisions_give_one_operating_point() -> None:
    # (0,0) -> (0.25, 0.5) -> (1, 1): .25*.25 + .75*.75
    flags = [True, False, False, False]
    assert apgr(flags, strong=STRONG, weak=WEAK) == pytest.approx(0.625)
    outcomes = list(zip(flags, STRONG, WEAK, strict=True))
    assert apgr_of_outcomes(outcomes) == pytest.approx(0.625)


def test_graded_quality() -> None:
    # AlpacaEval-style: strong 0.5 everywhere, weak a win probability
    assert apgr([0.9, 0.1], strong=[0.5, 0.5], weak=[0.1, 0.4]) == pytest.approx(
        0.5 * (0.8 / 2) + 0.5 * (0.8 + 1) / 2
    )


def test_bad_input() -> None:
    with pytest.raises(DegenerateGap):
        apgr([1, 2], strong=[1, 0], weak=[0, 1])
    with pytest.raises(ValueError, match="same length"):
        apgr([1, 2, 3], strong=[1, 0], weak=[0, 0])
    with pytest.raises(ValueError, match="no prompts"):
        apgr([], strong=[], weak=[])
    with pytest.raises(ValueError, match="NaN"):
        apgr([float("nan"), 1], strong=[1, 0], weak=[0, 0])
    with pytest.raises(ValueError, match="no prompts"):
        apgr_of_outcomes([])


def test_bootstrap_interval() -> None:
    rng = np.random.default_rng(7)
    strong = rng.integers(0, 2, 400)
    weak = strong * rng.integers(0, 2, 400)  # weak never beats strong
    informative = strong - weak + rng.random(400) * 0.5
    report = bootstrap(informative, strong, weak, rounds=200, seed=1)
    assert report.apgr.low <= report.apgr.value <= report.apgr.high
    assert report.apgr.excludes(0.5)
    assert report.cpt80.value <= 1.0
    again = bootstrap(informative, strong, weak, rounds=200, seed=1)
    assert again == report
    noise = bootstrap(rng.random(400), strong, weak, rounds=200, seed=1)
    assert not noise.apgr.excludes(0.5)
    assert str(report.apgr).count("[") == 1

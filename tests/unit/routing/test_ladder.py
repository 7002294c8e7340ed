"""``keyroute.routing.ladder``: thresholds splitting the scores between a policy's candidates."""

from __future__ import annotations

import pytest

from keyroute.routing.ladder import ladder, rung, strong_share


def linear(share: float) -> float:
    """A calibration where the threshold for a strong share ``s`` is ``1 - s``."""
    return 1.0 - share


def stepped(share: float) -> float:
    """A calibration with a flat stretch (many equal scores), as interpolated curves have."""
    return 0.8 if share < 0.5 else 0.2


def test_the_strong_share_is_read_back_from_the_calibration() -> None:
    assert strong_share(0.75, linear) == pytest.approx(0.25)
    assert strong_share(float("inf"), linear) == 0.0  # no score reaches it
    assert strong_share(-1.0, linear) == 1.0
    assert strong_share(1.5, linear) == 0.0
    assert strong_share(0.5, stepped) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("top", "candidates", "expected"),
    [
        (0.75, 1, ()),
        (0.75, 2, (0.75,)),
        (0.75, 3, (0.375, 0.75)),
        (0.75, 4, (0.25, 0.5, 0.75)),
        (0.95, 4, (0.95 / 3, 2 * 0.95 / 3, 0.95)),
        (float("inf"), 3, (0.5, float("inf"))),  # nothing to the strongest: the others split all
        (0.0, 3, (0.0, 0.0)),  # everything to the strongest
    ],
)
def test_ladders(top: float, candidates: int, expected: tuple[float, ...]) -> None:
    assert ladder(top, candidates, linear) == pytest.approx(expected)


def test_a_ladder_is_sorted_even_where_the_calibration_is_flat() -> None:
    rungs = ladder(0.5, 4, stepped)
    assert list(rungs) == sorted(rungs) and rungs[-1] == 0.5


@pytest.mark.parametrize(
    ("score", "expected"),
    [(0.0, 0), (0.24, 0), (0.25, 1), (0.49, 1), (0.5, 2), (0.75, 3), (1.0, 3)],
)
def test_a_score_climbs_as_many_rungs_as_it_reaches(score: float, expected: int) -> None:
    assert rung(score, (0.25, 0.5, 0.75)) == expected
    assert rung(score, ()) == 0

"""The threshold ladder: which of a policy's candidates a difficulty score asks for.

A policy's candidates run from the cheapest to the strongest. With two, one threshold splits the
scores: at or above it the strong model answers. With ``n`` candidates the scores are split by
``n - 1`` thresholds, one per rung above the cheapest; a score at or above rung ``k``'s
threshold (and below rung ``k + 1``'s) asks for candidate ``k``.

The top rung's threshold is the policy's, from its quality knob, so the strongest candidate gets
exactly the share of requests it would get in a two-model policy. The requests below it are
shared evenly between the cheaper candidates, in the scorer's calibrated share of traffic
rather than in raw score: with a strong share ``s``, rung ``k`` (of ``n - 1``) is the threshold
that sends ``s + (1 - s) * (n - 1 - k) / (n - 1)`` of the requests to candidate ``k`` or a
stronger one. Harder requests climb the ladder; a knob that sends more to the strongest model
(a higher ``quality``, a higher ``max_strong_share``) lifts every middle rung's share with it.

For a ``quality`` knob the strong share ``s`` is read back from the calibration (the smallest
share whose threshold is at or below the quality's). Pure and deterministic; the router computes
a ladder once per knob and number of candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

_STEPS = 40  # bisection steps: the share to within 1e-12


def strong_share(threshold: float, threshold_for_share: Callable[[float], float]) -> float:
    """The smallest share of strong calls whose threshold is at or below ``threshold``
    (``threshold_for_share`` is non-increasing in the share)."""
    if threshold_for_share(0.0) <= threshold:
        return 0.0
    if threshold_for_share(1.0) > threshold:
        return 1.0
    low, high = 0.0, 1.0  # threshold(low) > threshold >= threshold(high)
    for _ in range(_STEPS):
        middle = (low + high) / 2
        if threshold_for_share(middle) <= threshold:
            high = middle
        else:
            low = middle
    return high


def ladder(
    top: float, candidates: int, threshold_for_share: Callable[[float], float]
) -> tuple[float, ...]:
    """The ``candidates - 1`` thresholds, lowest rung first; the last is ``top``."""
    if candidates < 2:
        return ()
    steps = candidates - 1
    if steps == 1:
        return (top,)
    share = strong_share(top, threshold_for_share)
    rungs = [
        threshold_for_share(share + (1.0 - share) * (steps - k) / steps) for k in range(1, steps)
    ]
    rungs.append(top)
    # The calibration's thresholds are non-increasing in the share; keep the ladder sorted even
    # where its interpolation is flat or the top threshold sits outside its range.
    for k in range(len(rungs) - 2, -1, -1):
        rungs[k] = min(rungs[k], rungs[k + 1])
    return tuple(rungs)


def rung(score: float, thresholds: Sequence[float]) -> int:
    """The candidate ``score`` asks for: how many thresholds it reaches."""
    reached = 0
    for threshold in thresholds:
        if score < threshold:
            break
        reached += 1
    return reached

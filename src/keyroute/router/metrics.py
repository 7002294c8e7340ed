"""Routing quality metrics as RouteLLM defines them, for a strong and a weak model.

For N prompts with the strong and weak model's quality on each (0/1 correctness, or a graded
score in [0, 1]) and a router's score (higher = harder = send to the strong model):

- ``PGR`` (performance gap recovered) at a threshold:
  ``(quality routed - quality weak) / (quality strong - quality weak)``;
- ``APGR``: the area under PGR as a function of the share of calls sent to the strong model,
  from 0 to 1 (random routing: 0.5);
- ``CPT(x)``: the smallest share of calls to the strong model whose PGR reaches ``x``.

Prompts with the same score cannot be told apart by a threshold: the curve has one point per
distinct score and is linear between them (the expectation over the order of tied prompts).
A router seen only through its decisions (a boolean per prompt) gives a single operating point:
the curve runs from (0, 0) through that point to (1, 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


class DegenerateGap(ValueError):
    """The strong and the weak model have the same mean quality: PGR is undefined."""


@dataclass(frozen=True, slots=True)
class Curve:
    """PGR against the share of calls to the strong model, at each distinct score."""

    share: Floats  # increasing from 0 to 1
    pgr: Floats
    threshold: Floats  # the score from which prompts go to the strong model (inf at share 0)

    def apgr(self) -> float:
        widths = np.diff(self.share)
        return float(np.sum(widths * (self.pgr[1:] + self.pgr[:-1]) / 2))

    def cpt(self, target: float) -> float:
        """The smallest share of strong calls whose PGR reaches ``target`` (1.0 if none)."""
        reached = np.flatnonzero(self.pgr >= target - 1e-12)
        return float(self.share[reached[0]]) if len(reached) else 1.0


def _arrays(
    scores: Sequence[float] | npt.ArrayLike,
    strong: Sequence[float] | npt.ArrayLike,
    weak: Sequence[float] | npt.ArrayLike,
) -> tuple[Floats, Floats, Floats]:
    s = np.asarray(scores, dtype=np.float64)
    q_s = np.asarray(strong, dtype=np.float64)
    q_w = np.asarray(weak, dtype=np.float64)
    if not (s.ndim == q_s.ndim == q_w.ndim == 1 and len(s) == len(q_s) == len(q_w)):
        raise ValueError("scores, strong and weak must be flat sequences of the same length")
    if len(s) == 0:
        raise ValueError("no prompts")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    return s, q_s, q_w


def curve(
    scores: Sequence[float] | npt.ArrayLike,
    strong: Sequence[float] | npt.ArrayLike,
    weak: Sequence[float] | npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> Curve:
    """The PGR curve of ``scores`` (``weights``: how often each prompt counts, for bootstrap)."""
    s, q_s, q_w = _arrays(scores, strong, weak)
    w = np.ones_like(s) if weights is None else np.asarray(weights, dtype=np.float64)
    total = w.sum()
    mean_s = float(np.dot(w, q_s) / total)
    mean_w = float(np.dot(w, q_w) / total)
    gap = mean_s - mean_w
    if abs(gap) < 1e-12:
        raise DegenerateGap("the strong and the weak model have the same mean quality")
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    w_sorted = w[order]
    gain = np.cumsum(w_sorted * (q_s[order] - q_w[order]))
    calls = np.cumsum(w_sorted)
    # the last prompt of each group of equal scores: a threshold can only fall between groups
    last = np.flatnonzero(np.append(s_sorted[1:] != s_sorted[:-1], True))
    share = np.concatenate(([0.0], calls[last] / total))
    pgr = np.concatenate(([0.0], gain[last] / total / gap))
    threshold = np.concatenate(([np.inf], s_sorted[last]))
    return Curve(share=share, pgr=pgr, threshold=threshold)


def apgr(
    scores: Sequence[float] | npt.ArrayLike,
    *,
    strong: Sequence[float] | npt.ArrayLike,
    weak: Sequence[float] | npt.ArrayLike,
) -> float:
    """APGR of a router from its scores, or from its decisions (``True``: sent to strong)."""
    return curve(scores, strong, weak).apgr()


def apgr_of_outcomes(outcomes: Sequence[tuple[float | bool, float, float]]) -> float:
    """APGR from ``(score or sent-to-strong flag, strong quality, weak quality)`` triples."""
    if not outcomes:
        raise ValueError("no prompts")
    scores, strong, weak = zip(*outcomes, strict=True)
    return apgr([float(x) for x in scores], strong=strong, weak=weak)


@dataclass(frozen=True, slots=True)
class Estimate:
    """A metric on the sample and its bootstrap percentile 95% confidence interval."""

    value: float
    low: float
    high: float

    def excludes(self, value: float) -> bool:
        return not self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


@dataclass(frozen=True, slots=True)
class Report:
    """APGR, CPT(50%) and CPT(80%) of one router on one test set, with their intervals."""

    apgr: Estimate
    cpt50: Estimate
    cpt80: Estimate


def bootstrap(
    scores: npt.ArrayLike,
    strong: npt.ArrayLike,
    weak: npt.ArrayLike,
    *,
    rounds: int = 1000,
    seed: int = 0,
) -> Report:
    """The metrics with percentile bootstrap intervals (prompts resampled with replacement)."""
    s, q_s, q_w = _arrays(scores, strong, weak)
    rng = np.random.default_rng(seed)
    values: list[tuple[float, float, float]] = []
    for counts in rng.multinomial(len(s), np.full(len(s), 1 / len(s)), size=rounds):
        try:
            c = curve(s, q_s, q_w, weights=counts)
        except DegenerateGap:
            continue
        values.append((c.apgr(), c.cpt(0.5), c.cpt(0.8)))
    full = curve(s, q_s, q_w)
    point = (full.apgr(), full.cpt(0.5), full.cpt(0.8))
    table = np.array(values)
    estimates = [
        Estimate(point[i], *(float(x) for x in np.percentile(table[:, i], [2.5, 97.5])))
        for i in range(3)
    ]
    return Report(*estimates)

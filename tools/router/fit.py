"""Featurising examples and fitting the logistic scorer (training only: scikit-learn, scipy)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.router import features
from keyroute.router.features import TABLE_SIZE
from keyroute.router.model import Calibration, Scorer, calibrate
from tools.router.data import Example

Indexed = features.Features


def request_of(text: str) -> ChatRequest:
    """The request a client would send with ``text`` as its one user turn."""
    return ChatRequest(
        model="auto", messages=(Message(role="user", content=(TextPart(text=text),)),)
    )


def featurise(examples: Sequence[Example]) -> list[Indexed]:
    return [features.extract(request_of(e.text)) for e in examples]


class FeatureCache:
    """``featurise`` that extracts each distinct prompt once (evaluation reads some many times)."""

    def __init__(self) -> None:
        self._rows: dict[str, Indexed] = {}

    def __call__(self, examples: Sequence[Example]) -> list[Indexed]:
        out = []
        for e in examples:
            row = self._rows.get(e.text)
            if row is None:
                row = self._rows[e.text] = features.extract(request_of(e.text))
            out.append(row)
        return out


def matrix(rows: Sequence[Indexed], alpha: Sequence[float]) -> sp.csr_matrix:
    """The rows as the sparse matrix whose product with the weights is ``Scorer.logit``."""
    data, cols, indptr = [], [], [0]
    total = 0
    for row in rows:
        for indices, a in zip(row.indices, alpha, strict=True):
            if len(indices):
                cols.append(indices.astype(np.int64))
                data.append(np.full(len(indices), 1.0 / len(indices) ** a))
                total += len(indices)
        indptr.append(total)
    m = sp.csr_matrix(
        (np.concatenate(data), np.concatenate(cols), np.array(indptr)),
        shape=(len(rows), TABLE_SIZE),
    )
    m.sum_duplicates()
    return m


# Sources whose rows carry a meaningful group (MMLU subject, MMLU-Pro category, MT-Bench
# category); GSM8K's rows are one group, the whole data set.
GROUPED = ("mmlu", "mmlu_pro", "mtbench")


def group_gains(examples: Sequence[Example]) -> dict[tuple[str, str], float]:
    """The mean gain (strong quality - weak quality) of each (source, group) in ``examples``."""
    sums: dict[tuple[str, str], list[float]] = {}
    for e in examples:
        total = sums.setdefault((e.source, e.group), [0.0, 0.0])
        total[0] += e.strong - e.weak
        total[1] += 1
    return {k: v[0] / v[1] for k, v in sums.items()}


def targets(
    examples: Sequence[Example],
    label: str,
    smoothing: float = 0.0,
    priors: dict[tuple[str, str], float] | None = None,
) -> np.ndarray:
    """The probability the model learns: that the prompt needs the strong model.

    ``gain``: (strong - weak + 1) / 2, with the gain of a row of a grouped source pulled towards
    its group's mean gain (``priors``, from the training rows) by ``smoothing``: one prompt's
    0/1 outcomes are mostly noise, its subject's mean is not, and what the model can read in a
    prompt (its subject, its kind of question) is what that mean rewards.
    """
    strong = np.array([e.strong for e in examples])
    weak = np.array([e.weak for e in examples])
    if label == "weak_wrong":
        return 1.0 - weak
    if label != "gain":
        raise ValueError(label)
    gain = strong - weak
    if smoothing and priors is not None:
        prior = np.array([priors.get((e.source, e.group), 0.0) for e in examples])
        grouped = np.array([e.source in GROUPED for e in examples])
        gain = np.where(grouped, (1 - smoothing) * gain + smoothing * prior, gain)
    return np.clip((gain + 1.0) / 2.0, 0.0, 1.0)


@dataclass(frozen=True)
class Params:
    c: float
    alpha: tuple[float, ...]
    label: str
    smoothing: float = 0.0

    def describe(self) -> dict[str, object]:
        return {
            "C": self.c,
            "alpha": list(self.alpha),
            "label": self.label,
            "smoothing": self.smoothing,
        }


def fit(
    rows: Sequence[Indexed], examples: Sequence[Example], params: Params
) -> tuple[np.ndarray, float]:
    """Logistic regression on soft targets (each row twice: label 1 with weight p, 0 with 1-p)."""
    x = matrix(rows, params.alpha)
    p = targets(examples, params.label, params.smoothing, group_gains(examples))
    keep = p > 0
    drop = p < 1
    xx = sp.vstack([x[keep], x[drop]]).tocsr()
    y = np.concatenate([np.ones(keep.sum()), np.zeros(drop.sum())])
    w = np.concatenate([p[keep], 1 - p[drop]])
    # the dual problem: far fewer rows than hashed features, so it converges several times faster
    model = LogisticRegression(
        C=params.c,
        solver="liblinear",
        dual=True,
        max_iter=1000,
        intercept_scaling=10,
        random_state=0,
    )
    model.fit(xx, y, sample_weight=w)
    return model.coef_[0].astype(np.float32), float(model.intercept_[0])


def scorer(
    weights: np.ndarray, bias: float, params: Params, calibration: Calibration | None = None
) -> Scorer:
    if calibration is None:
        calibration = Calibration((0.0, 1.0), (1.0, 0.0), (0.0, 1.0))
    return Scorer(weights=weights, bias=bias, alpha=params.alpha, calibration=calibration)


def scores(model: Scorer, rows: Sequence[Indexed]) -> np.ndarray:
    """``model.score_features`` of each row, as one sparse product (the same numbers)."""
    logits = matrix(rows, model.alpha) @ model.weights.astype(np.float64) + model.bias
    return np.clip(1.0 / (1.0 + np.exp(-logits)), 1e-6, 1.0 - 1e-6)


def calibration_of(
    model: Scorer, rows: Sequence[Indexed], examples: Sequence[Example]
) -> Calibration:
    return calibrate(scores(model, rows), [e.strong for e in examples], [e.weak for e in examples])

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

Indexed = tuple[np.ndarray, ...]


def request_of(text: str) -> ChatRequest:
    """The request a client would send with ``text`` as its one user turn."""
    return ChatRequest(
        model="auto", messages=(Message(role="user", content=(TextPart(text=text),)),)
    )


def featurise(examples: Sequence[Example]) -> list[Indexed]:
    return [features.extract(request_of(e.text)).indices for e in examples]


def matrix(rows: Sequence[Indexed], alpha: Sequence[float]) -> sp.csr_matrix:
    """The rows as the sparse matrix whose product with the weights is ``Scorer.logit``."""
    data, cols, indptr = [], [], [0]
    total = 0
    for families in rows:
        for indices, a in zip(families, alpha, strict=True):
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


def targets(examples: Sequence[Example], label: str) -> np.ndarray:
    """The probability the model learns: that the prompt needs the strong model."""
    strong = np.array([e.strong for e in examples])
    weak = np.array([e.weak for e in examples])
    if label == "weak_wrong":
        return 1.0 - weak
    if label == "gain":
        return np.clip((strong - weak + 1.0) / 2.0, 0.0, 1.0)
    raise ValueError(label)


@dataclass(frozen=True)
class Params:
    c: float
    alpha: tuple[float, ...]
    label: str

    def describe(self) -> dict[str, object]:
        return {"C": self.c, "alpha": list(self.alpha), "label": self.label}


def fit(
    rows: Sequence[Indexed], examples: Sequence[Example], params: Params
) -> tuple[np.ndarray, float]:
    """Logistic regression on soft targets (each row twice: label 1 with weight p, 0 with 1-p)."""
    x = matrix(rows, params.alpha)
    p = targets(examples, params.label)
    keep = p > 0
    drop = p < 1
    xx = sp.vstack([x[keep], x[drop]]).tocsr()
    y = np.concatenate([np.ones(keep.sum()), np.zeros(drop.sum())])
    w = np.concatenate([p[keep], 1 - p[drop]])
    model = LogisticRegression(C=params.c, solver="liblinear", max_iter=1000, intercept_scaling=10)
    model.fit(xx, y, sample_weight=w)
    return model.coef_[0].astype(np.float32), float(model.intercept_[0])


def scorer(
    weights: np.ndarray, bias: float, params: Params, calibration: Calibration | None = None
) -> Scorer:
    if calibration is None:
        calibration = Calibration((0.0, 1.0), (1.0, 0.0), (0.0, 1.0))
    return Scorer(weights=weights, bias=bias, alpha=params.alpha, calibration=calibration)


def scores(model: Scorer, rows: Sequence[Indexed]) -> np.ndarray:
    return np.array([model.score_features(features.Features(indices=r)) for r in rows])


def calibration_of(
    model: Scorer, rows: Sequence[Indexed], examples: Sequence[Example]
) -> Calibration:
    return calibrate(scores(model, rows), [e.strong for e in examples], [e.weak for e in examples])

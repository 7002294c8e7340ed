"""The difficulty scorer: a logistic model over ``features.extract``, shipped as package data.

``Scorer.load()`` reads ``scorer.json`` (bias, per-family scaling, calibration, provenance) and
``scorer.npz`` (the weight table) from this package; nothing is downloaded. ``score(request)``
is the model's probability that the request needs the strong model: in [0, 1], higher = harder.
A request goes to the strong model when ``score >= threshold``.

A family with ``n`` indices contributes ``sum(weights[indices]) / n**alpha`` (``alpha`` per
family, chosen on validation data). The calibration curve (from validation data only) maps a
policy's knob to a threshold: ``threshold_for_strong_share(s)`` sends a share ``s`` of the
validation prompts to the strong model; ``threshold_for_quality(q)`` is the highest threshold
whose routed quality is at least ``q`` times the strong model's (the reference) on that data.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from keyroute.core.chat import ChatRequest
from keyroute.core.errors import ConfigError
from keyroute.router import features
from keyroute.router.features import FAMILIES, TABLE_SIZE, Features

FORMAT = 1
PACKAGE_DIR = Path(__file__).resolve().parent
JSON_NAME = "scorer.json"
WEIGHTS_NAME = "scorer.npz"
_EPSILON = 1e-6


@dataclass(frozen=True, slots=True)
class Calibration:
    """The scorer on validation data: at each share of strong calls, the threshold giving it and
    the routed quality relative to the strong model's."""

    share: tuple[float, ...]  # increasing, 0 to 1
    threshold: tuple[float, ...]  # non-increasing
    quality: tuple[float, ...]  # routed quality / strong quality

    def __post_init__(self) -> None:
        n = len(self.share)
        if n < 2 or len(self.threshold) != n or len(self.quality) != n:
            raise ConfigError("router calibration: share, threshold and quality must align")
        if any(b < a for a, b in zip(self.share, self.share[1:], strict=False)):
            raise ConfigError("router calibration: share must be increasing")
        if any(b > a for a, b in zip(self.threshold, self.threshold[1:], strict=False)):
            raise ConfigError("router calibration: thresholds must be non-increasing")

    def for_strong_share(self, share: float) -> float:
        """The threshold sending ``share`` of the calls to the strong model."""
        if not 0.0 <= share <= 1.0:
            raise ValueError("a share of strong calls must lie in [0, 1]")
        return float(np.interp(share, self.share, self.threshold))

    def for_quality(self, quality: float) -> float:
        """The highest threshold whose routed quality reaches ``quality`` x the strong model's."""
        if not 0.0 <= quality <= 1.0:
            raise ValueError("a quality target must lie in [0, 1]")
        for threshold, reached in zip(self.threshold, self.quality, strict=True):
            if reached >= quality:
                return threshold
        return self.threshold[-1]

    def to_json(self) -> dict[str, list[float]]:
        return {
            "share": list(self.share),
            "threshold": list(self.threshold),
            "quality": list(self.quality),
        }


@dataclass(frozen=True, slots=True)
class Scorer:
    """A loaded scorer. Thread-safe and immutable; ``score`` does not allocate per family."""

    weights: npt.NDArray[np.float32]
    bias: float
    alpha: tuple[float, ...]  # per family, FAMILIES order
    calibration: Calibration
    info: Mapping[str, Any] = field(default_factory=dict)
    version: str = field(init=False)
    """Names this model: the feature version and the start of the weights' digest."""

    def __post_init__(self) -> None:
        if self.weights.shape != (TABLE_SIZE,) or self.weights.dtype != np.float32:
            raise ConfigError(f"router weights must be float32[{TABLE_SIZE}]")
        if len(self.alpha) != len(FAMILIES):
            raise ConfigError(f"router model needs one alpha per family {FAMILIES}")
        digest = weights_digest(self.weights)[:12]
        object.__setattr__(self, "version", f"lr{features.VERSION}-{digest}")

    @classmethod
    def load(cls, directory: Path | None = None) -> Scorer:
        """The model in ``directory`` (default: the one shipped in this package)."""
        if directory is None:
            return _shipped()
        return _read(directory)

    def logit(self, feats: Features) -> float:
        bounds = feats.bounds
        present = [i for i in range(len(self.alpha)) if bounds[i + 1] > bounds[i]]
        if not present:
            return self.bias
        # one gather and one segmented sum over every family
        values = np.take(self.weights, feats.joined)
        sums = np.add.reduceat(values, [bounds[i] for i in present], dtype=np.float64).tolist()
        total = self.bias
        for i, family_sum in zip(present, sums, strict=True):
            total += family_sum / (bounds[i + 1] - bounds[i]) ** self.alpha[i]
        return total

    def score_features(self, feats: Features) -> float:
        logit = self.logit(feats)
        value = 1.0 / (1.0 + math.exp(-logit)) if logit > -700 else 0.0
        return min(max(value, _EPSILON), 1.0 - _EPSILON)

    def score(self, request: ChatRequest) -> float:
        """How hard ``request`` is, in (0, 1): the probability it needs the strong model."""
        return self.score_features(features.extract(request))

    def threshold_for_strong_share(self, share: float) -> float:
        return self.calibration.for_strong_share(share)

    def threshold_for_quality(self, quality: float) -> float:
        return self.calibration.for_quality(quality)


def weights_digest(weights: npt.NDArray[np.float32]) -> str:
    return hashlib.sha256(np.ascontiguousarray(weights).tobytes()).hexdigest()


def _read(directory: Path) -> Scorer:
    try:
        meta = json.loads((directory / JSON_NAME).read_text(encoding="utf-8"))
        with np.load(directory / WEIGHTS_NAME, allow_pickle=False) as data:
            weights = np.asarray(data["weights"])
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"cannot read the router model in {directory}: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise ConfigError(f"router model format {meta.get('format')!r}, expected {FORMAT}")
    expected = {"feature_version": features.VERSION, "bits": features.BITS}
    for name, value in expected.items():
        if meta.get(name) != value:
            raise ConfigError(f"router model {name} {meta.get(name)!r}, expected {value}")
    if meta.get("families") != list(FAMILIES):
        raise ConfigError(f"router model families {meta.get('families')!r}, expected {FAMILIES}")
    if meta.get("weights_sha256") != weights_digest(weights):
        raise ConfigError("router model weights do not match their recorded digest")
    calibration = meta["calibration"]
    return Scorer(
        weights=weights,
        bias=float(meta["bias"]),
        alpha=tuple(float(a) for a in meta["alpha"]),
        calibration=Calibration(
            share=tuple(calibration["share"]),
            threshold=tuple(calibration["threshold"]),
            quality=tuple(calibration["quality"]),
        ),
        info=meta.get("training", {}),
    )


@functools.cache
def _shipped() -> Scorer:
    return _read(PACKAGE_DIR)


def write(
    directory: Path,
    *,
    weights: npt.NDArray[np.float32],
    bias: float,
    alpha: Sequence[float],
    calibration: Calibration,
    training: Mapping[str, Any],
) -> None:
    """Write a model ``Scorer.load(directory)`` reads back (used by the training tool)."""
    weights = np.ascontiguousarray(weights, dtype=np.float32)
    meta = {
        "format": FORMAT,
        "feature_version": features.VERSION,
        "bits": features.BITS,
        "families": list(FAMILIES),
        "bias": float(bias),
        "alpha": [float(a) for a in alpha],
        "weights_sha256": weights_digest(weights),
        "calibration": calibration.to_json(),
        "training": dict(training),
    }
    np.savez_compressed(directory / WEIGHTS_NAME, weights=weights)
    text = json.dumps(meta, indent=1, sort_keys=True) + "\n"
    (directory / JSON_NAME).write_text(text, encoding="utf-8")


def calibrate(
    scores: npt.ArrayLike, strong: npt.ArrayLike, weak: npt.ArrayLike, points: int = 101
) -> Calibration:
    """The calibration of a scorer from its scores on validation prompts."""
    s = np.asarray(scores, dtype=np.float64)
    q_s = np.asarray(strong, dtype=np.float64)
    q_w = np.asarray(weak, dtype=np.float64)
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    gain = np.concatenate(([0.0], np.cumsum(q_s[order] - q_w[order])))
    base = q_w.sum()
    strong_total = max(q_s.sum(), 1e-12)
    shares, thresholds, qualities = [], [], []
    n = len(s)
    for i in range(points):
        share = i / (points - 1)
        k = round(share * n)
        threshold = 1.0 if k == 0 else float(s_sorted[k - 1])
        shares.append(share)
        thresholds.append(threshold)
        qualities.append(float((base + gain[k]) / strong_total))
    # a threshold sends every prompt scoring at or above it: keep the curve non-increasing
    thresholds = list(np.minimum.accumulate(thresholds))
    return Calibration(tuple(shares), tuple(float(t) for t in thresholds), tuple(qualities))

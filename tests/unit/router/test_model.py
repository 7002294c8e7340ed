"""The scorer: the shipped model loads and is what the loader expects; thresholds; round trip."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.core.errors import ConfigError
from keyroute.router import Calibration, Scorer, features
from keyroute.router.model import JSON_NAME, PACKAGE_DIR, WEIGHTS_NAME, calibrate, write

ROOT = Path(__file__).resolve().parents[3]


def _request(text: str) -> ChatRequest:
    return ChatRequest(
        model="auto", messages=(Message(role="user", content=(TextPart(text=text),)),)
    )


def test_shipped_model_is_what_the_loader_expects() -> None:
    meta = json.loads((PACKAGE_DIR / JSON_NAME).read_text(encoding="utf-8"))
    assert meta["feature_version"] == features.VERSION
    assert meta["bits"] == features.BITS
    assert meta["families"] == list(features.FAMILIES)
    scorer = Scorer.load()
    assert scorer is Scorer.load()  # read once per process
    assert scorer.version.startswith(f"lr{features.VERSION}-")
    assert scorer.weights.shape == (features.TABLE_SIZE,)
    assert np.count_nonzero(scorer.weights) > 1000  # trained, not a placeholder
    assert scorer.info["train_examples"] > 1000


def test_shipped_files_are_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data = pyproject["tool"]["setuptools"]["package-data"]["keyroute"]
    assert f"router/{JSON_NAME}" in data
    assert f"router/{WEIGHTS_NAME}" in data
    assert "numpy" in " ".join(pyproject["project"]["dependencies"])


def test_scores_are_deterministic_probabilities() -> None:
    scorer = Scorer.load()
    for text in ("hi", "Prove the Riemann hypothesis.\n" * 50, "", "x" * 20_000):
        value = scorer.score(_request(text))
        assert 0.0 < value < 1.0
        assert value == scorer.score(_request(text))
    empty = ChatRequest(model="auto", messages=())
    assert 0.0 < scorer.score(empty) < 1.0


def test_thresholds_follow_the_knobs() -> None:
    scorer = Scorer.load()
    assert scorer.threshold_for_strong_share(0.0) == 1.0
    assert scorer.threshold_for_strong_share(1.0) <= 1e-6 + min(scorer.calibration.threshold)
    shares = [scorer.threshold_for_strong_share(s / 20) for s in range(21)]
    assert shares == sorted(shares, reverse=True)
    qualities = [scorer.threshold_for_quality(q / 20) for q in range(21)]
    assert qualities == sorted(qualities, reverse=True)
    assert scorer.threshold_for_quality(0.0) == 1.0  # the weak model alone is enough
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="lie in"):
            scorer.threshold_for_strong_share(bad)
        with pytest.raises(ValueError, match="lie in"):
            scorer.threshold_for_quality(bad)


def test_calibration_by_hand() -> None:
    # scores, strong and weak of four prompts; strong total 3, weak total 1
    c = calibrate([0.9, 0.7, 0.4, 0.1], [1, 1, 1, 0], [0, 0, 1, 0], points=5)
    assert c.share == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert c.threshold == (1.0, 0.9, 0.7, 0.4, 0.1)
    assert c.quality == pytest.approx((1 / 3, 2 / 3, 1.0, 1.0, 1.0))
    assert c.for_quality(0.6) == 0.9
    assert c.for_quality(1.0) == 0.7
    assert c.for_strong_share(0.125) == pytest.approx(0.95)


def test_calibration_is_checked() -> None:
    with pytest.raises(ConfigError, match="align"):
        Calibration((0.0, 1.0), (1.0,), (0.0, 1.0))
    with pytest.raises(ConfigError, match="increasing"):
        Calibration((1.0, 0.0), (1.0, 0.0), (0.0, 1.0))
    with pytest.raises(ConfigError, match="non-increasing"):
        Calibration((0.0, 1.0), (0.0, 1.0), (0.0, 1.0))


def _write(directory: Path, weights: np.ndarray) -> None:
    write(
        directory,
        weights=weights,
        bias=-0.5,
        alpha=(0.5, 0.5, 0.5, 0.0),
        calibration=Calibration((0.0, 0.5, 1.0), (1.0, 0.4, 0.0), (0.8, 0.95, 1.0)),
        training={"note": "test"},
    )


def test_round_trip_and_logit(tmp_path: Path) -> None:
    weights = np.zeros(features.TABLE_SIZE, dtype=np.float32)
    request = _request("alpha beta")
    feats = features.extract(request)
    weights[feats.indices[1]] = 1.0  # each of the 3 word indices once
    _write(tmp_path, weights)
    scorer = Scorer.load(tmp_path)
    assert scorer.info == {"note": "test"}
    expected = -0.5 + 3.0 / 3**0.5
    assert scorer.logit(feats) == pytest.approx(expected, rel=1e-6)
    assert scorer.score(request) == pytest.approx(1 / (1 + np.exp(-expected)))
    assert scorer.threshold_for_quality(0.9) == 0.4


def test_broken_model_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        Scorer.load(tmp_path)
    _write(tmp_path, np.zeros(features.TABLE_SIZE, dtype=np.float32))
    meta_path = tmp_path / JSON_NAME
    meta = json.loads(meta_path.read_text())
    for key, value, message in (
        ("feature_version", 999, "feature_version"),
        ("format", 0, "format"),
        ("families", ["x"], "families"),
        ("weights_sha256", "0" * 64, "digest"),
    ):
        meta_path.write_text(json.dumps(meta | {key: value}))
        with pytest.raises(ConfigError, match=message):
            Scorer.load(tmp_path)
    with pytest.raises(ConfigError, match="float32"):
        Scorer(
            weights=np.zeros(3, dtype=np.float32),
            bias=0.0,
            alpha=(1.0,) * 4,
            calibration=Calibration((0.0, 1.0), (1.0, 0.0), (0.0, 1.0)),
        )

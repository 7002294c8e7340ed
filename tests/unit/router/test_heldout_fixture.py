"""The held-out fixture (tests/fixtures/router/heldout_mmlu.jsonl) and APGR over it.

The fixture holds MMLU prompts of the random test split with GPT-4-1106 and Mixtral-8x7B
correctness (written by ``python -m tools.router.fixture``); the gateway's acceptance test
routes them through ``model: "auto"`` and compares the APGR of the scores it reads back with the
offline APGR computed here the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.router import Scorer, metrics

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "router" / "heldout_mmlu.jsonl"


def rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]


def test_fixture_shape() -> None:
    fixture = rows()
    assert len(fixture) == 300
    for row in fixture:
        assert set(row) == {"source", "subject", "prompt", "strong", "weak"}
        assert row["strong"] in (0, 1) and row["weak"] in (0, 1)
        assert isinstance(row["prompt"], str) and row["prompt"].endswith("Answer:")
    strong = sum(float(r["strong"]) for r in fixture)
    weak = sum(float(r["weak"]) for r in fixture)
    assert strong > weak  # PGR is defined


def test_apgr_from_scores_and_from_outcomes_agree() -> None:
    scorer = Scorer.load()
    outcomes = []
    for row in rows():
        request = ChatRequest(
            model="auto",
            messages=(Message(role="user", content=(TextPart(text=str(row["prompt"])),)),),
        )
        outcomes.append((scorer.score(request), float(row["strong"]), float(row["weak"])))
    scores, strong, weak = zip(*outcomes, strict=True)
    value = metrics.apgr(scores, strong=strong, weak=weak)
    assert 0.0 < value < 1.0
    assert metrics.apgr_of_outcomes(outcomes) == pytest.approx(value)
    # decisions at one threshold: the curve (0, 0) -> (share, PGR) -> (1, 1)
    threshold = scorer.threshold_for_strong_share(0.5)
    flags = [(s >= threshold, q_s, q_w) for s, q_s, q_w in outcomes]
    share = sum(f for f, _, _ in flags) / len(flags)
    routed = sum(q_s if f else q_w for f, q_s, q_w in flags) / len(flags)
    gap = (sum(strong) - sum(weak)) / len(flags)
    pgr = (routed - sum(weak) / len(flags)) / gap
    expected = share * pgr / 2 + (1 - share) * (pgr + 1) / 2
    assert metrics.apgr_of_outcomes(flags) == pytest.approx(expected)

"""Where a client stands, in headers: OpenAI's reset durations."""

from __future__ import annotations

import pytest

from keyroute.admission.headers import duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.02, "20ms"), (-1.0, "0ms"), (1.0, "1s"), (11.2, "12s"), (59.5, "1m0s"), (61.0, "1m1s")],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text

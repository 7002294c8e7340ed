from __future__ import annotations

import pytest

from keyroute.alerts.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("1h", 3600), ("7d", 604_800), ("1h30m", 5400), (" 2H ", 7200)],
)
def test_parse(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "15", "m", "1.5h", "-1h", "0m", "1w", "1h x", "h1"])
def test_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="--window"):
        parse_duration(text, what="--window")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (900, "15m"), (5400, "1h30m"), (90_061, "1d1h1m1s")],
)
def test_format(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text

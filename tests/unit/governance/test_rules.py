"""``keyroute.governance.rules``: every value checked, one error naming the field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from keyroute.core.errors import InvalidRequest
from keyroute.governance import rules


def refused(check: object, value: object, param: str, words: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        check(value, param)  # type: ignore[operator]
    assert info.value.param == param
    assert words in info.value.message


@pytest.mark.parametrize(
    ("value", "pico"),
    [
        ("0", 0),
        ("25.50", 25_500_000_000_000),
        (" 1 ", 10**12),
        (12, 12 * 10**12),
        (0.5, 5 * 10**11),
        (Decimal("0.000000000001"), 1),
        ("9000000", 9_000_000 * 10**12),
    ],
)
def test_usd(value: object, pico: int) -> None:
    assert rules.usd(value, "daily") == pico


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("-1", "negative"),
        (-0.01, "negative"),
        ("abc", "Invalid amount"),
        ("", "Invalid amount"),
        ("NaN", "finite"),
        ("Infinity", "finite"),
        ("9000000.01", "at most 9,000,000"),
        ("0.0000000000001", "12 decimal places"),
        (True, "amount of USD"),
        (None, "amount of USD"),
        ([1], "amount of USD"),
    ],
)
def test_usd_refused(value: object, words: str) -> None:
    refused(rules.usd, value, "monthly", words)


@pytest.mark.parametrize(("value", "expected"), [(1, 1), ("60", 60), (" 7 ", 7), (10**12, 10**12)])
def test_per_minute(value: object, expected: int) -> None:
    assert rules.per_minute(value, "requests_per_minute") == expected


@pytest.mark.parametrize("value", [0, -1, "0", "1.5", 1.0, "ten", True, None, 10**12 + 1, "١٢"])
def test_per_minute_refused(value: object) -> None:
    refused(rules.per_minute, value, "tokens_per_minute", "whole number from 1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("unlimited", None), ("Unlimited", None), (0, 0), ("2500", 2500), (10**12, 10**12)],
)
def test_quota(value: object, expected: int | None) -> None:
    assert rules.quota(value) == expected


@pytest.mark.parametrize("value", [-1, "-5", "lots", 2.5, None, 10**12 + 1, False])
def test_quota_refused(value: object) -> None:
    refused(rules.quota, value, "quota", "'unlimited'")


@pytest.mark.parametrize("name", ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"])
def test_timezone(name: str) -> None:
    assert rules.timezone(name) == name


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("Mars/Olympus", "Unknown time zone"),
        ("europe/paris", "Unknown time zone"),
        ("../../etc/passwd", "Unknown time zone"),
        ("/usr/share/zoneinfo/UTC", "Unknown time zone"),
        ("", "Invalid time zone"),
        ("Europe/Paris\n", "Invalid time zone"),
        ("x" * 65, "Invalid time zone"),
        (5, "Invalid time zone"),
    ],
)
def test_timezone_refused(name: object, words: str) -> None:
    refused(rules.timezone, name, "timezone", words)


def test_end_user() -> None:
    assert rules.end_user("alice@example.com") == "alice@example.com"
    assert rules.end_user("u" * 256) == "u" * 256
    refused(rules.end_user, "", "user", "1 to 256")
    refused(rules.end_user, "u" * 257, "user", "1 to 256")
    refused(rules.end_user, "a\x00b", "user", "control character")
    refused(rules.end_user, 7, "user", "1 to 256")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("50,80,100", (50, 80, 100)), ([90], (90,)), ("100", (100,)), (" 25 , 75 ", (25, 75))],
)
def test_thresholds(value: object, expected: tuple[int, ...]) -> None:
    assert rules.thresholds(value) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("80,50", "increasing"),
        ("50,50", "increasing"),
        ("0,50", "from 1 to 100"),
        ("50,101", "from 1 to 100"),
        ("", "threshold"),
        ([], "increasing"),
    ],
)
def test_thresholds_refused(value: object, words: str) -> None:
    refused(rules.thresholds, value, "thresholds", words)


def test_caps() -> None:
    rules.caps(None, 5)
    rules.caps(5, None)
    rules.caps(5, 5)
    rules.caps(0, 0)
    with pytest.raises(InvalidRequest, match="daily cap, a monthly cap or both"):
        rules.caps(None, None)
    with pytest.raises(InvalidRequest, match="could never apply") as info:
        rules.caps(6, 5)
    assert info.value.param == "daily"

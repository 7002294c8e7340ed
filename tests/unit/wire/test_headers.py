"""``keyroute.wire.headers.retry_after_seconds``."""

from __future__ import annotations

import pytest

from keyroute.wire.headers import retry_after_seconds


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "20"}, 20.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "-1"}, 0.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the precise one wins
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),  # a bad ms value falls back
        ({"retry-after-ms": "soon"}, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),  # HTTP dates are not read
        ({"retry-after": ""}, None),
        ({"Retry-After": "5"}, None),  # the caller lower-cases names
        ({"other": "1"}, None),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers) == expected


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "inf"},
        {"retry-after": "1e999"},
        {"retry-after-ms": "Infinity"},
        {"retry-after": "-inf"},
    ],
)
def test_non_finite_retry_after_is_ignored(headers: dict[str, str]) -> None:
    assert retry_after_seconds(headers) is None


@pytest.mark.parametrize("headers", [{"retry-after": "nan"}, {"retry-after-ms": "nan"}])
def test_nan_retry_after_is_not_negative(headers: dict[str, str]) -> None:
    value = retry_after_seconds(headers)
    assert value is None or value >= 0

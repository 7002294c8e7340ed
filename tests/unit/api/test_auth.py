"""``keyroute.api.auth.gateway_key``: the gateway key from ``Authorization`` or ``x-api-key``."""

from __future__ import annotations

import pytest

from keyroute.api.auth import gateway_key


def check(headers: dict[bytes, bytes], expected: str | None) -> None:
    assert gateway_key({"headers": list(headers.items())}) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({b"authorization": b"Bearer kr-abc"}, "kr-abc"),
        ({b"authorization": b"bearer kr-abc"}, "kr-abc"),
        ({b"authorization": b"BEARER kr-abc"}, "kr-abc"),
        ({b"authorization": b"Bearer   kr-abc  "}, "kr-abc"),
        ({b"authorization": b"Bearer "}, None),
        ({b"authorization": b"Bearer"}, None),
        ({b"authorization": b"Basic a3I6eA=="}, None),
        ({b"authorization": b"kr-abc"}, None),
        ({b"authorization": b""}, None),
        ({b"x-api-key": b"kr-abc"}, "kr-abc"),
        ({b"x-api-key": b"  kr-abc "}, "kr-abc"),
        ({b"x-api-key": b""}, None),
        # Bearer wins; a non-bearer Authorization falls back to x-api-key
        ({b"authorization": b"Bearer kr-one", b"x-api-key": b"kr-two"}, "kr-one"),
        ({b"authorization": b"Basic x", b"x-api-key": b"kr-two"}, "kr-two"),
        ({b"authorization": b"Bearer ", b"x-api-key": b"kr-two"}, "kr-two"),
    ],
)
def test_gateway_key(headers: dict[bytes, bytes], expected: str | None) -> None:
    check(headers, expected)


def test_a_gateway_key_wins_over_another_header() -> None:
    both = {"headers": [(b"authorization", b"Bearer sk-sdk-default"), (b"x-api-key", b"kr-abc")]}
    assert gateway_key(both) == "kr-abc"
    neither = {"headers": [(b"authorization", b"Bearer sk-a"), (b"x-api-key", b"sk-b")]}
    assert gateway_key(neither) == "sk-a"
    assert gateway_key(neither, prefer_x_api_key=True) == "sk-b"

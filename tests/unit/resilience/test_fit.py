"""``keyroute.resilience.fit``: the calibrated prompt estimate and the window check."""

from __future__ import annotations

import pytest

from keyroute.core.chat import ChatRequest, ImagePart, Message, TextPart
from keyroute.resilience.fit import Footprint, prompt_tokens, text_tokens


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("abcd" * 10, 10),
        ("ж" * 10, 7),  # two-byte UTF-8: 0.7 a character
        ("漢" * 10, 10),  # three-byte: 1 a character
        ("ab" + "漢" * 2 + "ж" * 10, 0.5 + 2 + 7),
    ],
)
def test_text_tokens(text: str, tokens: float) -> None:
    assert text_tokens(text) == pytest.approx(tokens)


def test_prompt_tokens_count_messages_and_images() -> None:
    req = ChatRequest(
        model="m",
        messages=(
            Message(
                role="user",
                content=(TextPart(text="a" * 400), ImagePart(url="https://x.test/a.png")),
            ),
        ),
    )
    assert prompt_tokens(req) == 100 + 4 + 765


@pytest.mark.parametrize(
    ("prompt", "output", "window", "fits"),
    [
        (1000, 0, None, True),
        (1000, 0, 750, True),  # the estimate's lower bound is 750
        (1000, 0, 749, False),
        (1000, 100, 849, False),
    ],
)
def test_fits_uses_the_lower_bound(
    prompt: int, output: int, window: int | None, fits: bool
) -> None:
    assert Footprint(prompt=prompt, output=output).fits(window) is fits

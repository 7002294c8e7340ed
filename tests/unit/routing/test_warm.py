"""``keyroute.routing.warm``: the expected cost of a turn with and without the cache discount."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from keyroute.catalogue import builtin
from keyroute.core.chat import ChatRequest, Message, TextPart, ToolCall
from keyroute.routing.warm import FIRST_ANSWER_TOKENS, Option, choose, estimate, expected_output

DAY = date(2026, 12, 3)
CATALOGUE = builtin()
HAIKU = CATALOGUE.get("anthropic", "claude-haiku-5-5")
SONNET = CATALOGUE.get("anthropic", "claude-sonnet-5-5")
MINI = CATALOGUE.get("openai", "gpt-4.1-mini")


def msg(role: str, text: str, *calls: ToolCall) -> Message:
    return Message(role=role, content=(TextPart(text=text),), tool_calls=calls)  # type: ignore[arg-type]


def option(entry: object, warm: int = 0, writes: bool = True, model: str = "") -> Option:
    return Option(model=model, entry=entry, warm=warm, writes=writes)  # type: ignore[arg-type]


def usd(option: Option, prompt: int, output: int, ttl: str = "5m") -> Decimal | None:
    return estimate(option, prompt=prompt, output=output, day=DAY, ttl=ttl)


def test_expected_output_is_the_mean_earlier_answer() -> None:
    first = ChatRequest(model="auto", messages=(msg("user", "q"),))
    assert expected_output(first) == FIRST_ANSWER_TOKENS
    call = ToolCall(id="c1", name="lookup", arguments="x" * 394)
    later = ChatRequest(
        model="auto",
        messages=(msg("user", "q"), msg("assistant", "a" * 400), msg("assistant", "", call)),
    )
    assert expected_output(later) == 100  # (400 + 6 + 394) / 4 characters / 2 answers
    capped = ChatRequest(model="auto", messages=later.messages, max_tokens=30)
    assert expected_output(capped) == 30


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        # Haiku 5.5 cold: the prompt written at $0.125 (5m) or $0.20 (1h), answer at $0.50.
        ((option(HAIKU), 10_000, 100, "5m"), Decimal("0.0013")),
        ((option(HAIKU), 10_000, 100, "1h"), Decimal("0.00205")),
        # Below the minimum cacheable length nothing is written: the input price.
        ((option(HAIKU), 1_000, 100, "5m"), Decimal("0.00015")),
        # Without keyroute's breakpoints, no write either.
        ((option(HAIKU, writes=False), 10_000, 0, "5m"), Decimal("0.001")),
        # Sonnet 5.5 warm on 9,000: $0.10 cached, the 1,000 new tokens written at $2.50.
        ((option(SONNET, warm=9_000), 10_000, 100, "5m"), Decimal("0.0044")),
        # OpenAI bills no writes for gpt-4.1-mini: cold at $0.40, warm at $0.10.
        ((option(MINI), 10_000, 0, "5m"), Decimal("0.004")),
        ((option(MINI, warm=8_000), 10_000, 0, "5m"), Decimal("0.0016")),
        # Above 100,000 prompt tokens Haiku 5.5 bills its long-context band on every token:
        # 150,000 read at $0.05, the 50,000 new ones written at $0.625.
        ((option(HAIKU, warm=150_000), 200_000, 0, "5m"), Decimal("0.03875")),
        ((option(None), 10_000, 100, "5m"), None),
    ],
)
def test_estimates(case: tuple[Option, int, int, str], expected: Decimal | None) -> None:
    assert usd(*case) == expected


def test_a_model_without_a_price_on_the_day_is_not_priced() -> None:
    assert estimate(option(HAIKU), prompt=10, output=1, day=date(2000, 1, 1), ttl="5m") is None


def pick(options: list[Option], quality: int, output: int = 100) -> tuple[int, str] | None:
    choice = choose(options, quality, prompt=90_000, output=output, day=DAY, ttl="5m")
    return None if choice is None else (choice.index, choice.outcome)


def test_outcomes() -> None:
    haiku, sonnet = option(HAIKU, model="h"), option(SONNET, model="s")
    warm_sonnet = option(SONNET, warm=89_900, model="s")
    assert pick([haiku, sonnet], 0) is None  # cold everywhere: no say
    assert pick([haiku, warm_sonnet], 0) == (1, "stay")
    assert pick([haiku, warm_sonnet], 0, output=2000) == (0, "move")
    assert pick([haiku, warm_sonnet], 1) == (1, "warm")
    assert pick([option(HAIKU, warm=89_900, model="h"), sonnet], 1) == (1, "upgrade")
    # An unpriced model: the router cannot be confident, the conversation stays.
    assert pick([option(None, model="x"), warm_sonnet], 0, output=2000) == (1, "stay")
    # Warm on two stronger candidates: the cheaper warm one is weighed.
    three = [haiku, option(SONNET, warm=89_900, model="s"), option(MINI, warm=89_900, model="m")]
    choice = choose(three, 0, prompt=90_000, output=100, day=DAY, ttl="5m")
    assert choice is not None and choice.warm_model == "m" and choice.outcome == "stay"
    assert [m for m, _ in choice.costs] == ["h", "m"]

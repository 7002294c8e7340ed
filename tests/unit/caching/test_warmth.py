"""``keyroute.caching.warmth.WarmPrefixes``: a conversation is warm where its cache was used."""

from __future__ import annotations

from decimal import Decimal

from keyroute.caching.warmth import WarmPrefixes, conversation_key
from keyroute.catalogue import builtin
from keyroute.core.cache_warmth import CacheWarmth
from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.core.response import Usage


def msg(role: str, text: str) -> Message:
    return Message(role=role, content=(TextPart(text=text),))  # type: ignore[arg-type]


TURN1 = ChatRequest(model="auto", messages=(msg("system", "be brief"), msg("user", "q1")))
TURN2 = ChatRequest(
    model="auto", messages=(*TURN1.messages, msg("assistant", "a1"), msg("user", "q2"))
)
OTHER = ChatRequest(model="auto", messages=(msg("system", "be brief"), msg("user", "other")))


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_warm_where_the_cache_was_used_for_five_minutes() -> None:
    clock = Clock()
    tracker = WarmPrefixes(builtin(), clock=clock)
    warmth: CacheWarmth = tracker
    tracker.note(
        "w",
        "anthropic",
        "claude-sonnet-5",
        TURN1,
        Usage(input_tokens=5000, cache_write_tokens=4000),
    )
    assert warmth.warm_tokens("w", "anthropic", "claude-sonnet-5", TURN2) == 4000
    assert warmth.warm_tokens("w", "openai", "gpt-4o", TURN2) == 0  # cold elsewhere
    assert warmth.warm_tokens("w2", "anthropic", "claude-sonnet-5", TURN2) == 0
    assert warmth.warm_tokens("w", "anthropic", "claude-sonnet-5", OTHER) == 0
    # Sonnet 5: $2.00 input, $0.20 cache read per million: 4,000 warm tokens save $0.0072.
    assert warmth.expected_discount("w", "anthropic", "claude-sonnet-5", TURN2) == Decimal("0.0072")
    clock.now = 301
    assert warmth.warm_tokens("w", "anthropic", "claude-sonnet-5", TURN2) == 0
    assert warmth.expected_discount("w", "anthropic", "claude-sonnet-5", TURN2) == 0


def test_an_answer_without_cache_use_warms_nothing_and_the_tracker_is_bounded() -> None:
    tracker = WarmPrefixes(builtin(), capacity=1)
    tracker.note("w", "openai", "gpt-4o", TURN1, Usage(input_tokens=100))
    assert tracker.warm_tokens("w", "openai", "gpt-4o", TURN1) == 0
    tracker.note("w", "openai", "gpt-4o", TURN1, Usage(input_tokens=2000, cache_read_tokens=1024))
    tracker.note("w", "openai", "gpt-4o", OTHER, Usage(input_tokens=2000, cache_read_tokens=1024))
    assert tracker.warm_tokens("w", "openai", "gpt-4o", TURN1) == 0  # pushed out
    assert tracker.warm_tokens("w", "openai", "gpt-4o", OTHER) == 1024
    assert tracker.expected_discount("w", "nowhere", "model", OTHER) == 0


def test_every_turn_of_a_conversation_has_the_same_key() -> None:
    assert conversation_key("w", TURN1) == conversation_key("w", TURN2)
    assert conversation_key("w", TURN1) != conversation_key("w", OTHER)


def test_warm_models_answers_every_model_in_one_look_up() -> None:
    clock = Clock()
    tracker = WarmPrefixes(builtin(), clock=clock)
    assert tracker.warm_models("w", TURN2) == {}
    tracker.note("w", "anthropic", "claude-sonnet-5", TURN1, Usage(cache_write_tokens=4000))
    clock.now = 100
    tracker.note("w", "openai", "gpt-4o", TURN1, Usage(cache_read_tokens=2048))
    assert tracker.warm_models("w", TURN2) == {
        ("anthropic", "claude-sonnet-5"): 4000,
        ("openai", "gpt-4o"): 2048,
    }
    assert tracker.warm_models("w2", TURN2) == {}
    assert tracker.warm_models("w", OTHER) == {}
    clock.now = 350  # Sonnet's five minutes are over, gpt-4o's are not
    assert tracker.warm_models("w", TURN2) == {("openai", "gpt-4o"): 2048}


def test_an_answer_that_read_nothing_says_the_cache_is_cold_there() -> None:
    tracker = WarmPrefixes(builtin())
    tracker.note("w", "openai", "gpt-4o", TURN1, Usage(cache_read_tokens=2048))
    tracker.note("w", "anthropic", "claude-sonnet-5", TURN1, Usage(cache_read_tokens=4000))
    tracker.note("w", "openai", "gpt-4o", TURN2, Usage(input_tokens=3000))  # evicted upstream
    assert tracker.warm_models("w", TURN2) == {("anthropic", "claude-sonnet-5"): 4000}
    tracker.note("w", "anthropic", "claude-sonnet-5", TURN2, Usage(input_tokens=3000))
    assert tracker.warm_models("w", TURN2) == {}
    tracker.note("w", "anthropic", "claude-sonnet-5", TURN2, Usage(input_tokens=3000))  # no entry

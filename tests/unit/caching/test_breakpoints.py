"""``keyroute.caching.breakpoints.place_breakpoints``: where keyroute marks a request, checked on
the canonical request and on the Anthropic body it becomes."""

from __future__ import annotations

from typing import Any

from keyroute.caching.breakpoints import MAX_BREAKPOINTS, place_breakpoints
from keyroute.core.chat import (
    CacheControl,
    ChatRequest,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
    ToolSpec,
)
from keyroute.wire.anthropic import encode_request

SYSTEM = "You are a careful assistant. " * 200  # about 1,450 tokens
MIN = 1024


def msg(role: str, text: str, cc: CacheControl | None = None) -> Message:
    return Message(role=role, content=(TextPart(text=text, cache_control=cc),))  # type: ignore[arg-type]


def req(*messages: Message, tools: tuple[ToolSpec, ...] = (), **kw: Any) -> ChatRequest:
    return ChatRequest(model="anthropic/claude-sonnet-5", messages=messages, tools=tools, **kw)


def marks(r: ChatRequest) -> list[str]:
    """Where the Anthropic body carries ``cache_control``: ``tools[i]``, ``system[i]`` or
    ``messages[i].content[j]``, with the ttl when one is given."""
    body: Any = encode_request(r, "claude-sonnet-5", default_max_tokens=100)
    found: list[str] = []
    for i, tool in enumerate(body.get("tools", [])):
        if "cache_control" in tool:
            found.append(f"tools[{i}]" + _ttl(tool))
    for i, block in enumerate(body.get("system", [])):
        if "cache_control" in block:
            found.append(f"system[{i}]" + _ttl(block))
    for i, turn in enumerate(body["messages"]):
        for j, block in enumerate(turn["content"]):
            if isinstance(block, dict) and "cache_control" in block:
                found.append(f"messages[{i}].content[{j}]" + _ttl(block))
    return found


def _ttl(block: dict[str, Any]) -> str:
    ttl = block["cache_control"].get("ttl")
    return f"@{ttl}" if ttl else ""


def place(r: ChatRequest, ttl: str = "5m", minimum: int = MIN) -> list[str]:
    return marks(place_breakpoints(r, min_tokens=minimum, ttl=ttl))  # type: ignore[arg-type]


def test_a_long_system_prompt_is_marked_on_the_first_turn() -> None:
    assert place(req(msg("system", SYSTEM), msg("user", "hi"))) == ["system[0]"]


def test_below_the_minimum_nothing_is_marked() -> None:
    assert place(req(msg("system", "short"), msg("user", "hi"), msg("assistant", "a"))) == []
    assert place(req(msg("system", SYSTEM), msg("user", "hi")), minimum=4096) == []


def test_a_single_turn_without_system_or_tools_is_never_marked() -> None:
    assert place(req(msg("user", "x" * 40_000))) == []


def test_a_conversation_moves_its_tail_breakpoint_forward() -> None:
    turn2 = req(msg("system", SYSTEM), msg("user", "q1"), msg("assistant", "a1"), msg("user", "q2"))
    assert place(turn2) == ["system[0]", "messages[2].content[0]"]
    turn3 = req(*turn2.messages, msg("assistant", "a2"), msg("user", "q3"))
    assert place(turn3) == ["system[0]", "messages[4].content[0]"]


def test_tools_are_marked_when_a_system_prompt_follows() -> None:
    tools = (ToolSpec(name="search", description="d" * 5000, parameters={"type": "object"}),)
    r = req(msg("system", SYSTEM), msg("user", "q1"), tools=tools)
    assert place(r) == ["tools[0]", "system[0]"]
    assert place(req(msg("user", "q1"), tools=tools)) == ["tools[0]"]


def test_the_workspace_ttl_is_used() -> None:
    r = req(msg("system", SYSTEM), msg("user", "q1"), msg("assistant", "a"), msg("user", "q2"))
    assert place(r, ttl="1h") == ["system[0]@1h", "messages[2].content[0]@1h"]


def test_client_breakpoints_stay_and_count_towards_the_limit() -> None:
    mine = CacheControl()
    r = req(
        msg("system", SYSTEM, mine),
        msg("user", "q1", mine),
        msg("assistant", "a1", mine),
        msg("user", "q2"),
    )
    assert place(r) == [
        "system[0]",
        "messages[0].content[0]",
        "messages[1].content[0]",
        "messages[2].content[0]",
    ]
    full = req(*(msg("user" if i % 2 else "assistant", f"m{i}", mine) for i in range(5)))
    assert place_breakpoints(full, min_tokens=1, ttl="5m") is full
    assert len(marks(place_breakpoints(r, min_tokens=1, ttl="5m"))) == MAX_BREAKPOINTS


def test_a_client_one_hour_marker_later_in_the_prompt_makes_ours_one_hour_too() -> None:
    r = req(
        msg("system", SYSTEM),
        msg("user", "q1", CacheControl(ttl="1h")),
        msg("assistant", "a1"),
        msg("user", "q2", CacheControl(ttl="5m")),
    )
    # The system prompt precedes a 1h marker: ours must be 1h. Nothing fits after a 5m one and
    # before none; the tail is the client's own.
    assert place(r) == [
        "system[0]@1h",
        "messages[0].content[0]@1h",
        "messages[2].content[0]@5m",
    ]


def test_anthropic_automatic_caching_from_the_client_keeps_the_tail_to_it() -> None:
    r = req(
        msg("system", SYSTEM),
        msg("user", "q1"),
        msg("assistant", "a1"),
        msg("user", "q2"),
        source_format="anthropic",
        passthrough={"cache_control": {"type": "ephemeral"}},
        optional=frozenset({"cache_control"}),
    )
    assert place(r) == ["system[0]"]


def test_a_long_agent_turn_also_marks_where_the_previous_request_ended() -> None:
    calls = tuple(ToolCall(id=f"c{k}", name="read", arguments="{}") for k in range(18))
    results = [
        Message(role="tool", tool_call_id=f"c{k}", content=(TextPart(text=f"file {k}"),))
        for k in range(18)
    ]
    r = req(
        msg("system", SYSTEM),
        msg("user", "q1"),
        msg("assistant", "a0"),
        msg("user", "read every file"),
        Message(role="assistant", tool_calls=calls),
        *results,
    )
    # The tail (the last result), the system prompt, and "read every file": the end of the
    # previous request, 36 blocks back, beyond the provider's lookback from the tail.
    assert place(r) == ["system[0]", "messages[2].content[0]", "messages[4].content[17]"]


def test_images_are_markable_and_empty_text_is_not() -> None:
    image = ImagePart(url="https://example.com/a.png")
    r = req(
        msg("system", SYSTEM),
        msg("user", "look"),
        msg("assistant", "ok"),
        Message(role="user", content=(image, TextPart(text=""))),
    )
    assert place(r) == ["system[0]", "messages[2].content[0]"]


def test_nothing_else_changes() -> None:
    r = req(
        msg("system", SYSTEM),
        msg("user", "q1"),
        msg("assistant", "a1"),
        msg("user", "q2"),
        temperature=0.2,
    )
    placed = place_breakpoints(r, min_tokens=MIN, ttl="5m")
    stripped = [
        tuple(p.text for p in m.content if isinstance(p, TextPart)) for m in placed.messages
    ]
    assert stripped == [
        tuple(p.text for p in m.content if isinstance(p, TextPart)) for m in r.messages
    ]
    assert placed.temperature == 0.2 and placed.tools == r.tools


def test_amended_is_replace_without_the_constructor() -> None:
    from dataclasses import replace as dc_replace

    import pytest

    from keyroute.caching.breakpoints import amended

    r = req(msg("user", "q"), temperature=0.3)
    assert amended(r, prompt_cache_key="k") == dc_replace(r, prompt_cache_key="k")
    assert r.prompt_cache_key is None
    with pytest.raises(TypeError, match="no field 'bogus'"):
        amended(r, bogus=1)

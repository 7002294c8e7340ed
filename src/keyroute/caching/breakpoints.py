"""Automatic prompt-cache breakpoints (Anthropic ``cache_control``): a pure request transform.

keyroute marks, within the provider's limit of four breakpoints per request and on top of the
ones the client set (which stay where they are, as they are):

1. the **tail**: the last block of a conversation that is being continued (it has an assistant
   turn), so the next turn reads everything up to here and writes only what it adds; the
   breakpoint moves forward as the conversation grows;
2. the **stable prefix**: the end of the system prompt (else of the tools), the part of a prompt
   that clients reuse across requests and conversations;
3. the **previous turn**: the end of the prompt the previous request of the conversation sent,
   when more blocks than the provider looks back over (about 20) lie between it and the tail,
   as in agent loops that append many tool calls and results per turn;
4. the **tools**: the end of the tool definitions when a system prompt follows them, so a
   changed system prompt still reads the tools.

Rules: a breakpoint whose prefix is shorter than the model's minimum cacheable length is not
placed (the provider would cache nothing); a single-turn request without a system prompt or
tools gets no breakpoint (what it would write could only be read by the same prompt sent again);
a breakpoint on a block the client marked is the client's; the lifetime is the workspace's,
except where the client's own markers require the provider's order (a one-hour breakpoint may
not follow a five-minute one). Nothing else in the request changes, so the bytes of every prefix
are those the client sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Literal, TypeAlias

from keyroute.core.chat import (
    CacheControl,
    ChatRequest,
    ContentPart,
    ImagePart,
    Message,
    TextPart,
    ThinkingPart,
    ToolSpec,
)

MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20
"""How many blocks before a breakpoint the provider checks for an earlier cache entry."""
_LOOKBACK_MARGIN = 15  # place the previous-turn breakpoint well inside the lookback
_IMAGE_TOKENS = 1600  # an image of about 1,100 x 1,100 pixels; a generous estimate

Ttl: TypeAlias = Literal["5m", "1h"]
_SYSTEM = ("system", "developer")


@dataclass(frozen=True, slots=True)
class Slot:
    """A block that can carry a breakpoint: a tool (``message`` is None) or a message part."""

    order: int  # position in the provider's prefix order: tools, system, messages
    tokens: int  # estimated tokens of the prefix up to and including this block
    tool: int | None = None
    message: int | None = None
    part: int | None = None


@dataclass(frozen=True, slots=True)
class _Marker:
    order: int
    ttl: Ttl


def amended(req: ChatRequest, **changes: object) -> ChatRequest:
    """``req`` with ``changes``, as ``dataclasses.replace`` makes it but without re-running the
    constructor's checks and defaults over its thirty-odd fields (tens of microseconds a
    request): a new instance whose slots are set once, before anyone else sees it."""
    cls = type(req)
    copied = object.__new__(cls)
    for name in cls.__slots__:
        object.__setattr__(
            copied, name, changes.pop(name) if name in changes else getattr(req, name)
        )
    if changes:
        raise TypeError(f"ChatRequest has no field {next(iter(changes))!r}")
    return copied


def text_tokens(text: str) -> int:
    """About four characters a token (the estimate keyroute uses wherever it cannot count)."""
    return (len(text) + 3) // 4


def tool_tokens(tool: ToolSpec) -> int:
    schema = json.dumps(tool.parameters, separators=(",", ":"))
    return text_tokens(tool.name) + text_tokens(tool.description or "") + text_tokens(schema)


def part_tokens(part: ContentPart) -> int:
    if isinstance(part, TextPart | ThinkingPart):
        return text_tokens(part.text)
    if isinstance(part, ImagePart):
        return _IMAGE_TOKENS
    return text_tokens(json.dumps(part.payload, separators=(",", ":")))


def call_tokens(message: Message) -> int:
    return sum(text_tokens(c.name) + text_tokens(c.arguments) for c in message.tool_calls)


def message_tokens(message: Message) -> int:
    return sum(part_tokens(p) for p in message.content) + call_tokens(message)


def _markable(part: ContentPart) -> bool:
    return (isinstance(part, TextPart) and bool(part.text)) or isinstance(part, ImagePart)


def _leading_system(messages: tuple[Message, ...]) -> int:
    """How many messages open the request as its system prompt."""
    count = 0
    for message in messages:
        if message.role not in _SYSTEM:
            break
        count += 1
    return count


@dataclass(frozen=True, slots=True)
class Layout:
    """A request's blocks in the provider's prefix order, with their cumulative token counts."""

    tools: list[Slot]
    system: list[Slot]
    turns: list[list[Slot]]  # per non-system message (index in ``messages``): its markable parts
    turn_index: list[int]  # the message index of each entry of ``turns``
    blocks_before: list[int]  # blocks in the prefix before each entry of ``turns``
    client: list[_Marker]

    @classmethod
    def of(cls, req: ChatRequest) -> Layout:
        order = tokens = 0
        client: list[_Marker] = []
        tools: list[Slot] = []
        for i, tool in enumerate(req.tools):
            tokens += tool_tokens(tool)
            tools.append(Slot(order, tokens, tool=i))
            if tool.cache_control is not None:
                client.append(_Marker(order, tool.cache_control.ttl or "5m"))
            order += 1
        lead = _leading_system(req.messages)
        system: list[Slot] = []
        for i, message in enumerate(req.messages[:lead]):
            for j, part in enumerate(message.content):
                tokens += part_tokens(part)
                if _markable(part):
                    system.append(Slot(order, tokens, message=i, part=j))
                order = _note(part, order, client)
        turns: list[list[Slot]] = []
        turn_index: list[int] = []
        blocks_before: list[int] = []
        blocks = 0
        for i, message in enumerate(req.messages[lead:], start=lead):
            slots: list[Slot] = []
            blocks_before.append(blocks)
            for j, part in enumerate(message.content):
                tokens += part_tokens(part)
                if _markable(part):
                    slots.append(Slot(order, tokens, message=i, part=j))
                order = _note(part, order, client)
            tokens += sum(
                text_tokens(c.name) + text_tokens(c.arguments) for c in message.tool_calls
            )
            blocks += max(1, len(message.content) + len(message.tool_calls))
            turns.append(slots)
            turn_index.append(i)
        return cls(tools, system, turns, turn_index, blocks_before, client)


def _note(part: ContentPart, order: int, client: list[_Marker]) -> int:
    marker = getattr(part, "cache_control", None)
    if isinstance(marker, CacheControl):
        client.append(_Marker(order, marker.ttl or "5m"))
    return order + 1


def place_breakpoints(req: ChatRequest, *, min_tokens: int, ttl: Ttl) -> ChatRequest:
    """``req`` with keyroute's breakpoints added (the module docstring says where and when).

    Args:
        req: The canonical request, possibly carrying the client's own breakpoints.
        min_tokens: The model's minimum cacheable prefix length (``catalogue``).
        ttl: The lifetime the workspace chose for keyroute's breakpoints.
    """
    layout = Layout.of(req)
    auto = req.source_format == "anthropic" and "cache_control" in req.passthrough
    free = MAX_BREAKPOINTS - len(layout.client) - (1 if auto else 0)
    if free <= 0:
        return req
    chosen = _choose(req, layout, auto, min_tokens)
    taken = {m.order for m in layout.client}
    marks: list[tuple[Slot, Ttl]] = []
    for slot in chosen:
        if len(marks) == free:
            break
        if slot.order in taken or slot.tokens < min_tokens:
            continue
        lifetime = _lifetime(slot.order, ttl, layout.client)
        if lifetime is None:
            continue
        taken.add(slot.order)
        marks.append((slot, lifetime))
    return _apply(req, marks) if marks else req


def _choose(req: ChatRequest, layout: Layout, auto: bool, min_tokens: int) -> list[Slot]:
    """The candidate slots, most useful first."""
    chosen: list[Slot] = []
    conversation = any(m.role == "assistant" for m in req.messages)
    tail = _last(layout.turns)
    if conversation and tail is not None and not auto:
        chosen.append(tail)
    stable = layout.system[-1] if layout.system else (layout.tools[-1] if layout.tools else None)
    if stable is not None:
        chosen.append(stable)
    previous = _previous_turn(req, layout)
    if conversation and previous is not None:
        chosen.append(previous)
    if layout.system and layout.tools:
        chosen.append(layout.tools[-1])
    return chosen


def _last(turns: list[list[Slot]]) -> Slot | None:
    for slots in reversed(turns):
        if slots:
            return slots[-1]
    return None


def _previous_turn(req: ChatRequest, layout: Layout) -> Slot | None:
    """The end of the previous request's prompt, when the tail's lookback cannot reach it."""
    last_assistant = None
    for k, i in enumerate(layout.turn_index):
        if req.messages[i].role == "assistant":
            last_assistant = k
    if last_assistant is None:
        return None
    end_blocks = layout.blocks_before[-1] + 1 if layout.blocks_before else 0
    gap = end_blocks - layout.blocks_before[last_assistant]
    if gap <= _LOOKBACK_MARGIN:
        return None
    return _last(layout.turns[:last_assistant])


def _lifetime(order: int, wanted: Ttl, client: list[_Marker]) -> Ttl | None:
    """``wanted``, unless the client's markers fix it: a one-hour breakpoint may not follow a
    five-minute one. None when no lifetime fits between them."""
    must_be_short = any(m.order < order and m.ttl == "5m" for m in client)
    must_be_long = any(m.order > order and m.ttl == "1h" for m in client)
    if must_be_short and must_be_long:
        return None
    if must_be_short:
        return "5m"
    if must_be_long:
        return "1h"
    return wanted


def _apply(req: ChatRequest, marks: list[tuple[Slot, Ttl]]) -> ChatRequest:
    tools = list(req.tools)
    messages = list(req.messages)
    for slot, lifetime in marks:
        marker = CacheControl(ttl=None if lifetime == "5m" else lifetime)
        if slot.tool is not None:
            tools[slot.tool] = replace(tools[slot.tool], cache_control=marker)
            continue
        assert slot.message is not None and slot.part is not None  # noqa: S101 (Slot invariant)
        message = messages[slot.message]
        parts = list(message.content)
        part = parts[slot.part]
        assert isinstance(part, TextPart | ImagePart)  # noqa: S101 (only these are markable)
        parts[slot.part] = replace(part, cache_control=marker)
        messages[slot.message] = replace(message, content=tuple(parts))
    return amended(req, tools=tuple(tools), messages=tuple(messages))

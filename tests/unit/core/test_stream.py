"""``keyroute.core.stream``: the canonical stream events."""

from __future__ import annotations

import dataclasses
from typing import get_args

import pytest

from keyroute.core.response import Usage
from keyroute.core.stream import (
    RefusalDelta,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ThinkingDelta,
    ToolCallArgs,
    ToolCallStart,
    UsageReport,
)

EVENTS: list[StreamEvent] = [
    StreamStart(id="c", model="m", created=1),
    TextDelta(text="a"),
    ThinkingDelta(text="t"),
    RefusalDelta(text="no"),
    ToolCallStart(index=0, id="call", name="f"),
    ToolCallArgs(index=0, arguments="{}"),
    UsageReport(usage=Usage(input_tokens=1)),
    StreamEnd(finish_reason="stop"),
]


def test_every_event_type_has_a_distinct_kind() -> None:
    kinds = {type(e): e.kind for e in EVENTS}
    assert set(kinds) == set(get_args(StreamEvent))
    assert len(set(kinds.values())) == len(kinds)


@pytest.mark.parametrize("event", EVENTS)
def test_events_are_frozen_values(event: StreamEvent) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.kind = "x"  # type: ignore[misc,assignment]
    assert event == dataclasses.replace(event)


def test_defaults() -> None:
    assert ThinkingDelta() == ThinkingDelta(text="", signature=None, redacted=False)
    assert StreamEnd(finish_reason="length").stop_sequence is None
    assert ToolCallStart(index=1, id="i", name="n").signature is None

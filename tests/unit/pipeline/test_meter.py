"""``keyroute.pipeline.meter``: usage on every path, estimates flagged, one hand-off per record."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime

import pytest

from keyroute.core.money import FREE, UNKNOWN, Cost
from keyroute.core.record import RequestRecord
from keyroute.core.response import Usage
from keyroute.core.stream import (
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ToolCallArgs,
    ToolCallStart,
    UsageReport,
)
from keyroute.pipeline import Meter

pytestmark = pytest.mark.anyio
START = StreamStart(id="s", model="m", created=1)
END = StreamEnd(finish_reason="stop")


class Sink:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def submit(self, record: RequestRecord) -> None:
        self.records.append(record)


class Broken:
    def submit(self, record: RequestRecord) -> None:
        raise RuntimeError("disk full")


class FlatPricer:
    """One pico-dollar a token, 10 % off."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str]] = []

    async def prepare(self, workspace_id: str) -> None:
        return None

    def cost(self, workspace_id: str, provider: str, model: str, usage: Usage) -> Cost:
        self.asked.append((workspace_id, provider, model))
        total = usage.input_tokens + usage.output_tokens
        return Cost(list_pico=total, paid_pico=total * 9 // 10)


class Events:
    def __init__(self, events: Iterable[StreamEvent], fail: Exception | None = None) -> None:
        self._events = iter(events)
        self._fail = fail
        self.closed = False

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self

    async def __anext__(self) -> StreamEvent:
        try:
            return next(self._events)
        except StopIteration:
            if self._fail is not None:
                raise self._fail from None
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        self.closed = True


def record(**fields: object) -> RequestRecord:
    return RequestRecord(
        request_id="r",
        started_at=datetime.now(UTC),
        endpoint="/v1/chat/completions",
        inbound_format="openai",
        **fields,  # type: ignore[arg-type]
    )


def meter(rec: RequestRecord, *sinks: object, pricer: FlatPricer | None = None) -> Meter:
    return Meter(rec, sinks=list(sinks), pricer=pricer, started=0.0, clock=lambda: 0.25)  # type: ignore[arg-type]


def priced() -> RequestRecord:
    return record(workspace_id="ws", provider="openai", upstream_model="gpt-4o")


async def drain(stream: AsyncIterator[StreamEvent], take: int | None = None) -> int:
    n = 0
    async for _ in stream:
        n += 1
        if take is not None and n == take:
            break
    return n


def test_a_whole_answer_is_priced_and_handed_over_once() -> None:
    sink, pricer, rec = Sink(), FlatPricer(), priced()
    m = meter(rec, sink, pricer=pricer)
    m.whole(Usage(input_tokens=10, output_tokens=5))
    m.finish()
    m.finish()
    assert sink.records == [rec]
    assert rec.cost == Cost(list_pico=15, paid_pico=13)
    assert pricer.asked == [("ws", "openai", "gpt-4o")]


def test_a_routed_request_is_also_priced_at_its_reference_model() -> None:
    pricer, rec = FlatPricer(), priced()
    rec.route = {"policy": "openai", "reference": "openai/gpt-4.1"}
    m = meter(rec, pricer=pricer)
    m.whole(Usage(input_tokens=10, output_tokens=5))
    m.finish()
    assert rec.cost == Cost(list_pico=15, paid_pico=13, reference_pico=13)
    assert pricer.asked == [("ws", "openai", "gpt-4o"), ("ws", "openai", "gpt-4.1")]


@pytest.mark.parametrize(
    ("rec", "usage", "pricer", "cost"),
    [
        (priced(), None, FlatPricer(), FREE),  # refused before the provider: nothing to pay
        (priced(), Usage(), FlatPricer(), FREE),
        (priced(), Usage(input_tokens=1), None, UNKNOWN),  # nobody to price it: unknown, not 0
        (record(workspace_id="ws"), Usage(input_tokens=1), FlatPricer(), UNKNOWN),
    ],
)
def test_costs_that_are_free_or_unknown(
    rec: RequestRecord, usage: Usage | None, pricer: FlatPricer | None, cost: Cost
) -> None:
    m = meter(rec, pricer=pricer)
    m.whole(usage)
    m.finish()
    assert rec.cost == cost


def test_a_broken_sink_does_not_starve_the_others() -> None:
    sink = Sink()
    m = meter(record(), Broken(), sink)
    m.finish()
    assert len(sink.records) == 1


async def test_a_completed_stream_keeps_the_last_usage_report() -> None:
    rec = record()
    m = meter(rec)
    events = [
        START,
        UsageReport(usage=Usage(input_tokens=7, output_tokens=1)),
        TextDelta(text="hello"),
        END,
        UsageReport(usage=Usage(input_tokens=7, output_tokens=2, reasoning_tokens=1)),
    ]
    stream = m.stream(Events(events), estimated_input=99)
    assert await drain(stream) == 5
    m.finish()
    assert rec.stream and rec.stream_outcome == "completed"
    assert rec.usage == Usage(input_tokens=7, output_tokens=2, reasoning_tokens=1)
    assert not rec.usage_estimated
    assert rec.ttft_ms == 250.0


async def test_an_abandoned_stream_bills_what_was_streamed() -> None:
    rec = record()
    m = meter(rec)
    text = [TextDelta(text="x" * 40) for _ in range(10)]
    stream = m.stream(
        Events([START, UsageReport(usage=Usage(input_tokens=30, cache_read_tokens=20)), *text]),
        estimated_input=99,
    )
    await drain(stream, take=12)  # start, usage and 10 chunks: then the client leaves
    await stream.aclose()
    m.finish()
    assert rec.stream_outcome == "cancelled" and rec.usage_estimated
    assert rec.usage == Usage(input_tokens=30, output_tokens=100, cache_read_tokens=20)


async def test_a_stream_without_usage_is_estimated_from_the_request_and_the_text() -> None:
    rec = record()
    m = meter(rec)
    calls = [
        ToolCallStart(index=0, id="c", name="lookup"),
        ToolCallArgs(index=0, arguments='{"q":"abc"}'),
    ]
    stream = m.stream(Events([START, *calls, END]), estimated_input=12)
    await drain(stream)
    m.finish()
    assert rec.stream_outcome == "completed" and rec.usage_estimated
    assert rec.usage == Usage(input_tokens=12, output_tokens=5)  # 6 + 11 characters


async def test_a_failed_stream_is_failed_and_estimated() -> None:
    rec = record()
    m = meter(rec)
    stream = m.stream(
        Events([START, TextDelta(text="abcd")], RuntimeError("cut")), estimated_input=3
    )
    with pytest.raises(RuntimeError):
        await drain(stream)
    m.finish()
    assert rec.stream_outcome == "failed" and rec.usage == Usage(input_tokens=3, output_tokens=1)


async def test_finish_cancels_a_stream_never_closed() -> None:
    rec = record()
    m = meter(rec)
    m.stream(Events([START]), estimated_input=4)
    m.finish()
    assert rec.stream_outcome == "cancelled" and rec.usage == Usage(input_tokens=4)


async def test_closing_the_metered_stream_closes_the_events() -> None:
    events = Events([START])
    stream = meter(record()).stream(events, estimated_input=0)
    await stream.aclose()
    assert events.closed


class Refusing(FlatPricer):
    def cost(self, workspace_id: str, provider: str, model: str, usage: Usage) -> Cost:
        raise ValueError("cache reads exceed the prompt")


def test_a_price_that_cannot_be_computed_is_unknown_not_a_crash() -> None:
    rec = priced()
    m = meter(rec, pricer=Refusing())
    m.whole(Usage(input_tokens=1))
    m.finish()
    assert rec.cost == UNKNOWN


def test_an_explicit_cache_the_request_created_is_added_to_its_cost_not_to_the_uncached() -> None:
    rec = priced()
    rec.cache_upkeep = Cost(list_pico=1000, paid_pico=1000)
    m = meter(rec, pricer=FlatPricer())
    m.whole(Usage(input_tokens=10, output_tokens=5))
    m.finish()
    assert rec.cost == Cost(list_pico=1015, paid_pico=1013)
    unpriced = priced()
    unpriced.cache_upkeep = Cost(list_pico=7, paid_pico=7)
    m = meter(unpriced, pricer=FlatPricer())
    m.finish()  # failed before any usage: the cache was still created, and paid for
    assert unpriced.cost is not None and unpriced.cost.paid_pico == 7


async def test_a_streams_late_usage_is_told_once_and_only_when_reported() -> None:
    told: list[Usage] = []
    usage = Usage(input_tokens=9, output_tokens=2, cache_read_tokens=1024)
    rec = record(operation="chat")
    m = meter(rec)
    m.late_usage = told.append
    await drain(
        m.stream(
            Events([START, TextDelta(text="hi"), END, UsageReport(usage=usage)]), estimated_input=5
        )
    )
    m.finish()
    m.finish()
    assert told == [usage] and rec.cache == "hit"
    # Usage known before the content (the pipeline noted it then), or only estimated: not told.
    early = record(operation="chat", cache="hit")
    m = meter(early)
    m.late_usage = told.append
    await drain(m.stream(Events([START, UsageReport(usage=usage), END]), estimated_input=5))
    m.finish()
    estimated = record(operation="chat")
    m = meter(estimated)
    m.late_usage = told.append
    await drain(m.stream(Events([START, TextDelta(text="hi")]), estimated_input=5), take=1)
    m.finish()
    assert estimated.usage_estimated and told == [usage]

"""``Meter``: fills a request record's usage, cost and stream fields, and hands the record to its
sinks exactly once.

The frame makes one ``Meter`` per request, before authentication. The pipeline reports a whole
answer's usage with ``whole``; a stream is wrapped with ``stream``, which watches every event as
it passes to the client (usage reports, content for the time to first token and for estimates).
``finish`` runs once, from the frame's ``finally``, whatever happened: it settles the usage of a
stream that ended early (the usage seen so far, plus output tokens estimated from the text
already streamed, flagged ``usage_estimated``), prices it (plus ``cache_upkeep``, an explicit
provider cache the request created), settles admission's hold on the
ledger (``settlement``: a failed request releases it, an abandoned stream is billed for what it
streamed), and calls every sink synchronously.
Sinks queue; nothing here awaits, so ``finish`` is safe under cancellation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from typing import Protocol

from keyroute.caching.status import cache_status
from keyroute.core.money import FREE, UNKNOWN, Cost
from keyroute.core.record import RecordSink, RequestRecord, StreamOutcome
from keyroute.core.response import Usage
from keyroute.core.stream import (
    RefusalDelta,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallArgs,
    ToolCallStart,
    UsageReport,
)

log = logging.getLogger("keyroute.pipeline")
_CHAT = frozenset({"chat", "chat_stream"})
_CONTENT = (TextDelta, ThinkingDelta, RefusalDelta, ToolCallStart, ToolCallArgs)


class Pricer(Protocol):
    """Prices usage at a workspace's prices (list, and paid after its discount). ``prepare``
    loads a workspace's prices (cached) before its request runs, so ``cost`` never waits."""

    async def prepare(self, workspace_id: str) -> None: ...
    def cost(self, workspace_id: str, provider: str, model: str, usage: Usage) -> Cost: ...


class EventStream(Protocol):
    """An async iterator of events that must be closed (``aclose``) however it ends."""

    def __aiter__(self) -> AsyncIterator[StreamEvent]: ...
    async def __anext__(self) -> StreamEvent: ...
    async def aclose(self) -> None: ...


class Meter:
    def __init__(
        self,
        record: RequestRecord,
        *,
        sinks: Sequence[RecordSink],
        pricer: Pricer | None,
        started: float,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.record = record
        self._sinks = sinks
        self._pricer = pricer
        self._started = started
        self._clock = clock
        self._finished = False
        # Admission's settlement (``Ticket.settle``), told the priced record before the sinks.
        self.settlement: Callable[[RequestRecord], None] | None = None
        # Told a stream's usage when it came only at the stream's end (the prompt-cache tracker).
        self.late_usage: Callable[[Usage], None] | None = None
        # What a stream has shown so far.
        self._seen: Usage | None = None
        self._chars = 0
        self._estimated_input = 0
        self._free = False

    def whole(self, usage: Usage | None) -> None:
        """A whole answer's usage, as the provider reported it."""
        self.record.usage = usage

    def stream(
        self, events: EventStream, *, estimated_input: int, free: bool = False
    ) -> MeteredStream:
        """Watch ``events``; ``estimated_input`` stands in if no usage arrives. A ``free``
        stream (an answer replayed from keyroute's response cache) is recorded as no usage."""
        self.record.stream = True
        self._estimated_input = estimated_input
        self._free = free
        return MeteredStream(events, self)

    def observe(self, event: StreamEvent) -> None:
        if isinstance(event, UsageReport):
            self._seen = event.usage  # the last report is the whole usage
            return
        if isinstance(event, _CONTENT):
            if self.record.ttft_ms is None:
                self.record.ttft_ms = (self._clock() - self._started) * 1000.0
            if isinstance(event, ToolCallStart):
                self._chars += len(event.name)
            elif isinstance(event, ToolCallArgs):
                self._chars += len(event.arguments)
            else:
                self._chars += len(event.text)

    def stream_ended(self, outcome: StreamOutcome) -> None:
        record = self.record
        if record.stream_outcome is not None:
            return
        record.stream_outcome = outcome
        if self._free:
            record.usage = Usage()
            return
        seen = self._seen
        if outcome == "completed" and seen is not None:
            record.usage = seen
            return
        # Ended early, or never reported usage: bill what was seen, estimate the rest.
        streamed = (self._chars + 3) // 4
        if seen is None:
            record.usage = Usage(input_tokens=self._estimated_input, output_tokens=streamed)
        else:
            output = max(seen.output_tokens, streamed)
            record.usage = Usage(
                input_tokens=seen.input_tokens,
                output_tokens=output,
                cache_read_tokens=seen.cache_read_tokens,
                cache_write_tokens=seen.cache_write_tokens,
                cache_write_1h_tokens=seen.cache_write_1h_tokens,
                reasoning_tokens=seen.reasoning_tokens,
            )
            if output == seen.output_tokens and outcome == "completed":
                return
        record.usage_estimated = True

    def finish(self) -> None:
        """Settle, price and hand the record to every sink; runs once, never raises."""
        if self._finished:
            return
        self._finished = True
        record = self.record
        if record.stream and record.stream_outcome is None:
            self.stream_ended("cancelled")
        record.cost = _with_upkeep(self._price(record), record.cache_upkeep)
        if record.cache is None and record.usage is not None and record.operation in _CHAT:
            created = record.cache_upkeep is not None  # an explicit cache it created
            record.cache = cache_status(record.usage, created=created)  # usage at a stream's end
            if self.late_usage is not None and not record.usage_estimated:
                try:
                    self.late_usage(record.usage)
                except Exception:  # a tracker must not keep the record from its sinks
                    log.exception("request %s: its usage could not be noted", record.request_id)
        if self.settlement is not None:
            try:
                self.settlement(record)
            except Exception:  # the ledger must not keep the record from its sinks
                log.exception("request %s could not be settled", record.request_id)
        for sink in self._sinks:
            try:
                sink.submit(record)
            except Exception:  # one broken consumer must not starve the others
                log.exception("a record sink refused request %s", record.request_id)

    def _price(self, record: RequestRecord) -> Cost:
        usage = record.usage
        if usage is None or (usage.input_tokens == 0 and usage.output_tokens == 0):
            return FREE
        if self._pricer is None or record.workspace_id is None:
            return UNKNOWN
        if record.provider is None or record.upstream_model is None:
            return UNKNOWN
        try:
            cost = self._pricer.cost(
                record.workspace_id, record.provider, record.upstream_model, usage
            )
            reference = record.route.get("reference") if record.route else None
            if isinstance(reference, str):  # routed: the same tokens at the reference model
                provider, _, model = reference.partition("/")
                at_reference = self._pricer.cost(record.workspace_id, provider, model, usage)
                cost = replace(cost, reference_pico=at_reference.paid_pico)
            return cost
        except (LookupError, ValueError):  # prices not loaded, or usage a provider got wrong
            log.warning("request %s could not be priced", record.request_id, exc_info=True)
            return UNKNOWN


def _with_upkeep(cost: Cost, upkeep: Cost | None) -> Cost:
    """``cost`` plus what an explicit provider cache the request created cost besides its
    tokens; the uncached cost stays as it is (without caching there is no cache to pay for)."""
    if upkeep is None:
        return cost

    def plus(a: int | None, b: int | None) -> int | None:
        return None if a is None or b is None else a + b

    return replace(
        cost,
        list_pico=plus(cost.list_pico, upkeep.list_pico),
        paid_pico=plus(cost.paid_pico, upkeep.paid_pico),
    )


class MeteredStream:
    """``events`` as they pass, told to the meter; closing it closes ``events``."""

    __slots__ = ("_events", "_meter")

    def __init__(self, events: EventStream, meter: Meter) -> None:
        self._events = events
        self._meter = meter

    def __aiter__(self) -> MeteredStream:
        return self

    async def __anext__(self) -> StreamEvent:
        try:
            event = await self._events.__anext__()
        except StopAsyncIteration:
            self._meter.stream_ended("completed")
            raise
        except asyncio.CancelledError:
            self._meter.stream_ended("cancelled")
            raise
        except BaseException:
            self._meter.stream_ended("failed")
            raise
        self._meter.observe(event)
        return event

    async def aclose(self) -> None:
        self._meter.stream_ended("cancelled")  # no-op when it already ended
        await self._events.aclose()

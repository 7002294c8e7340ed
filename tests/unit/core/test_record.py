"""``keyroute.core.record``: the request record and its sink protocol."""

from __future__ import annotations

from datetime import UTC, datetime

from keyroute.core.record import Attempt, RecordSink, RequestRecord


class ListSink:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def submit(self, record: RequestRecord) -> None:
        self.records.append(record)


def test_a_fresh_record_knows_only_the_frame() -> None:
    record = RequestRecord(
        request_id="req_1",
        started_at=datetime(2026, 12, 3, tzinfo=UTC),
        endpoint="/v1/chat/completions",
        inbound_format="openai",
    )
    assert record.workspace_id is None and record.usage is None and record.cost is None
    assert record.attempts == [] and record.status == 0


def test_records_keep_their_own_attempt_lists() -> None:
    def make() -> RequestRecord:
        return RequestRecord(
            request_id="r", started_at=datetime.now(UTC), endpoint="/", inbound_format="openai"
        )

    a, b = make(), make()
    a.attempts.append(Attempt(provider="openai", model="openai/x", provider_key_id="k", status=200))
    assert b.attempts == []


def test_a_sink_is_anything_with_submit() -> None:
    sink: RecordSink = ListSink()
    record = RequestRecord(
        request_id="r", started_at=datetime.now(UTC), endpoint="/", inbound_format="openai"
    )
    sink.submit(record)
    assert isinstance(sink, ListSink) and sink.records == [record]

"""``usage_row``: a request record as a usage-table row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from keyroute.accounting.usage_row import MAX_TAG, stored_tag, usage_row
from keyroute.core.money import Cost
from keyroute.core.record import Attempt
from keyroute.core.response import Usage
from tests.unit.accounting.conftest import T0, record


def test_no_workspace_no_row() -> None:
    assert usage_row(record(ws=None, status=401), "r1") is None


def test_every_field_is_copied() -> None:
    source = record(
        at=timedelta(seconds=1),
        operation="chat_stream",
        api_key_id="key_1",
        end_user="alice",
        requested_model="fast",
        served_model="anthropic/claude-sonnet-4-5",
        provider="anthropic",
        provider_key_id="pk_1",
        attempts=[
            Attempt(provider="anthropic", model="m", provider_key_id="pk_1", status=529),
            Attempt(provider="anthropic", model="m", provider_key_id="pk_1", status=200),
        ],
        route={"policy": "cheap", "score": 0.2},
        cache="hit",
        usage=Usage(
            input_tokens=100,
            output_tokens=50,
            cache_read_tokens=60,
            cache_write_tokens=30,
            cache_write_1h_tokens=10,
            reasoning_tokens=20,
        ),
        usage_estimated=True,
        cost=Cost(list_pico=1000, paid_pico=850, uncached_pico=1500, reference_pico=4000),
        stream=True,
        stream_outcome="cancelled",
        status=200,
        total_ms=123.5,
        upstream_ms=100.25,
        ttft_ms=20.0,
    )
    row = usage_row(source, "r1")
    assert row is not None
    assert row.id == "r1"
    assert (row.request_id, row.workspace_id, row.time) == (
        source.request_id,
        "w1",
        T0 + timedelta(seconds=1),
    )
    assert (row.api_key_id, row.end_user, row.operation) == ("key_1", "alice", "chat_stream")
    assert (row.requested_model, row.served_model, row.provider, row.provider_key_id) == (
        "fast",
        "anthropic/claude-sonnet-4-5",
        "anthropic",
        "pk_1",
    )
    assert (row.route_policy, row.cache_outcome, row.attempts) == ("cheap", "hit", 2)
    assert (row.input_tokens, row.cached_input_tokens, row.cache_write_tokens) == (100, 60, 30)
    assert (row.cache_write_1h_tokens, row.output_tokens, row.reasoning_tokens) == (10, 50, 20)
    assert row.usage_estimated
    assert (row.paid_pico, row.list_pico, row.uncached_pico, row.reference_pico) == (
        850,
        1000,
        1500,
        4000,
    )
    assert (row.status, row.stream_outcome) == (200, "cancelled")
    assert (row.total_ms, row.upstream_ms, row.ttft_ms) == (123.5, 100.25, 20.0)


def test_missing_usage_is_zero_and_missing_cost_unknown() -> None:
    row = usage_row(record(status=502, error_code="upstream_error"), "r1")
    assert row is not None
    assert (row.input_tokens, row.output_tokens, row.attempts) == (0, 0, 0)
    assert (row.paid_pico, row.list_pico) == (None, None)
    assert (row.status, row.error_code) == (502, "upstream_error")


def test_a_route_without_a_textual_policy_has_none() -> None:
    row = usage_row(record(route={"policy": 3}), "r1")
    assert row is not None and row.route_policy is None


def test_times_are_utc_and_a_naive_start_is_read_as_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    aware = usage_row(record(started_at=datetime(2026, 3, 1, 14, 0, tzinfo=plus_two)), "r1")
    naive = usage_row(record(started_at=datetime(2026, 3, 1, 12, 0)), "r2")
    assert aware is not None and naive is not None
    assert aware.time == naive.time == T0
    assert aware.time.tzinfo is UTC and naive.time.tzinfo is UTC


def test_a_huge_end_user_tag_is_kept_short_and_distinct() -> None:
    short = "u" * MAX_TAG
    assert stored_tag(short) == short and stored_tag(None) is None
    one, two = stored_tag("a" * 10_000), stored_tag("a" * 9_999 + "b")
    assert one is not None and two is not None and one != two
    assert len(one) == 218 and one.startswith("a" * 200 + "…#")
    row = usage_row(record(end_user="x" * 5000), "r1")
    assert row is not None and row.end_user == stored_tag("x" * 5000)

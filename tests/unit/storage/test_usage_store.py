"""One behavioural suite for every ``UsageStore`` backend (memory and SQLite)."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from keyroute.storage.base import (
    Store,
    UsageGroup,
    UsageQuery,
    UsageRow,
    UsageTotals,
    WorkspaceRecord,
)
from keyroute.storage.registry import open_store
from keyroute.storage.schema import usage

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_ids = iter(range(10**9))


def row(ws: str = "w1", at: timedelta = timedelta(0), **fields: object) -> UsageRow:
    number = next(_ids)
    values: dict[str, object] = {
        "id": f"row_{number}",
        "request_id": f"req_{number}",
        "workspace_id": ws,
        "time": T0 + at,
        "endpoint": "/v1/chat/completions",
        "inbound_format": "openai",
        "status": 200,
        "paid_pico": 0,
        "list_pico": 0,
    }
    values.update(fields)
    return UsageRow(**values)  # type: ignore[arg-type]


def workspace(id: str) -> WorkspaceRecord:
    return WorkspaceRecord(
        id=id, name=id, plan="free", created_at=T0, wrapped_data_key=b"k", master_key_id="m"
    )


async def totals(store: Store, **query: object) -> list[UsageGroup]:
    return await store.usage.totals(UsageQuery(workspace_id="w1", **query))  # type: ignore[arg-type]


async def grand(store: Store, **query: object) -> UsageTotals:
    groups = await totals(store, **query)
    assert len(groups) <= 1
    return groups[0].totals if groups else UsageTotals()


# Appending


async def test_append_counts_new_rows_and_is_idempotent(store: Store) -> None:
    rows = [row(input_tokens=10), row(input_tokens=20)]
    assert await store.usage.append(rows) == 2
    assert await store.usage.append(rows) == 0  # a retried batch
    assert await store.usage.append([*rows, row(input_tokens=5)]) == 1
    summed = await grand(store)
    assert (summed.requests, summed.input_tokens) == (3, 35)


async def test_rows_are_told_apart_by_id_not_request_id(store: Store) -> None:
    # A client may send its own x-request-id, twice: both requests are usage.
    assert await store.usage.append([row(request_id="req_mine"), row(request_id="req_mine")]) == 2
    assert (await grand(store)).requests == 2


async def test_append_of_nothing(store: Store) -> None:
    assert await store.usage.append([]) == 0
    assert await totals(store) == []


async def test_rows_of_unknown_workspaces_are_skipped(store: Store) -> None:
    assert await store.usage.append([row("gone"), row("w1")]) == 1
    assert (await grand(store)).requests == 1


async def test_deleting_a_workspace_deletes_its_usage(store: Store) -> None:
    await store.usage.append([row("w1"), row("w2")])
    assert await store.delete_workspace("w1")
    await store.create_workspace(workspace("w1"))
    assert await totals(store) == []
    assert len(await store.usage.totals(UsageQuery(workspace_id="w2"))) == 1


async def test_a_naive_time_refuses_the_whole_batch(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.usage.append([row(), row(time=datetime(2026, 1, 1))])
    assert await totals(store) == []


# Totals


async def test_tokens_and_costs_sum_exactly(store: Store) -> None:
    await store.usage.append(
        [
            row(
                input_tokens=1000,
                cached_input_tokens=600,
                cache_write_tokens=200,
                cache_write_1h_tokens=50,
                output_tokens=300,
                reasoning_tokens=100,
                paid_pico=850,
                list_pico=1000,
                uncached_pico=2000,
            ),
            row(input_tokens=1, output_tokens=2, paid_pico=7, list_pico=7, usage_estimated=True),
            row(input_tokens=4, paid_pico=None, list_pico=None, status=502),
            row(paid_pico=5, list_pico=None, status=0),  # half known is unknown
        ]
    )
    assert await grand(store) == UsageTotals(
        requests=4,
        failed_requests=2,
        estimated_requests=1,
        input_tokens=1005,
        cached_input_tokens=600,
        cache_write_tokens=200,
        cache_write_1h_tokens=50,
        output_tokens=302,
        reasoning_tokens=100,
        paid_pico=857,
        list_pico=1007,
        unknown_cost_requests=2,
        cache_saving_pico=1150,
    )


async def test_routing_savings_may_be_negative(store: Store) -> None:
    await store.usage.append(
        [
            row(paid_pico=100, list_pico=100, reference_pico=1000),
            row(paid_pico=500, list_pico=500, reference_pico=400),
            row(paid_pico=None, list_pico=None, reference_pico=400),  # unknown: not routed
        ]
    )
    summed = await grand(store)
    assert (summed.routed_requests, summed.reference_pico) == (2, 1400)
    assert summed.routing_saving_pico == 800


async def test_sums_beyond_64_bits_stay_exact(store: Store) -> None:
    big = 2**62 + 12345
    await store.usage.append([row(paid_pico=big, list_pico=big) for _ in range(5)])
    await store.usage.append([row(paid_pico=-3, list_pico=1)])
    summed = await grand(store)
    assert summed.paid_pico == 5 * big - 3
    assert summed.list_pico == 5 * big + 1


async def test_other_workspaces_are_not_counted(store: Store) -> None:
    await store.usage.append([row("w1"), row("w2"), row("w2")])
    assert (await grand(store)).requests == 1


async def test_since_is_inclusive_and_until_exclusive(store: Store) -> None:
    await store.usage.append([row(at=timedelta(minutes=m)) for m in (0, 1, 2, 3)])
    window = await grand(store, since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
    assert window.requests == 2
    plus_two = timezone(timedelta(hours=2))
    shifted = await grand(store, since=(T0 + timedelta(minutes=3)).astimezone(plus_two))
    assert shifted.requests == 1


def keys(groups: list[UsageGroup]) -> list[tuple[object, ...]]:
    return [g.key for g in groups]


async def test_group_by_model_uses_the_served_model_or_the_requested_one(store: Store) -> None:
    await store.usage.append(
        [
            row(served_model="openai/gpt-4o", requested_model="gpt-4o"),
            row(served_model="openai/gpt-4o", requested_model="fast"),
            row(served_model=None, requested_model="nope"),
            row(served_model=None, requested_model=None),
        ]
    )
    groups = await totals(store, group_by=("model",))
    assert keys(groups) == [(None,), ("nope",), ("openai/gpt-4o",)]
    assert [g.totals.requests for g in groups] == [1, 1, 2]


@pytest.mark.parametrize(
    ("dimension", "field"),
    [
        ("key", "api_key_id"),
        ("provider", "provider"),
        ("user", "end_user"),
        ("policy", "route_policy"),
        ("error", "error_code"),
    ],
)
async def test_group_by_one_dimension(store: Store, dimension: str, field: str) -> None:
    await store.usage.append(
        [row(**{field: "b"}), row(**{field: "a"}), row(**{field: "b"}), row(**{field: None})]
    )
    groups = await totals(store, group_by=(dimension,))
    assert [(g.key, g.totals.requests) for g in groups] == [((None,), 1), (("a",), 1), (("b",), 2)]


async def test_buckets_then_dimensions(store: Store) -> None:
    day = timedelta(days=1)
    await store.usage.append(
        [
            row(at=-timedelta(hours=12, seconds=1), api_key_id="k1"),  # 2026-02-28 23:59:59
            row(at=-timedelta(hours=12), api_key_id="k1"),  # 2026-03-01 00:00:00
            row(at=day, api_key_id="k2", paid_pico=3, list_pico=4),
            row(at=day, api_key_id="k1"),
        ]
    )
    groups = await totals(store, bucket_seconds=86_400, group_by=("key",))
    midnight = datetime(2026, 3, 1, tzinfo=UTC)
    assert keys(groups) == [
        (midnight - day, "k1"),
        (midnight, "k1"),
        (midnight + day, "k1"),
        (midnight + day, "k2"),
    ]
    assert groups[-1].totals.paid_pico == 3
    assert all(isinstance(g.key[0], datetime) and g.key[0].tzinfo is not None for g in groups)


async def test_quarter_hour_buckets(store: Store) -> None:
    await store.usage.append([row(at=timedelta(minutes=m)) for m in (0, 14, 15, 44)])
    groups = await totals(store, bucket_seconds=900)
    assert [(g.key[0], g.totals.requests) for g in groups] == [
        (T0, 2),
        (T0 + timedelta(minutes=15), 1),
        (T0 + timedelta(minutes=30), 1),
    ]


@pytest.mark.parametrize("width", [0, -60, 7, 7200 * 5])
def test_a_bucket_must_divide_a_day(width: int) -> None:
    with pytest.raises(ValueError, match="divides a day"):
        UsageQuery(workspace_id="w1", bucket_seconds=width)


def test_every_row_field_is_a_column_of_the_usage_table() -> None:
    columns = [column.name for column in usage.columns]
    assert sorted(columns) == sorted(f.name for f in dataclasses.fields(UsageRow))


def test_a_query_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="naive"):
        UsageQuery(workspace_id="w1", since=datetime(2026, 1, 1))


async def test_sqlite_stores_unknown_costs_as_null(tmp_path: Path, anyio_backend: str) -> None:
    backend = open_store(f"sqlite:///{tmp_path / 'k.db'}")
    await backend.migrate()
    await backend.open()
    try:
        await backend.create_workspace(workspace("w1"))
        stored = row(paid_pico=None, list_pico=None, ttft_ms=12.5, usage_estimated=True)
        await backend.usage.append([stored])
    finally:
        await backend.close()
    with sqlite3.connect(tmp_path / "k.db") as conn:
        found = conn.execute(
            "SELECT paid_pico, list_pico, ttft_ms, usage_estimated, time FROM usage"
        ).fetchone()
    conn.close()
    assert found == (None, None, 12.5, 1, "2026-03-01 12:00:00.000000")
    assert dataclasses.asdict(stored)["paid_pico"] is None

"""One behavioural suite for every ``RoutingStore`` backend (memory and SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keyroute.core.errors import NotFound
from keyroute.storage.base import (
    FeedbackRecord,
    FeedbackTotals,
    RoutingPolicyRecord,
    Store,
    UsageRow,
    WorkspaceRecord,
)

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def workspace(id: str) -> WorkspaceRecord:
    return WorkspaceRecord(
        id=id, name=id, plan="free", created_at=T0, wrapped_data_key=b"k", master_key_id="m"
    )


def policy(name: str, ws: str = "w1", default: bool = False, **kw: object) -> RoutingPolicyRecord:
    fields: dict[str, object] = {
        "candidates": ("openai/gpt-4.1-mini", "openai/gpt-4.1"),
        "reference": "openai/gpt-4.1",
        "quality": 0.95,
    }
    fields.update(kw)
    return RoutingPolicyRecord(
        workspace_id=ws,
        name=name,
        is_default=default,
        updated_at=T0,
        **fields,  # type: ignore[arg-type]
    )


def row(rid: str, request_id: str, ws: str = "w1", minutes: int = 0, **kw: object) -> UsageRow:
    return UsageRow(
        id=rid,
        request_id=request_id,
        workspace_id=ws,
        time=T0 + timedelta(minutes=minutes),
        endpoint="/v1/chat/completions",
        inbound_format="openai",
        status=200,
        attempts=1,
        input_tokens=10,
        cached_input_tokens=0,
        cache_write_tokens=0,
        cache_write_1h_tokens=0,
        output_tokens=5,
        reasoning_tokens=0,
        usage_estimated=False,
        **kw,  # type: ignore[arg-type]
    )


def feedback(request_id: str, score: float, **kw: object) -> FeedbackRecord:
    fields: dict[str, object] = {
        "workspace_id": "w1",
        "policy": "p",
        "model": "openai/gpt-4.1",
        "request_time": T0,
    }
    fields.update(kw)
    return FeedbackRecord(
        request_id=request_id,
        score=score,
        created_at=T0,
        **fields,  # type: ignore[arg-type]
    )


async def test_policies_set_replace_list_delete(store: Store) -> None:
    routing = store.routing
    await routing.set_routing_policy(policy("b"))
    await routing.set_routing_policy(policy("a", max_strong_share=0.3, quality=None))
    await routing.set_routing_policy(policy("a", ws="w2"))
    assert [p.name for p in await routing.list_routing_policies("w1")] == ["a", "b"]
    first = (await routing.list_routing_policies("w1"))[0]
    assert first == policy("a", max_strong_share=0.3, quality=None)
    assert first.candidates == ("openai/gpt-4.1-mini", "openai/gpt-4.1")
    await routing.set_routing_policy(policy("b", reference="openai/gpt-4o"))
    assert (await routing.list_routing_policies("w1"))[1].reference == "openai/gpt-4o"
    assert await routing.delete_routing_policy("w1", "b")
    assert not await routing.delete_routing_policy("w1", "b")
    assert [p.name for p in await routing.list_routing_policies("w1")] == ["a"]
    assert [p.name for p in await routing.list_routing_policies("w2")] == ["a"]


async def test_one_default_per_workspace(store: Store) -> None:
    routing = store.routing
    await routing.set_routing_policy(policy("a", default=True))
    await routing.set_routing_policy(policy("a", ws="w2", default=True))
    await routing.set_routing_policy(policy("b", default=True))
    defaults = [p.name for p in await routing.list_routing_policies("w1") if p.is_default]
    assert defaults == ["b"]
    assert (await routing.list_routing_policies("w2"))[0].is_default


async def test_policy_writes_move_the_workspace_revision(store: Store) -> None:
    before = store.changes.revision("w1")
    other = store.changes.revision("w2")
    await store.routing.set_routing_policy(policy("a"))
    moved = store.changes.revision("w1")
    assert moved > before
    await store.routing.delete_routing_policy("w1", "a")
    assert store.changes.revision("w1") > moved
    assert store.changes.revision("w2") == other


async def test_unknown_workspace_is_refused(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.routing.set_routing_policy(policy("a", ws="nope"))
    with pytest.raises(NotFound):
        await store.routing.put_feedback(feedback("r", 1.0, workspace_id="nope"))


async def test_find_request_reads_the_usage_rows_of_its_workspace(store: Store) -> None:
    await store.usage.append(
        [
            row("u1", "req_a", route_policy="p", served_model="openai/gpt-4.1-mini"),
            row("u2", "req_a", minutes=5, route_policy="p", served_model="openai/gpt-4.1"),
            row("u3", "req_b", ws="w2"),
            row("u4", "req_c", requested_model="auto"),
        ]
    )
    found = await store.routing.find_request("w1", "req_a")
    assert found is not None
    assert (found.policy, found.model) == ("p", "openai/gpt-4.1")  # the latest row
    assert found.time == T0 + timedelta(minutes=5)
    assert await store.routing.find_request("w1", "req_b") is None  # another workspace's
    assert await store.routing.find_request("w1", "req_x") is None
    unserved = await store.routing.find_request("w1", "req_c")
    assert unserved is not None and unserved.model == "auto" and unserved.policy is None


async def test_feedback_replaces_and_totals_by_policy_and_model(store: Store) -> None:
    routing = store.routing
    await routing.put_feedback(feedback("r1", 0.0, thumbs="down"))
    await routing.put_feedback(feedback("r1", 1.0, thumbs="up", label="fixed"))  # replaces
    await routing.put_feedback(feedback("r2", 0.5))
    await routing.put_feedback(feedback("r3", 0.0, thumbs="down", model="openai/gpt-4.1-mini"))
    await routing.put_feedback(feedback("r4", 1.0, policy=None, model=None))
    await routing.put_feedback(feedback("r5", 1.0, workspace_id="w2"))
    await routing.put_feedback(
        feedback("r6", 1.0, request_time=T0 + timedelta(days=2))  # type: ignore[arg-type]
    )
    totals = await routing.feedback_totals("w1", until=T0 + timedelta(days=1))
    assert totals == [
        FeedbackTotals(policy=None, model=None, count=1, score_sum=1.0),
        FeedbackTotals(policy="p", model="openai/gpt-4.1", count=2, score_sum=1.5, thumbs_up=1),
        FeedbackTotals(
            policy="p", model="openai/gpt-4.1-mini", count=1, score_sum=0.0, thumbs_down=1
        ),
    ]
    later = await routing.feedback_totals("w1", since=T0 + timedelta(days=1))
    assert [t.count for t in later] == [1]


async def test_deleting_the_workspace_deletes_its_policies_and_feedback(store: Store) -> None:
    await store.routing.set_routing_policy(policy("a"))
    await store.routing.put_feedback(feedback("r1", 1.0))
    await store.delete_workspace("w1")
    await store.create_workspace(workspace("w1"))
    assert await store.routing.list_routing_policies("w1") == []
    assert await store.routing.feedback_totals("w1") == []

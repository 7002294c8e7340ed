"""Feedback on answers: ``POST /v1/feedback`` records how good an answer was, so a workspace
can check on its own traffic that the cheap route holds quality (``keyroute routing report``).

A feedback names a request by its ``request_id`` (the ``x-request-id`` of the answer) and gives
either a ``score`` from 0 (bad) to 1 (good) or ``thumbs`` ``up`` (1) or ``down`` (0), and
optionally a ``label`` (a short tag: ``wrong-answer``, ``too-slow``...). A request is found
among the ones this process answered lately (``RecentRequests``, a record sink, so feedback
sent right after an answer needs no database) and then in the usage table; feedback on a
request of another workspace is refused exactly like feedback on an unknown one (404), so a
gateway key learns nothing about other workspaces. Feedback given again replaces the first.

Invariant: the feedback request never blocks the chat request path; it is one read (when the
request is not recent) and one write of its own.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from keyroute.core.errors import InvalidRequest, NotFound
from keyroute.core.record import RequestRecord
from keyroute.storage.base import FeedbackRecord, RequestSummary, RoutingStore

_FIELDS = frozenset({"request_id", "score", "thumbs", "label"})
_MAX_LABEL = 64
_MAX_ID = 256


class RecentRequests:
    """The requests this process answered lately (a bounded LRU), as a ``RecordSink``."""

    def __init__(self, capacity: int = 50_000) -> None:
        self._capacity = capacity
        self._seen: OrderedDict[tuple[str, str], RequestSummary] = OrderedDict()

    def submit(self, record: RequestRecord) -> None:
        if record.workspace_id is None:
            return
        policy = record.route.get("policy") if record.route else None
        key = (record.workspace_id, record.request_id)
        self._seen[key] = RequestSummary(
            workspace_id=record.workspace_id,
            request_id=record.request_id,
            time=record.started_at,
            policy=policy if isinstance(policy, str) else None,
            model=record.served_model or record.requested_model,
        )
        self._seen.move_to_end(key)
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)

    def get(self, workspace_id: str, request_id: str) -> RequestSummary | None:
        return self._seen.get((workspace_id, request_id))


def _score(data: Mapping[str, Any]) -> tuple[float, str | None]:
    score, thumbs = data.get("score"), data.get("thumbs")
    if score is not None and thumbs is not None:
        raise InvalidRequest("Give 'score' or 'thumbs', not both.", param="thumbs")
    if thumbs is not None:
        if thumbs not in ("up", "down"):
            raise InvalidRequest('\'thumbs\' must be "up" or "down".', param="thumbs")
        return (1.0 if thumbs == "up" else 0.0), thumbs
    if score is None:
        raise InvalidRequest(
            "Give a 'score' from 0 to 1, or 'thumbs': \"up\" or \"down\".", param="score"
        )
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        raise InvalidRequest("'score' must be a number from 0 to 1.", param="score")
    if not 0.0 <= score <= 1.0:
        raise InvalidRequest(f"'score' must be from 0 to 1, not {score}.", param="score")
    return float(score), None


def _label(data: Mapping[str, Any]) -> str | None:
    label = data.get("label")
    if label is None:
        return None
    if not isinstance(label, str) or not 0 < len(label) <= _MAX_LABEL or not label.isprintable():
        raise InvalidRequest(f"'label' must be 1-{_MAX_LABEL} printable characters.", param="label")
    return label


def _request_id(data: Mapping[str, Any]) -> str:
    request_id = data.get("request_id")
    if not isinstance(request_id, str) or not request_id:
        raise InvalidRequest(
            "'request_id' must be the x-request-id of an answer.", param="request_id"
        )
    if len(request_id) > _MAX_ID or not request_id.isprintable():
        raise InvalidRequest("'request_id' is not a request id.", param="request_id")
    return request_id


class FeedbackBook:
    """Checks and stores feedback for the workspace of the caller's gateway key."""

    def __init__(
        self,
        store: RoutingStore,
        recent: RecentRequests,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._recent = recent
        self._clock = clock

    async def give(self, workspace_id: str, data: Mapping[str, Any]) -> FeedbackRecord:
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            raise InvalidRequest(f"Unknown field '{unknown[0]}'.", param=unknown[0])
        request_id = _request_id(data)
        score, thumbs = _score(data)
        label = _label(data)
        found = self._recent.get(workspace_id, request_id)
        if found is None:
            found = await self._store.find_request(workspace_id, request_id)
        if found is None:
            raise NotFound(
                f"No request with id {ascii(request_id)} in this workspace.",
                param="request_id",
            )
        record = FeedbackRecord(
            workspace_id=workspace_id,
            request_id=request_id,
            score=score,
            thumbs=thumbs,
            label=label,
            policy=found.policy,
            model=found.model,
            request_time=found.time,
            created_at=self._clock(),
        )
        await self._store.put_feedback(record)
        return record

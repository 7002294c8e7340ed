"""``VelocitySink``: the ``RecordSink`` that counts each settled request on the velocity board.

``submit`` runs on the request path (from the frame's ``finally``): a few dictionary additions,
no I/O, no await; a request that cost at least the immediate threshold wakes the evaluator.
"""

from __future__ import annotations

from keyroute.alerts.engine import AlertEngine
from keyroute.core.record import RequestRecord


class VelocitySink:
    def __init__(self, engine: AlertEngine) -> None:
        self._engine = engine
        self._board = engine.board
        self._immediate = engine.settings.immediate_pico

    def submit(self, record: RequestRecord) -> None:
        workspace_id = record.workspace_id
        if workspace_id is None:
            return
        cost = record.cost
        spend = cost.paid_pico if cost is not None and cost.known and cost.paid_pico else 0
        self._board.add(
            workspace_id,
            record.started_at,
            key=record.api_key_id,
            model=record.served_model or record.requested_model,
            user=record.end_user,
            spend_pico=spend,
            failed=record.status >= 400 or record.status == 0,
        )
        if spend >= self._immediate > 0:
            self._engine.urgent(workspace_id)

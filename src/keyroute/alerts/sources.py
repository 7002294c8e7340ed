"""What the evaluator reads besides the velocity board, as narrow protocols.

``BudgetSource``: a workspace's budgets, its own and its gateway keys' and end users' (the
budgets feature stores them); ``ChannelOpener``: a
channel with its secret opened (the vault lives outside this package); ``Actions``: pausing a
gateway key or switching a workspace to its budget downgrade model, audited by the control plane.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

from keyroute.alerts.delivery import Channel
from keyroute.alerts.projection import Period


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    period: Period
    limit_usd: Decimal
    timezone: str = "UTC"
    scope: Literal["workspace", "key", "user"] = "workspace"
    subject: str | None = None  # a gateway key id, or an end-user tag


class BudgetSource(Protocol):
    async def budgets(self, workspace_id: str) -> list[Budget]: ...


class NoBudgets:
    """A source with no budgets: budget rules never breach."""

    async def budgets(self, workspace_id: str) -> list[Budget]:
        return []


class ChannelOpener(Protocol):
    async def open_channel(self, workspace_id: str, channel_id: str) -> Channel | None:
        """The channel, secret opened; ``None`` if it no longer exists."""
        ...


class Actions(Protocol):
    async def pause_key(self, workspace_id: str, key_id: str, reason: str) -> str:
        """Pause the key; returns what was done, for the message and the history."""
        ...

    async def downgrade(self, workspace_id: str, rule: str, reason: str) -> str:
        """Switch the workspace to its budget downgrade model (rule ``rule`` fired); returns
        what was done."""
        ...

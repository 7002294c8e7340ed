"""Delivery: each notification to its channel, retried with exponential backoff, every attempt
in the history.

The ``Notifier`` protocol is the seam to the edge (``keyroute.notifiers``: the webhook and Slack
poster on aiohttp, the SMTP sender): a notifier sends once or raises ``DeliveryFailed``; this
module decides when to try again and writes what happened. Deliveries run as background tasks:
a slow or dead receiver holds nothing but its own task.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from keyroute.alerts.messages import Alert
from keyroute.core.alert_store import AlertChannelKind, AlertEventRecord
from keyroute.core.secret import Secret

log = logging.getLogger("keyroute.alerts")
MAX_DELAY = 300.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """A channel ready to send on: its secret (webhook signing secret, Slack URL) opened."""

    id: str
    name: str
    kind: AlertChannelKind
    target: str  # the webhook URL or email address; a Slack URL is in ``secret``
    secret: Secret | None = None


class DeliveryFailed(Exception):
    """One attempt failed; the message says how (status, refusal, timeout), never a secret."""


class Notifier(Protocol):
    async def send(self, channel: Channel, alert: Alert) -> None:
        """Send once; raise ``DeliveryFailed`` when the receiver did not take it."""
        ...


def event_id(now: datetime) -> str:
    """Unique, and sorted as made: by ``now`` (the injected clock), then, within one process,
    by the monotonic clock: ``ae_<microseconds hex>_<monotonic ns hex>_<random>``."""
    return f"ae_{int(now.timestamp() * 1e6):014x}_{time.monotonic_ns():016x}_{secrets.token_hex(3)}"


class Deliverer:
    def __init__(
        self,
        notifiers: Mapping[str, Notifier],
        history: Callable[[Sequence[AlertEventRecord]], Awaitable[None]],
        *,
        clock: Callable[[], datetime],
        attempts: int = 5,
        base_delay: float = 2.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._notifiers = notifiers
        self._history = history
        self._clock = clock
        self._attempts = attempts
        self._base_delay = base_delay
        self._sleep = sleep

    def delay(self, attempt: int) -> float:
        """Seconds before attempt ``attempt + 1``: base, 2x base, 4x base... capped."""
        return float(min(self._base_delay * 2.0 ** (attempt - 1), MAX_DELAY))

    async def deliver(self, channel: Channel, alert: Alert) -> bool:
        """Try up to ``attempts`` times; ``True`` once delivered."""
        notifier = self._notifiers.get(channel.kind)
        for attempt in range(1, self._attempts + 1):
            try:
                if notifier is None:
                    raise DeliveryFailed(f"no notifier for {channel.kind} channels")
                await notifier.send(channel, alert)
            except DeliveryFailed as exc:
                last = attempt == self._attempts
                await self._record(
                    channel, alert, attempt, "gave-up" if last else "failed", str(exc)
                )
                if last:
                    log.warning("alert %s to channel %s: gave up: %s", alert.id, channel.name, exc)
                    return False
                await self._sleep(self.delay(attempt))
            else:
                await self._record(channel, alert, attempt, "delivered", "")
                return True
        return False

    async def _record(
        self, channel: Channel, alert: Alert, attempt: int, outcome: str, error: str
    ) -> None:
        now = self._clock()
        detail: dict[str, str] = {"event": alert.event, "kind": channel.kind}
        if error:
            detail["error"] = error[:500]
        try:
            await self._history(
                [
                    AlertEventRecord(
                        id=event_id(now),
                        workspace_id=alert.workspace_id,
                        time=now,
                        rule=alert.rule,
                        kind="delivery",
                        alert_id=alert.id,
                        channel=channel.name,
                        attempt=attempt,
                        outcome=outcome,
                        detail=json.dumps(detail, sort_keys=True),
                    )
                ]
            )
        except Exception:  # a history write must not stop the retries
            log.exception("could not record delivery attempt %d of alert %s", attempt, alert.id)

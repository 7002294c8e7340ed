"""``HttpNotifier``: generic webhooks (signed JSON) and Slack incoming webhooks, over aiohttp.

One pooled session for every alert POST, created on first use inside the running loop and
closed with the services. Redirects are not followed (a 3xx is a failure naming it), every POST
has a total timeout, and at most 4 KiB of an error body is read, to name the failure.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp

from keyroute.alerts.delivery import Channel, DeliveryFailed
from keyroute.alerts.messages import Alert, sign, slack_body, webhook_body

USER_AGENT = "keyroute-alerts/1"
_ERROR_BYTES = 4096


class HttpNotifier:
    def __init__(self, *, timeout: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers={"user-agent": USER_AGENT}
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, channel: Channel, alert: Alert) -> None:
        headers = {"content-type": "application/json"}
        if channel.kind == "slack":
            if channel.secret is None:
                raise DeliveryFailed("the Slack channel has no webhook URL")
            url, body = channel.secret.reveal(), slack_body(alert)
        else:
            url, body = channel.target, webhook_body(alert)
            stamp = str(int(self._clock()))
            headers["x-keyroute-timestamp"] = stamp
            headers["x-keyroute-event"] = alert.event
            headers["x-keyroute-alert-id"] = alert.id
            if channel.secret is not None:
                headers["x-keyroute-signature"] = sign(channel.secret.reveal(), stamp, body)
        await self._post(url, body, headers)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        try:
            async with self._client().post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                if 200 <= response.status < 300:
                    return
                snippet = (await response.content.read(_ERROR_BYTES)).decode("utf-8", "replace")
                raise DeliveryFailed(f"HTTP {response.status}: {snippet.strip()[:200]}")
        except TimeoutError:
            raise DeliveryFailed("timed out") from None
        except asyncio.CancelledError:
            raise
        except aiohttp.ClientError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None

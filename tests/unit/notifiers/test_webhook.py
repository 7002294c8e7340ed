"""``HttpNotifier`` against a real receiver on a loopback socket."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from keyroute.alerts.delivery import Channel, DeliveryFailed
from keyroute.alerts.messages import Alert, Spender
from keyroute.core.secret import Secret
from keyroute.notifiers.webhook import HttpNotifier
from tests.fakes.alert_receivers import WebhookReceiver
from tests.fakes.server import serve

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)

ALERT = Alert(
    id="al_r1_1",
    rule="runaway",
    rule_id="r1",
    kind="burn_rate",
    workspace="acme",
    workspace_id="w1",
    event="firing",
    level=1,
    description="spend above $100.00/hour over 15m",
    value=Decimal("900.5"),
    threshold=Decimal(100),
    unit="usd_per_hour",
    window="15m (short 1m15s)",
    fired_at=T0,
    sent_at=T0,
    top_keys=[Spender(id="key_1", name="agent", spend_usd=Decimal("14.95"), requests=299)],
)


async def test_webhook_is_signed_json() -> None:
    receiver = WebhookReceiver()
    notifier = HttpNotifier(clock=lambda: 1_800_000_000.0)
    with serve(receiver.app) as url:
        channel = Channel(
            id="c1",
            name="ops",
            kind="webhook",
            target=url + "/hook",
            secret=Secret("s3cret-signing-key"),
        )
        await notifier.send(channel, ALERT)
    await notifier.close()
    (got,) = receiver.received
    body = json.loads(got.body)
    assert {k: body[k] for k in ("rule", "workspace", "state", "value", "threshold", "window")} == {
        "rule": "runaway",
        "workspace": "acme",
        "state": "firing",
        "value": 900.5,
        "threshold": 100.0,
        "window": "15m (short 1m15s)",
    }
    assert body["top_keys"] == [
        {"id": "key_1", "name": "agent", "spend_usd": 14.95, "requests": 299}
    ]
    assert body["fired_at"] == "2026-12-03T03:00:00Z"
    assert body["how_to_act"] == "keyroute api-key pause --workspace acme key_1"
    assert got.headers["x-keyroute-timestamp"] == "1800000000"
    expected = hmac.new(b"s3cret-signing-key", b"1800000000." + got.body, hashlib.sha256)
    assert got.headers["x-keyroute-signature"] == "sha256=" + expected.hexdigest()
    assert got.headers["content-type"] == "application/json"


async def test_slack_payload_goes_to_the_sealed_url() -> None:
    receiver = WebhookReceiver()
    notifier = HttpNotifier()
    with serve(receiver.app) as url:
        channel = Channel(
            id="c2", name="s", kind="slack", target="(hidden)", secret=Secret(url + "/hook")
        )
        await notifier.send(channel, ALERT)
    await notifier.close()
    (got,) = receiver.received
    body = json.loads(got.body)
    assert body["text"].startswith("[keyroute] FIRING: runaway in workspace acme: $900.50/hour")
    assert "keyroute api-key pause --workspace acme key_1" in body["blocks"][1]["text"]["text"]
    assert "x-keyroute-signature" not in got.headers


async def test_failures_are_named() -> None:
    receiver = WebhookReceiver()
    receiver.status = 503
    notifier = HttpNotifier(timeout=5)
    with serve(receiver.app) as url:
        channel = Channel(id="c1", name="ops", kind="webhook", target=url + "/hook")
        with pytest.raises(DeliveryFailed, match="HTTP 503: receiver down"):
            await notifier.send(channel, ALERT)
        gone = Channel(id="c1", name="ops", kind="webhook", target=url + "/nothing-here")
        with pytest.raises(DeliveryFailed, match="HTTP 405|HTTP 404"):
            await notifier.send(gone, ALERT)
    await notifier.close()
    closed = Channel(id="c1", name="ops", kind="webhook", target=url + "/hook")  # server stopped
    with pytest.raises(DeliveryFailed, match="Connect"):
        await notifier.send(closed, ALERT)
    with pytest.raises(DeliveryFailed, match="no webhook URL"):
        await notifier.send(Channel(id="c", name="s", kind="slack", target="x"), ALERT)
    await notifier.close()

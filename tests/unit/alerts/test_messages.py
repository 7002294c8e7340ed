from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from keyroute.alerts.messages import email, show, sign, slack_body, text_lines, webhook_body
from tests.unit.notifiers.test_webhook import ALERT


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"k", b"123." + body, hashlib.sha256).hexdigest()
    assert sign("k", "123", body) == "sha256=" + expected


def test_units() -> None:
    assert show(Decimal("1234.5"), "usd_per_hour") == "$1,234.50/hour"
    assert show(Decimal("12.34"), "percent") == "12.3%"
    assert show(Decimal("5.54"), "x_baseline") == "5.5x baseline"
    assert show(Decimal(3600), "requests_per_hour") == "3,600 requests/hour"
    assert show(Decimal(7), "usd") == "$7.00"


def test_resolved_message_has_no_call_to_act_and_a_projection_says_when() -> None:
    resolved = replace(ALERT, event="resolved")
    assert resolved.state == "resolved"
    assert not any(line.startswith("To act") for line in text_lines(resolved))
    assert json.loads(webhook_body(resolved))["state"] == "resolved"
    runs_out = replace(ALERT, exhausts_at=datetime(2026, 12, 20, tzinfo=UTC))
    assert "runs out at 2026-12-20T00:00:00Z" in "\n".join(text_lines(runs_out))
    assert json.loads(webhook_body(runs_out))["exhausts_at"] == "2026-12-20T00:00:00Z"


def test_no_key_means_the_usage_command() -> None:
    keyless = replace(ALERT, top_keys=[])
    assert keyless.how_to_act() == "keyroute usage --workspace acme --by key --since 1d"


def test_slack_and_email_renderings() -> None:
    slack = json.loads(slack_body(replace(ALERT, event="escalated", level=2)))
    assert slack["text"].startswith("[keyroute] ESCALATED: runaway")
    message = email(ALERT, sender="k@example.com", to="o@example.com")
    assert message["X-Keyroute-Alert"] == "al_r1_1"
    assert "Current: $900.50/hour" in message.get_content()
    later = replace(ALERT, sent_at=ALERT.fired_at + timedelta(minutes=30), event="reminder")
    assert later.headline().startswith("[keyroute] STILL FIRING")

"""``SmtpNotifier`` against a real SMTP server (aiosmtpd) with STARTTLS and AUTH."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyroute.alerts.delivery import Channel, DeliveryFailed
from keyroute.core.secret import Secret
from keyroute.notifiers.smtp import SmtpNotifier, SmtpSettings
from tests.fakes.alert_receivers import smtp_server
from tests.unit.notifiers.test_webhook import ALERT

pytestmark = pytest.mark.anyio
CHANNEL = Channel(id="c3", name="oncall", kind="email", target="oncall@example.com")


def settings(port: int, cert: Path, starttls: bool = True) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=port,
        username="alerts",
        password=Secret("pw"),
        starttls=starttls,
        sender="keyroute@example.com",
        timeout=10,
        ca_file=str(cert),
    )


async def test_email_over_starttls_with_login(tmp_path: Path) -> None:
    with smtp_server(tmp_path, "alerts", "pw") as inbox:
        await SmtpNotifier(settings(inbox.port, inbox.cert)).send(CHANNEL, ALERT)
        (message,) = inbox.received()
    assert inbox.logins == ["alerts"]
    assert message["To"] == "oncall@example.com" and message["From"] == "keyroute@example.com"
    assert message["Subject"].startswith("[keyroute] FIRING: runaway in workspace acme")
    text = message.get_payload(decode=True).decode()
    assert "Top keys: agent [key_1]: $14.95 in 299 req" in text
    assert "To act: keyroute api-key pause --workspace acme key_1" in text


async def test_untrusted_certificate_no_starttls_and_no_server(tmp_path: Path) -> None:
    with smtp_server(tmp_path, "alerts", "pw") as inbox:
        untrusted = settings(inbox.port, inbox.cert)
        other = tmp_path / "other"
        other.mkdir()
        from tests.fakes.alert_receivers import self_signed

        foreign, _ = self_signed(other)
        with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED|SSL"):
            await SmtpNotifier(
                SmtpSettings(**{**_fields(untrusted), "ca_file": str(foreign)})
            ).send(CHANNEL, ALERT)
        # The server requires STARTTLS: a client that skips it cannot log in or send.
        with pytest.raises(DeliveryFailed):
            await SmtpNotifier(settings(inbox.port, inbox.cert, starttls=False)).send(
                CHANNEL, ALERT
            )
        assert inbox.received() == []
        port = inbox.port
    with pytest.raises(DeliveryFailed, match="ConnectionRefused"):
        await SmtpNotifier(settings(port, inbox.cert)).send(CHANNEL, ALERT)
    no_host = SmtpSettings(**{**_fields(settings(port, inbox.cert)), "host": ""})
    with pytest.raises(DeliveryFailed, match=r"\[alerts.smtp\] host"):
        await SmtpNotifier(no_host).send(CHANNEL, ALERT)


def _fields(s: SmtpSettings) -> dict[str, object]:
    return {name: getattr(s, name) for name in SmtpSettings.__dataclass_fields__}

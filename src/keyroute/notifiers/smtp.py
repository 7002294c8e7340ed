"""``SmtpNotifier``: alert emails through the SMTP server of ``[alerts.smtp]``.

``smtplib`` in a worker thread (``asyncio.to_thread``): alert email is rare and small, and the
standard library's client does STARTTLS and AUTH well, so no async SMTP dependency is needed.
STARTTLS verifies the server's certificate (the system's CAs, or ``ca_file``); a server that
does not offer STARTTLS when it is required is a failed attempt, never a plaintext login.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass

from keyroute.alerts.delivery import Channel, DeliveryFailed
from keyroute.alerts.messages import Alert, email
from keyroute.core.secret import Secret


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpSettings:
    host: str
    port: int
    username: str
    password: Secret | None
    starttls: bool
    sender: str
    timeout: float
    ca_file: str | None = None


class SmtpNotifier:
    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    async def send(self, channel: Channel, alert: Alert) -> None:
        if not self._settings.host:
            raise DeliveryFailed("no SMTP server: set [alerts.smtp] host")
        message = email(alert, sender=self._settings.sender, to=channel.target)
        try:
            await asyncio.to_thread(self._send, message)
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise DeliveryFailed(f"SMTP {type(exc).__name__}: {exc}") from None

    def _send(self, message: object) -> None:
        s = self._settings
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as client:
            client.ehlo()
            if s.starttls:
                if not client.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError("the server does not offer STARTTLS")
                context = ssl.create_default_context(cafile=s.ca_file)
                client.starttls(context=context)
                client.ehlo()
            if s.username:
                password = s.password.reveal() if s.password is not None else ""
                client.login(s.username, password)
            client.send_message(message)  # type: ignore[arg-type]

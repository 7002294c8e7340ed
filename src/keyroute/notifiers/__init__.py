"""Notifiers: the edge where alerts leave the process (``keyroute.alerts.delivery.Notifier``).

``webhook.HttpNotifier`` posts signed webhook JSON and Slack payloads with aiohttp;
``smtp.SmtpNotifier`` sends email through the configured SMTP server (STARTTLS, login) with the
standard library's ``smtplib`` in a worker thread. Each sends once and raises
``DeliveryFailed``; retries and history are ``keyroute.alerts.delivery``'s.
"""

"""Burn-rate alerts: spend velocity, rules, evaluation, notification and actions.

- ``velocity``: per-workspace bucketed counters (spend, requests, errors) per gateway key, model
  and end-user tag, fed by ``sink.VelocitySink`` at every settlement and re-synced from the usage
  store (so every worker's spend counts).
- ``rules`` / ``durations``: the rule kinds and their settings; ``evaluate``: pure readings and
  transitions (multiwindow burn rate, anomaly against a same-hour baseline, budgets, projected
  exhaustion, request and error rates); ``baseline`` and ``projection`` hold the calendar maths.
- ``messages``: what a notification says (webhook JSON, Slack, email); ``delivery``: retries
  with backoff and the history of every attempt, through the ``Notifier`` protocol whose
  implementations live in ``keyroute.notifiers`` (the edge: aiohttp, smtplib).
- ``engine``: the background evaluator: one lease holder evaluates, a compare-and-set on each
  rule's state makes exactly one worker notify a transition.

Invariants: nothing here runs on a client's request path but ``VelocitySink.submit`` (a few
dictionary additions); every clock is injected.
"""

"""Governance settings: plans with monthly quotas, rate limits and budgets, as a workspace's
operators set them (``keyroute workspace set-plan``, ``keyroute budget``, ``keyroute ratelimit``
and their admin routes).

``rules.py`` checks every value a user gives (one error naming the field, never a clamp);
``limits.py`` turns the stored settings into the ``admission.policy.Limits`` the request path
enforces, carried in memory by ``WorkspaceState.limits``; ``periods.py`` computes the calendar
periods (the quota's month, a budget's day and month) in a workspace's time zone.

Invariant: this package stores nothing and enforces nothing; it validates and maps. Storage is
``storage.base.GovernanceStore``, enforcement is ``admission``.
"""

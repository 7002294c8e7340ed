"""Admission: plans' monthly request quotas, rate limits and budgets, enforced before a request
is sent (a reservation in the ``ledger``) and settled after it (``pipeline.meter``).

``policy.py`` holds the limits a workspace is under, as frozen values; the governance settings
store them and the workspace state carries them here.
"""

"""Resilience: what to do when an upstream attempt fails.

``classify.py`` is the one error classification table (retry the same target, fail over to the
next candidate, fail over only to a larger context window, or give the error back to the
client); ``backoff.py`` the delays between retries (exponential, full jitter, ``retry-after``
honoured up to a cap); ``attempts.py`` the one attempt loop for whole and streamed requests;
``breakers.py`` circuit breakers per (provider key, model). Everything here is pure or takes
its clock, sleep and randomness as arguments: no sockets, no storage.
"""

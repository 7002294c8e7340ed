"""Shared fixtures: the anyio backend for async tests, and the Hypothesis profile.

With ``CI=true`` Hypothesis runs the ``ci`` profile: derandomized (the same examples on every
run, so a failure in CI reproduces locally with ``CI=true``), without an example database and
without per-example deadlines (a shared CI machine is slow in bursts). Hypothesis has a built-in
profile of that name that it loads when it detects CI; this one is explicit so the behaviour does
not depend on the Hypothesis version. Elsewhere the ``dev`` profile runs: randomized, but without
deadlines either (a per-example deadline is a timed assertion, and on a loaded machine it fails
tests that are correct).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

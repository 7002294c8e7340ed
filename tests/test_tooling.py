"""The test run's own guards: a per-test timeout, and derandomized Hypothesis in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_test_has_a_timeout(pytestconfig: pytest.Config) -> None:
    # pytest-timeout reads this ini key; a hung server thread fails its test instead of CI.
    assert 0 < float(pytestconfig.getini("timeout")) <= 300


def test_hypothesis_profile_matches_the_environment() -> None:
    in_ci = os.environ.get("CI") == "true"
    assert settings.default.derandomize is in_ci
    assert (settings.default.database is None) is in_ci


@pytest.mark.parametrize("ci", [True, False])
def test_ci_derandomizes_hypothesis(ci: bool) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"{Path(__file__).relative_to(ROOT)}::test_hypothesis_profile_matches_the_environment",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

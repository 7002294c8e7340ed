"""How a caller names the governance settings' fields, so that an error names what it typed.

The CLI says ``--daily`` and ``--downgrade-to``; the admin API says ``daily_usd`` and
``downgrade_to``. ``ControlPlane.governance`` checks values once for both and words its errors
with the caller's ``FieldNames``: ``param`` is the name the caller's error carries (the CLI's
``--json`` errors and the admin API's 400s), ``label`` is how the message shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldNames:
    """Canonical field -> (param, label)."""

    names: Mapping[str, tuple[str, str]]

    def param(self, field: str) -> str:
        return self.names[field][0]

    def label(self, field: str) -> str:
        return self.names[field][1]

    def renamed(self, field: str, name: str) -> FieldNames:
        """These names with ``field`` called ``name`` (a field that has two spellings)."""
        return FieldNames({**self.names, field: (name, f"'{name}'")})


def _cli(field: str, flag: str) -> tuple[str, tuple[str, str]]:
    return field, (field, flag)


def _api(field: str, name: str) -> tuple[str, tuple[str, str]]:
    return field, (name, f"'{name}'")


CLI_NAMES = FieldNames(
    dict(
        (
            _cli("plan", "PLAN"),
            _cli("quota", "--quota"),
            _cli("timezone", "--timezone"),
            _cli("key", "--key"),
            _cli("user", "--user"),
            _cli("daily", "--daily"),
            _cli("monthly", "--monthly"),
            _cli("action", "--action"),
            _cli("downgrade_to", "--downgrade-to"),
            _cli("thresholds", "--thresholds"),
            _cli("requests_per_minute", "--rpm"),
            _cli("tokens_per_minute", "--tpm"),
        )
    )
)
"""The CLI's flags (``param`` stays the canonical name, as the CLI's JSON errors always had)."""

API_NAMES = FieldNames(
    dict(
        (
            _api("plan", "plan"),
            _api("quota", "quota"),
            _api("timezone", "timezone"),
            _api("key", "key"),
            _api("user", "user"),
            _api("daily", "daily_usd"),
            _api("monthly", "monthly_usd"),
            _api("action", "action"),
            _api("downgrade_to", "downgrade_to"),
            _api("thresholds", "thresholds"),
            _api("requests_per_minute", "requests_per_minute"),
            _api("tokens_per_minute", "tokens_per_minute"),
        )
    )
)
"""The admin API's JSON fields."""

"""How the CLI and the admin API name the governance fields in their errors."""

from __future__ import annotations

from keyroute.control.field_names import API_NAMES, CLI_NAMES


def test_the_cli_shows_flags_and_keeps_canonical_params() -> None:
    assert (CLI_NAMES.param("daily"), CLI_NAMES.label("daily")) == ("daily", "--daily")
    assert CLI_NAMES.label("requests_per_minute") == "--rpm"


def test_the_admin_api_names_its_json_fields() -> None:
    assert (API_NAMES.param("daily"), API_NAMES.label("daily")) == ("daily_usd", "'daily_usd'")
    assert API_NAMES.names.keys() == CLI_NAMES.names.keys()
    renamed = API_NAMES.renamed("quota", "monthly_requests")
    assert renamed.param("quota") == "monthly_requests"
    assert API_NAMES.param("quota") == "quota"

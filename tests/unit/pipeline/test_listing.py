"""``keyroute.pipeline.listing``: the catalogue a workspace sees (its providers' models under their
prefixes, and aliases)."""

from __future__ import annotations

from datetime import UTC, datetime

from keyroute.pipeline.listing import catalogue
from keyroute.storage.base import ProviderKeyRecord, WorkspaceRecord
from keyroute.workspace_state import WorkspaceState

NOW = datetime(2026, 11, 26, tzinfo=UTC)
WORKSPACE = WorkspaceRecord(
    id="ws_1", name="w", plan="free", created_at=NOW, wrapped_data_key=b"", master_key_id="m"
)


def key(provider: str, name: str) -> ProviderKeyRecord:
    return ProviderKeyRecord(
        id=f"pk_{name}",
        workspace_id="ws_1",
        provider=provider,
        name=name,
        base_url=None,
        ciphertext=b"",
        nonce=b"",
        fingerprint="",
        last4="",
        created_at=NOW,
    )


def test_catalogue() -> None:
    state = WorkspaceState(
        workspace=WORKSPACE,
        provider_keys=[key("demo", "demo"), key("openai", "openai"), key("openai", "prod")],
        aliases={"cheap": "openai/gpt-4o-mini"},
    )
    models = catalogue(state)
    assert models["demo/fast"] == "demo"
    assert models["openai/gpt-4o-mini"] == "openai"
    assert models["prod/gpt-4o-mini"] == "openai"  # a second key of a provider: by key name
    assert models["cheap"] == "alias of openai/gpt-4o-mini"


def test_empty_workspace_reaches_nothing() -> None:
    assert catalogue(WorkspaceState(workspace=WORKSPACE, provider_keys=[], aliases={})) == {}

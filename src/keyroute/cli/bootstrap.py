"""``keyroute init``: data directory, master key, schema, default workspace, first credentials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keyroute.config.schema import Config
from keyroute.core.errors import ConfigError
from keyroute.services import Services, load_keyring
from keyroute.storage.base import ProviderKeyRecord, WorkspaceRecord
from keyroute.storage.registry import open_store
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring


@dataclass(frozen=True, slots=True)
class InitResult:
    created: bool
    details: dict[str, Any]


async def upgrade_database(config: Config) -> int:
    """The schema to its newest migration, then every provider key sealed by keyroute 0.1
    re-sealed under the vault's AAD v2; returns how many keys were re-sealed.

    Migrations never see the master key, so the re-seal runs here, after the schema upgrade. The
    master key is needed only when such keys exist; without it they stay refused by the gateway
    and this fails, naming what to do.
    """
    store = open_store(config.resolved_database_url)
    try:
        await store.migrate()
        await store.open()
        try:
            keyring = load_keyring(config)
        except ConfigError as missing:
            reason = missing.message

            async def refuse(_w: WorkspaceRecord, _k: ProviderKeyRecord) -> tuple[bytes, bytes]:
                raise ConfigError(
                    "The schema is upgraded, but provider keys sealed by an older keyroute "
                    f"must be re-sealed with the master key: {reason}"
                )

            return await store.reseal_provider_keys(refuse)
        return await KeyVault(store, keyring).reseal_provider_keys()
    finally:
        await store.close()


async def initialise(config: Config) -> InitResult:
    """Idempotent: a second run changes nothing and reports that setup already happened."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    config.data_dir.chmod(0o700)
    if config.master_key is None and not config.master_key_path.exists():
        MasterKeyring.generate(config.master_key_path)
    await upgrade_database(config)
    services = await Services.open(config)
    try:
        if await services.store.get_setting("initialised_at") is not None:
            return InitResult(created=False, details={"data_dir": str(config.data_dir)})
        control = services.control
        workspace = await control.create_workspace("default", "free")
        # The operator's own workspace on a self-hosted gateway: no monthly quota. Workspaces
        # created later start on ``free`` (``keyroute workspace set-plan`` changes either).
        await control.governance.set_plan(workspace.id, "custom", quota="unlimited")
        await control.add_provider_key(workspace.id, "demo", "", name="demo")
        admin_token = await control.set_admin_token()
        api_key = await control.create_api_key(workspace.id, "default")
        await services.store.set_setting("initialised_at", workspace.created_at.isoformat())
        return InitResult(
            created=True,
            details={
                "data_dir": str(config.data_dir.resolve()),
                "database_url": config.resolved_database_url,
                "master_key": "KEYROUTE_MASTER_KEY"
                if config.master_key is not None
                else str(config.master_key_path.resolve()),
                "workspace": workspace.name,
                "workspace_id": workspace.id,
                "admin_token": admin_token,
                "api_key": api_key.key,
                "api_key_id": api_key.record.id,
            },
        )
    finally:
        await services.close()


def quickstart(base_url: str, api_key: str) -> str:
    """The ready-to-paste first call, as printed by ``keyroute init``."""
    return f"""Try it (the demo provider is simulated; no provider account needed):

  curl -s {base_url}/v1/chat/completions \\
    -H "Authorization: Bearer {api_key}" \\
    -H "Content-Type: application/json" \\
    -d '{{"model": "demo/fast", "messages": [{{"role": "user", "content": "Hello!"}}]}}'

  python - <<'PY'
from openai import OpenAI
client = OpenAI(base_url="{base_url}/v1", api_key="{api_key}")
reply = client.chat.completions.create(
    model="demo/fast", messages=[{{"role": "user", "content": "Hello!"}}])
print(reply.choices[0].message.content)
PY"""

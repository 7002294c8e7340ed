"""A provider key is bound to its provider and base URL: rewriting them in the database does not
redirect the key, and keys sealed by keyroute 0.1 are re-sealed by ``keyroute migrate``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest
from alembic import command

from keyroute.storage.migrations import alembic_config
from keyroute.storage.sqlite import sqlite_path
from keyroute.vault.crypto import legacy_provider_key_aad, seal, unwrap_data_key
from keyroute.vault.masterkey import MasterKeyring
from tests.fakes.fake_openai import UPSTREAM_KEY, FakeOpenAI
from tests.fakes.server import serve
from tests.integration.conftest import Gateway

pytestmark = pytest.mark.integration


@pytest.fixture
def two_hosts() -> Iterator[tuple[FakeOpenAI, str, FakeOpenAI, str]]:
    """The provider the key was added for, and a host that would like to receive it."""
    honest, attacker = FakeOpenAI(), FakeOpenAI()
    with serve(honest.app) as honest_url, serve(attacker.app) as attacker_url:
        yield honest, honest_url + "/v1", attacker, attacker_url + "/v1"


def add_key(gateway: Gateway, base_url: str) -> str:
    added = gateway.cli_json(
        "provider-key",
        "add",
        "--workspace",
        "default",
        "--provider",
        "openai",
        "--key-stdin",
        "--name",
        "prod",
        "--base-url",
        base_url,
        stdin=UPSTREAM_KEY,
    )
    return str(added["id"])


def chat(gateway: Gateway) -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {gateway.api_key}"},
        json={"model": "prod/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )


def database(gateway: Gateway) -> sqlite3.Connection:
    return sqlite3.connect(sqlite_path(gateway.config.resolved_database_url))


@pytest.mark.parametrize(
    "column", ["base_url", "provider"], ids=["repointed base URL", "changed provider"]
)
def test_a_key_repointed_in_the_database_is_never_sent(
    gateway: Gateway, two_hosts: tuple[FakeOpenAI, str, FakeOpenAI, str], column: str
) -> None:
    honest, honest_url, attacker, attacker_url = two_hosts
    key_id = add_key(gateway, honest_url)
    # Someone with write access to the database, but not to the master key, redirects the key.
    value = attacker_url if column == "base_url" else "openai-compatible"
    with closing(database(gateway)) as db, db:
        db.execute(f"UPDATE provider_keys SET {column} = ? WHERE id = ?", (value, key_id))  # noqa: S608
        if column == "provider":
            db.execute("UPDATE provider_keys SET base_url = ? WHERE id = ?", (attacker_url, key_id))
    resp = chat(gateway)
    assert resp.status_code == 500
    error = resp.json()["error"]
    assert error["code"] == "config_error"
    assert "'prod'" in error["message"] and "changed in the database" in error["message"]
    assert UPSTREAM_KEY not in resp.text
    assert attacker.requests == [] and honest.requests == []


def test_migrate_reseals_keys_sealed_by_0_1(
    gateway: Gateway, two_hosts: tuple[FakeOpenAI, str, FakeOpenAI, str]
) -> None:
    honest, honest_url, _, _ = two_hosts
    key_id = add_key(gateway, honest_url)
    # Make the database what keyroute 0.1 left: the key sealed under AAD v1, schema 0001.
    keyring = MasterKeyring.load(gateway.config.master_key_path)
    with closing(database(gateway)) as db, db:
        wrapped, workspace_id = db.execute(
            "SELECT w.wrapped_data_key, w.id FROM workspaces w JOIN provider_keys k "
            "ON k.workspace_id = w.id WHERE k.id = ?",
            (key_id,),
        ).fetchone()
        data_key = unwrap_data_key(keyring.active_key, wrapped, workspace_id)
        nonce, ciphertext = seal(
            data_key, UPSTREAM_KEY, legacy_provider_key_aad(workspace_id, key_id)
        )
        db.execute(
            "UPDATE provider_keys SET nonce = ?, ciphertext = ? WHERE id = ?",
            (nonce, ciphertext, key_id),
        )
    url = "sqlite:///" + str(sqlite_path(gateway.config.resolved_database_url))
    command.downgrade(alembic_config(url), "0001")

    migrated = gateway.cli_json("migrate")
    # The key and the workspace's keyless demo key.
    assert migrated == {"migrated": True, "resealed_provider_keys": 2}
    assert gateway.cli_json("migrate")["resealed_provider_keys"] == 0
    resp = chat(gateway)
    assert resp.status_code == 200, resp.text
    assert honest.requests[-1].headers["authorization"] == f"Bearer {UPSTREAM_KEY}"

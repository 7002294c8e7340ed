"""``keyroute.services``: the composition root builds, starts and closes everything, and its
parts are wired to each other (the pipeline prices with the price book and reaches the mounted
transports)."""

from __future__ import annotations

import pytest

from keyroute.config.schema import Config
from keyroute.core.errors import ConfigError
from keyroute.services import Services, load_keyring
from keyroute.storage.memory import MemoryStore
from keyroute.upstream.function import FunctionTransport, Reply
from keyroute.vault.masterkey import MasterKeyring, new_master_key

pytestmark = pytest.mark.anyio


def keyring() -> MasterKeyring:
    return MasterKeyring.from_env(new_master_key().hex())


async def test_start_check_and_close() -> None:
    transport = FunctionTransport(lambda request: Reply(status=500))
    services = Services(Config(), MemoryStore(), keyring(), mounts={"http://": transport})
    await services.start()
    try:
        await services.control.create_workspace("w")
        report = await services.check()
        assert report["ok"] is True and report["workspaces"] == 1
        assert services.pricer is services.prices
    finally:
        await services.close()
    await services.close()  # idempotent


def test_a_missing_key_file_is_a_config_error(tmp_path: object) -> None:
    config = Config(data_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="keyroute init"):
        load_keyring(config)

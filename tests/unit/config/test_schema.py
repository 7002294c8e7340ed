"""``keyroute.config.schema.Config``: the typed tree, its defaults and derived paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from keyroute.config.schema import Config, ServerConfig
from keyroute.core.timeouts import Timeouts


def test_sqlite_file_in_the_data_dir_by_default(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path)
    assert config.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'keyroute.db'}"
    assert config.master_key_path == tmp_path / "master.key"


def test_explicit_database_url_wins() -> None:
    assert Config(database_url="memory://").resolved_database_url == "memory://"


@pytest.mark.parametrize(
    "data",
    [
        {"nope": 1},
        {"server": {"nope": 1}},
        {"server": {"port": 65536}},
        {"server": {"workers": 65}},
        {"logging": {"level": "info"}},
        {"upstream": {"timeout_seconds": 0}},
        {"upstream": {"idle_timeout_seconds": float("inf")}},
        {"upstream": {"first_byte_timeout_seconds": float("nan")}},
        {"upstream": {"connect_timeout_seconds": -1}},
        {"upstream": {"max_body_bytes": 10}},
        {"upstream": {"max_error_bytes": 10}},
    ],
)
def test_invalid(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Config.model_validate(data)


def test_upstream_timeouts_map_to_one_value() -> None:
    config = Config.model_validate(
        {
            "upstream": {
                "timeout_seconds": 30,
                "connect_timeout_seconds": 1,
                "first_byte_timeout_seconds": 2,
                "idle_timeout_seconds": 3,
            }
        }
    )
    assert config.upstream.timeouts() == Timeouts(connect=1, first_byte=2, idle=3, total=30)
    assert Config().upstream.timeouts() == Timeouts()


def test_frozen() -> None:
    with pytest.raises(ValidationError):
        ServerConfig().port = 1  # type: ignore[misc]


def test_master_key_is_a_secret() -> None:
    config = Config.model_validate({"master_key": "abc" * 11})
    assert "abc" not in repr(config) and "abc" not in config.model_dump_json()

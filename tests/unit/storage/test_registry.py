from pathlib import Path

import pytest

from keyroute.core.errors import ConfigError
from keyroute.storage.memory import MemoryStore
from keyroute.storage.registry import backend_name, open_store
from keyroute.storage.sqlite import SqliteStore


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("memory://", "memory"),
        ("sqlite:///k.db", "sqlite"),
        ("sqlite+aiosqlite:////data/k.db", "sqlite"),
        ("postgresql+asyncpg://u@h/db", "postgresql"),
        ("postgres://u@h/db", "postgresql"),
    ],
)
def test_backend_name(url: str, expected: str) -> None:
    assert backend_name(url) == expected


def test_open_store_picks_the_backend(tmp_path: Path) -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    store = open_store(f"sqlite:///{tmp_path / 'k.db'}")
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "k.db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u:secret@h/db", "PostgreSQL storage arrives in a later release"),
        ("mysql://u:secret@h/db", "unknown storage backend 'mysql'"),
        ("k.db", "has no scheme"),
    ],
)
def test_open_store_rejects(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        open_store(url)
    assert "secret" not in str(caught.value)

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from keyroute.core.errors import ConfigError
from keyroute.vault.masterkey import (
    GENERATE_COMMAND,
    KEYRING_FILENAME,
    MasterKeyring,
    master_key_id,
    new_master_key,
    parse_master_key,
)

# Bytes whose base64 holds '+' and '/', so the URL-safe form really differs.
KEY = bytes([0xFB, 0xFF, 0xBF] * 10 + [0xFE, 0xFF])
STANDARD = base64.b64encode(KEY).decode()
URLSAFE = base64.urlsafe_b64encode(KEY).decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_fixture_key_exercises_both_alphabets() -> None:
    assert "+" in STANDARD and "/" in STANDARD and STANDARD.endswith("=")
    assert "-" in URLSAFE and "_" in URLSAFE


@pytest.mark.parametrize(
    "value",
    [
        STANDARD,
        STANDARD.rstrip("="),
        URLSAFE,
        URLSAFE.rstrip("="),
        KEY.hex(),
        KEY.hex().upper(),
        f"  {STANDARD}\n",
    ],
)
def test_parse_accepts(value: str) -> None:
    assert parse_master_key(value) == KEY


@pytest.mark.parametrize(
    "value",
    ["", "short", "elevenchars", "   padded   "],
)
def test_parse_rejects(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_master_key(value)
    message = str(caught.value)
    assert GENERATE_COMMAND in message and "64 hex" in message
    if value.strip():
        assert value.strip() not in message


@pytest.mark.parametrize(
    "value",
    [
        KEY.hex()[:-1],
        KEY.hex()[:-1] + "g",
        base64.b64encode(KEY[:16]).decode(),
        base64.b64encode(KEY + b"x").decode(),
        "not base64 at all!!",
        "A" * 43 + "===",
        "=" + STANDARD[1:],
        "a long operator passphrase",
    ],
)
def test_anything_else_long_enough_is_a_passphrase(value: str) -> None:
    derived = parse_master_key(value)
    assert len(derived) == 32 and derived != KEY
    assert parse_master_key(value) == derived
    assert parse_master_key(value + "!") != derived


def test_generate_command_makes_an_accepted_key() -> None:
    assert len(parse_master_key(base64.b64encode(new_master_key()).decode())) == 32


def test_from_env() -> None:
    keyring = MasterKeyring.from_env(STANDARD)
    assert keyring.path is None
    assert keyring.active_key == KEY
    assert keyring.active_id == master_key_id(KEY) and len(keyring.active_id) == 16
    assert keyring.key(keyring.active_id) == KEY
    with pytest.raises(ConfigError, match="KEYROUTE_MASTER_KEY"):
        keyring.key("0" * 16)
    keyring.refresh()  # nothing to re-read in env mode
    assert keyring.ids == (master_key_id(KEY),)


def test_generate_writes_a_0600_keyring(tmp_path: Path) -> None:
    path = tmp_path / "data" / KEYRING_FILENAME
    previous = os.umask(0)  # a permissive umask must not widen the file
    try:
        keyring = MasterKeyring.generate(path)
    finally:
        os.umask(previous)
    assert mode(path) == 0o600
    document = json.loads(path.read_text())
    assert document == {
        "version": 1,
        "active": keyring.active_id,
        "keys": {keyring.active_id: base64.b64encode(keyring.active_key).decode()},
    }
    assert master_key_id(keyring.active_key) == keyring.active_id
    loaded = MasterKeyring.load(path)
    assert (loaded.active_id, loaded.active_key, loaded.path) == (
        keyring.active_id,
        keyring.active_key,
        path,
    )
    assert sorted(p.name for p in path.parent.iterdir()) == [KEYRING_FILENAME]


def test_generate_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / KEYRING_FILENAME
    MasterKeyring.generate(path)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="already exists"):
        MasterKeyring.generate(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604])
def test_load_refuses_a_readable_keyring(tmp_path: Path, loose: int) -> None:
    path = tmp_path / KEYRING_FILENAME
    MasterKeyring.generate(path)
    path.chmod(loose)
    with pytest.raises(ConfigError, match=f"chmod 600 {path}"):
        MasterKeyring.load(path)


def test_load_needs_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="keyroute init"):
        MasterKeyring.load(tmp_path / KEYRING_FILENAME)
    with pytest.raises(ConfigError, match="not a regular file"):
        MasterKeyring.load(tmp_path)


def write(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


GOOD_ID = master_key_id(KEY)


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        "[]",
        json.dumps({"version": 2, "active": GOOD_ID, "keys": {GOOD_ID: STANDARD}}),
        json.dumps({"version": 1, "active": "other", "keys": {GOOD_ID: STANDARD}}),
        json.dumps({"version": 1, "active": GOOD_ID, "keys": []}),
        json.dumps({"version": 1, "active": "0" * 16, "keys": {"0" * 16: STANDARD}}),
        json.dumps({"version": 1, "active": GOOD_ID, "keys": {GOOD_ID: "@@@"}}),
        json.dumps({"version": 1, "active": GOOD_ID, "keys": {GOOD_ID: 7}}),
    ],
)
def test_load_refuses_a_damaged_keyring(tmp_path: Path, document: str) -> None:
    path = tmp_path / KEYRING_FILENAME
    write(path, document)
    with pytest.raises(ConfigError, match="not a valid keyring") as caught:
        MasterKeyring.load(path)
    assert STANDARD not in str(caught.value)


def test_changes_are_written_atomically_and_stay_0600(tmp_path: Path) -> None:
    path = tmp_path / KEYRING_FILENAME
    keyring = MasterKeyring.generate(path)
    old_id = keyring.active_id
    new_id = keyring.add(KEY)
    assert keyring.add(KEY) == new_id  # idempotent
    assert MasterKeyring.load(path).ids == tuple(sorted([old_id, new_id]))
    assert MasterKeyring.load(path).active_id == old_id
    keyring.activate(new_id)
    assert MasterKeyring.load(path).active_id == new_id
    assert keyring.drop_inactive() == [old_id]
    reloaded = MasterKeyring.load(path)
    assert (reloaded.ids, reloaded.active_key) == ((new_id,), KEY)
    assert mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEYRING_FILENAME]


def test_key_rereads_the_file_once_for_an_unknown_id(tmp_path: Path) -> None:
    path = tmp_path / KEYRING_FILENAME
    server = MasterKeyring.generate(path)
    cli = MasterKeyring.load(path)
    new_id = cli.add(KEY)
    cli.activate(new_id)
    assert server.key(new_id) == KEY  # picked up from the file
    assert server.active_id == new_id
    with pytest.raises(ConfigError, match=str(path)):
        server.key("0" * 16)


def test_keyring_checks_its_input(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="active master key"):
        MasterKeyring({GOOD_ID: KEY}, "0" * 16)
    keyring = MasterKeyring({GOOD_ID: KEY}, GOOD_ID)
    with pytest.raises(ConfigError, match="32 bytes"):
        keyring.add(b"short")
    with pytest.raises(ConfigError, match="not in"):
        keyring.activate("0" * 16)


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / KEYRING_FILENAME
    keyring = MasterKeyring.generate(path)
    before = path.read_bytes()

    def fail(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        keyring.add(KEY)
    assert path.read_bytes() == before
    assert keyring.ids == (keyring.active_id,)  # memory follows the file only after a write
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEYRING_FILENAME]

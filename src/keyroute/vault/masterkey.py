"""The master key that wraps every workspace data key, and the keyring that holds it.

Two sources:

- an environment value (``KEYROUTE_MASTER_KEY``; the config layer reads it and passes the string):
  32 bytes as base64 (standard or URL-safe, padding optional) or as 64 hex characters;
- a keyring file (``master.key`` in the data directory), mode 0600, written atomically:
  ``{"version": 1, "active": "<id>", "keys": {"<id>": "<base64>"}}``.

A key id is the first 16 hex characters of the SHA-256 of the key: it names a key without
revealing it. The file may hold several keys during a rotation
(``keystore.KeyVault.rotate_master``). A keyring that meets an unknown id re-reads its file once:
this is how a running server picks up a rotation made by another process. This module never
reads ``os.environ`` and never puts key material in a message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from keyroute.core.errors import ConfigError
from keyroute.vault.crypto import KEY_BYTES

KEYRING_FILENAME = "master.key"
GENERATE_COMMAND = (
    'python -c "import secrets,base64;print(base64.b64encode(secrets.token_bytes(32)).decode())"'
)
MIN_PASSPHRASE = 12
FORMAT_HELP = (
    "KEYROUTE_MASTER_KEY must be 32 random bytes encoded as base64 (standard or URL-safe, "
    "padding optional) or as 64 hex characters, or else a passphrase of at least "
    f"{MIN_PASSPHRASE} characters; generate a key with: " + GENERATE_COMMAND
)
# A passphrase is stretched with scrypt (16 MiB, about 50 ms once per process). The salt is
# fixed on purpose: the same passphrase must give the same key on every instance.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "salt": b"keyroute master key v1", "dklen": 32}

_POSIX = os.name == "posix"
_HEX = re.compile(r"[0-9a-fA-F]{64}")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")


def master_key_id(key: bytes) -> str:
    """The public name of a key: first 16 hex characters of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:16]


def new_master_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def parse_master_key(value: str) -> bytes:
    """Decode an env value: a 32-byte key as base64 or hex, or a passphrase stretched with
    scrypt (see ``FORMAT_HELP``); ``ConfigError`` otherwise."""
    text = value.strip()
    if _HEX.fullmatch(text):
        return bytes.fromhex(text)
    if _BASE64.fullmatch(text):
        standard = text.rstrip("=").replace("-", "+").replace("_", "/")
        try:
            key = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
        except binascii.Error:
            key = b""
        if len(key) == KEY_BYTES:
            return key
    if len(text) >= MIN_PASSPHRASE:
        return hashlib.scrypt(text.encode(), **_SCRYPT)  # type: ignore[arg-type]
    raise ConfigError(FORMAT_HELP)


def _check_permissions(path: Path) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"no master keyring at {path}: run `keyroute init`") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"the master keyring {path} is not a regular file")
    if _POSIX and info.st_mode & 0o077:
        raise ConfigError(
            f"the master keyring {path} is readable by other users; run `chmod 600 {path}`"
        )


def _read_keyring(path: Path) -> tuple[dict[str, bytes], str]:
    _check_permissions(path)
    broken = f"the master keyring {path} is not a valid keyring file"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise ConfigError(broken) from None
    if not isinstance(document, dict) or document.get("version") != 1:
        raise ConfigError(f"{broken} (expected version 1)")
    entries, active = document.get("keys"), document.get("active")
    if not isinstance(entries, dict) or not isinstance(active, str) or active not in entries:
        raise ConfigError(f"{broken} (needs 'keys' and an 'active' id among them)")
    keys: dict[str, bytes] = {}
    for key_id, encoded in entries.items():
        try:
            key = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else b""
        except binascii.Error:
            key = b""
        if len(key) != KEY_BYTES or master_key_id(key) != key_id:
            raise ConfigError(f"{broken} (entry {key_id!r} is damaged)")
        keys[key_id] = key
    return keys, active


def _fsync_directory(directory: Path) -> None:
    if _POSIX:  # pragma: no branch
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_keyring(path: Path, keys: Mapping[str, bytes], active: str) -> None:
    """Replace ``path`` atomically: a 0600 temp file, fsync, rename, fsync the directory."""
    document = {
        "version": 1,
        "active": active,
        "keys": {key_id: base64.b64encode(key).decode() for key_id, key in keys.items()},
    }
    data = (json.dumps(document, indent=2) + "\n").encode()
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temp, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            if _POSIX:  # pragma: no branch
                os.fchmod(file.fileno(), 0o600)  # the umask can only narrow the mode; be exact
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


class MasterKeyring:
    """The master keys this process can use; exactly one is active (wraps new data keys).

    With a ``path`` (keyring-file mode) every change is written to the file before it takes effect
    here; without one (env mode) changes live in memory only.
    """

    def __init__(
        self, keys: Mapping[str, bytes], active_id: str, *, path: Path | None = None
    ) -> None:
        if active_id not in keys:
            raise ConfigError(f"the active master key {active_id} is not in the keyring")
        self._keys = dict(keys)
        self._active_id = active_id
        self._path = path

    @classmethod
    def from_env(cls, value: str) -> MasterKeyring:
        """A one-key keyring from the value of ``KEYROUTE_MASTER_KEY``."""
        key = parse_master_key(value)
        return cls({master_key_id(key): key}, master_key_id(key))

    @classmethod
    def load(cls, path: Path | str) -> MasterKeyring:
        """Read a keyring file; refuses one that group or others may read."""
        keyring_path = Path(path)
        keys, active = _read_keyring(keyring_path)
        return cls(keys, active, path=keyring_path)

    @classmethod
    def generate(cls, path: Path | str) -> MasterKeyring:
        """Create a new keyring file with one fresh key; never overwrites an existing file."""
        keyring_path = Path(path)
        if keyring_path.exists():
            raise ConfigError(
                f"a master keyring already exists at {keyring_path}; not replacing it"
            )
        keyring_path.parent.mkdir(parents=True, exist_ok=True)
        key = new_master_key()
        keys = {master_key_id(key): key}
        _write_keyring(keyring_path, keys, master_key_id(key))
        return cls(keys, master_key_id(key), path=keyring_path)

    @property
    def path(self) -> Path | None:
        """The keyring file, or ``None`` in env mode."""
        return self._path

    @property
    def active_id(self) -> str:
        return self._active_id

    @property
    def active_key(self) -> bytes:
        return self._keys[self._active_id]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._keys))

    def key(self, key_id: str) -> bytes:
        """The key named ``key_id``, re-reading the file once if it is unknown."""
        found = self._keys.get(key_id)
        if found is None and self._path is not None:
            self.refresh()
            found = self._keys.get(key_id)
        if found is None:
            source = (
                f"the keyring {self._path}" if self._path is not None else "KEYROUTE_MASTER_KEY"
            )
            raise ConfigError(
                f"master key {key_id} is not in {source} (it holds {', '.join(self.ids)}); "
                "use the master key that wrapped this data"
            )
        return found

    def refresh(self) -> None:
        """Re-read the keyring file (keyring-file mode; a no-op in env mode)."""
        if self._path is not None:
            self._keys, self._active_id = _read_keyring(self._path)

    # Changes used by rotation; each is persisted before it takes effect in memory.

    def add(self, key: bytes) -> str:
        """Add ``key`` as a non-active key and return its id (idempotent)."""
        if len(key) != KEY_BYTES:
            raise ConfigError(f"a master key must be {KEY_BYTES} bytes, got {len(key)}")
        self.refresh()
        key_id = master_key_id(key)
        self._save({**self._keys, key_id: key}, self._active_id)
        return key_id

    def activate(self, key_id: str) -> None:
        """Make ``key_id`` (already in the keyring) the key that wraps new data keys."""
        self.refresh()
        self.key(key_id)
        self._save(self._keys, key_id)

    def drop_inactive(self) -> list[str]:
        """Remove every key but the active one; returns the dropped ids."""
        self.refresh()
        dropped = [key_id for key_id in self._keys if key_id != self._active_id]
        self._save({self._active_id: self.active_key}, self._active_id)
        return sorted(dropped)

    def _save(self, keys: Mapping[str, bytes], active_id: str) -> None:
        if self._path is not None:
            _write_keyring(self._path, keys, active_id)
        self._keys, self._active_id = dict(keys), active_id

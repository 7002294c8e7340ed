"""Envelope-encryption primitives: AES-256-GCM with random 96-bit nonces.

Pure functions over bytes; no storage, no key management. Every ciphertext is bound by its AAD to
where it belongs: a data key to its workspace; a provider key (AAD v2) to its workspace, key id,
provider and base URL. So a ciphertext copied to another row does not decrypt, and neither does a
row whose provider or base URL was rewritten in the database (which would otherwise send the key
to a host of the writer's choosing). AAD v1 (workspace and key id only) is kept solely to re-seal
rows written by keyroute 0.1. Failures raise ``ConfigError`` with a message that names what failed
to decrypt and never contains key material.
"""

from __future__ import annotations

import hashlib
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyroute.core.errors import ConfigError

KEY_BYTES = 32
NONCE_BYTES = 12

_DATA_KEY_PURPOSE = b"keyroute/data-key/v1"
_PROVIDER_KEY_PURPOSE_V1 = b"keyroute/provider-key/v1"
_PROVIDER_KEY_PURPOSE = b"keyroute/provider-key/v2"
PROVIDER_KEY_AAD_VERSION = 2
_SIGNATURE_PURPOSE = b"keyroute/tool-signature/v1"
_RESPONSE_PURPOSE = b"keyroute/response-state/v1"
_AUDIT_BODY_PURPOSE = b"keyroute/audit-body/v1"
_CHANNEL_PURPOSE = b"keyroute/alert-channel/v1"


def _aad(purpose: bytes, *parts: str) -> bytes:
    """Length-prefixed parts, so no two different part lists give the same bytes."""
    out = bytearray(purpose)
    for part in parts:
        encoded = part.encode()
        out += len(encoded).to_bytes(4, "big") + encoded
    return bytes(out)


def _check_key(key: bytes, what: str) -> None:
    if len(key) != KEY_BYTES:
        raise ConfigError(f"{what} must be {KEY_BYTES} bytes, got {len(key)}")


def new_data_key() -> bytes:
    """A fresh random 32-byte data key."""
    return secrets.token_bytes(KEY_BYTES)


def data_key_aad(workspace_id: str) -> bytes:
    return _aad(_DATA_KEY_PURPOSE, workspace_id)


def provider_key_aad(workspace_id: str, key_id: str, provider: str, base_url: str | None) -> bytes:
    """AAD v2. A missing base URL (the provider's default) and any URL never encode alike."""
    url = "-" if base_url is None else "=" + base_url
    return _aad(_PROVIDER_KEY_PURPOSE, workspace_id, key_id, provider, url)


def signature_aad(workspace_id: str, call_id: str, model: str) -> bytes:
    """A tool-call signature belongs to one workspace, one call and one model."""
    return _aad(_SIGNATURE_PURPOSE, workspace_id, call_id, model)


def response_aad(workspace_id: str, response_id: str) -> bytes:
    """A stored Responses API turn belongs to one workspace and one response id."""
    return _aad(_RESPONSE_PURPOSE, workspace_id, response_id)


def audit_body_aad(workspace_id: str, request_id: str) -> bytes:
    """A logged request body belongs to one workspace and one request."""
    return _aad(_AUDIT_BODY_PURPOSE, workspace_id, request_id)


def channel_secret_aad(workspace_id: str, channel_id: str, kind: str) -> bytes:
    """An alert channel's secret belongs to one workspace, one channel and its kind."""
    return _aad(_CHANNEL_PURPOSE, workspace_id, channel_id, kind)


def legacy_provider_key_aad(workspace_id: str, key_id: str) -> bytes:
    """AAD v1 (keyroute 0.1): only to open a row once, to re-seal it under v2."""
    return _aad(_PROVIDER_KEY_PURPOSE_V1, workspace_id, key_id)


def wrap_data_key(master: bytes, data_key: bytes, workspace_id: str) -> bytes:
    """``nonce || AES-GCM(master, data_key)``, bound to ``workspace_id``."""
    _check_key(master, "the master key")
    _check_key(data_key, "a data key")
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(master).encrypt(nonce, data_key, data_key_aad(workspace_id))


def unwrap_data_key(master: bytes, wrapped: bytes, workspace_id: str) -> bytes:
    """The data key inside ``wrapped``; ``ConfigError`` if the master key or workspace is wrong."""
    _check_key(master, "the master key")
    nonce, body = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
    try:
        data_key = AESGCM(master).decrypt(nonce, body, data_key_aad(workspace_id))
    except (InvalidTag, ValueError):
        raise ConfigError(
            f"cannot unwrap the data key of workspace {workspace_id!r}: "
            "wrong master key, or the stored key is corrupted"
        ) from None
    _check_key(data_key, "an unwrapped data key")
    return data_key


def seal(data_key: bytes, plaintext: str, aad: bytes) -> tuple[bytes, bytes]:
    """Encrypt ``plaintext``: returns ``(nonce, ciphertext)``."""
    _check_key(data_key, "a data key")
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce, AESGCM(data_key).encrypt(nonce, plaintext.encode(), aad)


def open_sealed(data_key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> str:
    """Decrypt what ``seal`` made; ``ConfigError`` if the key, nonce or AAD do not match."""
    _check_key(data_key, "a data key")
    try:
        plaintext = AESGCM(data_key).decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError):
        raise ConfigError(
            "cannot decrypt a stored provider key: it belongs to another workspace or key, "
            "its provider or base URL was changed in the database, or it is corrupted"
        ) from None
    return plaintext.decode()


def fingerprint(plaintext: str) -> str:
    """A short, stable identifier of a key that reveals nothing useful: ``sha256:<16 hex>``."""
    return "sha256:" + hashlib.sha256(plaintext.encode()).hexdigest()[:16]

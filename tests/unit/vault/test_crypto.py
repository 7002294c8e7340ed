import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyroute.core.errors import ConfigError
from keyroute.vault.crypto import (
    KEY_BYTES,
    NONCE_BYTES,
    data_key_aad,
    fingerprint,
    legacy_provider_key_aad,
    new_data_key,
    open_sealed,
    provider_key_aad,
    seal,
    unwrap_data_key,
    wrap_data_key,
)

MASTER = bytes(range(32))
OTHER_MASTER = bytes(range(1, 33))
DATA_KEY = bytes(range(100, 132))
PLAINTEXT = "sk-proj-abcdefghijklmnop-ünïcode-1234"


def test_wrap_and_unwrap_round_trip() -> None:
    wrapped = wrap_data_key(MASTER, DATA_KEY, "w1")
    assert len(wrapped) == NONCE_BYTES + KEY_BYTES + 16
    assert DATA_KEY not in wrapped
    assert unwrap_data_key(MASTER, wrapped, "w1") == DATA_KEY
    assert wrap_data_key(MASTER, DATA_KEY, "w1") != wrapped  # fresh nonce each time


@pytest.mark.parametrize(
    ("master", "workspace_id", "wrapped"),
    [
        (OTHER_MASTER, "w1", None),  # wrong master key
        (MASTER, "w2", None),  # data key of another workspace
        (MASTER, "w1", b"short"),  # truncated
    ],
)
def test_unwrap_refuses(master: bytes, workspace_id: str, wrapped: bytes | None) -> None:
    blob = wrapped if wrapped is not None else wrap_data_key(MASTER, DATA_KEY, "w1")
    with pytest.raises(ConfigError, match="cannot unwrap the data key") as caught:
        unwrap_data_key(master, blob, workspace_id)
    for secret in (MASTER, OTHER_MASTER, DATA_KEY):
        assert secret.hex() not in str(caught.value)


def test_seal_and_open_round_trip() -> None:
    aad = provider_key_aad("w1", "pk1", "openai", None)
    nonce, ciphertext = seal(DATA_KEY, PLAINTEXT, aad)
    assert len(nonce) == NONCE_BYTES
    assert PLAINTEXT.encode() not in ciphertext
    assert open_sealed(DATA_KEY, nonce, ciphertext, aad) == PLAINTEXT
    assert seal(DATA_KEY, PLAINTEXT, aad)[0] != nonce


@pytest.mark.parametrize(
    ("key", "aad", "tamper"),
    [
        (DATA_KEY, provider_key_aad("w2", "pk1", "openai", None), False),  # another workspace
        (DATA_KEY, provider_key_aad("w1", "pk2", "openai", None), False),  # another key id
        (DATA_KEY, provider_key_aad("w1", "pk1", "mistral", None), False),  # another provider
        (DATA_KEY, provider_key_aad("w1", "pk1", "openai", "https://evil/v1"), False),  # base URL
        (DATA_KEY, provider_key_aad("w1", "pk1", "openai", ""), False),  # "" is not "default"
        (DATA_KEY, legacy_provider_key_aad("w1", "pk1"), False),  # the v1 binding
        (OTHER_MASTER, provider_key_aad("w1", "pk1", "openai", None), False),  # another data key
        (DATA_KEY, provider_key_aad("w1", "pk1", "openai", None), True),  # flipped bit
    ],
)
def test_open_sealed_refuses(key: bytes, aad: bytes, tamper: bool) -> None:
    nonce, ciphertext = seal(DATA_KEY, PLAINTEXT, provider_key_aad("w1", "pk1", "openai", None))
    if tamper:
        ciphertext = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    with pytest.raises(ConfigError, match="cannot decrypt") as caught:
        open_sealed(key, nonce, ciphertext, aad)
    assert PLAINTEXT not in str(caught.value)


def test_open_sealed_refuses_a_bad_nonce() -> None:
    _, ciphertext = seal(DATA_KEY, PLAINTEXT, b"aad")
    with pytest.raises(ConfigError):
        open_sealed(DATA_KEY, b"", ciphertext, b"aad")


def test_aad_parts_cannot_be_shifted() -> None:
    assert provider_key_aad("ab", "c", "p", None) != provider_key_aad("a", "bc", "p", None)
    assert provider_key_aad("w", "k", "p", "-") != provider_key_aad("w", "k", "p", None)
    assert legacy_provider_key_aad("ab", "c") != legacy_provider_key_aad("a", "bc")


@pytest.mark.parametrize("bad", [b"", b"x" * 16, b"x" * 33])
def test_key_lengths_are_checked(bad: bytes) -> None:
    with pytest.raises(ConfigError, match="32 bytes"):
        wrap_data_key(bad, DATA_KEY, "w1")
    with pytest.raises(ConfigError, match="32 bytes"):
        wrap_data_key(MASTER, bad, "w1")
    with pytest.raises(ConfigError, match="32 bytes"):
        seal(bad, PLAINTEXT, b"")
    with pytest.raises(ConfigError, match="32 bytes"):
        open_sealed(bad, b"n" * 12, b"c" * 20, b"")
    with pytest.raises(ConfigError, match="32 bytes"):
        unwrap_data_key(bad, b"w" * 60, "w1")


def test_unwrap_rejects_a_wrapped_value_of_the_wrong_size() -> None:
    nonce = b"n" * NONCE_BYTES
    body = AESGCM(MASTER).encrypt(nonce, b"sixteen bytes!!!", data_key_aad("w1"))
    with pytest.raises(ConfigError, match="32 bytes"):
        unwrap_data_key(MASTER, nonce + body, "w1")


def test_new_data_key() -> None:
    assert len(new_data_key()) == KEY_BYTES
    assert new_data_key() != new_data_key()


def test_fingerprint() -> None:
    assert fingerprint("sk-test") == fingerprint("sk-test")
    assert fingerprint("sk-test") != fingerprint("sk-tesT")
    value = fingerprint(PLAINTEXT)
    assert value.startswith("sha256:") and len(value) == len("sha256:") + 16
    assert PLAINTEXT not in value

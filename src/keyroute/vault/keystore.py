"""``KeyVault``: seals and opens provider keys, and rotates the master key online.

The vault turns a workspace's wrapped data key into the data key (cached in memory per
workspace and master key id; safe to lose) and uses it to seal or open provider keys. It holds no
plaintext provider key: ``open_provider_key`` hands it out wrapped in ``Secret``.

A provider key is sealed with AAD v2 (workspace, key id, provider, base URL), so a row whose
provider or base URL was rewritten in the database does not decrypt: the request fails closed and
the key is never sent to the new host. Rows sealed by keyroute 0.1 (AAD v1) are refused until
``reseal_provider_keys`` (run by ``keyroute migrate``) re-seals them.
"""

from __future__ import annotations

from dataclasses import dataclass

from keyroute.core.errors import ConfigError, InvalidRequest
from keyroute.core.secret import Secret
from keyroute.storage.base import ProviderKeyRecord, Store, WorkspaceRecord
from keyroute.vault.crypto import (
    NONCE_BYTES,
    PROVIDER_KEY_AAD_VERSION,
    audit_body_aad,
    channel_secret_aad,
    fingerprint,
    legacy_provider_key_aad,
    new_data_key,
    open_sealed,
    provider_key_aad,
    response_aad,
    seal,
    signature_aad,
    unwrap_data_key,
    wrap_data_key,
)
from keyroute.vault.masterkey import MasterKeyring, master_key_id, new_master_key


@dataclass(frozen=True, slots=True, kw_only=True)
class RotationResult:
    """What ``rotate_master`` did: how many data keys it re-wrapped, from which key to which."""

    rewrapped: int
    old_id: str
    new_id: str


class KeyVault:
    """Envelope encryption of provider keys over a ``Store`` and a ``MasterKeyring``."""

    def __init__(self, store: Store, keyring: MasterKeyring) -> None:
        self._store = store
        self._keyring = keyring
        # workspace id -> (wrapped data key, data key). A workspace's data key never changes
        # (rotation re-wraps it), so an unwrapped one stays valid after a rotation.
        self._data_keys: dict[str, tuple[bytes, bytes]] = {}

    @property
    def keyring(self) -> MasterKeyring:
        return self._keyring

    def new_workspace_key(self, workspace_id: str) -> tuple[bytes, str]:
        """A fresh data key for a new workspace: ``(wrapped data key, master key id)``."""
        # Another process may have rotated the master key: wrap under the key active on disk.
        self._keyring.refresh()
        master_id = self._keyring.active_id
        data_key = new_data_key()
        wrapped = wrap_data_key(self._keyring.active_key, data_key, workspace_id)
        self._data_keys[workspace_id] = (wrapped, data_key)
        return wrapped, master_id

    def seal_provider_key(
        self,
        workspace: WorkspaceRecord,
        key_id: str,
        plaintext: str,
        *,
        provider: str,
        base_url: str | None,
    ) -> tuple[bytes, bytes, str, str]:
        """Encrypt a provider key for ``workspace``, bound to its provider and base URL:
        ``(nonce, ciphertext, fingerprint, last4)``."""
        if not plaintext:
            raise InvalidRequest("a provider key cannot be empty", param="key")
        aad = provider_key_aad(workspace.id, key_id, provider, base_url)
        nonce, ciphertext = seal(self._data_key(workspace), plaintext, aad)
        # A short key would be half shown by its last four characters: show none of it then.
        last4 = plaintext[-4:] if len(plaintext) >= 12 else ""
        return nonce, ciphertext, fingerprint(plaintext), last4

    def open_provider_key(self, workspace: WorkspaceRecord, record: ProviderKeyRecord) -> Secret:
        """Decrypt a stored provider key; ``ConfigError`` if it does not belong to ``workspace``."""
        if record.workspace_id != workspace.id:
            raise ConfigError(
                f"provider key {record.id!r} belongs to another workspace than {workspace.id!r}"
            )
        if record.aad_version != PROVIDER_KEY_AAD_VERSION:
            raise ConfigError(
                f"provider key {record.name!r} ({record.id}) was sealed by an older keyroute "
                "without its provider and base URL binding: run `keyroute migrate` to re-seal it"
            )
        aad = provider_key_aad(workspace.id, record.id, record.provider, record.base_url)
        data_key = self._data_key(workspace)
        try:
            plaintext = open_sealed(data_key, record.nonce, record.ciphertext, aad)
        except ConfigError:
            raise ConfigError(
                f"cannot decrypt provider key {record.name!r} ({record.id}): its provider or "
                "base URL was changed in the database, it was copied from another row, or it is "
                "corrupted; it is not used"
            ) from None
        return Secret(plaintext)

    async def reseal_provider_keys(self) -> int:
        """Re-seal every AAD v1 provider key under AAD v2 (one transaction); returns how many.

        The v2 binding takes the row's provider and base URL as they are now: run it right after
        the upgrade, as ``keyroute migrate`` does.
        """

        async def reseal(
            workspace: WorkspaceRecord, record: ProviderKeyRecord
        ) -> tuple[bytes, bytes]:
            if not record.ciphertext:  # a keyless provider (demo, a local host): nothing sealed
                return record.nonce, record.ciphertext
            data_key = self._data_key(workspace)
            old_aad = legacy_provider_key_aad(workspace.id, record.id)
            plaintext = open_sealed(data_key, record.nonce, record.ciphertext, old_aad)
            new_aad = provider_key_aad(workspace.id, record.id, record.provider, record.base_url)
            return seal(data_key, plaintext, new_aad)

        return await self._store.reseal_provider_keys(reseal)

    def seal_signature(
        self, workspace: WorkspaceRecord, call_id: str, model: str, signature: str
    ) -> tuple[bytes, bytes]:
        """Encrypt a tool-call signature for ``workspace``: ``(nonce, ciphertext)``."""
        aad = signature_aad(workspace.id, call_id, model)
        return seal(self._data_key(workspace), signature, aad)

    def open_signature(
        self, workspace: WorkspaceRecord, call_id: str, model: str, nonce: bytes, ciphertext: bytes
    ) -> str:
        """Decrypt what ``seal_signature`` made; ``ConfigError`` if it belongs elsewhere."""
        aad = signature_aad(workspace.id, call_id, model)
        return open_sealed(self._data_key(workspace), nonce, ciphertext, aad)

    def seal_response(
        self, workspace: WorkspaceRecord, response_id: str, state: str
    ) -> tuple[bytes, bytes]:
        """Encrypt a stored Responses API turn for ``workspace``: ``(nonce, ciphertext)``."""
        return seal(self._data_key(workspace), state, response_aad(workspace.id, response_id))

    def open_response(
        self, workspace: WorkspaceRecord, response_id: str, nonce: bytes, ciphertext: bytes
    ) -> str:
        """Decrypt what ``seal_response`` made; ``ConfigError`` if it belongs elsewhere."""
        aad = response_aad(workspace.id, response_id)
        return open_sealed(self._data_key(workspace), nonce, ciphertext, aad)

    def seal_audit_body(self, workspace: WorkspaceRecord, request_id: str, text: str) -> bytes:
        """Encrypt a logged (already redacted) request body: the nonce, then the ciphertext."""
        nonce, ciphertext = seal(
            self._data_key(workspace), text, audit_body_aad(workspace.id, request_id)
        )
        return nonce + ciphertext

    def open_audit_body(self, workspace: WorkspaceRecord, request_id: str, sealed: bytes) -> str:
        """Decrypt what ``seal_audit_body`` made; ``ConfigError`` if it belongs elsewhere."""
        aad = audit_body_aad(workspace.id, request_id)
        return open_sealed(
            self._data_key(workspace), sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad
        )

    def seal_channel_secret(
        self, workspace: WorkspaceRecord, channel_id: str, kind: str, secret: str
    ) -> tuple[bytes, bytes]:
        """Encrypt an alert channel's secret (webhook signing secret, Slack URL)."""
        aad = channel_secret_aad(workspace.id, channel_id, kind)
        return seal(self._data_key(workspace), secret, aad)

    def open_channel_secret(
        self,
        workspace: WorkspaceRecord,
        channel_id: str,
        kind: str,
        nonce: bytes,
        ciphertext: bytes,
    ) -> Secret:
        """Decrypt what ``seal_channel_secret`` made; ``ConfigError`` if it belongs elsewhere."""
        aad = channel_secret_aad(workspace.id, channel_id, kind)
        return Secret(open_sealed(self._data_key(workspace), nonce, ciphertext, aad))

    def forget(self, workspace_id: str) -> None:
        """Drop the cached data keys of a workspace (after it is deleted or re-keyed)."""
        self._data_keys.pop(workspace_id, None)

    async def warm(self) -> list[str]:
        """Unwrap every workspace's data key now; the names of those that fail.

        A server that unwrapped its data keys at start keeps serving every existing workspace
        after another process rotates the master key, even to a key it does not hold (a new
        ``KEYROUTE_MASTER_KEY`` takes effect at its next restart).
        """
        failed = []
        for workspace in await self._store.list_workspaces():
            try:
                self._data_key(workspace)
            except ConfigError:
                failed.append(workspace.name)
        return failed

    def _data_key(self, workspace: WorkspaceRecord) -> bytes:
        cached = self._data_keys.get(workspace.id)
        if cached is not None and cached[0] == workspace.wrapped_data_key:
            return cached[1]
        try:
            master = self._keyring.key(workspace.master_key_id)
            data_key = unwrap_data_key(master, workspace.wrapped_data_key, workspace.id)
        except ConfigError:
            if cached is None:
                raise
            # Re-wrapped under a master key this process does not hold: the data key is the same.
            return cached[1]
        self._data_keys[workspace.id] = (workspace.wrapped_data_key, data_key)
        return data_key

    # Rotation

    async def rotate_master(self, new_key: bytes | None = None) -> RotationResult:
        """Re-wrap every workspace data key under a new master key, online.

        Keyring-file mode (``new_key`` optional; a fresh key is generated if omitted):

        1. ``_stage``: write the new key to the file as a non-active entry (atomic write);
        2. ``_rewrap``: re-wrap every data key under it in one ``Store`` transaction;
        3. ``_activate``: make it the active key in the file (atomic write);
        4. ``_rewrap`` again: a sweep for workspaces that another process created under the old
           key while steps 1-3 ran (it re-reads the file before wrapping, so after step 3 none are);
        5. ``_retire``: drop every other key from the file (atomic write).

        After each step the file holds every key that any stored data key is wrapped under, so a
        crash at any point loses nothing; running the rotation again finishes the job (a leftover
        staged key is dropped by step 5). Other processes pick the new key up on their own: an
        unknown key id makes ``MasterKeyring.key`` re-read the file. Run one rotation at a time.

        Env mode (``KEYROUTE_MASTER_KEY``): ``new_key`` is required; the same steps run in memory
        and the old key stays usable until the re-wrap commits. Then set ``KEYROUTE_MASTER_KEY``
        to the new key and restart the other processes. If the rotation fails before the commit,
        the old key is still the right one.
        """
        if new_key is None:
            if self._keyring.path is None:
                raise ConfigError(
                    "rotating KEYROUTE_MASTER_KEY needs the new key; generate one, pass it in, "
                    "then set KEYROUTE_MASTER_KEY to it"
                )
            new_key = new_master_key()
        self._keyring.refresh()
        old_id = self._keyring.active_id
        if master_key_id(new_key) == old_id:
            raise ConfigError("the new master key is the key already in use")
        new_id = self._stage(new_key)
        rewrapped = await self._rewrap(new_id)
        self._activate(new_id)
        rewrapped += await self._rewrap(new_id)
        self._retire()
        self._data_keys.clear()
        return RotationResult(rewrapped=rewrapped, old_id=old_id, new_id=new_id)

    def _stage(self, new_key: bytes) -> str:
        return self._keyring.add(new_key)

    async def _rewrap(self, new_id: str) -> int:
        """Re-wrap every data key not yet under ``new_id`` (one transaction); returns how many."""
        new_master = self._keyring.key(new_id)
        changed: set[str] = set()

        async def rewrap(record: WorkspaceRecord) -> tuple[bytes, str]:
            if record.master_key_id == new_id:
                return record.wrapped_data_key, new_id
            old_master = self._keyring.key(record.master_key_id)
            data_key = unwrap_data_key(old_master, record.wrapped_data_key, record.id)
            changed.add(record.id)
            return wrap_data_key(new_master, data_key, record.id), new_id

        await self._store.rewrap_data_keys(rewrap)
        return len(changed)

    def _activate(self, new_id: str) -> None:
        self._keyring.activate(new_id)

    def _retire(self) -> list[str]:
        return self._keyring.drop_inactive()

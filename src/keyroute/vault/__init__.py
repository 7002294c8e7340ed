"""The key vault: envelope encryption of provider keys.

Each workspace has a random 32-byte data key; provider keys are sealed with it (AES-GCM, the AAD
binding workspace id and key id). The data key is stored only wrapped by the master key
(``masterkey``: from ``KEYROUTE_MASTER_KEY`` or a 0600 keyring file). Deleting a workspace deletes
its wrapped data key, which makes its provider keys unrecoverable (crypto-shredding).

Invariants: plaintext provider keys are never logged, stored or put in an error message; they
leave ``keystore.KeyVault`` only wrapped in ``keyroute.core.secret.Secret``. Unwrapped data keys are
cached in memory and are safe to lose.
"""

"""The vault's keys: what wraps personal data, where the wrapped keys live, and how they are proven.

- `kek`: key-encryption keys (KEKs) and their providers; they wrap every data key and record key.
- `blind_index`: the index secret and the per-kind blind-index keys derived from it.
- `store`: where `person_keys` and `vault_meta` live (the main database or their own), and the cache of
  unwrapped data keys.
- `canary`: the known plaintext that proves the configured KEK at every start.
- `startup`: `check_vault_keys`, the once-per-process proof of all of the above (`VaultKeys`).
- `data_keys`: each person's data key: created on first write, unwrapped to read, destroyed to erase.
- `rotation`: re-wrapping every data key and record key under a new KEK, online.
- `status`: what the database expects against what is configured (`fiduciary keys status`).

Import the modules themselves: this package imports none of them, so `fiduciary.vault.keys.kek` stays cheap.
`__all__` names the ones other packages may use.
"""

__all__ = [
    "blind_index",  # IDENTIFIER_KINDS and the index secret
    "data_keys",  # PersonErased, is_erased
    "kek",  # key-encryption keys, generate_kek
    "rotation",  # rotate_keks
    "startup",  # check_vault_keys, close_vault_keys, VaultKeys
    "status",  # key_status, KeyStatus
]

"""The vault canary: a known plaintext under a data key wrapped by the KEK, written when the vault is first
initialised and proven at every start, so a process with another KEK refuses to start instead of writing
data nobody can read. `vault_meta` also records the blind-index secret's id, for the same reason.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fiduciary.errors import FiduciaryError
from fiduciary.storage import utcnow
from fiduciary.vault.crypto import canary_ad, new_data_key, open_sealed, seal
from fiduciary.vault.keys.blind_index import IndexKeys
from fiduciary.vault.keys.kek import KeyRing, VaultKeyError
from fiduciary.vault.records import VAULT_META, VaultMeta, dialect_insert

CANARY = "canary"
INDEX_META = "index"
CANARY_PLAINTEXT = b"fiduciary vault canary v1"


def write_canary(ks: Session, keyring: KeyRing) -> None:
    """A known plaintext under a fresh data key wrapped by the current KEK: proves the KEK at every start."""
    data_key = new_data_key()
    kek_id = keyring.current_id
    wrapped = keyring.current.wrap(data_key, canary_ad(kek_id))
    ciphertext = seal(data_key, CANARY_PLAINTEXT, canary_ad(kek_id))
    now = utcnow()
    row = ks.get(VaultMeta, CANARY)
    if row is None:
        ks.add(
            VaultMeta(
                name=CANARY, kek_id=kek_id, wrapped_key=wrapped, ciphertext=ciphertext, created_at=now, updated_at=now
            )
        )
    else:
        row.kek_id, row.wrapped_key, row.ciphertext, row.updated_at = kek_id, wrapped, ciphertext, now
    ks.flush()


def prove_canary(row: Any, keyring: KeyRing) -> None:
    kek_id = row.kek_id or ""
    if not keyring.knows(kek_id):
        raise VaultKeyError(
            f"Wrong key-encryption key: the vault's data is wrapped under {kek_id}, but the {keyring.describe()}. "
            f"Configure the key with id {kek_id} as FIDUCIARY_KEK (or its key file), or in FIDUCIARY_KEK_PREVIOUS "
            "while `fiduciary keys rotate` runs. Starting with another key would make every personal field unreadable."
        )
    try:
        data_key = keyring.provider(kek_id).unwrap(row.wrapped_key or b"", canary_ad(kek_id))
        plaintext = open_sealed(data_key, row.ciphertext or b"", canary_ad(kek_id))
    except FiduciaryError as exc:
        raise VaultKeyError(
            f"The vault canary does not decrypt with key-encryption key {kek_id} ({exc.detail}). The key or the "
            "vault_meta row has been tampered with; restore them from the same backup generation."
        ) from None
    if plaintext != CANARY_PLAINTEXT:
        raise VaultKeyError("The vault canary decrypts to an unexpected value; vault_meta has been tampered with.")


def check_index(index_row: Any, index: IndexKeys) -> None:
    if index_row is not None and index_row.value != index.key_id:
        raise VaultKeyError(
            f"Wrong blind-index secret: the vault's identifiers were indexed with {index_row.value}, but the "
            f"configured secret is {index.key_id}. Restore FIDUCIARY_INDEX_KEY or <data_dir>/index.key; with "
            "another secret no person could be found by email, phone or customer id."
        )


def write_meta(ks: Session, keyring: KeyRing, index: IndexKeys) -> None:
    """Record the canary and the index key id if absent (first writer wins), then prove them."""
    data_key = new_data_key()
    kek_id = keyring.current_id
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "name": CANARY,
            "value": None,
            "kek_id": kek_id,
            "wrapped_key": keyring.current.wrap(data_key, canary_ad(kek_id)),
            "ciphertext": seal(data_key, CANARY_PLAINTEXT, canary_ad(kek_id)),
            "created_at": now,
            "updated_at": now,
        },
        {
            "name": INDEX_META,
            "value": index.key_id,
            "kek_id": None,
            "wrapped_key": None,
            "ciphertext": None,
            "created_at": now,
            "updated_at": now,
        },
    ]
    ks.execute(dialect_insert(ks, VAULT_META).on_conflict_do_nothing(), rows)
    # Read back through Core (not the session's identity map, which may be the caller's).
    meta = {row.name: row for row in ks.connection().execute(select(VAULT_META))}
    prove_canary(meta[CANARY], keyring)  # another process may have won with another key: then refuse
    check_index(meta.get(INDEX_META), index)

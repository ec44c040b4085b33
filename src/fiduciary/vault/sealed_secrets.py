"""Secrets the service keeps for others (a recipient's webhook signing secret), sealed the way a legal-hold
record is: AES-256-GCM under a random record key that the key-encryption key wraps, the associated data
binding the ciphertext to its owner. A copy of the database alone opens none of them (DPDP s.8(5), GDPR Art
32(1)(a)); a KEK rotation rewraps nothing, since each row names the KEK that wrapped its key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy.orm import Session

from fiduciary.vault.crypto import associated_data, new_data_key, open_sealed, seal
from fiduciary.vault.keys.startup import VaultKeys

_AD: Final = b"fiduciary/sealed-secret/v1"


@dataclass(frozen=True)
class SealedSecret:
    kek_id: str
    key_wrapped: bytes
    sealed: bytes


def seal_secret(keys: VaultKeys, session: Session, owner: str, secret: str) -> SealedSecret:
    """Seal `secret` for `owner` (e.g. `recipient:couriers`) under a new record key wrapped by the KEK."""
    keys.ensure_initialised(session)
    record_key = new_data_key()
    kek_id, wrapped = keys.keyring.wrap_record_key(owner, record_key)
    return SealedSecret(kek_id, wrapped, seal(record_key, secret.encode("utf-8"), associated_data(_AD, owner)))


def open_secret(keys: VaultKeys, owner: str, stored: SealedSecret) -> str:
    """The secret `seal_secret` sealed for `owner`; a ciphertext moved to another owner fails to open."""
    record_key = keys.keyring.unwrap_record_key(owner, stored.kek_id, stored.key_wrapped)
    return open_sealed(record_key, stored.sealed, associated_data(_AD, owner), what="A sealed secret").decode("utf-8")

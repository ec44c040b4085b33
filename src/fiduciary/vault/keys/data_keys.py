"""Each person's data key: created on their first write, unwrapped to read, destroyed to erase them.

A person's fields and identifiers are encrypted under their own random data key, stored only wrapped by the
KEK (`person_keys`, in the key store). The wrapped row is read on every access and the unwrapped key is
cached only for that exact wrapped blob, so destroying the row (crypto-shredding, `fiduciary.vault.erasure`)
takes effect at once in every process.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from fiduciary.errors import Conflict, FiduciaryError
from fiduciary.people.service import check_person_id, get_person
from fiduciary.storage import utcnow
from fiduciary.vault.crypto import FieldCipher, new_data_key
from fiduciary.vault.keys.startup import VaultKeys
from fiduciary.vault.records import PERSON_KEYS, dialect_insert

KEY_VERSION = 1

# Hot-path statement, built once (Core, so no ORM compile step per call).
_KEY_ROW = select(
    PERSON_KEYS.c.key_version, PERSON_KEYS.c.kek_id, PERSON_KEYS.c.wrapped_key, PERSON_KEYS.c.destroyed_at
).where(PERSON_KEYS.c.person_id == bindparam("person_id"))


class PersonErased(FiduciaryError):
    """The person's data key was destroyed: their fields are gone for good (crypto-shredded)."""

    def __init__(self, detail: str = "The person's personal data has been erased.") -> None:
        super().__init__(detail=detail, status=410, title="Gone", code="person_erased")


def key_row(keys: VaultKeys, session: Session, person_id: str) -> Any:
    with keys.key_store.use(session) as ks:
        return ks.connection().execute(_KEY_ROW, {"person_id": person_id}).one_or_none()


def cipher(keys: VaultKeys, person_id: str, key_version: int, kek_id: str, wrapped: bytes) -> FieldCipher:
    aead = keys.cache.get(person_id, wrapped)
    if aead is None:
        aead = AESGCM(keys.keyring.unwrap_data_key(person_id, key_version, kek_id, wrapped))
        keys.cache.put(person_id, wrapped, aead)
    return FieldCipher.from_aead(person_id, aead, key_version)


def is_erased(keys: VaultKeys, session: Session, person_id: str) -> bool:
    """Whether the person's data key was destroyed; reads the key row only, never unwraps (no KMS call)."""
    row = key_row(keys, session, person_id)
    return row is not None and row.wrapped_key is None


def cipher_for_read(keys: VaultKeys, session: Session, person_id: str) -> FieldCipher | None:
    """The person's key; None if they never had one; `PersonErased` if it was destroyed."""
    check_person_id(person_id)
    row = key_row(keys, session, person_id)
    if row is None:
        get_person(session, person_id)  # 404 for an unknown person
        return None
    if row.wrapped_key is None:
        raise PersonErased()
    return cipher(keys, person_id, row.key_version, row.kek_id, row.wrapped_key)


def new_key_values(keys: VaultKeys, person_id: str, now: datetime) -> tuple[dict[str, Any], AESGCM]:
    data_key = new_data_key()
    kek_id, wrapped = keys.keyring.wrap_data_key(person_id, KEY_VERSION, data_key)
    values = {
        "person_id": person_id,
        "key_version": KEY_VERSION,
        "kek_id": kek_id,
        "wrapped_key": wrapped,
        "created_at": now,
        "destroyed_at": None,
    }
    return values, AESGCM(data_key)


def cipher_for_write(keys: VaultKeys, session: Session, person_id: str) -> FieldCipher:
    """The person's key, created on first write; 409 if the person was erased (their key is gone)."""
    row = key_row(keys, session, person_id)
    if row is None:
        keys.ensure_initialised(session)
        values, _ = new_key_values(keys, person_id, utcnow())
        with keys.key_store.use(session, write=True) as ks:
            ks.execute(dialect_insert(ks, PERSON_KEYS).on_conflict_do_nothing(), [values])
        row = key_row(keys, session, person_id)  # a concurrent writer may have won: use its key
    if row is None or row.wrapped_key is None:
        raise Conflict("The person's personal data has been erased; nothing new can be stored.", code="person_erased")
    return cipher(keys, person_id, row.key_version, row.kek_id, row.wrapped_key)

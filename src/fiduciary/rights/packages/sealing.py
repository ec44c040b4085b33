"""Sealing a package: chunked AES-256-GCM under a random package key wrapped by the person's vault key.

Why a package key and not the person's key itself: the person's `FieldCipher` seals text values; a package is
megabytes of ZIP, sealed here in 1 MiB chunks so memory stays flat (issue 13 item 4). The package key is
wrapped by the person's data key exactly as the outbox seals an address (`comms.sealing`: the person's
`cipher_for_write`, category `access_package`, the package id as the item), so destroying the person's key
on erasure (DPDP s.8(7), GDPR Art 17) makes every copy of the package unreadable, backups too.

Each chunk's associated data binds it to its package, its position and whether it is the last one, so
chunks cannot be reordered, moved to another package, or dropped from the end without failing to open.
"""

from __future__ import annotations

import base64
import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext
from fiduciary.errors import FiduciaryError
from fiduciary.vault.keys.data_keys import cipher_for_read, cipher_for_write
from fiduciary.vault.keys.startup import check_vault_keys

CATEGORY: Final = "access_package"
CHUNK_BYTES: Final = 1024 * 1024
_NONCE_BYTES: Final = 12


class PackageDamaged(FiduciaryError):
    """A stored chunk failed authentication (altered, moved or missing): never serve a wrong byte."""

    def __init__(self) -> None:
        super().__init__(
            detail="The stored package failed authentication.",
            status=500,
            title="Package damaged",
            code="package_damaged",
        )


class PackageCipher:
    """One package's key: seals and opens its chunks."""

    def __init__(self, package_id: str, key: bytes) -> None:
        self.package_id = package_id
        self._aead = AESGCM(key)

    def _ad(self, seq: int, last: bool) -> bytes:
        return f"fiduciary/access-package/v1/{self.package_id}/{seq}/{int(last)}".encode("ascii")

    def seal(self, seq: int, chunk: bytes, *, last: bool) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, chunk, self._ad(seq, last))

    def open(self, seq: int, sealed: bytes, *, last: bool) -> bytes:
        try:
            return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], self._ad(seq, last))
        except InvalidTag:
            raise PackageDamaged() from None


def new_package_key(
    runtime: RuntimeContext, session: Session, person_id: str, package_id: str
) -> tuple[PackageCipher, int, bytes]:
    """A fresh package key: (its cipher, the person's key version, the key wrapped under the person's key).

    A person whose key was destroyed is a 409 `person_erased` (nothing new is stored about them)."""
    key = AESGCM.generate_key(bit_length=256)
    person = cipher_for_write(check_vault_keys(runtime), session, person_id)
    wrapped = person.encrypt(CATEGORY, base64.b64encode(key).decode("ascii"), package_id)
    return PackageCipher(package_id, key), person.key_version, wrapped


def open_package_key(
    runtime: RuntimeContext, session: Session, person_id: str, package_id: str, key_version: int, wrapped: bytes
) -> PackageCipher:
    """The package's cipher; `PersonErased` (410) when the person's key was destroyed."""
    person = cipher_for_read(check_vault_keys(runtime), session, person_id)
    if person is None:  # the person never had a key: no package was sealed for them
        raise PackageDamaged()
    key = base64.b64decode(person.decrypt(CATEGORY, wrapped, package_id, key_version))
    return PackageCipher(package_id, key)

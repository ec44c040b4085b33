"""Sealing an outbox message's address and body: under the person's vault data key, else the service key.

Under the person's key (DPDP s.8(5) safeguards, GDPR Art 32(1)(a)), erasing the person crypto-shreds the
address and content of every message to them, in backups too (decision 0003). A message naming no person
is sealed under a key derived from the service secret (`FIDUCIARY_SECRET_KEY`); such messages hold no
erasable person reference, and the eraser cannot reach them by person anyway. Key version 0 marks them.
The associated data binds each value to its message id and field, so a sealed address moved to another row
fails to open.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Final, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext
from fiduciary.vault.keys.data_keys import cipher_for_read, cipher_for_write
from fiduciary.vault.keys.startup import check_vault_keys

SERVICE_KEY_VERSION: Final = 0
CATEGORY: Final = "outbox"
_KEY_LABEL: Final = b"fiduciary/outbox/v1"


_NONCE_BYTES: Final = 12


class _Cipher(Protocol):
    key_version: int

    def encrypt(self, category: str, value: str, item: str = "") -> bytes: ...

    def decrypt(self, category: str, blob: bytes, item: str = "", key_version: int | None = None) -> str: ...


class ServiceCipher:
    """AES-256-GCM under the outbox service key: `nonce | ciphertext+tag`, the item as associated data."""

    key_version = SERVICE_KEY_VERSION

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def encrypt(self, category: str, value: str, item: str = "") -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, value.encode("utf-8"), f"{category}/{item}".encode())

    def decrypt(self, category: str, blob: bytes, item: str = "", key_version: int | None = None) -> str:
        nonce, sealed = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, sealed, f"{category}/{item}".encode()).decode("utf-8")


def _service_cipher(runtime: RuntimeContext) -> ServiceCipher:
    def build() -> ServiceCipher:
        return ServiceCipher(hmac.new(runtime.settings.resolved_secret_key(), _KEY_LABEL, hashlib.sha256).digest())

    return runtime.shared("comms.outbox.service_cipher", ServiceCipher, build)


def seal(
    runtime: RuntimeContext, session: Session, person_id: str | None, message_id: str, values: dict[str, str]
) -> tuple[int, dict[str, bytes]]:
    """(key version, sealed values) for a new message; a person whose key was destroyed is a 409."""
    cipher: _Cipher
    if person_id is None:
        cipher = _service_cipher(runtime)
    else:
        cipher = cipher_for_write(check_vault_keys(runtime), session, person_id)
    sealed = {name: cipher.encrypt(CATEGORY, value, f"{message_id}/{name}") for name, value in values.items()}
    return cipher.key_version, sealed


def open_sealed(
    runtime: RuntimeContext,
    session: Session,
    person_id: str | None,
    key_version: int,
    message_id: str,
    name: str,
    blob: bytes,
) -> str:
    """The plaintext of one sealed value; `PersonErased` when the person's key was destroyed."""
    cipher: _Cipher
    if person_id is None or key_version == SERVICE_KEY_VERSION:
        cipher = _service_cipher(runtime)
    else:
        found = cipher_for_read(check_vault_keys(runtime), session, person_id)
        if found is None:  # the person never had a key: this row was not written by `seal`
            raise LookupError("no data key for the message's person")
        cipher = found
    return cipher.decrypt(CATEGORY, blob, f"{message_id}/{name}", key_version)

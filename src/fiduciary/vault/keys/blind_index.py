"""Blind indexes: find a person by exact email, phone or customer id without decrypting anything.

The index of an identifier is HMAC-SHA256(kind key, normalised value) truncated to 16 bytes. Design:

- **Keyed.** Without the index secret nobody can compute an index from a guessed email, so a stolen
  database does not let an attacker confirm "is x@example.com a customer?" offline.
- **A key per column.** Each kind's key is derived with HKDF-SHA256 from one index secret with the kind in
  `info`, so the email column's indexes cannot be joined against the phone column's (or another
  deployment's), and no index key equals the KEK: blind indexes survive a KEK rotation untouched.
- **The secret is not the KEK.** `FIDUCIARY_INDEX_KEY` or `<data_dir>/index.key`. It also keys the erasure
  journal's HMAC chain.
- **Truncated to 128 bits.** Truncation is often sold as a defence against confirmation attacks: with
  few enough bits, many values share an index and a match proves little. That only works at very short
  lengths (~16-32 bits), where every lookup returns candidates that must be told apart by decrypting
  them, costing a key unwrap per candidate and turning the unique constraint into a filter. We chose
  exact-match semantics instead: 128 bits keep the collision probability negligible (about n²/2^129;
  for a billion identifiers per kind, about 10^-21), so `unique (kind, blind_index)` means "this identifier
  belongs to another person", and a lookup returns at most one person without decrypting. Against an
  attacker who holds the index secret, no truncation length helps; the defence is the secret.
  Truncation here only halves the index's storage.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fiduciary.config import Settings
from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.vault.keys.kek import VaultKeyError, create_key_file, decode_key, read_key_file

IDENTIFIER_KINDS: tuple[str, ...] = ("email", "phone", "customer_id")
INDEX_BYTES = 16
INDEX_FILE_NAME = "index.key"


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


class IndexKeys:
    """The per-kind blind-index keys and the erasure-journal key, all derived from one index secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise VaultKeyError("the index secret must be 32 bytes")
        self._macs = {
            kind: hmac.new(_hkdf(secret, b"fiduciary.blind-index.v1:" + kind.encode()), digestmod=hashlib.sha256)
            for kind in IDENTIFIER_KINDS
        }
        self.journal_key = _hkdf(secret, b"fiduciary.erasure-journal.v1")
        self.key_id = "idx_" + hmac.new(secret, b"fiduciary.index-key-id.v1", hashlib.sha256).hexdigest()[:16]

    def blind_index(self, kind: str, normalised: str) -> bytes:
        """The 16-byte index of an already normalised identifier (see `check_kind` for the kinds)."""
        mac = self._macs[check_kind(kind)].copy()
        mac.update(normalised.encode("utf-8"))
        return mac.digest()[:INDEX_BYTES]


def check_kind(kind: str, field: str = "kind") -> str:
    if kind not in IDENTIFIER_KINDS:
        raise ValidationFailed(
            "Unknown identifier kind.",
            [FieldProblem(field, f"must be one of {', '.join(IDENTIFIER_KINDS)}")],
        )
    return kind


def index_file_path(settings: Settings) -> Path:
    return settings.data_dir / INDEX_FILE_NAME


def load_index_keys(settings: Settings, *, create_default: bool = False) -> IndexKeys:
    """FIDUCIARY_INDEX_KEY, else `<data_dir>/index.key` (generated only when the vault is first initialised)."""
    if settings.index_key is not None:
        return IndexKeys(decode_key(settings.index_key.get_secret_value(), "FIDUCIARY_INDEX_KEY"))
    path = index_file_path(settings)
    if not path.exists():
        if not create_default:
            raise VaultKeyError(
                f"No blind-index secret is configured: FIDUCIARY_INDEX_KEY is unset and {path} does not exist. "
                "Restore the file or set the variable; without it no identifier can be found."
            )
        create_key_file(path)
    return IndexKeys(read_key_file(path, str(path)))

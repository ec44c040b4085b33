"""Key-encryption keys (KEKs): what wraps every person's data key, and where it comes from.

The vault never stores a data key in the clear: each one is wrapped (AES-256-GCM) by the KEK, and only the
wrapped form is written. Whoever holds the database without the KEK holds nothing readable (DPDP Rule
6(1)(a), GDPR Art 32(1)(a)); destroying one wrapped data key erases that person everywhere (crypto-shredding).

Providers shipped here keep the KEK in process memory:

- `FIDUCIARY_KEK`: base64 of 32 random bytes, e.g. injected by the orchestrator's secret store;
- else a key file: `FIDUCIARY_KEK_FILE`, or for the embedded default `<data_dir>/kek.key`, generated with
  mode 0600 the first time the vault is initialised (a file named by FIDUCIARY_KEK_FILE is never generated:
  a missing mount must stop the service, not silently start a second key).

Retired KEKs stay usable for unwrapping through `FIDUCIARY_KEK_PREVIOUS` (comma-separated base64) while
`fiduciary keys rotate` re-wraps everything under the current one.

A KMS or OpenBao/Vault transit provider implements `KeyEncryptionKeyProvider` (see its docstring) and is
named by `FIDUCIARY_KEK_PROVIDER=package.module:factory`, where `factory(settings)` returns the provider.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import importlib
import os
import secrets
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fiduciary.config import Settings
from fiduciary.errors import FiduciaryError
from fiduciary.vault.crypto import (
    KEY_BYTES,
    CorruptCiphertext,
    data_key_ad,
    open_with,
    record_key_ad,
    seal_with,
)

KEK_FILE_NAME = "kek.key"
_KEK_ID_LABEL = b"fiduciary.kek-id.v1"


class VaultKeyError(FiduciaryError):
    """The vault's keys are missing, wrong or unusable. Raised at start so the service never serves a bad read.

    Messages say which key id the data expects and which is configured; they never contain key material.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail=detail, status=500, title="Vault keys unusable", code="vault_key_error")


@runtime_checkable
class KeyEncryptionKeyProvider(Protocol):
    """Wraps and unwraps data keys under one key-encryption key.

    For implementers (AWS/GCP/Azure KMS, OpenBao or HashiCorp Vault transit, an HSM):

    - `kek_id` is a stable, non-secret identifier of the key (and version) that wraps: it is stored beside
      every wrapped key so the right provider is found at unwrap time, and it must change when the key
      material changes (rotation). It must not reveal the key; for a KMS, the key ARN plus version works.
    - `wrap(data_key, ad)` returns an opaque blob; `unwrap(blob, ad)` returns the 32-byte key. `ad` is
      associated data the vault builds (person id, key version, kek id): bind it (KMS "encryption context",
      transit "context"/"associated_data") so a wrapped key moved to another row fails to unwrap.
    - `unwrap` of a blob that does not authenticate raises `CorruptCiphertext`; an unreachable service
      raises `VaultKeyError`. Neither may return bytes that are not the original key.
    - Expect one call per person per request at most, never one per field: the vault caches unwrapped
      data keys in a bounded in-process LRU (`FIDUCIARY_VAULT_KEY_CACHE_SIZE`) keyed by the wrapped blob,
      and re-reads the wrapped row on every access so an erasure takes effect at once. Bulk paths
      (creation in batches, `keys rotate`) call `wrap`/`unwrap` once per key; a provider with a batch API
      may implement them over it.
    """

    @property
    def kek_id(self) -> str: ...

    def wrap(self, data_key: bytes, ad: bytes) -> bytes: ...

    def unwrap(self, blob: bytes, ad: bytes) -> bytes: ...


def kek_fingerprint(key: bytes) -> str:
    """`kek_` + 16 hex of HMAC-SHA256(key, constant): identifies the key without revealing it."""
    return "kek_" + hmac.new(key, _KEK_ID_LABEL, hashlib.sha256).hexdigest()[:16]


class LocalKek:
    """A KEK held in process memory (environment variable or key file); wraps with AES-256-GCM."""

    def __init__(self, key: bytes, source: str) -> None:
        if len(key) != KEY_BYTES:
            raise VaultKeyError(f"{source} must be 32 bytes of base64, not {len(key)} bytes")
        self._aead = AESGCM(key)
        self._kek_id = kek_fingerprint(key)
        self.source = source

    @property
    def kek_id(self) -> str:
        return self._kek_id

    def wrap(self, data_key: bytes, ad: bytes) -> bytes:
        return seal_with(self._aead, data_key, ad)

    def unwrap(self, blob: bytes, ad: bytes) -> bytes:
        return open_with(self._aead, blob, ad, what=f"A key wrapped under {self._kek_id}")

    def __repr__(self) -> str:  # never the key
        return f"LocalKek({self._kek_id}, from {self.source})"


class KeyRing:
    """The current KEK (wraps everything new) and retired ones (unwrap only), found by kek id."""

    def __init__(self, current: KeyEncryptionKeyProvider, previous: Iterable[KeyEncryptionKeyProvider] = ()) -> None:
        self.current = current
        self._by_id: dict[str, KeyEncryptionKeyProvider] = {}
        for provider in previous:
            self._by_id.setdefault(provider.kek_id, provider)
        self._by_id[current.kek_id] = current

    @property
    def current_id(self) -> str:
        return self.current.kek_id

    @property
    def previous_ids(self) -> list[str]:
        return sorted(k for k in self._by_id if k != self.current.kek_id)

    def knows(self, kek_id: str) -> bool:
        return kek_id in self._by_id

    def describe(self) -> str:
        previous = ", ".join(self.previous_ids) or "none"
        return f"configured key {self.current_id}, previous keys: {previous}"

    def provider(self, kek_id: str) -> KeyEncryptionKeyProvider:
        try:
            return self._by_id[kek_id]
        except KeyError:
            raise VaultKeyError(
                f"Data is wrapped under key-encryption key {kek_id}, which is not configured ({self.describe()}). "
                "Configure that key as FIDUCIARY_KEK, or in FIDUCIARY_KEK_PREVIOUS until `fiduciary keys rotate` "
                "has finished."
            ) from None

    def wrap_data_key(self, person_id: str, key_version: int, data_key: bytes) -> tuple[str, bytes]:
        kek_id = self.current.kek_id
        return kek_id, self.current.wrap(data_key, data_key_ad(person_id, key_version, kek_id))

    def unwrap_data_key(self, person_id: str, key_version: int, kek_id: str, blob: bytes) -> bytes:
        key = self.provider(kek_id).unwrap(blob, data_key_ad(person_id, key_version, kek_id))
        if len(key) != KEY_BYTES:
            raise CorruptCiphertext(f"The data key of {person_id} unwrapped to the wrong length.")
        return key

    def wrap_record_key(self, record_id: str, record_key: bytes) -> tuple[str, bytes]:
        kek_id = self.current.kek_id
        return kek_id, self.current.wrap(record_key, record_key_ad(record_id, kek_id))

    def unwrap_record_key(self, record_id: str, kek_id: str, blob: bytes) -> bytes:
        key = self.provider(kek_id).unwrap(blob, record_key_ad(record_id, kek_id))
        if len(key) != KEY_BYTES:
            raise CorruptCiphertext(f"The record key of {record_id} unwrapped to the wrong length.")
        return key


# ------------------------------------------------------------------------------------------- loading keys


def decode_key(text: str, source: str) -> bytes:
    """32 bytes from base64 (standard or URL-safe, padding optional); a clear error naming `source` otherwise."""
    cleaned = "".join(text.split())
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        raw = (
            base64.urlsafe_b64decode(padded)
            if ("-" in cleaned or "_" in cleaned)
            else base64.b64decode(padded, validate=True)
        )
    except (binascii.Error, ValueError):
        raise VaultKeyError(f"{source} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise VaultKeyError(
            f"{source} must decode to 32 bytes, not {len(raw)}; generate one with `fiduciary keys generate`"
        )
    return raw


def generate_key_b64() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def generate_kek() -> tuple[str, str]:
    """A new random KEK as (base64, kek id), for FIDUCIARY_KEK or a key file."""
    raw = secrets.token_bytes(32)
    return base64.b64encode(raw).decode("ascii"), kek_fingerprint(raw)


def kek_file_path(settings: Settings) -> Path:
    return settings.kek_file or settings.data_dir / KEK_FILE_NAME


def read_key_file(path: Path, source: str) -> bytes:
    """The key in `path`, refusing a file other users can read (it would defeat the encryption)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise VaultKeyError(
            f"{path} is readable by other users (mode {mode:o}); run `chmod 600 {path}` so only this service reads it"
        )
    return decode_key(path.read_text(encoding="ascii").strip(), source)


def create_key_file(path: Path) -> None:
    """A new random key, written atomically: a 0600 temporary file hard-linked into place, so two processes
    starting together never see a half-written key and exactly one key wins."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)  # mkstemp creates 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(generate_key_b64() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: use its key
            os.link(tmp_name, path)
    finally:
        os.unlink(tmp_name)


def previous_keks(settings: Settings) -> list[KeyEncryptionKeyProvider]:
    if settings.kek_previous is None:
        return []
    parts = [p for p in settings.kek_previous.get_secret_value().split(",") if p.strip()]
    return [
        LocalKek(decode_key(p, f"FIDUCIARY_KEK_PREVIOUS entry {i + 1}"), "FIDUCIARY_KEK_PREVIOUS")
        for i, p in enumerate(parts)
    ]


def current_kek(settings: Settings, *, create_default: bool) -> KeyEncryptionKeyProvider:
    """The configured KEK; `create_default` generates `<data_dir>/kek.key` when nothing else is configured.

    Only the vault's first initialisation passes `create_default=True`; once data exists a missing key is
    an error, never a fresh key that would make everything unreadable.
    """
    if settings.kek_provider:
        return _provider_from_factory(settings.kek_provider, settings)
    if settings.kek is not None:
        return LocalKek(decode_key(settings.kek.get_secret_value(), "FIDUCIARY_KEK"), "FIDUCIARY_KEK")
    path = kek_file_path(settings)
    if not path.exists():
        if settings.kek_file is not None:
            raise VaultKeyError(
                f"FIDUCIARY_KEK_FILE names {path}, which does not exist. Restore the key file (or mount its "
                "volume); a file named there is never generated."
            )
        if not create_default:
            raise VaultKeyError(
                f"No key-encryption key is configured: FIDUCIARY_KEK is unset and {path} does not exist."
            )
        create_key_file(path)
    source = "FIDUCIARY_KEK_FILE" if settings.kek_file is not None else str(path)
    return LocalKek(read_key_file(path, source), source)


def load_keyring(settings: Settings, *, create_default: bool = False) -> KeyRing:
    return KeyRing(current_kek(settings, create_default=create_default), previous_keks(settings))


def _provider_from_factory(spec: str, settings: Settings) -> KeyEncryptionKeyProvider:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise VaultKeyError("FIDUCIARY_KEK_PROVIDER must look like package.module:factory")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise VaultKeyError(f"FIDUCIARY_KEK_PROVIDER {spec} cannot be imported: {exc}") from None
    provider = factory(settings)
    if not isinstance(provider, KeyEncryptionKeyProvider):
        raise VaultKeyError(f"FIDUCIARY_KEK_PROVIDER {spec} did not return a KeyEncryptionKeyProvider")
    return provider

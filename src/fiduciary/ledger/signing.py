"""Ed25519 keys that sign ledger checkpoints (and, later, consent receipts).

A hash chain alone only shows that rows were not changed *unless* someone rewrote every later hash too;
anyone with write access to the database can do that. A checkpoint signed with a key the database does
not hold pins the chain at a position, so a rewrite before it is detectable by anyone with the public key
(DPDP Act s.6(10) burden of proof; GDPR Art 7(1) "able to demonstrate"; ISO/IEC TS 27560 §8 integrity).

The private key comes from `FIDUCIARY_SIGNING_KEY` (base64 of the raw 32-byte key) or, for the embedded
default, from `<data_dir>/signing.key`, generated on first use with mode 0600. Retired keys stay trusted
for verification through `FIDUCIARY_SIGNING_KEYS_PREVIOUS` (comma-separated base64 public keys).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import stat
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fiduciary.config import Settings
from fiduciary.errors import FiduciaryError

KEY_FILE_NAME = "signing.key"
ALGORITHM = "Ed25519"


class SigningKeyError(FiduciaryError):
    """The configured signing key cannot be used. The message never contains key material."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail=detail, status=500, title="Signing key unusable", code="signing_key_unusable")


def _b64decode(text: str) -> bytes:
    cleaned = "".join(text.split())
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        if "-" in cleaned or "_" in cleaned:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not valid base64") from None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_for(public_key: Ed25519PublicKey) -> str:
    """First 16 hex characters of SHA-256 over the raw public key: short, stable, derivable by anyone."""
    return hashlib.sha256(raw_public_bytes(public_key)).hexdigest()[:16]


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    return b64(raw_public_bytes(public_key))


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(
        "ascii"
    )


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A public key from base64 of its 32 raw bytes, or from PEM (SubjectPublicKeyInfo)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        loaded = serialization.load_pem_public_key(text.encode("ascii"))
        if not isinstance(loaded, Ed25519PublicKey):
            raise ValueError("PEM public key is not an Ed25519 key")
        return loaded
    raw = _b64decode(text)
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, this one decodes to {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def _private_from_b64(text: str, source: str) -> Ed25519PrivateKey:
    try:
        raw = _b64decode(text)
    except ValueError:
        raise SigningKeyError(f"{source} is not base64 of a raw 32-byte Ed25519 private key") from None
    if len(raw) != 32:
        raise SigningKeyError(f"{source} must decode to 32 bytes (raw Ed25519 private key), got {len(raw)}")
    return Ed25519PrivateKey.from_private_bytes(raw)


class Signer:
    """Signs checkpoint statements with the current key; knows the retired keys for verification."""

    __slots__ = ("_private_key", "key_id", "previous_public_keys", "public_key")

    def __init__(self, private_key: Ed25519PrivateKey, previous_public_keys: Sequence[Ed25519PublicKey] = ()) -> None:
        self._private_key = private_key
        self.public_key: Ed25519PublicKey = private_key.public_key()
        self.key_id: str = key_id_for(self.public_key)
        self.previous_public_keys: tuple[Ed25519PublicKey, ...] = tuple(previous_public_keys)

    @classmethod
    def generate(cls) -> Signer:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_base64(cls, private_key_b64: str, previous_public_keys: Sequence[Ed25519PublicKey] = ()) -> Signer:
        return cls(_private_from_b64(private_key_b64, "signing key"), previous_public_keys)

    def sign(self, data: bytes) -> bytes:
        return self._private_key.sign(data)

    @property
    def public_key_b64(self) -> str:
        return public_key_b64(self.public_key)

    @property
    def public_key_pem(self) -> str:
        return public_key_pem(self.public_key)

    def private_key_b64(self) -> str:
        """For writing the key file or moving it into FIDUCIARY_SIGNING_KEY; never log this."""
        raw = self._private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return b64(raw)

    def known_public_keys(self) -> list[Ed25519PublicKey]:
        return [self.public_key, *self.previous_public_keys]

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r})"


# Keys this process was configured with (by load_signer). `verify` without explicit keys trusts these:
# a key only gets here from configuration, never from the database it is checking.
_trusted: dict[str, Ed25519PublicKey] = {}
_trusted_lock = threading.Lock()


def _trust(keys: Iterable[Ed25519PublicKey]) -> None:
    with _trusted_lock:
        for key in keys:
            _trusted.setdefault(key_id_for(key), key)


def trusted_public_keys() -> list[Ed25519PublicKey]:
    with _trusted_lock:
        return list(_trusted.values())


def previous_public_keys(settings: Settings) -> list[Ed25519PublicKey]:
    keys: list[Ed25519PublicKey] = []
    for index, part in enumerate(p for p in settings.signing_keys_previous.split(",") if p.strip()):
        try:
            keys.append(parse_public_key(part))
        except ValueError as exc:
            raise SigningKeyError(f"FIDUCIARY_SIGNING_KEYS_PREVIOUS entry {index + 1}: {exc}") from None
    return keys


def key_file_path(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE_NAME


def _read_key_file(path: Path) -> Ed25519PrivateKey:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SigningKeyError(
            f"{path} is readable by other users (mode {mode:o}); run `chmod 600 {path}` so only this service reads it"
        )
    return _private_from_b64(path.read_text(encoding="ascii").strip(), str(path))


def _create_key_file(path: Path) -> None:
    """Write a new key atomically: a temporary 0600 file hard-linked into place, so two processes starting
    together never see a half-written key and exactly one key wins."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp_name = tempfile.mkstemp(prefix=".signing-", dir=path.parent)  # mkstemp creates with 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(Signer.generate().private_key_b64() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: use its key
            os.link(tmp_name, path)
    finally:
        os.unlink(tmp_name)


def load_signer(settings: Settings) -> Signer:
    """The checkpoint signer: FIDUCIARY_SIGNING_KEY if set, else `<data_dir>/signing.key` (created if absent)."""
    previous = previous_public_keys(settings)
    if settings.signing_key is not None:
        signer = Signer(_private_from_b64(settings.signing_key.get_secret_value(), "FIDUCIARY_SIGNING_KEY"), previous)
    else:
        path = key_file_path(settings)
        if not path.exists():
            _create_key_file(path)
        signer = Signer(_read_key_file(path), previous)
    _trust(signer.known_public_keys())
    return signer


def known_public_keys(settings: Settings) -> list[Ed25519PublicKey]:
    """Current and previous public keys from configuration, without creating a key file."""
    keys = previous_public_keys(settings)
    if settings.signing_key is not None:
        private = _private_from_b64(settings.signing_key.get_secret_value(), "FIDUCIARY_SIGNING_KEY")
        keys.insert(0, private.public_key())
    elif key_file_path(settings).exists():
        keys.insert(0, _read_key_file(key_file_path(settings)).public_key())
    return keys


def verify_signature(public_key_b64: str, data: bytes, signature_b64: str) -> bool:
    """True only for a valid Ed25519 signature; malformed keys or signatures are simply not valid."""
    try:
        key = parse_public_key(public_key_b64)
        signature = _b64decode(signature_b64)
    except ValueError:
        return False
    if len(signature) != 64:
        return False
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def verify_with_key(public_key: Ed25519PublicKey, data: bytes, signature_b64: str) -> bool:
    try:
        signature = _b64decode(signature_b64)
    except ValueError:
        return False
    if len(signature) != 64:
        return False
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def public_keys_document(signer: Signer, *, issuer: str | None = None) -> dict[str, Any]:
    """The JSON published at /.well-known/fiduciary-keys.json: every key a checkpoint or receipt may cite."""

    def entry(key: Ed25519PublicKey, status: str) -> dict[str, Any]:
        raw = raw_public_bytes(key)
        return {
            "key_id": key_id_for(key),
            "status": status,
            "alg": ALGORITHM,
            "public_key": b64(raw),
            "pem": public_key_pem(key),
            "jwk": {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="),
                "kid": key_id_for(key),
                "use": "sig",
            },
        }

    document: dict[str, Any] = {
        "keys": [entry(signer.public_key, "current")] + [entry(key, "previous") for key in signer.previous_public_keys],
        "key_id": "first 16 hex characters of SHA-256 over the raw 32-byte public key",
        "checkpoint_statement": (
            "Ed25519 signature over the RFC 8785 canonical JSON of "
            '{"hash","key_id","position","signed_at","stream","type":"fiduciary.ledger.checkpoint.v1"}'
        ),
    }
    if issuer:
        document["issuer"] = issuer
    return document

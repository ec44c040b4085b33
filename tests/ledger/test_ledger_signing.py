"""Checkpoint signing keys: env key, generated key file (0600, reused), retired keys, signature checks."""

from __future__ import annotations

import base64
import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fiduciary.config import Settings
from fiduciary.ledger.signing import (
    KEY_FILE_NAME,
    Signer,
    SigningKeyError,
    key_id_for,
    known_public_keys,
    load_signer,
    parse_public_key,
    public_keys_document,
    raw_public_bytes,
    trusted_public_keys,
    verify_signature,
)


def _settings(tmp_path: Path, **kwargs: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", **kwargs)  # type: ignore[arg-type]


def test_key_file_is_generated_once_with_0600_and_reused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    path = settings.data_dir / KEY_FILE_NAME
    assert not path.exists()
    first = load_signer(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_text()
    second = load_signer(settings)
    assert second.key_id == first.key_id
    assert path.read_text() == content
    assert [p.name for p in settings.data_dir.iterdir()] == [KEY_FILE_NAME]  # no temporary files left


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    ids: list[str] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait()
        ids.append(load_signer(settings).key_id)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == 4 and len(set(ids)) == 1


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    load_signer(settings)
    path = settings.data_dir / KEY_FILE_NAME
    os.chmod(path, 0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        load_signer(settings)


def test_env_key_wins_over_the_key_file_and_creates_no_file(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes_raw()
    settings = _settings(tmp_path, signing_key=base64.b64encode(raw).decode())
    signer = load_signer(settings)
    assert signer.key_id == key_id_for(private.public_key())
    assert not (settings.data_dir / KEY_FILE_NAME).exists()
    urlsafe = _settings(tmp_path, signing_key=base64.urlsafe_b64encode(raw).decode().rstrip("="))
    assert load_signer(urlsafe).key_id == signer.key_id


@pytest.mark.parametrize(
    "bad", ["not base64 !!", base64.b64encode(b"short").decode(), base64.b64encode(b"x" * 64).decode()]
)
def test_a_bad_env_key_is_a_clear_error_without_the_key(tmp_path: Path, bad: str) -> None:
    with pytest.raises(SigningKeyError, match="FIDUCIARY_SIGNING_KEY") as info:
        load_signer(_settings(tmp_path, signing_key=bad))
    assert bad not in str(info.value)
    assert not (tmp_path / "data" / KEY_FILE_NAME).exists()


def test_key_id_is_the_first_16_hex_of_sha256_of_the_raw_public_key() -> None:
    import hashlib

    signer = Signer.generate()
    assert signer.key_id == hashlib.sha256(raw_public_bytes(signer.public_key)).hexdigest()[:16]
    assert parse_public_key(signer.public_key_b64).public_bytes_raw() == raw_public_bytes(signer.public_key)
    assert parse_public_key(signer.public_key_pem).public_bytes_raw() == raw_public_bytes(signer.public_key)


def test_sign_and_verify_signature() -> None:
    signer = Signer.generate()
    data = b"statement"
    signature = base64.b64encode(signer.sign(data)).decode()
    assert verify_signature(signer.public_key_b64, data, signature)
    assert not verify_signature(signer.public_key_b64, b"statemenT", signature)
    assert not verify_signature(Signer.generate().public_key_b64, data, signature)
    assert not verify_signature(signer.public_key_b64, data, "AAAA")
    assert not verify_signature(signer.public_key_b64, data, "%%%")
    assert not verify_signature("not-a-key", data, signature)


def test_previous_keys_are_known_and_published(tmp_path: Path) -> None:
    old1, old2 = Signer.generate(), Signer.generate()
    settings = _settings(tmp_path, signing_keys_previous=f"{old1.public_key_b64}, {old2.public_key_b64}")
    signer = load_signer(settings)
    ids = [key_id_for(k) for k in signer.known_public_keys()]
    assert ids == [signer.key_id, old1.key_id, old2.key_id]
    assert [key_id_for(k) for k in known_public_keys(settings)] == ids
    trusted = {key_id_for(k) for k in trusted_public_keys()}
    assert set(ids) <= trusted
    document = public_keys_document(signer, issuer="https://shop.example")
    assert [(k["key_id"], k["status"]) for k in document["keys"]] == [
        (signer.key_id, "current"),
        (old1.key_id, "previous"),
        (old2.key_id, "previous"),
    ]
    current = document["keys"][0]
    assert current["public_key"] == signer.public_key_b64
    assert current["pem"] == signer.public_key_pem
    assert current["jwk"]["kty"] == "OKP" and current["jwk"]["crv"] == "Ed25519"
    assert signer.private_key_b64() not in str(document)


def test_a_bad_previous_key_names_its_position(tmp_path: Path) -> None:
    settings = _settings(tmp_path, signing_keys_previous=f"{Signer.generate().public_key_b64},bogus")
    with pytest.raises(SigningKeyError, match="entry 2"):
        load_signer(settings)


def test_known_public_keys_never_creates_a_key_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert known_public_keys(settings) == []
    assert not (settings.data_dir / KEY_FILE_NAME).exists()

"""Field encryption, data-key wrapping, KEK providers and blind indexes, without a database."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from fiduciary.config import Settings
from fiduciary.errors import ValidationFailed
from fiduciary.vault.crypto import (
    FORMAT_V1,
    OVERHEAD,
    CorruptCiphertext,
    FieldCipher,
    associated_data,
    data_key_ad,
    field_ad,
    new_data_key,
    open_sealed,
    seal,
)
from fiduciary.vault.keys.blind_index import INDEX_BYTES, IndexKeys, check_kind, load_index_keys
from fiduciary.vault.keys.kek import (
    KeyEncryptionKeyProvider,
    KeyRing,
    LocalKek,
    VaultKeyError,
    create_key_file,
    decode_key,
    generate_key_b64,
    kek_fingerprint,
    load_keyring,
    read_key_file,
)

P1 = "per_aaaaaaaaaaaaaaaaaaaaaaaaaa"
P2 = "per_bbbbbbbbbbbbbbbbbbbbbbbbbb"


def test_data_keys_are_random_256_bit() -> None:
    keys = {new_data_key() for _ in range(100)}
    assert len(keys) == 100 and all(len(k) == 32 for k in keys)


@settings(max_examples=200, deadline=None)
@given(value=st.text(max_size=500), category=st.from_regex(r"[a-z]{1,10}\.[a-z_]{1,10}", fullmatch=True))
def test_round_trip_any_text(value: str, category: str) -> None:
    cipher = FieldCipher(P1, new_data_key(), 1)
    blob = cipher.encrypt(category, value)
    assert blob[0] == FORMAT_V1 and len(blob) == OVERHEAD + len(value.encode("utf-8"))
    assert cipher.decrypt(category, blob) == value


def test_same_value_encrypts_differently_each_time() -> None:
    cipher = FieldCipher(P1, new_data_key(), 1)
    assert cipher.encrypt("identity.name", "Asha") != cipher.encrypt("identity.name", "Asha")


def test_associated_data_binds_person_field_item_and_version() -> None:
    key = new_data_key()
    mine = FieldCipher(P1, key, 1)
    blob = mine.encrypt("contact.email", "asha@example.com")
    # Same key, another person: even a person sharing the key bytes cannot open it.
    with pytest.raises(CorruptCiphertext):
        FieldCipher(P2, key, 1).decrypt("contact.email", blob)
    with pytest.raises(CorruptCiphertext):
        mine.decrypt("contact.phone", blob)  # moved to another field
    with pytest.raises(CorruptCiphertext):
        mine.decrypt("contact.email", blob, item="rec_x")  # moved to another record
    with pytest.raises(CorruptCiphertext):
        FieldCipher(P1, key, 2).decrypt("contact.email", blob)  # another key version
    with pytest.raises(CorruptCiphertext):
        FieldCipher(P1, new_data_key(), 1).decrypt("contact.email", blob)  # another key
    assert mine.decrypt("contact.email", blob) == "asha@example.com"


def test_associated_data_encoding_is_unambiguous() -> None:
    assert associated_data(b"d", "ab", "c") != associated_data(b"d", "a", "bc")
    assert field_ad(P1, "a.b", "", 1) != field_ad(P1, "a", ".b", 1)
    assert data_key_ad(P1, 1, "kek_1") != data_key_ad(P1, 11, "kek_")


@pytest.mark.parametrize("cut", [0, 1, 12, 13, OVERHEAD - 1])
def test_truncated_ciphertext_is_refused_clearly(cut: int) -> None:
    cipher = FieldCipher(P1, new_data_key(), 1)
    blob = cipher.encrypt("identity.name", "Asha Verma")
    with pytest.raises(CorruptCiphertext, match="truncated"):
        cipher.decrypt("identity.name", blob[:cut])


def test_tail_truncation_and_every_single_bit_flip_fail_authentication() -> None:
    cipher = FieldCipher(P1, new_data_key(), 1)
    blob = cipher.encrypt("identity.name", "Asha Verma")
    with pytest.raises(CorruptCiphertext):
        cipher.decrypt("identity.name", blob[:-1])
    for position in range(1, len(blob)):
        for bit in (0, 7):
            altered = bytearray(blob)
            altered[position] ^= 1 << bit
            with pytest.raises(CorruptCiphertext):
                cipher.decrypt("identity.name", bytes(altered))
    wrong_version = bytes((FORMAT_V1 + 1,)) + blob[1:]
    with pytest.raises(CorruptCiphertext, match="format version"):
        cipher.decrypt("identity.name", wrong_version)


def test_error_messages_never_contain_the_value() -> None:
    cipher = FieldCipher(P1, new_data_key(), 1)
    blob = cipher.encrypt("identity.name", "Asha Verma")
    with pytest.raises(CorruptCiphertext) as info:
        FieldCipher(P2, new_data_key(), 1).decrypt("identity.name", blob)
    assert "Asha" not in str(info.value) and info.value.status == 500 and info.value.code == "corrupt_ciphertext"


def test_field_cipher_refuses_a_short_key() -> None:
    with pytest.raises(ValueError):
        FieldCipher(P1, b"short", 1)


# ------------------------------------------------------------------------------------------------ KEKs


def test_local_kek_wraps_with_bound_associated_data() -> None:
    kek = LocalKek(os.urandom(32), "test")
    assert isinstance(kek, KeyEncryptionKeyProvider)
    data_key = new_data_key()
    ring = KeyRing(kek)
    kek_id, wrapped = ring.wrap_data_key(P1, 1, data_key)
    assert kek_id == kek.kek_id and data_key not in wrapped
    assert ring.unwrap_data_key(P1, 1, kek_id, wrapped) == data_key
    with pytest.raises(CorruptCiphertext):
        ring.unwrap_data_key(P2, 1, kek_id, wrapped)  # moved to another person
    with pytest.raises(CorruptCiphertext):
        ring.unwrap_data_key(P1, 2, kek_id, wrapped)
    with pytest.raises(CorruptCiphertext):
        ring.unwrap_data_key(P1, 1, kek_id, wrapped[:-3])


def test_kek_id_is_a_fingerprint_not_the_key() -> None:
    key = os.urandom(32)
    kek_id = kek_fingerprint(key)
    assert kek_id == kek_fingerprint(key) and kek_id.startswith("kek_") and len(kek_id) == 20
    assert kek_id != kek_fingerprint(os.urandom(32))
    assert key.hex()[:16] not in kek_id
    assert base64.b64encode(key).decode() not in repr(LocalKek(key, "x")) and kek_id in repr(LocalKek(key, "x"))


def test_ring_finds_previous_keys_by_id_and_names_missing_ones() -> None:
    old, new = LocalKek(os.urandom(32), "old"), LocalKek(os.urandom(32), "new")
    data_key = new_data_key()
    old_id, wrapped = KeyRing(old).wrap_data_key(P1, 1, data_key)
    assert KeyRing(new, [old]).unwrap_data_key(P1, 1, old_id, wrapped) == data_key
    with pytest.raises(VaultKeyError) as info:
        KeyRing(new).unwrap_data_key(P1, 1, old_id, wrapped)
    assert old_id in info.value.detail and new.kek_id in info.value.detail
    assert "FIDUCIARY_KEK_PREVIOUS" in info.value.detail


def test_unwrap_under_the_wrong_key_with_a_forged_id_fails() -> None:
    real, impostor = os.urandom(32), os.urandom(32)
    kek_id, wrapped = KeyRing(LocalKek(real, "real")).wrap_data_key(P1, 1, new_data_key())
    with pytest.raises(CorruptCiphertext):
        LocalKek(impostor, "impostor").unwrap(wrapped, data_key_ad(P1, 1, kek_id))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not base64 !!", "not valid base64"),
        (base64.b64encode(b"x" * 16).decode(), "32 bytes, not 16"),
        ("", "32 bytes, not 0"),
    ],
)
def test_bad_key_text_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(VaultKeyError, match=message):
        decode_key(text, "FIDUCIARY_KEK")


def test_urlsafe_and_unpadded_base64_are_accepted() -> None:
    raw = os.urandom(32)
    assert decode_key(base64.urlsafe_b64encode(raw).decode().rstrip("="), "x") == raw
    assert decode_key(base64.b64encode(raw).decode(), "x") == raw


def test_key_file_is_created_0600_and_other_readers_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "kek.key"
    create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = read_key_file(path, "kek")
    create_key_file(path)  # a second creator never replaces the first key
    assert read_key_file(path, "kek") == key
    path.chmod(0o644)
    with pytest.raises(VaultKeyError, match="chmod 600"):
        read_key_file(path, "kek")


def test_load_keyring_sources(tmp_path: Path) -> None:
    k1, k2, k3 = (generate_key_b64() for _ in range(3))
    ring = load_keyring(
        Settings(data_dir=tmp_path, kek=SecretStr(k1), kek_previous=SecretStr(f"{k2}, {k3}")), create_default=True
    )
    assert ring.current_id == kek_fingerprint(base64.b64decode(k1))
    assert sorted(ring.previous_ids) == sorted(kek_fingerprint(base64.b64decode(k)) for k in (k2, k3))
    assert not (tmp_path / "kek.key").exists()  # an explicit key never creates a file
    with pytest.raises(VaultKeyError, match="does not exist"):
        load_keyring(Settings(data_dir=tmp_path))
    generated = load_keyring(Settings(data_dir=tmp_path), create_default=True)
    assert (tmp_path / "kek.key").exists() and load_keyring(
        Settings(data_dir=tmp_path)
    ).current_id == generated.current_id
    with pytest.raises(VaultKeyError, match="never generated"):
        load_keyring(Settings(data_dir=tmp_path, kek_file=tmp_path / "elsewhere.key"), create_default=True)
    with pytest.raises(VaultKeyError, match="PREVIOUS entry 2"):
        load_keyring(Settings(data_dir=tmp_path, kek=SecretStr(k1), kek_previous=SecretStr(f"{k2},bad")))


def test_kek_provider_factory_errors(tmp_path: Path) -> None:
    with pytest.raises(VaultKeyError, match=r"package\.module:factory"):
        load_keyring(Settings(data_dir=tmp_path, kek_provider="nocolon"))
    with pytest.raises(VaultKeyError, match="cannot be imported"):
        load_keyring(Settings(data_dir=tmp_path, kek_provider="no_such_module_x:make"))
    with pytest.raises(VaultKeyError, match="did not return"):
        load_keyring(Settings(data_dir=tmp_path, kek_provider="builtins:dict"))


# -------------------------------------------------------------------------------------- blind indexes


def test_blind_index_is_keyed_per_kind_and_truncated() -> None:
    secret = os.urandom(32)
    keys = IndexKeys(secret)
    email = keys.blind_index("email", "asha@example.com")
    assert len(email) == INDEX_BYTES and email == IndexKeys(secret).blind_index("email", "asha@example.com")
    assert keys.blind_index("customer_id", "asha@example.com") != email  # a key per column
    assert IndexKeys(os.urandom(32)).blind_index("email", "asha@example.com") != email  # keyed
    assert keys.blind_index("email", "asha@example.co") != email
    assert keys.journal_key not in (secret,) and len(keys.journal_key) == 32


def test_unknown_identifier_kind_is_422() -> None:
    with pytest.raises(ValidationFailed) as info:
        check_kind("passport")
    assert info.value.status == 422 and info.value.fields[0].field == "kind"


def test_index_secret_sources(tmp_path: Path) -> None:
    with pytest.raises(VaultKeyError, match=r"index\.key"):
        load_index_keys(Settings(data_dir=tmp_path))
    created = load_index_keys(Settings(data_dir=tmp_path), create_default=True)
    assert stat.S_IMODE((tmp_path / "index.key").stat().st_mode) == 0o600
    assert load_index_keys(Settings(data_dir=tmp_path)).key_id == created.key_id
    explicit = generate_key_b64()
    assert load_index_keys(Settings(data_dir=tmp_path, index_key=SecretStr(explicit))).key_id != created.key_id


def test_seal_and_open_helpers() -> None:
    key = new_data_key()
    blob = seal(key, b"invoice", b"ad")
    assert open_sealed(key, blob, b"ad") == b"invoice"
    with pytest.raises(CorruptCiphertext):
        open_sealed(key, blob, b"other")

"""Vault keys on both engines: the start-up check (canary), wrong and missing keys, KEK rotation online,
a separate key database, and `fiduciary keys status | rotate | generate`."""

from __future__ import annotations

import base64
import stat
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli_support import init_data_folder
from fiduciary.cli.main import app
from fiduciary.config import Settings, get_settings
from fiduciary.runtime import Runtime
from fiduciary.storage import create_engine_for_url
from fiduciary.vault.keys.kek import VaultKeyError, generate_key_b64, kek_fingerprint
from fiduciary.vault.keys.rotation import rotate_keks
from fiduciary.vault.keys.startup import check_vault_keys, close_vault_keys
from fiduciary.vault.records import LegalHoldRecord, PersonKey, VaultMeta
from fiduciary.vault.service import VaultService
from vault_support import PURPOSES, SIGNUP, counts, new_person, signed_up, start_vault, vault_runtime

runner = CliRunner()


def kek_id_of(key_b64: str) -> str:
    return kek_fingerprint(base64.b64decode(key_b64))


def with_keys(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update=changes)


def test_first_start_makes_key_files_and_the_first_write_the_canary(settings: Settings) -> None:
    runtime = start_vault(settings)
    try:
        keys = check_vault_keys(runtime)
        assert check_vault_keys(runtime) is keys  # once per runtime
        for name in ("kek.key", "index.key"):
            path = settings.data_dir / name
            assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
        with runtime.sessions() as session:
            assert session.get(VaultMeta, "canary") is None  # nothing encrypted yet: no key is pinned
            signed_up(session, runtime, VaultService(runtime))
            canary = session.get(VaultMeta, "canary")
            index = session.get(VaultMeta, "index")
            assert canary is not None and canary.kek_id == keys.keyring.current_id
            assert index is not None and index.value == keys.index.key_id
            assert b"canary" not in bytes(canary.ciphertext or b"")
    finally:
        close_vault_keys(runtime)
        runtime.close()
    again = start_vault(settings)  # the same files prove the canary on the next start
    close_vault_keys(again)
    again.close()


def test_two_processes_with_different_keys_cannot_both_write(settings: Settings, tmp_path: Path) -> None:
    """Both start on an empty vault (nothing to check yet); the first write pins its KEK, the other is refused."""
    other = with_keys(settings, data_dir=tmp_path / "other-data")
    with vault_runtime(settings) as (first, first_vault), vault_runtime(other) as (second, second_vault):
        with first.sessions() as session:
            signed_up(session, first, first_vault)
        with second.sessions() as session:
            person_id = new_person(session, second)
            with pytest.raises(VaultKeyError, match="Wrong key-encryption key"):
                second_vault.put_field(session, person_id, "identity.name", "X", purpose="account", source="provided")
            session.rollback()
            assert session.scalar(sa.select(sa.func.count()).select_from(PersonKey)) == 1


def _with_data(settings: Settings) -> str:
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        return signed_up(session, runtime, vault)


def test_wrong_kek_stops_the_start_naming_both_key_ids(settings: Settings, tmp_path: Path) -> None:
    _with_data(settings)
    expected = kek_id_of((settings.data_dir / "kek.key").read_text().strip())
    wrong = generate_key_b64()
    with pytest.raises(VaultKeyError) as info:
        start_vault(with_keys(settings, kek=SecretStr(wrong)))
    message = info.value.detail
    assert expected in message and kek_id_of(wrong) in message and "Wrong key-encryption key" in message
    assert wrong not in message and info.value.status == 500
    # A wrong key file is refused just the same.
    other = tmp_path / "other.key"
    other.write_text(generate_key_b64() + "\n")
    other.chmod(0o600)
    with pytest.raises(VaultKeyError, match=expected):
        start_vault(with_keys(settings, kek_file=other))


def test_missing_kek_with_existing_data_stops_the_start(settings: Settings, tmp_path: Path) -> None:
    _with_data(settings)
    expected = kek_id_of((settings.data_dir / "kek.key").read_text().strip())
    (settings.data_dir / "kek.key").unlink()
    with pytest.raises(VaultKeyError) as info:
        start_vault(settings)
    assert expected in info.value.detail and "does not exist" in info.value.detail
    assert not (settings.data_dir / "kek.key").exists()  # never silently replaced by a new key
    with pytest.raises(VaultKeyError, match="never generated"):
        start_vault(with_keys(settings, kek_file=tmp_path / "missing.key"))


def test_wrong_or_missing_index_secret_stops_the_start(settings: Settings) -> None:
    _with_data(settings)
    with pytest.raises(VaultKeyError, match="Wrong blind-index secret"):
        start_vault(with_keys(settings, index_key=SecretStr(generate_key_b64())))
    (settings.data_dir / "index.key").unlink()
    with pytest.raises(VaultKeyError, match="blind-index secret"):
        start_vault(settings)


def test_tampered_canary_stops_the_start(settings: Settings) -> None:
    _with_data(settings)
    engine = create_engine_for_url(settings.resolved_database_url)
    with engine.begin() as conn:
        blob = bytes(
            conn.execute(sa.select(VaultMeta.ciphertext).where(VaultMeta.name == "canary")).scalar_one() or b""
        )
        conn.execute(
            sa.update(VaultMeta).where(VaultMeta.name == "canary").values(ciphertext=blob[:-1] + bytes([blob[-1] ^ 1]))
        )
    engine.dispose()
    with pytest.raises(VaultKeyError, match="tampered"):
        start_vault(settings)


def test_data_under_an_unconfigured_kek_stops_the_start(settings: Settings) -> None:
    """Keys wrapped under a KEK nobody configured (e.g. a half-finished rotation whose old key was dropped)."""
    _with_data(settings)
    engine = create_engine_for_url(settings.resolved_database_url)
    with engine.begin() as conn:
        conn.execute(sa.update(PersonKey).values(kek_id="kek_0123456789abcdef"))
    engine.dispose()
    with pytest.raises(VaultKeyError, match="kek_0123456789abcdef"):
        start_vault(settings)


@pytest.fixture
def k1_settings(settings: Settings) -> Settings:
    return with_keys(settings, kek=SecretStr(generate_key_b64()))


def _read_everything(runtime: Runtime, people: list[str], record_id: str) -> None:
    vault = VaultService(runtime)
    with runtime.sessions() as session:
        for person_id in people:
            assert vault.get_fields(session, person_id)["identity.name"] == SIGNUP["identity.name"]
        assert "INV-9" in vault.read_legal_hold_record(session, record_id).content


def test_rotation_rewraps_everything_online(k1_settings: Settings) -> None:
    k1 = k1_settings.kek.get_secret_value()  # type: ignore[union-attr]
    k2 = generate_key_b64()
    with vault_runtime(k1_settings) as (runtime, vault), runtime.sessions() as session:
        people = [signed_up(session, runtime, vault) for _ in range(7)]
        erased = people.pop()
        vault.erase_person(session, erased, "rights_request")
        record_id = vault.add_legal_hold_record(
            session,
            people[0],
            record_type="invoice",
            basis="CGST Act 2017 s.36",
            purge_after=date.today() + timedelta(days=3000),
            content="INV-9",
        )
        session.commit()
        fields_before = {
            (r.person_id, r.category): bytes(r.ciphertext)
            for r in session.execute(sa.text("SELECT person_id, category, ciphertext FROM personal_fields"))
        }
    # The new key alone cannot start: the data is under K1.
    with pytest.raises(VaultKeyError, match=kek_id_of(k1)):
        start_vault(with_keys(k1_settings, kek=SecretStr(k2)))
    rotating = with_keys(k1_settings, kek=SecretStr(k2), kek_previous=SecretStr(k1))
    reads_during = 0
    with vault_runtime(rotating) as (runtime, _), vault_runtime(rotating) as (reader, _):
        _read_everything(runtime, people, record_id)

        def read_between_batches(_n: int) -> None:
            nonlocal reads_during
            _read_everything(reader, people, record_id)  # another process, mid-rotation
            reads_during += 1

        report = rotate_keks(runtime, batch_size=2, progress=read_between_batches)
        assert (report.data_keys_rewrapped, report.record_keys_rewrapped, report.remaining) == (6, 1, 0)
        assert report.current_kek_id == kek_id_of(k2)
        assert rotate_keks(runtime).data_keys_rewrapped == 0  # idempotent
        with runtime.sessions() as session:
            assert set(session.scalars(sa.select(PersonKey.kek_id).where(PersonKey.wrapped_key.is_not(None)))) == {
                kek_id_of(k2)
            }
            assert session.scalar(sa.select(LegalHoldRecord.kek_id)) == kek_id_of(k2)
            erased_row = session.get(PersonKey, erased)
            assert erased_row is not None and erased_row.wrapped_key is None  # not resurrected
            fields_after = {
                (r.person_id, r.category): bytes(r.ciphertext)
                for r in session.execute(sa.text("SELECT person_id, category, ciphertext FROM personal_fields"))
            }
            assert fields_after == fields_before  # no field was decrypted or re-encrypted
    assert reads_during >= 4
    # Everything reads with the new key alone; the old key alone no longer starts.
    with vault_runtime(with_keys(k1_settings, kek=SecretStr(k2))) as (runtime, _):
        _read_everything(runtime, people, record_id)
    with pytest.raises(VaultKeyError, match=kek_id_of(k2)):
        start_vault(k1_settings)


def test_separate_key_database(settings: Settings, tmp_path: Path) -> None:
    keys_url = f"sqlite:///{tmp_path / 'keys.db'}"
    separate = with_keys(settings, keys_database_url=keys_url)
    with vault_runtime(separate) as (runtime, vault), runtime.sessions() as session:
        person_id = signed_up(session, runtime, vault, identifiers={"email": "sep@example.com"})
        people = vault.create_people(session, [], purpose=PURPOSES, source="provided")
        assert people == []
        assert vault.get_fields(session, person_id)["identity.name"] == SIGNUP["identity.name"]
        key_engine = runtime.extras["vault.keys"].key_store.engine  # type: ignore[attr-defined]
        with Session(key_engine) as key_session:
            assert counts(session)["person_keys"] == 0  # nothing in the main database
            assert counts(session, key_session)["live_keys"] == 1
            assert key_session.get(VaultMeta, "canary") is not None
        receipt = vault.erase_person(session, person_id, "rights_request")
        session.commit()
        assert not receipt.already_erased
        with Session(key_engine) as key_session:
            row = key_session.get(PersonKey, person_id)
            assert row is not None and row.wrapped_key is None
    # Pointing at an empty key database while the main one holds ciphertext refuses to start.
    with pytest.raises(VaultKeyError, match="key store"):
        start_vault(with_keys(settings, keys_database_url=f"sqlite:///{tmp_path / 'empty-keys.db'}"))


def test_person_created_without_data_gets_a_key_on_first_write(session: Session, runtime: Runtime) -> None:
    vault = VaultService(runtime)
    try:
        person_id = new_person(session, runtime)
        assert session.get(PersonKey, person_id) is None
        vault.put_field(session, person_id, "identity.name", "Late Writer", purpose="account", source="provided")
        session.commit()
        row = session.get(PersonKey, person_id)
        assert row is not None and row.wrapped_key is not None and row.key_version == 1
    finally:
        close_vault_keys(runtime)


# ------------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", database_url)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(tmp_path / "cli-data"))
    for name in ("FIDUCIARY_KEK", "FIDUCIARY_KEK_PREVIOUS", "FIDUCIARY_KEK_FILE", "FIDUCIARY_INDEX_KEY"):
        monkeypatch.delenv(name, raising=False)
    init_data_folder()
    yield get_settings()
    get_settings.cache_clear()


def test_cli_status_generate_and_rotate(cli_env: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with vault_runtime(cli_env) as (runtime, vault), runtime.sessions() as session:
        signed_up(session, runtime, vault)
    first_id = kek_id_of((cli_env.data_dir / "kek.key").read_text().strip())
    ok = runner.invoke(app, ["keys", "status"])
    assert ok.exit_code == 0, ok.output
    assert first_id in ok.output and "data keys under" in ok.output and "ok" in ok.output

    generated = runner.invoke(app, ["keys", "generate"])
    assert generated.exit_code == 0
    new_b64, new_id = generated.output.split()
    assert new_id == f"kek_id={kek_id_of(new_b64)}"
    key_file = tmp_path / "new.key"
    assert runner.invoke(app, ["keys", "generate", "--file", str(key_file)]).exit_code == 0
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert runner.invoke(app, ["keys", "generate", "--file", str(key_file)]).exit_code == 1  # never overwritten

    # Misconfigured: the new key alone. Status explains; it does not need the keys to be right.
    monkeypatch.setenv("FIDUCIARY_KEK", new_b64)
    get_settings.cache_clear()
    bad = runner.invoke(app, ["keys", "status"])
    assert bad.exit_code == 1 and first_id in bad.output and "not configured" in bad.output

    old_b64 = (cli_env.data_dir / "kek.key").read_text().strip()
    monkeypatch.setenv("FIDUCIARY_KEK_PREVIOUS", old_b64)
    get_settings.cache_clear()
    rotated = runner.invoke(app, ["keys", "rotate", "--batch-size", "1"])
    assert rotated.exit_code == 0, rotated.output
    assert "re-wrapped 1 data keys" in rotated.output and "can now be removed" in rotated.output
    from fiduciary.audit.models import AuditEventIndex
    from fiduciary.storage import create_engine_for_url

    engine = create_engine_for_url(cli_env.resolved_database_url)
    with engine.connect() as conn:
        audited = conn.execute(
            sa.select(AuditEventIndex.actor, AuditEventIndex.outcome).where(AuditEventIndex.action == "key.rotate")
        ).all()
    engine.dispose()
    assert [tuple(a) for a in audited] == [("cli", "allowed")]
    monkeypatch.delenv("FIDUCIARY_KEK_PREVIOUS")
    get_settings.cache_clear()
    after = runner.invoke(app, ["keys", "status"])
    assert after.exit_code == 0 and new_id.split("=")[1] in after.output and first_id not in after.output


@pytest.mark.parametrize(
    "command", [["keys", "rotate"], ["vault", "purge"], ["vault", "verify-journal"], ["restore-replay"]]
)
def test_cli_with_a_wrong_kek_exits_1_naming_the_key_not_a_traceback(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    _with_data(cli_env)
    expected = kek_id_of((cli_env.data_dir / "kek.key").read_text().strip())
    wrong = generate_key_b64()
    monkeypatch.setenv("FIDUCIARY_KEK", wrong)
    get_settings.cache_clear()
    result = runner.invoke(app, command)
    assert result.exit_code == 1, result.output
    assert "Wrong key-encryption key" in result.output and expected in result.output and wrong not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)

"""Crypto-shredding, the erasure journal, purge and restore-replay; and the proofs the issue asks for:

1. after creating people, the raw bytes of the SQLite file and its WAL hold none of their values;
2. after erasure, no service call and no direct decryption with the KEK recovers them;
3. after restoring an older copy of the database and running restore-replay, erased people stay erased.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli_support import init_data_folder
from fiduciary.cli.main import app
from fiduciary.config import Settings, get_settings
from fiduciary.errors import Conflict, NotFound, ValidationFailed
from fiduciary.people.models import Person, PersonErasure
from fiduciary.runtime import Runtime
from fiduciary.vault.crypto import CorruptCiphertext, FieldCipher, canary_ad
from fiduciary.vault.erasure import (
    GENESIS,
    ErasureJournal,
    JournalDamaged,
    checkpoint_sqlite,
    purge_erased_batch,
)
from fiduciary.vault.keys.data_keys import PersonErased
from fiduciary.vault.keys.kek import load_keyring
from fiduciary.vault.keys.startup import close_vault_keys
from fiduciary.vault.records import PersonalField, PersonIdentifier, PersonKey, VaultMeta
from fiduciary.vault.restore import restore_replay
from fiduciary.vault.service import VaultService
from vault_support import IDENTIFIERS, new_person, signed_up, snapshot, vault_runtime

runner = CliRunner()


@pytest.fixture
def vault(runtime: Runtime) -> Iterator[VaultService]:
    yield VaultService(runtime)
    close_vault_keys(runtime)


def _hold(vault: VaultService, session: Session, person_id: str, days: int = 30) -> str:
    return vault.add_legal_hold_record(
        session,
        person_id,
        record_type="invoice",
        basis="CGST Act 2017 s.36",
        purge_after=date.today() + timedelta(days=days),
        content='{"invoice": "INV-77", "bill_to": "Zebulon Quixotewright"}',
    )


def test_erasure_destroys_the_key_and_indexes_and_keeps_legal_holds(
    session: Session, runtime: Runtime, vault: VaultService
) -> None:
    person_id = signed_up(session, runtime, vault, identifiers=IDENTIFIERS)
    other = signed_up(session, runtime, vault, {"identity.name": "Someone Else"})
    record_id = _hold(vault, session, person_id)
    vault.append_records(
        session, person_id, "support.messages", ["hello"], purpose="customer_support", source="provided"
    )
    session.commit()
    receipt = vault.erase_person(session, person_id, "rights_request")
    session.commit()
    assert not receipt.already_erased and receipt.identifiers_deleted == 3 and receipt.legal_holds_kept == 1
    assert receipt.journal_seq == 1
    key = session.get(PersonKey, person_id)
    assert key is not None and key.wrapped_key is None and key.kek_id is None and key.destroyed_at is not None
    assert session.scalar(sa.select(sa.func.count()).where(PersonIdentifier.person_id == person_id)) == 0
    for call in (
        lambda: vault.get_fields(session, person_id),
        lambda: vault.get_identifiers(session, person_id),
        lambda: vault.get_records(session, person_id, "support.messages"),
    ):
        with pytest.raises(PersonErased) as info:
            call()
        assert info.value.status == 410
    assert vault.find_by_identifier(session, "email", IDENTIFIERS["email"]) is None
    assert vault.find_by_identifier(session, "phone", IDENTIFIERS["phone"]) is None
    # The legal-hold record survives under its own key; the other person is untouched.
    assert "INV-77" in vault.read_legal_hold_record(session, record_id).content
    assert vault.get_fields(session, other)["identity.name"] == "Someone Else"
    # Nothing new can be stored for an erased person, and the identifiers are free again.
    with pytest.raises(Conflict) as refused:
        vault.put_field(session, person_id, "identity.name", "Back again", purpose="account", source="provided")
    assert refused.value.code == "person_erased"
    session.rollback()
    newcomer = new_person(session, runtime)
    vault.add_identifiers(session, newcomer, {"email": IDENTIFIERS["email"]})
    session.commit()
    assert vault.find_by_identifier(session, "email", IDENTIFIERS["email"]) == newcomer
    # Idempotent.
    again = vault.erase_person(session, person_id, "rights_request")
    session.commit()
    assert again.already_erased and again.journal_seq is None and again.erased_at == receipt.erased_at
    assert vault.keys.journal.verify().entries == 1
    erasure = session.get(PersonErasure, person_id)
    assert erasure is not None and erasure.reason == "rights_request" and erasure.journal_seq == 1


def test_erasing_a_person_who_never_had_data(session: Session, runtime: Runtime, vault: VaultService) -> None:
    person_id = new_person(session, runtime)
    receipt = vault.erase_person(session, person_id, "retention.inactivity")
    session.commit()
    assert not receipt.already_erased and receipt.identifiers_deleted == 0
    tombstone = session.get(PersonKey, person_id)
    assert tombstone is not None and tombstone.wrapped_key is None
    with pytest.raises(Conflict):
        vault.put_field(session, person_id, "identity.name", "X", purpose="account", source="provided")


def test_bad_erasure_requests_change_nothing(session: Session, runtime: Runtime, vault: VaultService) -> None:
    person_id = signed_up(session, runtime, vault)
    before = snapshot(session)
    with pytest.raises(NotFound):
        vault.erase_person(session, "per_" + "q" * 26, "rights_request")
    with pytest.raises(ValidationFailed):
        vault.erase_person(session, "not-an-id", "rights_request")
    for reason in ("", "Customer asked: zebulon@example.com", "UPPER", "x" * 65):
        with pytest.raises(ValidationFailed) as info:
            vault.erase_person(session, person_id, reason)
        assert info.value.fields[0].field == "reason"
    session.rollback()
    assert snapshot(session) == before
    assert not vault.keys.journal.path.exists()


def test_purge_deletes_ciphertext_in_bounded_batches(session: Session, runtime: Runtime, vault: VaultService) -> None:
    person_id = signed_up(session, runtime, vault)
    vault.append_records(
        session,
        person_id,
        "support.messages",
        [f"m{i}" for i in range(25)],
        purpose="customer_support",
        source="provided",
    )
    keep = signed_up(session, runtime, vault)
    vault.erase_person(session, person_id, "rights_request")
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).where(PersonalField.person_id == person_id)) == 29
    reports = []
    while True:
        report = purge_erased_batch(session, batch_size=10)
        session.commit()
        reports.append((report.rows_deleted, report.people_completed))
        if report == type(report)(0, 0):
            break
    assert reports == [(10, 0), (10, 0), (9, 1), (0, 0)]
    assert session.scalar(sa.select(sa.func.count()).where(PersonalField.person_id == person_id)) == 0
    assert session.scalar(sa.select(sa.func.count()).where(PersonalField.person_id == keep)) == 4
    purged = session.get(PersonErasure, person_id)
    assert purged is not None and purged.purged_at is not None


# ------------------------------------------------------------------------------------------------ journal


def _journal(tmp_path: Path, key: bytes = b"k" * 32) -> ErasureJournal:
    return ErasureJournal(tmp_path / "journal.log", key)


def _fill(journal: ErasureJournal, n: int) -> list[str]:
    from fiduciary.people.service import new_person_id
    from fiduciary.storage import utcnow

    ids = [new_person_id() for _ in range(n)]
    for person_id in ids:
        journal.append(person_id, "rights_request", utcnow())
    return ids


def test_journal_chain_verifies_and_holds_only_pseudonyms(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    ids = _fill(journal, 3)
    assert journal.verify().ok and journal.verify().entries == 3
    entries = list(journal.entries())
    assert [e.person_id for e in entries] == ids and [e.seq for e in entries] == [1, 2, 3]
    lines = [json.loads(line) for line in journal.path.read_text().splitlines()]
    assert lines[0]["prev"] == GENESIS and lines[1]["prev"] == lines[0]["mac"]
    assert set(lines[0]) == {"seq", "person_id", "erased_at", "reason", "prev", "mac"}
    assert (journal.path.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize("damage", ["edit", "delete", "swap", "insert", "other_key"])
def test_journal_tampering_is_detected_at_the_line(tmp_path: Path, damage: str) -> None:
    journal = _journal(tmp_path)
    _fill(journal, 4)
    lines = journal.path.read_text().splitlines(keepends=True)
    if damage == "edit":
        lines[1] = lines[1].replace('"reason":"rights_request"', '"reason":"rights_requesx"')
    elif damage == "delete":
        del lines[1]
    elif damage == "swap":
        lines[1], lines[2] = lines[2], lines[1]
    elif damage == "insert":
        lines.insert(2, lines[1])
    journal.path.write_text("".join(lines))
    reader = _journal(tmp_path, b"x" * 32) if damage == "other_key" else journal
    report = reader.verify()
    assert not report.ok and report.line == (
        1 if damage == "other_key" else 2 if damage in ("edit", "delete", "swap") else 3
    )
    assert f"line {report.line}" in (report.problem or "")
    with pytest.raises(JournalDamaged):
        list(reader.entries())


def test_append_refuses_to_chain_onto_a_damaged_last_line(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    _fill(journal, 2)
    text = journal.path.read_text()
    journal.path.write_text(text.replace('"seq":2', '"seq":9'))
    with pytest.raises(JournalDamaged, match="last line"):
        _fill(journal, 1)


def test_a_torn_last_line_is_dropped_and_the_chain_continues(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    _fill(journal, 2)
    with journal.path.open("ab") as handle:
        handle.write(b'{"seq":3,"person_id":"per_')  # a crash in the middle of a write
    assert journal.verify().ok and journal.verify().entries == 2
    _fill(journal, 1)
    assert journal.verify().ok and [e.seq for e in journal.entries()] == [1, 2, 3]


# ----------------------------------------------------------------------------------- the proofs (SQLite)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'vault.db'}", data_dir=tmp_path / "data")


def _migrated(settings: Settings) -> Settings:
    runtime = Runtime.start(settings, migrate=True)
    runtime.close()
    return settings


DISTINCTIVE = [
    {
        "identity.name": "Zoë Ñandú-Quixotewright",
        "contact.email": "Zoe.Nandu.Q4471@Example.org",
        "contact.phone": "98765 43210",
        "identity.date_of_birth": "1987-11-23",
    },
    {
        "identity.name": "Bartholomew Xylophanes",
        "contact.email": "bart.xylo.9913@example.net",
        "contact.phone": "+91 91234 56789",
        "identity.date_of_birth": "1979-02-28",
    },
]
MESSAGE = "Please resend parcel to Quillfeather Lane flat 9"


def _forms(value: str) -> set[bytes]:
    """Every form a leak could take: as given, lower/upper-case, an email's local part, long words of it.

    Short or common words ("example", "Please") are left out: the policy text stored in the same file has them.
    """
    forms = {value, value.lower(), value.upper(), value.casefold()}
    if "@" in value:
        forms.add(value.split("@")[0])
    forms |= {word for word in value.split() if len(word) >= 8}
    return {v.encode("utf-8") for f in forms for v in (f, f.lower())}


def _raw_bytes(db_path: Path) -> bytes:
    data = db_path.read_bytes()
    for suffix in ("-wal", "-journal"):
        side = db_path.with_name(db_path.name + suffix)
        if side.exists():
            data += side.read_bytes()
    return data


def test_proof_the_database_file_and_wal_hold_no_plaintext(sqlite_settings: Settings, tmp_path: Path) -> None:
    _migrated(sqlite_settings)
    db_path = tmp_path / "vault.db"
    secrets: set[bytes] = set()
    with vault_runtime(sqlite_settings) as (runtime, vault), runtime.sessions() as session:
        ids = []
        for fields in DISTINCTIVE:
            person_id = signed_up(session, runtime, vault, fields, {"email": fields["contact.email"]})
            ids.append(person_id)
            for value in fields.values():
                secrets |= _forms(value)
        vault.append_record(session, ids[0], "support.messages", MESSAGE, purpose="customer_support", source="provided")
        _hold(vault, session, ids[1])
        session.commit()
        secrets |= _forms(MESSAGE) | _forms("+919876543210") | _forms("INV-77")
        # The normalised forms stored are what get_fields returns: include them too.
        for person_id in ids:
            for value in vault.get_fields(session, person_id).values():
                secrets |= _forms(value)
        wal = db_path.with_name("vault.db-wal")
        assert wal.exists() and wal.stat().st_size > 0  # the data is (at least partly) in the WAL right now
        raw_open = _raw_bytes(db_path)
    raw_closed = _raw_bytes(db_path)  # after close: checkpointed into the main file
    for raw in (raw_open, raw_closed):
        assert ids[0].encode() in raw  # the scan does find what is stored in the clear (pseudonymous ids)
        leaked = sorted(s.decode("utf-8") for s in secrets if s in raw)
        assert leaked == [], f"plaintext found in the database bytes: {leaked}"
    for path in (tmp_path / "data").iterdir():  # nor in the key files or the journal
        content = path.read_bytes()
        assert not [s for s in secrets if s in content], path.name


def test_proof_erased_people_cannot_be_recovered(sqlite_settings: Settings, tmp_path: Path) -> None:
    _migrated(sqlite_settings)
    db_path = tmp_path / "vault.db"
    with vault_runtime(sqlite_settings) as (runtime, vault), runtime.sessions() as session:
        victim = signed_up(session, runtime, vault, DISTINCTIVE[0], {"email": DISTINCTIVE[0]["contact.email"]})
        keeper = signed_up(session, runtime, vault, DISTINCTIVE[1])
        wrapped = bytes(session.get(PersonKey, victim).wrapped_key)  # type: ignore[union-attr, arg-type]
        checkpoint_sqlite(runtime.engine)
        assert wrapped in _raw_bytes(db_path)  # the scan finds the wrapped key while it exists
        vault.erase_person(session, victim, "rights_request")
        session.commit()
        ciphertexts = [
            (r.category, r.item, r.key_version, bytes(r.ciphertext))
            for r in session.scalars(sa.select(PersonalField).where(PersonalField.person_id == victim))
        ]
        assert len(ciphertexts) == 4  # still there (purge is deferred) but unreadable:
        for call in (lambda: vault.get_fields(session, victim), lambda: vault.get_identifiers(session, victim)):
            with pytest.raises(PersonErased):
                call()
        assert vault.find_by_identifier(session, "email", DISTINCTIVE[0]["contact.email"]) is None
        # Direct decryption with the KEK: every data key it can still unwrap (the keeper's, the canary's)
        # fails on the victim's ciphertext; the victim's own wrapped key no longer exists anywhere.
        ring = load_keyring(sqlite_settings)
        candidates = []
        for row in session.scalars(sa.select(PersonKey).where(PersonKey.wrapped_key.is_not(None))):
            candidates.append(
                ring.unwrap_data_key(row.person_id, row.key_version, row.kek_id or "", row.wrapped_key or b"")
            )
        canary = session.get(VaultMeta, "canary")
        assert canary is not None
        candidates.append(
            ring.provider(canary.kek_id or "").unwrap(canary.wrapped_key or b"", canary_ad(canary.kek_id or ""))
        )
        assert len(candidates) == 2
        for data_key in candidates:
            for category, item, version, blob in ciphertexts:
                with pytest.raises(CorruptCiphertext):
                    FieldCipher(victim, data_key, version).decrypt(category, blob, item)
        assert vault.get_fields(session, keeper)["identity.name"] == DISTINCTIVE[1]["identity.name"]
        checkpoint_sqlite(runtime.engine)
        raw = _raw_bytes(db_path)
        assert wrapped not in raw  # secure_delete zeroed the old cell; the WAL was truncated
        for value in DISTINCTIVE[0].values():
            assert not [s for s in _forms(value) if s in raw]


def _cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(settings.data_dir))
    for name in ("FIDUCIARY_KEK", "FIDUCIARY_KEK_PREVIOUS", "FIDUCIARY_KEK_FILE", "FIDUCIARY_INDEX_KEY"):
        monkeypatch.delenv(name, raising=False)
    init_data_folder()


def test_proof_restore_then_replay_keeps_erased_people_erased(
    sqlite_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _migrated(sqlite_settings)
    db_path = tmp_path / "vault.db"
    backup = tmp_path / "backup.db"
    with vault_runtime(sqlite_settings) as (runtime, vault), runtime.sessions() as session:
        victim = signed_up(session, runtime, vault, DISTINCTIVE[0], {"email": DISTINCTIVE[0]["contact.email"]})
        keeper = signed_up(session, runtime, vault, DISTINCTIVE[1])
        record_id = _hold(vault, session, victim)
        session.commit()
    shutil.copyfile(db_path, backup)  # last night's backup (the engine was closed: no WAL to copy)
    with vault_runtime(sqlite_settings) as (runtime, vault), runtime.sessions() as session:
        vault.erase_person(session, victim, "rights_request")
        session.commit()
    # Disaster: the database is restored from the backup taken before the erasure.
    for suffix in ("-wal", "-shm"):
        db_path.with_name(db_path.name + suffix).unlink(missing_ok=True)
    shutil.copyfile(backup, db_path)
    with vault_runtime(sqlite_settings) as (runtime, vault), runtime.sessions() as session:
        # Without replay the victim would be back: this is what the journal is for.
        assert vault.get_fields(session, victim)["identity.name"] == DISTINCTIVE[0]["identity.name"]
    _cli_env(monkeypatch, sqlite_settings)
    try:
        result = runner.invoke(app, ["restore-replay"])
        assert result.exit_code == 0, result.output
        assert "1 entries" in result.output and "re-erased 1" in result.output
        again = runner.invoke(app, ["restore-replay"])
        assert again.exit_code == 0 and "re-erased 0" in again.output and "already erased 1" in again.output
        purge = runner.invoke(app, ["vault", "purge"])
        assert purge.exit_code == 0 and "deleted 4 ciphertext rows of 1 erased people" in purge.output
        verify = runner.invoke(app, ["vault", "verify-journal"])
        assert verify.exit_code == 0 and "1 entries" in verify.output
    finally:
        get_settings.cache_clear()
    for _ in range(2):  # and it stays erased across restarts
        with vault_runtime(sqlite_settings) as (runtime, vault), runtime.sessions() as session:
            with pytest.raises(PersonErased):
                vault.get_fields(session, victim)
            assert vault.find_by_identifier(session, "email", DISTINCTIVE[0]["contact.email"]) is None
            assert vault.get_fields(session, keeper)["identity.name"] == DISTINCTIVE[1]["identity.name"]
            assert "INV-77" in vault.read_legal_hold_record(session, record_id).content  # the hold survives
    raw = _raw_bytes(db_path)
    for value in DISTINCTIVE[0].values():
        assert not [s for s in _forms(value) if s in raw]


def test_replay_refuses_a_damaged_journal_and_changes_nothing(sqlite_settings: Settings) -> None:
    _migrated(sqlite_settings)
    with vault_runtime(sqlite_settings) as (runtime, vault), runtime.sessions() as session:
        first = signed_up(session, runtime, vault)
        second = signed_up(session, runtime, vault)
        vault.erase_person(session, first, "rights_request")
        vault.erase_person(session, second, "rights_request")
        session.commit()
        # Simulate a restore of the second person's key, then damage the journal.
        path = vault.keys.journal.path
        lines = path.read_text().splitlines(keepends=True)
        path.write_text(lines[1])
        before = snapshot(session)
        with pytest.raises(JournalDamaged, match="line 1"):
            restore_replay(runtime)
        assert snapshot(session) == before


def test_replay_rejournals_erasures_the_journal_lost(sqlite_settings: Settings) -> None:
    _migrated(sqlite_settings)
    with vault_runtime(sqlite_settings) as (runtime, vault), runtime.sessions() as session:
        person_id = signed_up(session, runtime, vault)
        vault.erase_person(session, person_id, "rights_request")
        session.commit()
        vault.keys.journal.path.unlink()  # the journal volume was lost
        report = restore_replay(runtime)
        assert (report.journal_entries, report.rejournaled) == (0, 1)
        # Rejournaled erasures are completed like journaled ones: this bare vault erasure left the account open.
        assert (report.already_erased, report.completed) == (1, 1)
        person = session.get(Person, person_id)
        assert person is not None and person.status == "closed"
        assert [e.person_id for e in vault.keys.journal.entries()] == [person_id]
        again = restore_replay(runtime)
        assert (again.already_erased, again.completed, again.rejournaled) == (1, 0, 0)


def test_cli_purge_runs_the_housekeeping_purge_and_always_truncates_the_wal(
    sqlite_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fiduciary vault purge` is `housekeeping.purge_vault`; by hand it checkpoints even with nothing to purge."""
    _migrated(sqlite_settings)
    wal = tmp_path / "vault.db-wal"
    with vault_runtime(sqlite_settings) as (runtime, vault), runtime.sessions() as session:
        erased = signed_up(session, runtime, vault)
        signed_up(session, runtime, vault)
        vault.erase_person(session, erased, "rights_request")
        session.commit()
        _cli_env(monkeypatch, sqlite_settings)
        try:
            first = runner.invoke(app, ["vault", "purge", "--batch-size", "1"])
            assert first.exit_code == 0, first.output
            assert "deleted 4 ciphertext rows of 1 erased people; purged 0 legal-hold records" in first.output
            signed_up(session, runtime, vault)  # a write after the purge: the WAL (kept open by us) grows
            assert wal.stat().st_size > 0
            idle = runner.invoke(app, ["vault", "purge"])
            assert idle.exit_code == 0, idle.output
            assert "deleted 0 ciphertext rows of 0 erased people; purged 0 legal-hold records" in idle.output
            assert wal.stat().st_size == 0
        finally:
            get_settings.cache_clear()
        assert session.scalar(sa.select(sa.func.count()).where(PersonalField.person_id == erased)) == 0


def test_erasure_on_both_engines_survives_a_replay(session: Session, runtime: Runtime, vault: VaultService) -> None:
    person_id = signed_up(session, runtime, vault)
    vault.erase_person(session, person_id, "rights_request")
    session.commit()
    # A restored key row (as an old backup would bring back) is destroyed again by the replay.
    session.execute(
        sa.update(PersonKey).where(PersonKey.person_id == person_id).values(wrapped_key=b"restored", kek_id="kek_x")
    )
    session.execute(sa.delete(PersonErasure))
    session.commit()
    report = restore_replay(runtime)
    assert (report.re_erased, report.already_erased, report.tombstoned) == (1, 0, 0)
    session.expire_all()
    row = session.get(PersonKey, person_id)
    assert row is not None and row.wrapped_key is None
    assert session.get(PersonErasure, person_id) is not None
    second = restore_replay(runtime)
    assert (second.re_erased, second.already_erased) == (0, 1)

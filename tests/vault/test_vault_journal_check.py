"""The erasure journal against the database: a restore that undid acknowledged erasures is reported.

People are erased the normal way (every registered domain's eraser), then a backup from before is restored
(SQLite: the file copied back; PostgreSQL: tables emptied and refilled). The journal, outside the database,
still lists them. `fiduciary vault verify-journal` and `fiduciary keys status` must report those people by
pseudonymous id (never a personal value) and exit 1, `restore-replay` must complete their erasure, and then
both must say ok (DPDP s.8(7), s.12(3); GDPR Art 17). With a separate key database only the main database
is restored, so the keys stay destroyed but the account and erasure record are back to un-erased.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiduciary.cli.main import app
from fiduciary.config import Settings, get_settings
from fiduciary.personal_data.registry import registry_for
from fiduciary.runtime import Runtime
from fiduciary.vault.restore import unapplied_erasures
from restore_support import Backup
from vault_support import IDENTIFIERS, SIGNUP, new_person, signed_up, vault_runtime

runner = CliRunner()


@pytest.fixture(params=["main", "separate"], ids=["keys-in-main-db", "separate-key-db"])
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    keys_url = f"sqlite:///{tmp_path / 'keys.db'}" if request.param == "separate" else None
    return Settings(database_url=database_url, data_dir=tmp_path / "data", keys_database_url=keys_url)


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(settings.data_dir))
    if settings.keys_database_url:
        monkeypatch.setenv("FIDUCIARY_KEYS_DATABASE_URL", settings.keys_database_url)
    else:
        monkeypatch.delenv("FIDUCIARY_KEYS_DATABASE_URL", raising=False)
    for name in ("FIDUCIARY_KEK", "FIDUCIARY_KEK_PREVIOUS", "FIDUCIARY_KEK_FILE", "FIDUCIARY_INDEX_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("FIDUCIARY_POLICY_FILE", raising=False)
    get_settings.cache_clear()
    try:
        yield
    finally:
        get_settings.cache_clear()


def erase(settings: Settings, people: list[str]) -> None:
    with vault_runtime(settings) as (runtime, _vault), runtime.sessions() as session:
        registry = registry_for(runtime)
        for person_id in people:
            registry.erase_person(session, person_id, reason="erasure_request")
        session.commit()


@pytest.fixture
def restored(settings: Settings, tmp_path: Path, cli: None) -> tuple[list[str], str]:
    """Two people erased after the backup (one with vault data, one without any key), then the restore;
    returns them and someone never erased."""
    Runtime.start(settings, migrate=True).close()
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        victim = signed_up(session, runtime, vault, SIGNUP, IDENTIFIERS)
        quiet = new_person(session, runtime)  # never had vault data: erasure writes a key tombstone
        keeper = signed_up(session, runtime, vault, {"identity.name": "Someone Else"})
    backup = Backup(settings.resolved_database_url, tmp_path)
    backup.take()
    erase(settings, [victim, quiet])
    ok = runner.invoke(app, ["vault", "verify-journal"])
    assert ok.exit_code == 0 and "every one erased in the database" in ok.output, ok.output
    backup.restore()
    return [victim, quiet], keeper


def test_verify_journal_and_keys_status_report_then_replay_fixes(restored: tuple[list[str], str]) -> None:
    erased, keeper = restored
    journal = runner.invoke(app, ["vault", "verify-journal"])
    assert journal.exit_code == 1, journal.output
    assert "2 journaled erasures are not in the database" in journal.output
    assert "fiduciary restore-replay" in journal.output
    status = runner.invoke(app, ["keys", "status"])
    assert status.exit_code == 1, status.output
    assert "problem: erasure journal: 2 journaled erasures are not in the database" in status.output
    for output in (journal.output, status.output):
        assert all(person_id in output for person_id in erased)
        assert keeper not in output
        for value in (*SIGNUP.values(), *IDENTIFIERS.values()):
            assert value not in output
    replay = runner.invoke(app, ["restore-replay"])
    assert replay.exit_code == 0, replay.output
    assert "erasure completed in every domain for 2 people" in replay.output
    again = runner.invoke(app, ["vault", "verify-journal"])
    assert again.exit_code == 0 and "2 entries, every one erased in the database" in again.output, again.output
    fine = runner.invoke(app, ["keys", "status"])
    assert fine.exit_code == 0 and fine.output.rstrip().endswith("ok"), fine.output


def test_the_check_counts_every_person_and_lists_a_few(restored: tuple[list[str], str], settings: Settings) -> None:
    erased, _keeper = restored
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as main:
        keys = vault.keys
        with keys.key_store.use(main) as key_session:
            gap = unapplied_erasures(keys.journal, main, key_session, limit=1, batch_size=1)
    assert (gap.total, gap.people, gap.ok) == (2, (erased[0],), False)
    journal = runner.invoke(app, ["vault", "verify-journal"])
    assert journal.exit_code == 1


def test_an_erasure_in_the_database_is_not_reported(settings: Settings, cli: None) -> None:
    """No false alarm: right after normal erasures (and with an empty journal) the check is ok."""
    Runtime.start(settings, migrate=True).close()
    empty = runner.invoke(app, ["vault", "verify-journal"])
    assert empty.exit_code == 0 and "0 entries" in empty.output, empty.output
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        person = signed_up(session, runtime, vault, SIGNUP, IDENTIFIERS)
    erase(settings, [person])
    erase(settings, [person])  # twice: one journal line, still erased
    assert runner.invoke(app, ["vault", "verify-journal"]).exit_code == 0
    status = runner.invoke(app, ["keys", "status"])
    assert status.exit_code == 0, status.output

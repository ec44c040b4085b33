"""restore-replay after a backup restore leaves the database as the normal erasure had left it.

A person is erased the normal way (`POST /v1/people/{id}/erase`: every registered domain's eraser, the
vault's crypto-shredding first and the account's closing last). Every table the erasers cover is then
snapshotted, a backup from before the erasure is restored (SQLite: the database file is copied back;
PostgreSQL: every table is emptied and refilled from a dump taken at backup time, as a restore does), and
`restore-replay` must bring each table back to the snapshot: account closed, consent state, GPC opt-outs,
visitor links, restrictions and cached answers gone, key destroyed, erasure recorded, and nothing of
anyone else touched (DPDP s.8(7) and s.12(3), GDPR Art 17).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from consent_support import adult, child, item
from fiduciary.audit.models import AuditEventIndex
from fiduciary.auth.service import create_api_key
from fiduciary.cli.main import app
from fiduciary.config import Settings, get_settings
from fiduciary.consent.evidence import Evidence
from fiduciary.consent.gpc import apply_gpc
from fiduciary.consent.linking import link_visitor
from fiduciary.consent.models import ConsentState, VisitorLink
from fiduciary.consent.projection import rebuild_state
from fiduciary.consent.restrictions import add_restriction
from fiduciary.consent.service import ConsentChannel, ConsentService
from fiduciary.people.models import Person
from fiduciary.people.service import new_visitor_id
from fiduciary.personal_data.registry import registry_for
from fiduciary.runtime import Runtime
from fiduciary.storage.base import Base
from fiduciary.vault.restore import restore_replay
from fiduciary.vault.service import VaultService
from fiduciary.web.app import create_app
from restore_support import Backup
from vault_support import IDENTIFIERS, PURPOSES, SIGNUP, vault_runtime

runner = CliRunner()
BANNER = ConsentChannel.BANNER
# Kept by design, not erased (the pseudonymous audit index: DPDP Rules r.6(1)(e), r.8(3)); compared apart.
KEPT = frozenset({"audit_events"})
# "When it happened" columns, which differ between an erasure and its replay: compared as set or unset.
WHEN = frozenset({("people", "closed_at"), ("person_keys", "destroyed_at")})


@pytest.fixture(params=["main", "separate"], ids=["keys-in-main-db", "separate-key-db"])
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    """With a separate key database only the main database is restored: the key stays destroyed there,
    but the restored account, consent rows and links are back and must be erased all the same."""
    keys_url = f"sqlite:///{tmp_path / 'keys.db'}" if request.param == "separate" else None
    return Settings(database_url=database_url, data_dir=tmp_path / "data", keys_database_url=keys_url)


# ------------------------------------------------------------------------------------------ snapshots


def _rows(conn: sa.Connection, name: str) -> list[tuple[Any, ...]]:
    table = Base.metadata.tables[name]
    rows = [
        tuple(
            (value is not None) if (name, column.name) in WHEN else value
            for column, value in zip(table.columns, row, strict=True)
        )
        for row in conn.execute(sa.select(table))
    ]
    return sorted(rows, key=repr)


def snapshot(runtime: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    """Every column of every row of every table a registered eraser covers (and the key database's keys)."""
    names = sorted(set(registry_for(runtime).covered_tables()) - KEPT)
    with runtime.engine.connect() as conn:
        out = {name: _rows(conn, name) for name in names}
    key_engine = VaultService(runtime).keys.key_store.engine
    if key_engine is not None:
        with key_engine.connect() as conn:
            out["keys.person_keys"] = _rows(conn, "person_keys")
    return out


def erase_events(runtime: Runtime, people: list[str]) -> list[tuple[str, str | None, str]]:
    with runtime.engine.connect() as conn:
        return sorted(
            tuple(r)
            for r in conn.execute(
                sa.select(AuditEventIndex.action, AuditEventIndex.person_id, AuditEventIndex.outcome).where(
                    AuditEventIndex.action == "person.erase", AuditEventIndex.person_id.in_(people)
                )
            )
        )


# -------------------------------------------------------------------------------------------- history


@dataclass
class Cast:
    victim: str  # has vault data (a key, fields, identifiers), consents, linked visitors, a restriction
    quiet: str  # consents and a GPC opt-out but never any vault data: erasure writes a key tombstone
    keeper: str
    kid: str  # the victim is their guardian: the child's row is the child's and stays
    victim_visitors: list[str]
    keeper_visitor: str

    @property
    def erased(self) -> list[str]:
        return [self.victim, self.quiet]


def live_history(session: Session, runtime: Runtime, vault: VaultService) -> Cast:
    service = ConsentService.for_runtime(runtime)
    victim, keeper, quiet = (adult(session, runtime) for _ in range(3))
    kid = child(session, runtime)
    vault.create_person_record(session, victim, SIGNUP, IDENTIFIERS, purpose=PURPOSES, source="provided")
    vault.create_person_record(
        session, keeper, {"identity.name": "Someone Else"}, {}, purpose=PURPOSES, source="provided"
    )
    v1, v2, v3, v4 = (new_visitor_id() for _ in range(4))
    evidence = Evidence("UA/1", "198.51.100.0/24")
    service.record_many(session, [item(p, "marketing.email", evidence=evidence) for p in (victim, quiet, keeper)])
    service.record(session, item(victim, "personalised_ads"), idempotency_key="key_test:victim-ads")
    service.record(session, item(keeper, "personalised_ads"), idempotency_key="key_test:keeper-ads")
    service.record(session, item(kid, "marketing.email", channel=ConsentChannel.GUARDIAN, guardian_id=victim))
    service.record_many(session, [item(v, "analytics", channel=BANNER) for v in (v1, v2, v3, v4)])
    link_visitor(service, session, victim, v1)
    link_visitor(service, session, victim, v2)
    link_visitor(service, session, keeper, v3)
    apply_gpc(service, session, v2, evidence)  # the visitor and the person it is linked to
    apply_gpc(service, session, quiet, evidence)
    apply_gpc(service, session, v4, evidence)
    add_restriction(session, runtime.policy(), victim, purpose=None, kind="restriction")
    add_restriction(session, runtime.policy(), keeper, purpose=None, kind="restriction")
    session.commit()
    return Cast(victim, quiet, keeper, kid, [v1, v2], v3)


def erase_normally(runtime: Runtime, session: Session, people: list[str]) -> None:
    _row, plaintext = create_api_key(session, "restore-tests", ["admin"])
    session.commit()
    with TestClient(create_app(runtime=runtime)) as client:
        for person_id in people:
            response = client.post(
                f"/v1/people/{person_id}/erase",
                json={"reason": "erasure_request"},
                headers={"Authorization": f"Bearer {plaintext}"},
            )
            assert response.status_code == 200, response.text


@pytest.fixture
def scenario(settings: Settings, tmp_path: Path) -> Iterator[tuple[Cast, dict[str, Any], Backup]]:
    """History, a backup, the normal erasure (snapshotted), then the backup restored."""
    Runtime.start(settings, migrate=True).close()
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        cast = live_history(session, runtime, vault)
    backup = Backup(settings.resolved_database_url, tmp_path)
    backup.take()
    with vault_runtime(settings) as (runtime, _vault), runtime.sessions() as session:
        erase_normally(runtime, session, cast.erased)
        erased = {"tables": snapshot(runtime), "audit": erase_events(runtime, cast.erased)}
    # What the normal erasure left, checked here so that the comparison below compares something.
    tables = erased["tables"]
    assert not [r for r in tables["consent_state"] if r[0] in {cast.victim, *cast.victim_visitors, cast.quiet}]
    assert not [r for r in tables["visitor_links"] if r[1] == cast.victim]
    assert not [r for r in tables["gpc_opt_outs"] if r[0] in {cast.victim, cast.quiet, *cast.victim_visitors}]
    assert [r[1] for r in tables["people"] if r[0] in cast.erased] == ["closed", "closed"]
    assert [r[0] for r in tables["processing_restrictions"] if r[1] == cast.keeper] and not [
        r for r in tables["processing_restrictions"] if r[1] == cast.victim
    ]
    assert len(tables["consent_idempotency"]) == 1  # the keeper's
    assert any(r[0] == cast.kid and cast.victim in r for r in tables["consent_state"])
    assert len(erased["audit"]) == 2
    backup.restore()
    yield cast, erased, backup


def restored_is_the_old_copy(runtime: Runtime, session: Session, cast: Cast) -> None:
    """Without replay the erasure would be undone: the account is open and the consent rows are back."""
    person = session.get(Person, cast.victim)
    assert person is not None and person.status == "active" and person.closed_at is None
    assert session.scalar(sa.select(sa.func.count()).where(ConsentState.subject_id == cast.victim))
    assert session.scalar(sa.select(sa.func.count()).where(VisitorLink.person_id == cast.victim)) == 2
    assert erase_events(runtime, cast.erased) == []


# -------------------------------------------------------------------------------------------- tests


def test_replay_after_restore_equals_the_normal_erasure_table_by_table(
    scenario: tuple[Cast, dict[str, Any], Backup], settings: Settings
) -> None:
    cast, erased, _backup = scenario
    with vault_runtime(settings) as (runtime, _vault), runtime.sessions() as session:
        restored_is_the_old_copy(runtime, session, cast)
        assert snapshot(runtime) != erased["tables"]
        report = restore_replay(runtime)
        assert (report.journal_entries, report.people, report.completed) == (2, 2, 2)
        if settings.keys_database_url is None:  # the backup brought the victim's key back; quiet had none
            assert (report.re_erased, report.tombstoned, report.already_erased) == (1, 1, 0)
        else:  # the key database was not restored: both keys are still destroyed there
            assert (report.re_erased, report.tombstoned, report.already_erased) == (0, 0, 2)
        assert report.rows_erased > 0
        after = snapshot(runtime)
        for name, rows in erased["tables"].items():
            assert after[name] == rows, name
        assert after == erased["tables"]
        # The erasure request's own audit event is in the lost part of the audit ledger; the replay logs one.
        assert erase_events(runtime, cast.erased) == erased["audit"]
        # And the consent projection agrees with the ledger and the recorded erasures: no rebuild is needed.
        assert rebuild_state(session, apply=False).identical

        again = restore_replay(runtime)  # idempotent: nothing left to complete, nothing changes
        assert (again.completed, again.rows_erased, again.re_erased, again.tombstoned) == (0, 0, 0, 0)
        assert again.already_erased == 2
        assert snapshot(runtime) == erased["tables"]
        assert erase_events(runtime, cast.erased) == erased["audit"]


def test_the_cli_replay_completes_the_erasure_and_says_so(
    scenario: tuple[Cast, dict[str, Any], Backup], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cast, erased, _backup = scenario
    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(settings.data_dir))
    if settings.keys_database_url is not None:
        monkeypatch.setenv("FIDUCIARY_KEYS_DATABASE_URL", settings.keys_database_url)
    monkeypatch.delenv("FIDUCIARY_POLICY_FILE", raising=False)
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["restore-replay"])
        assert result.exit_code == 0, result.output
        assert "erasure completed in every domain for 2 people" in result.output
        again = runner.invoke(app, ["restore-replay"])
        assert again.exit_code == 0 and "erasure completed in every domain for 0 people" in again.output
    finally:
        get_settings.cache_clear()
    with vault_runtime(settings) as (runtime, _vault):
        assert snapshot(runtime) == erased["tables"]
        assert erase_events(runtime, cast.erased) == erased["audit"]


def test_a_vault_only_erasure_is_completed_by_the_replay(settings: Settings) -> None:
    """What the earlier restore-replay (or a bare `VaultService.erase_person`) left: the key destroyed and
    the erasure recorded, but the account open and the consent rows there. The replay finishes it."""
    Runtime.start(settings, migrate=True).close()
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        cast = live_history(session, runtime, vault)
        vault.erase_person(session, cast.victim, "erasure_request")
        session.commit()
        before = snapshot(runtime)
        assert [r[1] for r in before["people"] if r[0] == cast.victim] == ["active"]
        report = restore_replay(runtime)
        assert (report.already_erased, report.completed) == (1, 1)
        after = snapshot(runtime)
        assert [r[1] for r in after["people"] if r[0] == cast.victim] == ["closed"]
        gone = {cast.victim, *cast.victim_visitors}
        assert not [r for r in after["consent_state"] if r[0] in gone]
        assert not [r for r in after["visitor_links"] if r[1] == cast.victim]
        # Nobody else's rows changed.
        for name in ("consent_state", "gpc_opt_outs", "visitor_links", "processing_restrictions"):
            others = [r for r in before[name] if cast.victim not in r and not gone & set(r)]
            assert [r for r in after[name] if cast.victim not in r and not gone & set(r)] == others, name
        assert restore_replay(runtime).completed == 0

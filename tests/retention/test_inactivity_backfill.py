"""Starting the clock of people who existed before it (docs/inactivity.md, DPDP s.8(8)), on SQLite and
PostgreSQL: the latest contact the database shows, set-wise; idempotent; an existing clock never moves; no
one is erased without the sweep's 48-hour notice (DPDP Rule 8(2)); the CLI and migration 0024 run it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli_support import init_data_folder
from fiduciary.audit.models import AuditEventIndex
from fiduciary.cli.main import app
from fiduciary.config import Settings, get_settings
from fiduciary.consent.models import ConsentState
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.identity.models import CustomerSessionRecord
from fiduciary.identity.sessions import open_session
from fiduciary.people.models import Person
from fiduciary.people.service import create_person
from fiduciary.retention.inactivity_backfill import backfill_clocks
from fiduciary.retention.inactivity_clock import touch
from fiduciary.retention.inactivity_models import CLOCKS
from fiduciary.retention.inactivity_sweep import run
from fiduciary.rights.flows import erase_person
from fiduciary.runtime import Runtime
from fiduciary.storage.migrate import alembic_config
from fiduciary.vault.retention_events import RetentionEventRow, record_retention_event
from fiduciary.vault.service import VaultService
from inactivity_support import write_inactivity_policy

NOW = datetime.now(UTC).replace(microsecond=0)
JOINED = datetime(2021, 3, 1, 9, 30, tzinfo=UTC)
ORDERED = datetime(2022, 6, 1, 12, 0, tzinfo=UTC)
SIGNED_IN = datetime(2022, 2, 2, 8, 0, tzinfo=UTC)
CONSENTED = datetime(2022, 9, 9, 18, 45, tzinfo=UTC)
KEPT = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The demo policy plus an inactivity rule (3 years, 48 hours' notice)."""
    return Settings(
        database_url=database_url, data_dir=tmp_path / "data", policy_file=write_inactivity_policy(tmp_path)
    )


def _person(session: Session, runtime: Runtime, created: datetime, email: str | None = None) -> str:
    """A person as a store had them before the clock existed: created at `created`, no clock row."""
    person = create_person(session, policy=runtime.policy(), is_child=False).id
    if email is not None:
        VaultService(runtime).add_identifiers(session, person, {"email": email})
    session.flush()
    session.execute(sa.update(Person).where(Person.id == person).values(created_at=created))
    session.execute(sa.delete(CLOCKS).where(CLOCKS.c.person_id == person))
    session.commit()
    return person


def _forget_clocks(session: Session, *people: str) -> None:
    session.execute(sa.delete(CLOCKS).where(CLOCKS.c.person_id.in_(people)))
    session.commit()


def clocks(session: Session) -> dict[str, datetime]:
    session.expire_all()
    return {p: at.astimezone(UTC) for p, at in session.execute(sa.select(CLOCKS.c.person_id, CLOCKS.c.last_contact_at))}


def _active_customer(session: Session, runtime: Runtime) -> str:
    """Joined in 2020, signed in, ordered and consented later: each contact dated in the past."""
    person = _person(session, runtime, datetime(2020, 1, 1, tzinfo=UTC))
    record_retention_event(session, runtime.policy(), person, "order_completed", ORDERED)
    open_session(runtime, session, person_id=person, verified_by="email_otp")
    ConsentService.for_runtime(runtime).record(
        session, ConsentInput(person, "marketing.email", "grant", ConsentChannel.API)
    )
    session.commit()
    session.execute(
        sa.update(CustomerSessionRecord).where(CustomerSessionRecord.person_id == person).values(created_at=SIGNED_IN)
    )
    session.execute(sa.update(ConsentState).where(ConsentState.subject_id == person).values(updated_at=CONSENTED))
    session.commit()
    _forget_clocks(session, person)
    return person


def test_each_person_without_a_clock_gets_their_latest_contact(runtime: Runtime, session: Session) -> None:
    joined_only = _person(session, runtime, JOINED)
    active = _active_customer(session, runtime)
    assert session.scalar(sa.select(sa.func.count()).where(RetentionEventRow.person_id == active)) == 1
    kept = _person(session, runtime, datetime(2025, 5, 5, tzinfo=UTC))
    touch(session, kept, KEPT)  # a clock already running, older than the person's record: left alone
    session.commit()
    gone = _person(session, runtime, JOINED)
    erase_person(runtime, session, actor="key_test", person_id=gone)
    session.commit()
    _forget_clocks(session, gone)
    before = clocks(session)
    assert set(before) == {kept}

    assert backfill_clocks(runtime, session) == 2
    after = clocks(session)
    assert after == {joined_only: JOINED, active: CONSENTED, kept: KEPT}  # the erased person gets none
    event = session.scalars(sa.select(AuditEventIndex).where(AuditEventIndex.action == "inactivity.backfill")).one()
    assert event.person_id is None

    assert backfill_clocks(runtime, session) == 0  # idempotent: nothing new, nothing moved
    assert clocks(session) == after
    assert session.scalar(sa.select(sa.func.count()).where(AuditEventIndex.action == "inactivity.backfill")) == 1


def test_a_backfilled_old_clock_is_erased_only_after_the_full_notice(runtime: Runtime, session: Session) -> None:
    """Years past the period at once: the sweep notifies first and erases 48 hours later, not before."""
    person = _person(session, runtime, JOINED, email="long.gone.8813@example.org")
    assert run(runtime, now=NOW).to_dict()["notified"] == 0  # without a clock the person is never considered
    assert backfill_clocks(runtime, session) == 1
    first = run(runtime, now=NOW)
    assert (first.notified, first.erased) == (1, 0)
    assert run(runtime, now=NOW + timedelta(hours=48) - timedelta(minutes=1)).erased == 0
    assert run(runtime, now=NOW + timedelta(hours=48)).erased == 1
    assert person not in clocks(session)


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("FIDUCIARY_POLICY_FILE", str(settings.policy_file))
    get_settings.cache_clear()
    init_data_folder()
    yield
    get_settings.cache_clear()


def test_the_cli_backfills_once(cli_env: None, runtime: Runtime, session: Session) -> None:
    person = _person(session, runtime, JOINED)
    first = CliRunner().invoke(app, ["retention", "inactivity", "backfill", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {"started": 1} and person not in first.stdout
    again = CliRunner().invoke(app, ["retention", "inactivity", "backfill"])
    assert again.exit_code == 0 and "clocks started: 0" in again.stdout
    assert clocks(session) == {person: JOINED}


def test_migration_0024_starts_the_clocks(runtime: Runtime, session: Session) -> None:
    """Upgrading runs the same backfill (a copy frozen in the migration): down to 0023, up again."""
    person = _person(session, runtime, JOINED)
    session.close()
    config = alembic_config(runtime.engine)
    command.downgrade(config, "0023")
    command.upgrade(config, "head")
    assert clocks(session) == {person: JOINED}

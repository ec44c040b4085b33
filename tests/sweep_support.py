"""Helpers for the retention sweep tests: people with aged data (imported, not collected)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.people.models import Person
from fiduciary.runtime import Runtime
from fiduciary.vault.records import PersonalField
from fiduciary.vault.service import VaultService
from vault_support import new_person

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ACCOUNT = {"identity.name": "Zebulon Quixotewright", "contact.email": "zq7731@example.com"}


def person_with(
    session: Session,
    runtime: Runtime,
    vault: VaultService,
    fields: dict[str, str] | None = None,
    *,
    closed_days_ago: int | None = None,
    purpose: str | list[str] = "account",
) -> str:
    """A person with `fields` (default: name and email for their account), closed that many days before NOW."""
    person_id = new_person(session, runtime)
    vault.create_person_record(session, person_id, fields or ACCOUNT, {}, purpose=purpose, source="provided")
    if closed_days_ago is not None:
        closed = NOW - timedelta(days=closed_days_ago)
        session.execute(sa.update(Person).where(Person.id == person_id).values(status="closed", closed_at=closed))
    session.commit()
    return person_id


def age_fields(session: Session, person_id: str, days: int) -> None:
    """Make every field of the person `days` old at NOW."""
    at = NOW - timedelta(days=days)
    session.execute(
        sa.update(PersonalField).where(PersonalField.person_id == person_id).values(created_at=at, updated_at=at)
    )
    session.commit()


def categories_of(session: Session, person_id: str) -> set[str]:
    return set(session.scalars(sa.select(PersonalField.category).where(PersonalField.person_id == person_id)))


def database_hash(session: Session) -> str:
    """A hash of every row of every table (ordered), to prove that something changed nothing at all."""
    digest = hashlib.sha256()
    conn = session.connection()
    names = sorted(sa.inspect(conn).get_table_names())
    for name in names:
        table = sa.Table(name, sa.MetaData(), autoload_with=conn)
        rows = conn.execute(sa.select(table)).all()
        digest.update(name.encode())
        for row in sorted(repr(tuple(row)) for row in rows):
            digest.update(row.encode())
    return digest.hexdigest()

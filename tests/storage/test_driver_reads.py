"""storage.driver_reads: the hot readers' SQL straight on the driver gives what the Core statement gives, on
both engines, inside the session's transaction, autoflushing as `Session.execute` does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.consent.facts import people_facts
from fiduciary.people.models import Person
from fiduciary.people.service import new_person_id
from fiduciary.storage.driver_reads import rows_for_ids
from fiduciary.storage.ids import IDS

PROBE = sa.Table(
    "driver_reads_probe",
    sa.MetaData(),
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
)
SQL = {
    "sqlite": "SELECT id, n FROM driver_reads_probe WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
    "postgresql": "SELECT id, n FROM driver_reads_probe WHERE id = ANY(%s) ORDER BY id",
}
FALLBACK = (
    sa.select(PROBE.c.id, PROBE.c.n).where(PROBE.c.id.in_(sa.bindparam(IDS, expanding=True))).order_by(PROBE.c.id)
)
AWKWARD = ['q"uote', "back\\slash", "com,ma", "{brace}", "नमस्ते", "NULL"]


@pytest.fixture
def probe(session: Session) -> Iterator[list[str]]:
    stored = [f"id_{i:02d}" for i in range(20)] + AWKWARD
    PROBE.create(session.connection())
    session.execute(PROBE.insert(), [{"id": i, "n": n} for n, i in enumerate(stored)])
    session.commit()
    yield stored
    session.rollback()
    PROBE.drop(session.connection(), checkfirst=True)
    session.commit()


def _plain(rows: object) -> list[tuple[object, ...]]:
    return [tuple(row) for row in rows]  # type: ignore[attr-defined]


def test_driver_rows_match_the_core_statement(session: Session, probe: list[str]) -> None:
    wanted = [*probe[::3], "missing", probe[0], *AWKWARD]
    through_driver = _plain(rows_for_ids(session, SQL, FALLBACK, wanted))
    through_core = _plain(rows_for_ids(session, {}, FALLBACK, wanted))  # no SQL for this dialect: the fallback
    assert through_driver == through_core
    assert {row[0] for row in through_driver} == set(probe[::3]) | set(AWKWARD)
    assert rows_for_ids(session, SQL, FALLBACK, set()) == []
    assert _plain(rows_for_ids(session, SQL, FALLBACK, iter(["id_01"]))) == [("id_01", 1)]


def test_reads_inside_the_sessions_transaction(session: Session, probe: list[str]) -> None:
    """A row written by this session and not yet committed is seen; after a rollback it is gone."""
    session.execute(PROBE.insert(), [{"id": "uncommitted", "n": 99}])
    assert _plain(rows_for_ids(session, SQL, FALLBACK, ["uncommitted"])) == [("uncommitted", 99)]
    session.rollback()
    assert rows_for_ids(session, SQL, FALLBACK, ["uncommitted"]) == []


def test_pending_orm_changes_are_flushed_unless_autoflush_is_off(session: Session) -> None:
    held_back = Person(id=new_person_id(), status="active", age_status="adult", created_at=datetime.now(UTC))
    with session.no_autoflush:
        session.add(held_back)
        assert people_facts(session, [held_back.id]) == []
    assert [p.id for p in people_facts(session, [held_back.id])] == [held_back.id]
    session.rollback()


def test_a_driver_error_is_sqlalchemys_and_changes_nothing(session: Session, probe: list[str]) -> None:
    broken = {name: text.replace("driver_reads_probe", "no_such_table") for name, text in SQL.items()}
    with pytest.raises(sa.exc.DBAPIError):
        rows_for_ids(session, broken, FALLBACK, ["id_01"])
    session.rollback()
    assert _plain(rows_for_ids(session, SQL, FALLBACK, ["id_01"])) == [("id_01", 1)]

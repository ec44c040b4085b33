"""The one reader of who a subject is: people's status, age facts and verified guardian, and which person a
banner visitor is linked to. Consent writes (batches of thousands) and decisions both read them here.

The ids travel as one parameter (a JSON array that `json_each` turns into rows on SQLite, an array for `ANY`
on PostgreSQL) and the rows come straight from the driver (`storage.driver_reads`). An expanding
`IN` binds one parameter per id, and SQLAlchemy's row processing (a date parsed per person) cost more than
the query (bench/consent_write.py, bench/decisions.py).
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from sqlalchemy import bindparam, case, select
from sqlalchemy.orm import Session

from fiduciary.consent.models import VisitorLink
from fiduciary.people.models import Person
from fiduciary.storage.driver_reads import rows_for_ids


class PersonFacts(NamedTuple):
    """What a consent write or a decision needs of a person (a plain row, not an ORM object)."""

    id: str
    status: str
    age_status: str
    adult_on: date | None
    lawful_guardian: str | None = None  # verified (DPDP Rule 11)
    jurisdiction: str | None = None  # where the person lives, as recorded (a code; may be one no longer declared)


# json_each drives one primary-key probe per id, a third faster than `IN (SELECT …)`.
# The lawful guardian (DPDP Rule 11) only once staff verified the appointment (`people.guardianship`).
_GUARDIAN_COLUMN = case((Person.guardianship_verified_at.is_not(None), Person.lawful_guardian_id), else_=None)
_PEOPLE_COLUMNS = (Person.id, Person.status, Person.age_status, Person.adult_on, _GUARDIAN_COLUMN, Person.jurisdiction)
_LINK_COLUMNS = (VisitorLink.visitor_id, VisitorLink.person_id)
_PEOPLE_QUERY = select(*_PEOPLE_COLUMNS).where(Person.id.in_(bindparam("ids", expanding=True)))
_LINKS_QUERY = select(*_LINK_COLUMNS).where(VisitorLink.visitor_id.in_(bindparam("ids", expanding=True)))
_PEOPLE_SQL = {
    "sqlite": "SELECT p.id, p.status, p.age_status, p.adult_on, "
    "CASE WHEN p.guardianship_verified_at IS NOT NULL THEN p.lawful_guardian_id END, p.jurisdiction "
    "FROM json_each(?) AS j JOIN people AS p ON p.id = j.value",
    "postgresql": "SELECT id, status, age_status, adult_on, "
    "CASE WHEN guardianship_verified_at IS NOT NULL THEN lawful_guardian_id END, jurisdiction "
    "FROM people WHERE id = ANY(%s)",
}
_LINKS_SQL = {
    "sqlite": "SELECT v.visitor_id, v.person_id "
    "FROM json_each(?) AS j JOIN visitor_links AS v ON v.visitor_id = j.value",
    "postgresql": "SELECT visitor_id, person_id FROM visitor_links WHERE visitor_id = ANY(%s)",
}


def people_facts(session: Session, ids: list[str]) -> list[PersonFacts]:
    """Status and age facts of the people among `ids` (unknown ids are simply absent)."""
    # SQLite keeps dates as ISO text (what SQLAlchemy's Date stores); PostgreSQL's driver and Core give dates.
    return [
        PersonFacts(
            id_, status, age, date.fromisoformat(adult_on) if type(adult_on) is str else adult_on, guardian, where
        )
        for id_, status, age, adult_on, guardian, where in rows_for_ids(session, _PEOPLE_SQL, _PEOPLE_QUERY, ids)
    ]


def linked_persons(session: Session, visitor_ids: list[str]) -> dict[str, str]:
    """visitor id → the person it is linked to, for the linked ones among `visitor_ids`."""
    return {visitor: person for visitor, person in rows_for_ids(session, _LINKS_SQL, _LINKS_QUERY, visitor_ids)}

"""How the people domain answers an access or erasure request: the person row's facts; on erasure, close the
account and forget the age facts and guardianship, keeping the pseudonymous id as a tombstone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext
from fiduciary.people.models import Person
from fiduciary.personal_data.registry import EraseReport, PersonalDataRegistry
from fiduciary.storage.base import utcnow


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_people(session: Session, person_id: str) -> Mapping[str, Any]:
    person = session.get(Person, person_id)
    if person is None:
        return {}
    return {
        "id": person.id,
        "status": person.status,
        "age_status": person.age_status,
        "adult_on": _iso(person.adult_on),
        "created_at": _iso(person.created_at),
        "closed_at": _iso(person.closed_at),
        "lawful_guardian_id": person.lawful_guardian_id,
        "guardianship_order": person.guardianship_order,
        "guardianship_verified_at": _iso(person.guardianship_verified_at),
        "jurisdiction": person.jurisdiction,
    }


def erase_people(session: Session, person_id: str) -> EraseReport:
    """Close the account and drop the age facts (derived from the date of birth) and the residence; keep the
    pseudonymous row.

    The row stays as a tombstone: ledger events and the erasure journal name this id, and a closed account
    takes no new consent or data.
    """
    person = session.get(Person, person_id)
    if person is None:
        return EraseReport("people")
    changed = (
        person.status != "closed"
        or person.adult_on is not None
        or person.age_status != "unknown"
        or person.lawful_guardian_id is not None
        or person.jurisdiction is not None
    )
    if changed:
        if person.status != "closed":
            person.status = "closed"
            person.closed_at = utcnow()
        person.adult_on = None
        person.age_status = "unknown"
        # the guardianship (DPDP Rule 11): the order's reference says something about the person
        person.lawful_guardian_id = person.guardianship_order = None
        person.guardianship_verified_by = person.guardianship_verified_at = None
        person.jurisdiction = None  # where they live is about the person too
        session.flush()
    return EraseReport("people", changed=int(changed), kept=1, kept_basis="pseudonymous id kept as a tombstone")


def register(registry: PersonalDataRegistry, runtime: RuntimeContext) -> None:
    """Last of all erasers (order 90): the other domains' erasers still find the person row."""
    registry.register("people", export_people, erase_people, ["people"], order=90)

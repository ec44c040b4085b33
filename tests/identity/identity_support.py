"""A person with an email and a phone on file, and a clock the tests move."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from fiduciary.people.service import create_person
from fiduciary.runtime import Runtime
from fiduciary.vault.service import VaultService

EMAIL = "asha.verify@example.org"
PHONE = "+919812345678"
STRANGER = "nobody.here@example.org"
ADDRESS = "203.0.113.7"
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def person_on_file(session: Session, runtime: Runtime) -> str:
    person = create_person(session, policy=runtime.policy(), is_child=False)
    VaultService(runtime).add_identifiers(session, person.id, {"email": EMAIL, "phone": PHONE})
    session.commit()
    return person.id

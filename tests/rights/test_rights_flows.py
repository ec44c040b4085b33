"""Export and erasure flows: audited through the unit of work, refusals too, with no other domain's tables."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.audit.models import AuditEventIndex
from fiduciary.config import Settings
from fiduciary.errors import NotFound, ValidationFailed
from fiduciary.people.service import create_person
from fiduciary.rights import flows
from fiduciary.runtime import Runtime, UnregisteredPersonalData


def events(session: Session) -> list[tuple[str, str, str | None]]:
    rows = session.execute(
        sa.select(AuditEventIndex.action, AuditEventIndex.outcome, AuditEventIndex.person_id).order_by(
            AuditEventIndex.ledger_position
        )
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_export_and_erase_leave_their_audit_events(runtime: Runtime, session: Session) -> None:
    person = create_person(session, policy=runtime.policy(), date_of_birth=date(1990, 1, 1)).id
    session.commit()
    package = flows.export_person(runtime, session, actor="cli", person_id=person)
    assert package["person_id"] == person and package["audit_position"] >= 1
    assert {"vault", "consent", "audit", "people"} <= set(package["domains"])
    summary = flows.erase_person(runtime, session, actor="cli", person_id=person, reason="erasure_request")
    session.commit()
    assert [r.domain for r in summary.reports[:2]] == ["retention_holds", "vault"]  # holds re-seal what they keep first
    assert events(session) == [("person.export", "allowed", person), ("person.erase", "allowed", person)]


def test_refused_requests_change_nothing_and_are_audited_once(runtime: Runtime, session: Session) -> None:
    person = create_person(session, policy=runtime.policy(), date_of_birth=date(1990, 1, 1)).id
    session.commit()
    nobody = "per_" + "a" * 26
    with pytest.raises(NotFound):
        flows.erase_person(runtime, session, actor="cli", person_id=nobody)
    with pytest.raises(ValidationFailed) as bad:
        flows.erase_person(runtime, session, actor="cli", person_id=person, reason="Because I said so")
    assert bad.value.fields[0].field == "reason"
    with pytest.raises(ValidationFailed):
        flows.export_person(runtime, session, actor="cli", person_id="asha@example.in")
    session.commit()
    assert events(session) == [
        ("person.erase", "error", nobody),  # a well-formed id is a pseudonym: safe to record
        ("person.erase", "error", person),
        ("person.export", "error", None),  # the malformed id is not recorded: it may be a value
    ]
    assert (
        flows.export_person(runtime, session, actor="cli", person_id=person)["domains"]["people"]["status"] == "active"
    )


def test_development_start_refuses_a_table_with_people_that_no_domain_erases(
    settings: Settings, tmp_path: Path
) -> None:
    Runtime.start(settings).close()  # migrate the database first
    probe = Runtime.start(settings)
    with probe.engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE loyalty_points (person_id VARCHAR(40), points INTEGER)"))
    probe.close()
    try:
        Runtime.start(settings).close()  # production: no schema walk at start (the CI schema test has it)
        with pytest.raises(UnregisteredPersonalData, match=r"loyalty_points .*column person_id"):
            Runtime.start(settings.model_copy(update={"environment": "development"}))
    finally:
        cleanup = Runtime.start(settings)
        with cleanup.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE loyalty_points"))
        cleanup.close()
    Runtime.start(settings.model_copy(update={"environment": "development"})).close()

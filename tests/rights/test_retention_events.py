"""Store-reported retention events are the person's data: exported, erased, and refused once erased (issue 12);
and the due times the reported events give. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from consent_support import new_person
from fiduciary.config import Settings
from fiduciary.errors import Conflict
from fiduciary.personal_data.registry import registry_for
from fiduciary.policy.retention_due import DueStatus
from fiduciary.runtime import Runtime
from fiduciary.vault.flows import report_retention_event_audited
from fiduciary.vault.retention_events import due_for_person, events_for
from retention_support import DISPUTE, WARRANTY, write_events_policy

IST = ZoneInfo("Asia/Kolkata")
FIRST = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)  # 2 March in India
SECOND = datetime(2026, 9, 10, 4, 30, tzinfo=UTC)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=write_events_policy(tmp_path))


def report(runtime: Runtime, session: Session, person: str, event: str, at: datetime) -> None:
    report_retention_event_audited(runtime, session, caller="cli", person_id=person, event=event, occurred_at=at)
    session.commit()


def test_due_times_follow_the_latest_reported_event(session: Session, runtime: Runtime) -> None:
    person = new_person(session, runtime)
    policy = runtime.policy()
    waiting = due_for_person(session, policy, person, "support.messages")
    assert [(d.rule, d.status) for d in waiting] == [("support_history", DueStatus.WAITING)]
    report(runtime, session, person, DISPUTE, FIRST)
    (due,) = due_for_person(session, policy, person, "support.messages")
    assert due.due_at == datetime(2028, 3, 2, 1, 30, tzinfo=IST)  # 2 years, counted in India's calendar
    report(runtime, session, person, DISPUTE, SECOND)  # a later dispute closes: its clock ends last
    (due,) = due_for_person(session, policy, person, "support.messages")
    assert due.due_at == datetime(2028, 9, 10, 10, 0, tzinfo=IST)
    report(runtime, session, person, WARRANTY, FIRST)
    (delivery,) = due_for_person(session, policy, person, "logistics.delivery_status")
    assert delivery.due_at == datetime(2027, 3, 2, 1, 30, tzinfo=IST)


def test_export_holds_the_events_and_erasure_deletes_them(session: Session, runtime: Runtime) -> None:
    person, other = new_person(session, runtime), new_person(session, runtime)
    report(runtime, session, person, DISPUTE, FIRST)
    report(runtime, session, person, WARRANTY, SECOND)
    report(runtime, session, other, DISPUTE, FIRST)
    registry = registry_for(runtime)
    exported = registry.export_person(session, person)["domains"]["retention_events"]["events"]
    assert [(e["event"], e["occurred_at"]) for e in exported] == [
        (DISPUTE, FIRST.isoformat()),
        (WARRANTY, SECOND.isoformat()),
    ]
    summary = registry.erase_person(session, person)
    session.commit()
    assert {r.domain: r.deleted for r in summary.reports}["retention_events"] == 2
    assert events_for(session, person) == []
    assert len(events_for(session, other)) == 1  # another person's events stay
    assert registry.export_person(session, person)["domains"]["retention_events"] == {"events": []}
    # an erased person takes no new events
    with pytest.raises(Conflict) as refused:
        report(runtime, session, person, DISPUTE, SECOND)
    assert refused.value.code == "person_erased"
    session.rollback()
    assert events_for(session, person) == []

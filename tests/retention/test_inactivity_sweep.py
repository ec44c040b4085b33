"""The inactivity sweep (DPDP s.8(8), Rule 8(1)-(2), Third Schedule; docs/inactivity.md), on SQLite and
PostgreSQL: reminder, notice at least 48 hours before, erasure only of people told and still away; a contact
in between cancels; the period ends on the policy's calendar (Asia/Kolkata); the Schedule's exemptions stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.audit.models import AuditEventIndex
from fiduciary.audit.reads import AuditFilter, list_events
from fiduciary.config import Settings
from fiduciary.jobs import JobCall
from fiduciary.people.models import PersonErasure
from fiduciary.retention.inactivity_clock import touch
from fiduciary.retention.inactivity_jobs import SWEEP, SWEEP_JOB, _sweep_seconds, sweep
from fiduciary.retention.inactivity_models import BALANCES, CLOCKS, STUBS
from fiduciary.retention.inactivity_sweep import plan, run
from fiduciary.rights.flows import erase_person
from fiduciary.runtime import Runtime
from inactivity_support import RULE, clock, messages, person_last_seen, write_inactivity_policy

IST = ZoneInfo("Asia/Kolkata")
LAST = datetime(2023, 1, 10, 10, 0, tzinfo=IST)
DUE = datetime(2026, 1, 10, 10, 0, tzinfo=IST)  # 3 years later on the policy's calendar
MINUTE = timedelta(minutes=1)
NOTICE = timedelta(hours=48)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The test database with the demo policy plus an inactivity rule (3y, 48h notice, 30d reminder)."""
    return Settings(
        database_url=database_url, data_dir=tmp_path / "data", policy_file=write_inactivity_policy(tmp_path)
    )


def erased(session: Session, person_id: str) -> str | None:
    session.expire_all()
    row = session.get(PersonErasure, person_id)
    return row.reason if row is not None else None


def test_reminder_then_notice_then_erasure_when_the_period_ends(runtime: Runtime, session: Session) -> None:
    person = person_last_seen(session, runtime, LAST)
    assert run(runtime, now=DUE - timedelta(days=30) - MINUTE).reminded == 0
    assert run(runtime, now=DUE - timedelta(days=30)).reminded == 1
    assert run(runtime, now=DUE - timedelta(days=29)).reminded == 0  # once per clock
    assert run(runtime, now=DUE - NOTICE - MINUTE).notified == 0
    assert run(runtime, now=DUE - NOTICE).notified == 1
    assert [kind for kind, _, _ in messages(session, person)] == ["inactivity.reminder", "inactivity.notice"]
    found = clock(session, person)
    assert found is not None and found.notice_sent_at == DUE - NOTICE
    assert run(runtime, now=DUE - MINUTE).erased == 0
    assert erased(session, person) is None
    report = run(runtime, now=DUE)
    assert (report.erased, report.rule) == (1, RULE)
    assert erased(session, person) == "retention.inactivity"
    assert run(runtime, now=DUE + timedelta(days=1)).erased == 0  # nothing erased twice


def test_a_late_notice_gives_the_full_48_hours(runtime: Runtime, session: Session) -> None:
    """The sweep was off past the due date: the notice goes now and erasure waits 48h00m after it."""
    person = person_last_seen(session, runtime, LAST)
    told = DUE + timedelta(days=10)
    report = run(runtime, now=told)
    assert (report.reminded, report.notified) == (0, 1)  # past the reminder's time: the notice alone
    assert run(runtime, now=told + NOTICE - MINUTE).erased == 0  # 47h59m
    assert erased(session, person) is None
    assert run(runtime, now=told + NOTICE).erased == 1  # 48h00m
    assert erased(session, person) == "retention.inactivity"


def test_a_contact_one_minute_before_erasure_cancels_it_and_inactivity_starts_over(
    runtime: Runtime, session: Session
) -> None:
    person = person_last_seen(session, runtime, LAST)
    run(runtime, now=DUE - NOTICE)
    contact = DUE - MINUTE
    touch(session, person, contact)
    session.commit()
    found = clock(session, person)
    assert found is not None and (found.reminder_sent_at, found.notice_sent_at) == (None, None)
    assert run(runtime, now=DUE).erased == 0
    assert erased(session, person) is None
    later_due = datetime(2029, 1, 10, 9, 59, tzinfo=IST)
    assert plan(runtime, session, now=later_due - NOTICE - MINUTE).notified == 0
    assert run(runtime, now=later_due - NOTICE).notified == 1  # a new notice for the new clock
    assert run(runtime, now=later_due).erased == 1


def test_an_older_contact_reported_late_changes_nothing(runtime: Runtime, session: Session) -> None:
    person = person_last_seen(session, runtime, LAST)
    run(runtime, now=DUE - NOTICE)
    touch(session, person, LAST - timedelta(days=1))
    session.commit()
    found = clock(session, person)
    assert found is not None and found.notice_sent_at == DUE - NOTICE
    assert run(runtime, now=DUE).erased == 1


def test_the_period_ends_on_the_policy_calendar(runtime: Runtime, session: Session) -> None:
    """Last contact 29 Feb 2024 02:00 in Kolkata (28 Feb 20:30 UTC): 3 years end 28 Feb 2027 02:00 Kolkata (the
    month's last day), a day before UTC's calendar would say (28 Feb 2027 20:30 UTC)."""
    person = person_last_seen(session, runtime, datetime(2024, 2, 29, 2, 0, tzinfo=IST))
    due = datetime(2027, 2, 28, 2, 0, tzinfo=IST)
    assert due.astimezone(UTC) == datetime(2027, 2, 27, 20, 30, tzinfo=UTC)
    assert run(runtime, now=due - NOTICE - MINUTE).notified == 0
    assert run(runtime, now=due - NOTICE).notified == 1
    assert run(runtime, now=due - MINUTE).erased == 0
    assert run(runtime, now=due).erased == 1
    assert erased(session, person) == "retention.inactivity"


def test_a_person_told_then_erased_by_another_path(runtime: Runtime, session: Session) -> None:
    person = person_last_seen(session, runtime, LAST)
    run(runtime, now=DUE - NOTICE)
    session.execute(
        BALANCES.insert().values(
            person_id=person, instrument="wallet", currency="INR", amount_minor=12_500, reported_at=LAST
        )
    )
    erase_person(runtime, session, actor="staff_1", person_id=person, reason="erasure_request")
    session.commit()
    report = run(runtime, now=DUE)
    assert (report.erased, report.cancelled) == (0, 0)
    assert erased(session, person) == "erasure_request"
    assert clock(session, person) is None
    for table in (STUBS, BALANCES):  # the person's own erasure keeps no exemption
        assert session.scalar(sa.select(sa.func.count()).select_from(table)) == 0


def test_inactivity_erasure_keeps_the_account_stub_and_balances(runtime: Runtime, session: Session) -> None:
    person = person_last_seen(session, runtime, LAST)
    session.execute(
        BALANCES.insert().values(
            person_id=person, instrument="gift_card", currency="INR", amount_minor=50_000, reported_at=LAST
        )
    )
    session.commit()
    run(runtime, now=DUE - NOTICE)
    run(runtime, now=DUE)
    session.expire_all()
    stub = session.execute(sa.select(STUBS).where(STUBS.c.person_id == person)).one()
    assert [entry["kind"] for entry in stub.sign_in] == ["email"]
    assert all(len(bytes.fromhex(entry["blind_index"])) == 16 for entry in stub.sign_in)
    assert "asha" not in str(stub.sign_in)
    balance = session.execute(sa.select(BALANCES.c.currency, BALANCES.c.amount_minor)).one()
    assert tuple(balance) == ("INR", 50_000)
    assert clock(session, person) is None


def test_nobody_to_tell_is_never_erased(runtime: Runtime, session: Session) -> None:
    person = person_last_seen(session, runtime, LAST, email=None)
    report = run(runtime, now=DUE + timedelta(days=5))
    assert (report.notified, report.unreachable, report.erased) == (0, 1, 0)
    assert run(runtime, now=DUE + timedelta(days=30)).erased == 0
    found = clock(session, person)
    assert found is not None and found.notice_sent_at is None
    assert erased(session, person) is None


def test_the_notice_goes_in_the_person_language(runtime: Runtime, session: Session) -> None:
    hindi = person_last_seen(session, runtime, LAST, language="hi")
    english = person_last_seen(session, runtime, LAST, email="ravi@example.com")
    run(runtime, now=DUE - NOTICE)
    [(kind, language, subject)] = messages(session, hindi)
    assert (kind, language) == ("inactivity.notice", "hi") and "अंतिम सूचना" in subject
    [(_, language, subject)] = messages(session, english)
    assert language == "en" and subject.startswith("Last notice")
    assert subject.endswith("January 10, 2026")  # the day of erasure, never a personal value


def test_plan_counts_and_changes_nothing(runtime: Runtime, session: Session) -> None:
    due_for_notice = [person_last_seen(session, runtime, LAST, email=f"p{i}@example.com") for i in range(3)]
    person_last_seen(session, runtime, LAST + timedelta(days=400), email="recent@example.com")

    def snapshot() -> list[tuple[object, ...]]:
        session.expire_all()
        return [tuple(r) for r in session.execute(sa.select(CLOCKS).order_by(CLOCKS.c.person_id))]

    before = snapshot()
    audit_before = session.scalar(sa.select(sa.func.count()).select_from(AuditEventIndex))
    report = plan(runtime, session, now=DUE - NOTICE)
    assert (report.notified, report.reminded, report.erased, report.rule) == (3, 0, 0, RULE)
    assert report.earliest_due == report.latest_due == DUE
    assert snapshot() == before
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEventIndex)) == audit_before
    assert all(messages(session, p) == [] for p in due_for_notice)


def test_each_batch_is_audited_with_counts_never_people(runtime: Runtime, session: Session) -> None:
    for i in range(5):
        person_last_seen(session, runtime, LAST, email=f"p{i}@example.com")
    report = run(runtime, now=DUE - NOTICE, batch=2)
    assert (report.notified, report.batches) == (5, 3)
    session.expire_all()
    events = list_events(session, AuditFilter(action="inactivity.notify")).events
    assert sorted(e.count or 0 for e in events) == [1, 2, 2]
    assert {(e.person_id, e.target, e.actor) for e in events} == {(None, RULE, "fiduciary")}


def test_the_periodic_job_runs_the_sweep(runtime: Runtime, session: Session) -> None:
    """The job registered as `retention.inactivity_sweep` runs `run` at the current time (on a policy whose
    clock ran out long ago: the notice goes now) and repeats every housekeeping interval, at least hourly."""
    person = person_last_seen(session, runtime, datetime(2020, 1, 1, tzinfo=IST))
    assert SWEEP.name == SWEEP_JOB == "retention.inactivity_sweep"
    assert sweep(runtime, JobCall(job_id=1, task_name=SWEEP_JOB, args={})) == {
        "reminded": 0,
        "notified": 1,
        "erased": 0,
    }
    assert [kind for kind, _, _ in messages(session, person)] == ["inactivity.notice"]
    assert _sweep_seconds(runtime.settings.model_copy(update={"housekeeping_interval_minutes": 10})) == 600.0
    assert _sweep_seconds(runtime.settings.model_copy(update={"housekeeping_interval_minutes": 240})) == 3600.0
    assert _sweep_seconds(runtime.settings.model_copy(update={"housekeeping_interval_minutes": 0})) == 0.0

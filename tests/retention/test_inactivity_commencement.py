"""The inactivity sweep under a policy whose inactivity rule counts from the Rules' commencement (DPDP Rule
8(1), Third Schedule: 3 years from the last contact "or the commencement of these rules, whichever is later"),
on SQLite and PostgreSQL: someone away since before 13 May 2027 is reminded, told and erased on the period
counted from that date, midnight in Kolkata; someone seen after it on their own date."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from fiduciary.config import Settings
from fiduciary.people.models import PersonErasure
from fiduciary.retention.inactivity_sweep import run
from fiduciary.runtime import Runtime
from inactivity_support import messages, person_last_seen, write_inactivity_policy

IST = ZoneInfo("Asia/Kolkata")
LONG_AWAY = datetime(2023, 1, 10, 10, 0, tzinfo=IST)  # 3 years on: 10 January 2026, before the Rules commence
DUE = datetime(2030, 5, 13, 0, 0, tzinfo=IST)  # 3 years from the commencement, midnight in Kolkata
MINUTE = timedelta(minutes=1)
NOTICE = timedelta(hours=48)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The demo policy plus an inactivity rule (3y, 48h notice, 30d reminder) counting from 2027-05-13."""
    policy = write_inactivity_policy(tmp_path, counts_from="2027-05-13")
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=policy)


def erased(session: Session, person_id: str) -> bool:
    session.expire_all()
    return session.get(PersonErasure, person_id) is not None


def test_someone_away_since_before_the_commencement_is_erased_3_years_after_it(
    runtime: Runtime, session: Session
) -> None:
    person = person_last_seen(session, runtime, LONG_AWAY)
    nothing_yet = run(runtime, now=datetime(2026, 1, 10, 10, 0, tzinfo=IST))  # where the clock alone would end
    assert (nothing_yet.reminded, nothing_yet.notified, nothing_yet.erased) == (0, 0, 0)
    assert run(runtime, now=DUE - timedelta(days=30) - MINUTE).reminded == 0
    assert run(runtime, now=DUE - timedelta(days=30)).reminded == 1
    assert run(runtime, now=DUE - NOTICE - MINUTE).notified == 0
    assert run(runtime, now=DUE - NOTICE).notified == 1
    assert [kind for kind, _, _ in messages(session, person)] == ["inactivity.reminder", "inactivity.notice"]
    assert run(runtime, now=DUE - MINUTE).erased == 0
    assert not erased(session, person)
    assert run(runtime, now=DUE).erased == 1
    assert erased(session, person)


def test_someone_seen_after_the_commencement_counts_from_their_own_contact(runtime: Runtime, session: Session) -> None:
    seen = datetime(2027, 5, 13, 0, 1, tzinfo=IST)
    person = person_last_seen(session, runtime, seen)
    assert run(runtime, now=DUE - NOTICE).notified == 0
    assert run(runtime, now=DUE - NOTICE + MINUTE).notified == 1
    assert run(runtime, now=DUE).erased == 0
    assert run(runtime, now=DUE + MINUTE).erased == 1
    assert erased(session, person)

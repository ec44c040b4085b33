"""The breach clocks (issue 16 item 3): parallel from awareness, met at the last minute is on time, DST-proof."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ruamel.yaml import YAML

from fiduciary.cases.breach.kind import BREACH, BreachClock, ClockState, clock_state, on_time
from fiduciary.cases.clocks import clock_due
from fiduciary.cases.models import CaseClock
from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy.calendar import WorkingCalendar
from fiduciary.policy.schema import PolicyDocument
from fiduciary.workflow.deadlines import Due, working_calendar

IST = ZoneInfo("Asia/Kolkata")
BERLIN = ZoneInfo("Europe/Berlin")
DEMO: dict[str, Any] = YAML(typ="safe").load(DEMO_POLICY_PATH.read_text(encoding="utf-8"))
BREACH_DEADLINES = {"authority_initial": "24h", "authority_detailed": "72h", "cert_in": "6h", "notify_people": "72h"}


def document(timezone: str = "Asia/Kolkata", **breach: str | None) -> PolicyDocument:
    cases = {**DEMO["cases"], "breach": {**BREACH_DEADLINES, **breach}}
    return PolicyDocument.model_validate(
        {**DEMO, "cases": cases, "calendar": {**DEMO["calendar"], "timezone": timezone}}
    )


POLICY = document()
BERLIN_POLICY = document("Europe/Berlin")


def clocks_from(doc: PolicyDocument, aware: datetime) -> dict[BreachClock, Due]:
    """Each clock of the breach kind as the cases core computes it at opening."""
    working: WorkingCalendar = working_calendar(doc)
    found = {BreachClock(s.name): clock_due(s, doc, aware, working) for s in BREACH.clocks}
    return {name: c.due for name, c in found.items() if c is not None}


def row(doc: PolicyDocument, aware: datetime, name: BreachClock, met_at: datetime | None = None) -> CaseClock:
    due = clocks_from(doc, aware)[name]
    return CaseClock(name=name.value, started_at=aware, due_at=due.ends_at, met_at=met_at, stopped_at=None)


def test_every_clock_starts_at_awareness_and_runs_in_parallel() -> None:
    aware = datetime(2026, 5, 4, 10, 0, tzinfo=IST)
    ends = {clock: due.ends_at for clock, due in clocks_from(POLICY, aware).items()}
    assert ends == {
        BreachClock.CERT_IN: aware + timedelta(hours=6),  # CERT-In Directions 2022, direction (ii)
        BreachClock.AUTHORITY_INITIAL: aware + timedelta(hours=24),
        BreachClock.AUTHORITY_DETAILED: aware + timedelta(hours=72),  # DPDP Rule 7(2)(b)
        BreachClock.NOTIFY_PEOPLE: aware + timedelta(hours=72),
    }
    assert all(spec.from_aware for spec in BREACH.clocks)


def test_no_cert_in_clock_where_the_policy_sets_none() -> None:
    aware = datetime(2026, 5, 4, 10, 0, tzinfo=IST)
    assert BreachClock.CERT_IN not in clocks_from(document(cert_in=None), aware)


def test_the_sixth_hour_exactly_is_on_time_and_a_minute_later_is_late() -> None:
    aware = datetime(2026, 5, 4, 22, 30, tzinfo=IST)
    due = clocks_from(POLICY, aware)[BreachClock.CERT_IN].ends_at
    assert due == datetime(2026, 5, 5, 4, 30, tzinfo=IST)
    assert on_time(due, datetime(2026, 5, 5, 4, 29, tzinfo=IST))
    assert on_time(due, datetime(2026, 5, 5, 4, 30, tzinfo=IST))  # at the last minute
    assert not on_time(due, datetime(2026, 5, 5, 4, 31, tzinfo=IST))


def test_the_72nd_hour_exactly_is_on_time_and_a_minute_later_is_late() -> None:
    aware = datetime(2026, 5, 4, 10, 0, tzinfo=IST)
    due = clocks_from(POLICY, aware)[BreachClock.AUTHORITY_DETAILED].ends_at
    assert on_time(due, aware + timedelta(hours=72))
    assert not on_time(due, aware + timedelta(hours=72, minutes=1))


def test_72_hours_across_the_spring_change_are_72_real_hours() -> None:
    """Berlin moves its clocks forward on 29 March 2026 at 02:00: the wall clock shows 73 hours later."""
    aware = datetime(2026, 3, 27, 10, 0, tzinfo=BERLIN)  # CET, +01:00
    due = clocks_from(BERLIN_POLICY, aware)[BreachClock.AUTHORITY_DETAILED].ends_at
    assert due.astimezone(UTC) - aware.astimezone(UTC) == timedelta(hours=72)
    assert due.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 30, 11, 0)  # CEST
    assert on_time(due, datetime(2026, 3, 30, 11, 0, tzinfo=BERLIN))
    assert not on_time(due, datetime(2026, 3, 30, 11, 1, tzinfo=BERLIN))


def test_six_hours_across_the_autumn_change_are_six_real_hours() -> None:
    """Berlin moves its clocks back on 25 October 2026 at 03:00: the wall clock shows five hours later."""
    aware = datetime(2026, 10, 25, 0, 30, tzinfo=BERLIN)  # CEST, +02:00
    due = clocks_from(BERLIN_POLICY, aware)[BreachClock.CERT_IN].ends_at
    assert due.astimezone(UTC) == datetime(2026, 10, 25, 4, 30, tzinfo=UTC)
    assert due.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 10, 25, 5, 30)  # CET
    assert on_time(due, datetime(2026, 10, 25, 4, 30, tzinfo=UTC))
    assert not on_time(due, datetime(2026, 10, 25, 4, 31, tzinfo=UTC))


def test_clock_states_at_an_instant() -> None:
    aware = datetime(2026, 5, 4, 10, 0, tzinfo=IST)
    later = aware + timedelta(hours=48)
    assert clock_state(row(POLICY, aware, BreachClock.CERT_IN, aware + timedelta(hours=5)), later) is ClockState.MET
    late = row(POLICY, aware, BreachClock.AUTHORITY_INITIAL, aware + timedelta(hours=30))
    assert clock_state(late, later) is ClockState.MET_LATE
    running = row(POLICY, aware, BreachClock.AUTHORITY_DETAILED)
    assert clock_state(running, later) is ClockState.RUNNING
    assert clock_state(running, aware + timedelta(hours=72)) is ClockState.RUNNING
    assert clock_state(running, aware + timedelta(hours=72, minutes=1)) is ClockState.OVERDUE


def test_an_incident_recorded_long_after_awareness_has_its_clocks_already_overdue() -> None:
    aware = datetime(2025, 1, 1, 10, 0, tzinfo=IST)
    now = datetime(2026, 5, 4, tzinfo=IST)
    assert {clock_state(row(POLICY, aware, name), now) for name in BreachClock} == {ClockState.OVERDUE}

"""The breach clocks (issue 16 item 3): parallel from awareness, met at the last minute is on time, DST-proof."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ruamel.yaml import YAML

from fiduciary.cases.breach.clocks import (
    BreachClock,
    BreachStep,
    ClockState,
    clock_views,
    clocks_from,
    on_time,
)
from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy.schema import BreachDeadlines, PolicyDocument
from fiduciary.rights.deadlines import working_calendar

IST = ZoneInfo("Asia/Kolkata")
BERLIN = ZoneInfo("Europe/Berlin")
DEMO: dict[str, Any] = YAML(typ="safe").load(DEMO_POLICY_PATH.read_text(encoding="utf-8"))
DEADLINES = BreachDeadlines.model_validate(
    {"authority_initial": "24h", "authority_detailed": "72h", "cert_in": "6h", "notify_people": "72h"}
)


def document(timezone: str = "Asia/Kolkata") -> PolicyDocument:
    return PolicyDocument.model_validate({**DEMO, "calendar": {**DEMO["calendar"], "timezone": timezone}})


WORKING = working_calendar(document())
WORKING_BERLIN = working_calendar(document("Europe/Berlin"))


def test_every_clock_starts_at_awareness_and_runs_in_parallel() -> None:
    aware = datetime(2026, 5, 4, 10, 0, tzinfo=IST)
    ends = {clock: due.ends_at for clock, due in clocks_from(DEADLINES, aware, WORKING).items()}
    assert ends == {
        BreachClock.CERT_IN: aware + timedelta(hours=6),  # CERT-In Directions 2022, direction (ii)
        BreachClock.AUTHORITY_INITIAL: aware + timedelta(hours=24),
        BreachClock.AUTHORITY_DETAILED: aware + timedelta(hours=72),  # DPDP Rule 7(2)(b)
        BreachClock.NOTIFY_PEOPLE: aware + timedelta(hours=72),
    }


def test_no_cert_in_clock_where_the_policy_sets_none_or_the_incident_is_not_reportable() -> None:
    aware = datetime(2026, 5, 4, 10, 0, tzinfo=IST)
    without = DEADLINES.model_copy(update={"cert_in": None})
    assert BreachClock.CERT_IN not in clocks_from(without, aware, WORKING)
    assert BreachClock.CERT_IN not in clocks_from(DEADLINES, aware, WORKING, cert_in_reportable=False)


def test_the_sixth_hour_exactly_is_on_time_and_a_minute_later_is_late() -> None:
    aware = datetime(2026, 5, 4, 22, 30, tzinfo=IST)
    due = clocks_from(DEADLINES, aware, WORKING)[BreachClock.CERT_IN]
    assert due.ends_at == datetime(2026, 5, 5, 4, 30, tzinfo=IST)
    assert on_time(due, datetime(2026, 5, 5, 4, 29, tzinfo=IST))
    assert on_time(due, datetime(2026, 5, 5, 4, 30, tzinfo=IST))  # at the last minute
    assert not on_time(due, datetime(2026, 5, 5, 4, 31, tzinfo=IST))


def test_the_72nd_hour_exactly_is_on_time_and_a_minute_later_is_late() -> None:
    aware = datetime(2026, 5, 4, 10, 0, tzinfo=IST)
    due = clocks_from(DEADLINES, aware, WORKING)[BreachClock.AUTHORITY_DETAILED]
    assert on_time(due, aware + timedelta(hours=72))
    assert not on_time(due, aware + timedelta(hours=72, minutes=1))


def test_72_hours_across_the_spring_change_are_72_real_hours() -> None:
    """Berlin moves its clocks forward on 29 March 2026 at 02:00: the wall clock shows 73 hours later."""
    aware = datetime(2026, 3, 27, 10, 0, tzinfo=BERLIN)  # CET, +01:00
    due = clocks_from(DEADLINES, aware, WORKING_BERLIN)[BreachClock.AUTHORITY_DETAILED]
    assert due.ends_at.astimezone(UTC) - aware.astimezone(UTC) == timedelta(hours=72)
    assert due.ends_at.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 30, 11, 0)  # CEST
    assert on_time(due, datetime(2026, 3, 30, 11, 0, tzinfo=BERLIN))
    assert not on_time(due, datetime(2026, 3, 30, 11, 1, tzinfo=BERLIN))


def test_six_hours_across_the_autumn_change_are_six_real_hours() -> None:
    """Berlin moves its clocks back on 25 October 2026 at 03:00: the wall clock shows five hours later."""
    aware = datetime(2026, 10, 25, 0, 30, tzinfo=BERLIN)  # CEST, +02:00
    due = clocks_from(DEADLINES, aware, WORKING_BERLIN)[BreachClock.CERT_IN]
    assert due.ends_at.astimezone(UTC) == datetime(2026, 10, 25, 4, 30, tzinfo=UTC)
    assert due.ends_at.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 10, 25, 5, 30)  # CET
    assert on_time(due, datetime(2026, 10, 25, 4, 30, tzinfo=UTC))
    assert not on_time(due, datetime(2026, 10, 25, 4, 31, tzinfo=UTC))


def test_clock_states_at_an_instant() -> None:
    aware = datetime(2026, 5, 4, 10, 0, tzinfo=IST)
    met = {
        BreachStep.CERT_IN_REPORTED: aware + timedelta(hours=5),
        BreachStep.AUTHORITY_INFORMED: aware + timedelta(hours=30),
    }
    views = {v.clock: v for v in clock_views(DEADLINES, aware, WORKING, met, aware + timedelta(hours=48))}
    assert views[BreachClock.CERT_IN].state is ClockState.MET
    assert views[BreachClock.AUTHORITY_INITIAL].state is ClockState.MET_LATE
    assert views[BreachClock.AUTHORITY_DETAILED].state is ClockState.RUNNING
    later = {
        v.clock: v.state for v in clock_views(DEADLINES, aware, WORKING, met, aware + timedelta(hours=72, minutes=1))
    }
    assert later[BreachClock.NOTIFY_PEOPLE] is ClockState.OVERDUE


def test_an_incident_recorded_long_after_awareness_has_its_clocks_already_overdue() -> None:
    aware = datetime(2025, 1, 1, 10, 0, tzinfo=IST)
    states = {v.state for v in clock_views(DEADLINES, aware, WORKING, {}, datetime(2026, 5, 4, tzinfo=IST))}
    assert states == {ClockState.OVERDUE}

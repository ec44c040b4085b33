"""The legal clocks of a personal-data breach, all started at the moment the store became aware of it.

Pure arithmetic on the policy's `cases.breach` deadlines (no database): the breach register starts every
clock at `aware_at` and they run in parallel, each met by one recorded step:

- `cert_in`, met by `cert_in_reported`: CERT-In Directions 2022, direction (ii), 6 hours from noticing (only
  where the policy sets it);
- `authority_initial`, met by `authority_informed`: DPDP Rule 7(2)(a), the Board "without delay"; GDPR Art 33(1);
- `authority_detailed`, met by `detailed_report_sent`: DPDP Rule 7(2)(b), the detailed report within 72 hours;
- `notify_people`, met by `people_notified`: DPDP s.8(6), Rule 7(1), each affected person "without delay";
  GDPR Art 34.

Lengths are counted as rights deadlines are (`rights.deadlines.due_after`): hours on the clock from the
instant of awareness, so a change to or from summer time in the policy's time zone neither stretches nor
shortens "72 hours". A clock in hours ends at its last instant, and that instant is still on time: a CERT-In
report sent at the sixth hour exactly is in time, a minute later it is late.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from fiduciary.policy.calendar import WorkingCalendar
from fiduciary.policy.duration import Duration
from fiduciary.policy.schema import BreachDeadlines
from fiduciary.rights.deadlines import Due, due_after


class BreachClock(StrEnum):
    CERT_IN = "cert_in"  # CERT-In Directions 2022, direction (ii): 6 hours
    AUTHORITY_INITIAL = "authority_initial"  # DPDP Rule 7(2)(a); GDPR Art 33(1)
    AUTHORITY_DETAILED = "authority_detailed"  # DPDP Rule 7(2)(b): 72 hours
    NOTIFY_PEOPLE = "notify_people"  # DPDP s.8(6), Rule 7(1); GDPR Art 34


class BreachStep(StrEnum):
    """A step recorded on an incident; the first four each meet one clock."""

    CERT_IN_REPORTED = "cert_in_reported"
    AUTHORITY_INFORMED = "authority_informed"
    DETAILED_REPORT_SENT = "detailed_report_sent"
    PEOPLE_NOTIFIED = "people_notified"


MET_BY: Final[Mapping[BreachClock, BreachStep]] = {
    BreachClock.CERT_IN: BreachStep.CERT_IN_REPORTED,
    BreachClock.AUTHORITY_INITIAL: BreachStep.AUTHORITY_INFORMED,
    BreachClock.AUTHORITY_DETAILED: BreachStep.DETAILED_REPORT_SENT,
    BreachClock.NOTIFY_PEOPLE: BreachStep.PEOPLE_NOTIFIED,
}


class ClockState(StrEnum):
    RUNNING = "running"  # not met, not yet due
    OVERDUE = "overdue"  # not met and past its end
    MET = "met"  # met on time
    MET_LATE = "met_late"  # met after its end (DPDP Rule 7(2)(b) allows longer only on the Board's leave)


@dataclass(frozen=True, slots=True)
class ClockView:
    clock: BreachClock
    length: Duration
    due: Due
    met_at: datetime | None
    state: ClockState


def clock_lengths(deadlines: BreachDeadlines, *, cert_in_reportable: bool = True) -> dict[BreachClock, Duration]:
    """The clocks an incident runs: CERT-In's only where the policy sets it and the incident is reportable."""
    lengths: dict[BreachClock, Duration] = {}
    if deadlines.cert_in is not None and cert_in_reportable:
        lengths[BreachClock.CERT_IN] = deadlines.cert_in  # CERT-In Directions 2022, direction (ii)
    lengths[BreachClock.AUTHORITY_INITIAL] = deadlines.authority_initial  # DPDP Rule 7(2)(a)
    lengths[BreachClock.AUTHORITY_DETAILED] = deadlines.authority_detailed  # DPDP Rule 7(2)(b)
    lengths[BreachClock.NOTIFY_PEOPLE] = deadlines.notify_people  # DPDP Rule 7(1)
    return lengths


def clocks_from(
    deadlines: BreachDeadlines, aware_at: datetime, working: WorkingCalendar, *, cert_in_reportable: bool = True
) -> dict[BreachClock, Due]:
    """When each clock ends, counted from `aware_at` (aware) in the policy's time zone."""
    lengths = clock_lengths(deadlines, cert_in_reportable=cert_in_reportable)
    return {clock: due_after(aware_at, length, working) for clock, length in lengths.items()}


def on_time(due: Due, met_at: datetime) -> bool:
    """Met by its last instant: the end itself is on time (a report at the 72nd hour exactly is in time)."""
    return met_at <= due.ends_at


def clock_state(due: Due, met_at: datetime | None, now: datetime) -> ClockState:
    if met_at is not None:
        return ClockState.MET if on_time(due, met_at) else ClockState.MET_LATE
    return ClockState.RUNNING if now <= due.ends_at else ClockState.OVERDUE


def clock_views(
    deadlines: BreachDeadlines,
    aware_at: datetime,
    working: WorkingCalendar,
    met: Mapping[BreachStep, datetime],
    now: datetime,
    *,
    cert_in_reportable: bool = True,
) -> list[ClockView]:
    """Every clock of an incident with its end, the step that met it (if any) and its state at `now`."""
    lengths = clock_lengths(deadlines, cert_in_reportable=cert_in_reportable)
    views = []
    for clock, length in lengths.items():
        due = due_after(aware_at, length, working)
        met_at = met.get(MET_BY[clock])
        views.append(ClockView(clock, length, due, met_at, clock_state(due, met_at, now)))
    return views

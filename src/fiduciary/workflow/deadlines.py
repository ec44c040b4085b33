"""The one deadline engine of every workflow: rights requests and cases count their clocks here (issue 16 item 4).

Pure arithmetic on the policy's calendar (no database, no web). Lengths are counted in the policy's time zone
(`calendar.timezone`) from the local date of the start; the starting day itself is not counted:

- hours and minutes: on the clock from the starting instant (a grievance acknowledged "within 48h", CERT-In's
  6 hours), so a DST change does not stretch them;
- days and weeks: calendar days, not moved off a weekend or holiday ("45 calendar days" from the day the
  request is received, whatever the time verification takes: 11 CCR §7021(b); CCPA Civ. Code §1798.130(a)(2));
- business days: working days on the policy's calendar, i.e. not its weekend, not its own `holidays`, not a
  public holiday of the controller's country and state (`policy.calendar`; 11 CCR §7021(a): confirm receipt
  within 10 business days);
- months and years: the UK regulator's method for GDPR Art 12(3) "within one month of receipt" (ICO, "Time
  limits for responding"): the same date of the next month, the month's last day where that date does not
  exist, then the next working day if it is a weekend or holiday. (Retention periods use Reg 1182/71's month
  end without the move to a working day: see `policy.calendar`.)

A deadline counted in days ends with its last day in the policy's time zone: it is overdue from the first
instant of the next day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from fiduciary.policy.calendar import WorkingCalendar, add_months, months_deadline, public_holiday_region
from fiduciary.policy.duration import Duration, DurationUnit
from fiduciary.policy.schema import PolicyDocument

DEFAULT_DUE_SOON = Duration(amount=3, unit=DurationUnit.BUSINESS_DAYS)


class DeadlineStatus(StrEnum):
    ON_TRACK = "on_track"
    DUE_SOON = "due_soon"  # within the due-soon window before the deadline (default: its last 3 business days)
    OVERDUE = "overdue"  # the deadline has passed


@dataclass(frozen=True, slots=True)
class Due:
    """One deadline: its last `day` in the policy's time zone and the instant it `ends_at` (overdue from then)."""

    day: date
    ends_at: datetime


def working_calendar(document: PolicyDocument) -> WorkingCalendar:
    """The policy's calendar with the public holidays of the controller's country (and state, where its address
    names one the `holidays` package knows; otherwise national holidays only)."""
    country, subdivision = public_holiday_region(document.controller.address)
    return WorkingCalendar.of(document.calendar, country=country, subdivision=subdivision)


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def normalised(duration: Duration) -> tuple[DurationUnit, int]:
    """(family, amount): minutes for hours and minutes, days for weeks, months for years."""
    n, unit = duration.amount, duration.unit
    return {
        DurationUnit.MINUTES: (DurationUnit.MINUTES, n),
        DurationUnit.HOURS: (DurationUnit.MINUTES, 60 * n),
        DurationUnit.DAYS: (DurationUnit.DAYS, n),
        DurationUnit.WEEKS: (DurationUnit.DAYS, 7 * n),
        DurationUnit.BUSINESS_DAYS: (DurationUnit.BUSINESS_DAYS, n),
        DurationUnit.MONTHS: (DurationUnit.MONTHS, n),
        DurationUnit.YEARS: (DurationUnit.MONTHS, 12 * n),
    }[unit]


def due_in(received: datetime, family: DurationUnit, amount: int, working: WorkingCalendar) -> Due:
    """`amount` of a normalised unit counted from `received` (aware, in the policy's zone)."""
    if family is DurationUnit.MINUTES:  # absolute time: a DST change does not stretch it
        instant = (received.astimezone(UTC) + timedelta(minutes=amount)).astimezone(working.zone)
        return Due(instant.date(), instant)
    start = received.date()
    if family is DurationUnit.DAYS:  # calendar days (CCPA §1798.130(a)(2)): not moved off a holiday
        day = start + timedelta(days=amount)
    elif family is DurationUnit.BUSINESS_DAYS:
        day = working.add_working_days(start, amount)
    else:  # months: the ICO method for GDPR Art 12(3)
        day = months_deadline(start, amount, working)
    return Due(day, end_of_day(day, working.zone))


def due_after(received: datetime, duration: Duration, working: WorkingCalendar) -> Due:
    """The deadline `duration` after `received` (aware), on the policy's calendar (see the module docstring)."""
    if received.tzinfo is None or received.utcoffset() is None:
        raise ValueError("received must be a timezone-aware datetime")
    family, amount = normalised(duration)
    return due_in(received.astimezone(working.zone), family, amount, working)


def due_soon_from(due: Due, working: WorkingCalendar, window: Duration = DEFAULT_DUE_SOON) -> datetime:
    """The instant a deadline becomes due soon: the start of its last `window` (in business days: its last
    `window` working days, up to and including its day)."""
    family, amount = normalised(window)
    end = due.ends_at.astimezone(working.zone)
    if family is DurationUnit.BUSINESS_DAYS:
        return end_of_day(working.add_working_days(due.day, -amount), working.zone)
    if family is DurationUnit.MONTHS:
        return datetime.combine(add_months(end.date(), -amount), end.time(), tzinfo=working.zone)
    if family is DurationUnit.DAYS:  # calendar days on the wall clock
        return (end.replace(tzinfo=None) - timedelta(days=amount)).replace(tzinfo=working.zone)
    return (end.astimezone(UTC) - timedelta(minutes=amount)).astimezone(working.zone)


def status(
    due: Due, now: datetime, working: WorkingCalendar, *, due_soon: Duration = DEFAULT_DUE_SOON
) -> DeadlineStatus:
    """On track, due soon or overdue at `now` (aware). Overdue from the instant the deadline ends."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    if now >= due.ends_at:
        return DeadlineStatus.OVERDUE
    if now >= due_soon_from(due, working, due_soon):
        return DeadlineStatus.DUE_SOON
    return DeadlineStatus.ON_TRACK

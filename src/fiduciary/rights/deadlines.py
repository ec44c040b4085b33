"""When a rights request must be acknowledged and answered, and whether it is on track (issue 13 item 3).

Pure arithmetic on the policy (no database, no web): the requests workflow calls `deadlines_at_receipt` when a
request arrives, keeps the result, `extend`s it with a reason, and asks `status` at any instant.

The deadline is the policy's `rights` entry of the request's kind, `deadline_for` the person's jurisdiction
(`deadlines_by_jurisdiction`, else the entry's `deadline`). Lengths are counted in the policy's time zone
(`calendar.timezone`) from the local date of receipt; the day of receipt itself is not counted:

- hours and minutes: on the clock from the instant of receipt (a grievance acknowledged "within 48h");
- days and weeks: calendar days, not moved off a weekend or holiday ("45 calendar days" from the day the
  request is received, whatever the time verification takes: 11 CCR §7021(b); CCPA Civ. Code §1798.130(a)(2));
- business days: working days on the policy's calendar, i.e. not its weekend, not its own `holidays`, not a
  public holiday of the controller's country and state (`policy.calendar`; 11 CCR §7021(a): confirm receipt
  within 10 business days);
- months and years: the UK regulator's method for GDPR Art 12(3) "within one month of receipt" (ICO, "Time
  limits for responding"): the same date of the next month, the month's last day where that date does not
  exist, then the next working day if it is a weekend or holiday. (Retention periods use Reg 1182/71's month
  end without the move to a working day: see `policy.calendar`.)

A deadline counted in days ends with its last day in the policy's time zone: the request is overdue from the
first instant of the next day. DPDP Rule 14 fixes no period for access, correction or erasure (only the
grievance ceiling of 90 days, Rule 14(3)): the policy's own figure applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.policy.calendar import WorkingCalendar, add_months, months_deadline, public_holiday_region
from fiduciary.policy.duration import Duration, DurationUnit
from fiduciary.policy.schema import Deadline, Jurisdiction, PolicyDocument, Right, RightKind

DEFAULT_DUE_SOON = Duration(amount=3, unit=DurationUnit.BUSINESS_DAYS)
MAX_REASON = 2000  # a reason is a sentence or a paragraph sent to the person, not a document


class DeadlineStatus(StrEnum):
    ON_TRACK = "on_track"
    DUE_SOON = "due_soon"  # within the due-soon window before the deadline (default: its last 3 business days)
    OVERDUE = "overdue"  # the deadline has passed


@dataclass(frozen=True, slots=True)
class Due:
    """One deadline: its last `day` in the policy's time zone and the instant it `ends_at` (overdue from then)."""

    day: date
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Extension:
    until: Due
    reason: str  # sent to the person (GDPR Art 12(3); CCPA §1798.130(a)(2)(A)); never logged
    granted_at: datetime


@dataclass(frozen=True, slots=True)
class RequestDeadlines:
    """The due dates set at receipt. `respond_by` is the first deadline; `due` is the one in force."""

    kind: RightKind
    jurisdiction: Jurisdiction | None
    received_at: datetime  # in the policy's time zone
    deadline: Deadline  # the policy's, as it stood at receipt
    respond_by: Due
    acknowledge_by: Due | None
    extension_limit: Due | None  # the latest an extension may reach (respond-by + extendable_by); None: none allowed
    working: WorkingCalendar = field(repr=False, compare=False)
    extension: Extension | None = None

    @property
    def due(self) -> Due:
        return self.extension.until if self.extension is not None else self.respond_by

    def status(self, now: datetime, *, due_soon: Duration = DEFAULT_DUE_SOON) -> DeadlineStatus:
        return status(self.due, now, self.working, due_soon=due_soon)


def working_calendar(document: PolicyDocument) -> WorkingCalendar:
    """The policy's calendar with the public holidays of the controller's country (and state, where its address
    names one the `holidays` package knows; otherwise national holidays only)."""
    country, subdivision = public_holiday_region(document.controller.address)
    return WorkingCalendar.of(document.calendar, country=country, subdivision=subdivision)


def right_for(document: PolicyDocument, kind: RightKind | str, jurisdiction: Jurisdiction | None) -> Right:
    """The policy's `rights` entry for a request of `kind` by a person of `jurisdiction` (None: not recorded).

    An entry listing the jurisdiction wins over one offered to everyone; a person of no recorded jurisdiction
    is offered only the entries without a `jurisdictions` list. Anything else is refused naming `kind`.
    """
    offered = [r for r in document.rights if not r.jurisdictions or (jurisdiction in r.jurisdictions)]
    matching = [r for r in offered if r.kind.value == str(kind)]
    if not matching:
        kinds = ", ".join(sorted({r.kind.value for r in offered})) or "none"
        raise ValidationFailed(
            "This kind of request is not offered.",
            [FieldProblem("kind", f"not offered to this person; the policy offers: {kinds}")],
        )
    return next((r for r in matching if r.jurisdictions), matching[0])


def _end_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def _normalised(duration: Duration) -> tuple[DurationUnit, int]:
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


def _due(received: datetime, family: DurationUnit, amount: int, working: WorkingCalendar) -> Due:
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
    return Due(day, _end_of(day, working.zone))


def due_after(received: datetime, duration: Duration, working: WorkingCalendar) -> Due:
    """The deadline `duration` after a request received at `received` (see the module docstring)."""
    if received.tzinfo is None or received.utcoffset() is None:
        raise ValueError("received must be a timezone-aware datetime")
    family, amount = _normalised(duration)
    return _due(received.astimezone(working.zone), family, amount, working)


def extension_limit(received: datetime, deadline: Deadline, working: WorkingCalendar) -> Due | None:
    """The latest an extension may reach: respond_within + extendable_by, or None if the policy allows none.

    Both in one unit family are counted together from receipt, so "1mo + 2mo" is three months from receipt (31
    January: 30 April, not 28 April); otherwise the extension is counted from the first deadline's day.
    """
    if deadline.extendable_by is None:
        return None
    first, more = _normalised(deadline.respond_within), _normalised(deadline.extendable_by)
    local = received.astimezone(working.zone)
    if first[0] is more[0]:
        return _due(local, first[0], first[1] + more[1], working)
    respond_by = _due(local, *first, working)
    if first[0] is DurationUnit.MINUTES:
        start = respond_by.ends_at
    else:
        start = datetime.combine(respond_by.day, local.time(), tzinfo=working.zone)
    return _due(start, *more, working)


def deadlines_at_receipt(
    document: PolicyDocument,
    kind: RightKind | str,
    jurisdiction: Jurisdiction | None,
    received_at: datetime,
    *,
    working: WorkingCalendar | None = None,
) -> RequestDeadlines:
    """The due dates of a request of `kind` by a person of `jurisdiction`, received at `received_at` (aware).

    `working` defaults to `working_calendar(document)`; pass it to reuse one across many requests.
    """
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValidationFailed("received_at needs a time zone.", [FieldProblem("received_at", "give a time zone")])
    right = right_for(document, kind, jurisdiction)
    deadline = right.deadline_for(jurisdiction) if jurisdiction is not None else right.deadline
    working = working or working_calendar(document)
    local = received_at.astimezone(working.zone)
    acknowledge = deadline.acknowledge_within
    return RequestDeadlines(
        kind=right.kind,
        jurisdiction=jurisdiction,
        received_at=local,
        deadline=deadline,
        respond_by=due_after(local, deadline.respond_within, working),
        acknowledge_by=due_after(local, acknowledge, working) if acknowledge is not None else None,
        extension_limit=extension_limit(local, deadline, working),
        working=working,
    )


def _extension_problem(deadlines: RequestDeadlines, until: date, at: datetime) -> FieldProblem | None:
    limit = deadlines.extension_limit
    if limit is None:
        return FieldProblem("until", "the policy allows no extension of this request (no extendable_by)")
    if deadlines.extension is not None:
        return FieldProblem("until", "this request was already extended; it can be extended once")
    if at >= deadlines.respond_by.ends_at:
        return FieldProblem("until", "the first deadline has passed; an extension is given before it ends")
    if until <= deadlines.respond_by.day:
        return FieldProblem("until", f"must be after the current deadline, {deadlines.respond_by.day.isoformat()}")
    if until > limit.day:
        allowed = deadlines.deadline.extendable_by.describe() if deadlines.deadline.extendable_by else ""
        return FieldProblem("until", f"at most {limit.day.isoformat()} (the policy's extendable_by: {allowed})")
    return None


def extend(deadlines: RequestDeadlines, *, until: date, reason: str, at: datetime) -> RequestDeadlines:
    """The deadlines with the response extended to the end of `until`, for `reason`, decided at `at` (aware).

    Refused (ValidationFailed naming `until` or `reason`; the deadlines given are unchanged) when the policy
    allows no extension, when `until` is not after the current deadline or is beyond the policy's
    `extendable_by`, when the request was already extended (CCPA §1798.130(a)(2)(A): "extended once"), or when
    the first deadline has passed: the person must be told of an extension, with its reasons, within the first
    period (GDPR Art 12(3); 11 CCR §7021(b): within the first 45 days).
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at must be a timezone-aware datetime")
    problems: list[FieldProblem] = []
    if not reason.strip():
        problems.append(FieldProblem("reason", "give the reason for the extension; it is sent to the person"))
    elif len(reason) > MAX_REASON:
        problems.append(FieldProblem("reason", f"at most {MAX_REASON} characters"))
    problem = _extension_problem(deadlines, until, at)
    if problem is not None:
        problems.append(problem)
    if problems:
        raise ValidationFailed("The extension was refused.", problems)
    extension = Extension(Due(until, _end_of(until, deadlines.working.zone)), reason.strip(), at)
    return replace(deadlines, extension=extension)


def due_soon_from(due: Due, working: WorkingCalendar, window: Duration = DEFAULT_DUE_SOON) -> datetime:
    """The instant a deadline becomes due soon: the start of its last `window` (in business days: its last
    `window` working days, up to and including its day)."""
    family, amount = _normalised(window)
    end = due.ends_at.astimezone(working.zone)
    if family is DurationUnit.BUSINESS_DAYS:
        return _end_of(working.add_working_days(due.day, -amount), working.zone)
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

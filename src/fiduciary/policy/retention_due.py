"""When a category's data falls due under each retention rule, from when each rule's clock started (issue 12).

The sweep that erases or anonymises is a later piece of work; this is the arithmetic it will run, kept pure
(no database) so it is tested on its edges. `starts` maps a trigger code (`account_closed`, `order_completed`,
`erasure_requested`, `event:warranty_ended` …, see `trigger_code`) to the instant its clock started; the
caller gathers them (the store's reported events from `vault.retention_events`, an account's closing time …).

Lengths are counted in the policy's time zone (`calendar.timezone`), the same calendar the notice promises:

- minutes and hours run on the clock from the instant (absolute time, so a DST change does not stretch them);
- days and weeks are calendar days at the same local time of day;
- months and years end on the same date of the later month; a date the month lacks (31 April, 29 February in
  a common year) ends on the month's last day (the rule of EU Regulation 1182/71 Art 3(2)(c), which GDPR
  periods follow), not moved off a weekend or holiday (a retention period limits keeping data; rights
  deadlines, which do move to the next working day by the ICO's method, are `rights.deadlines`);
- business days skip the policy's weekend and holidays (`calendar.weekend`, `calendar.holidays`).

The calendar arithmetic itself is `policy.calendar`, shared with rights deadlines.

A rule with a legal hold falls due only when both its period and the legal minimum have run (the law's minimum
is kept even if the person asks for erasure sooner).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from fiduciary.policy.calendar import WorkingCalendar, add_months
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.duration import Duration, DurationUnit
from fiduciary.policy.schema import BusinessCalendar, RetentionRule, RetentionTrigger, trigger_code


class DueStatus(StrEnum):
    DUE = "due"  # `due_at` is when the data falls due
    WAITING = "waiting"  # the clock has not started: its trigger has not happened (or was not reported)
    SET_BY_LAW = "set_by_law"  # "as long as the law requires": the named law, not the policy, sets the end


@dataclass(frozen=True, slots=True)
class RetentionDue:
    rule: str
    trigger: str  # the trigger code
    status: DueStatus
    started_at: datetime | None = None  # in the policy's time zone
    due_at: datetime | None = None  # in the policy's time zone
    law: str | None = None  # for SET_BY_LAW

    def is_due(self, now: datetime) -> bool:
        return self.due_at is not None and now >= self.due_at


def add_duration(start: datetime, duration: Duration, business: BusinessCalendar) -> datetime:
    """`start` plus `duration` as the policy counts it (see the module docstring); aware in, aware out."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be a timezone-aware datetime")
    zone = ZoneInfo(business.timezone)
    n, unit = duration.amount, duration.unit
    # Python adds a timedelta to an aware datetime on its wall clock; through UTC it is absolute time.
    if unit is DurationUnit.MINUTES:
        return (start.astimezone(UTC) + timedelta(minutes=n)).astimezone(zone)
    if unit is DurationUnit.HOURS:
        return (start.astimezone(UTC) + timedelta(hours=n)).astimezone(zone)
    wall = start.astimezone(zone).replace(tzinfo=None)  # local wall time: calendar arithmetic on it
    if unit is DurationUnit.DAYS:
        wall += timedelta(days=n)
    elif unit is DurationUnit.WEEKS:
        wall += timedelta(weeks=n)
    elif unit is DurationUnit.MONTHS:
        wall = add_months(wall, n)
    elif unit is DurationUnit.YEARS:
        wall = add_months(wall, 12 * n)
    else:  # business days on the policy's own calendar (no public holidays: unchanged since issue 12)
        day = WorkingCalendar.of(business).add_working_days(wall.date(), n)
        wall = datetime.combine(day, wall.time())
    return wall.replace(tzinfo=zone)


def rule_due(rule: RetentionRule, starts: Mapping[str, datetime], business: BusinessCalendar) -> RetentionDue:
    """When data under one rule falls due, given the instants the clocks started."""
    code = trigger_code(rule.trigger)
    if rule.trigger is RetentionTrigger.LAW_REQUIRES:
        return RetentionDue(rule.id, code, DueStatus.SET_BY_LAW, law=rule.law)
    start = starts.get(code)
    if start is None:
        return RetentionDue(rule.id, code, DueStatus.WAITING)
    local = start.astimezone(ZoneInfo(business.timezone))
    due = add_duration(local, rule.keep_for, business) if rule.keep_for is not None else local
    if rule.legal_hold is not None:
        due = max(due, add_duration(local, rule.legal_hold.minimum, business))
    return RetentionDue(rule.id, code, DueStatus.DUE, started_at=local, due_at=due)


def due_dates(
    policy: CompiledPolicy,
    category: str,
    starts: Mapping[str, datetime],
    *,
    purpose: str | None = None,
) -> list[RetentionDue]:
    """Each rule covering `category` (used for `purpose`, when given), in policy order, with its due time.

    Unknown categories give an empty list: the caller names categories from the policy it holds.
    """
    document = policy.document
    return [
        rule_due(rule, starts, document.calendar)
        for rule in document.retention
        if category in rule.categories and (purpose is None or not rule.purposes or purpose in rule.purposes)
    ]

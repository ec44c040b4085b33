"""What the policy says about inactivity erasure: the period, the notice and the reminder (docs/inactivity.md).

They come from the policy's retention rule with trigger `last_activity` (DPDP s.8(8), Rule 8(1) and the Third
Schedule: 3 years for a covered store, or the period a store sets itself). With several such rules the one
that ends soonest is the account's clock: the inactivity sweep erases the whole person (every registered
eraser), so it acts when the first of them runs out.

The notice is the rule's `advance_notice`, never less than the 48 hours of DPDP Rule 8(2); the reminder is
the rule's optional `reminder`, sent earlier. All three are counted in the policy's time zone
(`policy.retention_due.add_duration`). The rule's `counts_from` is a floor on the period's start: the Third
Schedule's 3 years run from the last contact or the Rules' commencement, whichever is later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.duration import Duration, DurationUnit
from fiduciary.policy.retention_due import add_duration
from fiduciary.policy.schema import BusinessCalendar, RetentionTrigger

# DPDP Rule 8(2): the person is told at least 48 hours before the period ends.
MINIMUM_NOTICE: Final = Duration(amount=48, unit=DurationUnit.HOURS)


_RESOLUTION = timedelta(microseconds=1)  # what the databases store


_SECONDS = {DurationUnit.MINUTES: 60, DurationUnit.HOURS: 3600}


@dataclass(frozen=True)
class Limits:
    """One sweep's `now` in the terms' units: a clock whose period ends at or before `notify_by` is due for
    the notice, at or before `remind_by` for the reminder; a notice sent at or before `told_by` has had its
    full length. Computed once, so each clock costs comparisons and one (cached) due date."""

    now: datetime
    notify_by: datetime
    remind_by: datetime | None
    told_by: datetime


@dataclass(frozen=True)
class InactivityTerms:
    rule: str
    period: Duration
    notice: Duration
    reminder: Duration | None
    calendar: BusinessCalendar
    counts_from: date | None = None  # the period starts no earlier than this local midnight (DPDP Third Schedule)
    _due_days: dict[date, date] = field(default_factory=dict, compare=False, repr=False)

    def due_at(self, last_contact_at: datetime) -> datetime:
        """When the period after the last contact ends, in the policy's time zone.

        A contact before `counts_from` counts as one at its midnight in the policy's time zone (DPDP Rule 8(1),
        Third Schedule: from the last contact or the Rules' commencement, "whichever is later").

        Calendar lengths (days and longer) move the local date and keep the local time of day, so the end's
        date is computed once per start date (a sweep meets many clocks per day): the same result as
        `add_duration`, at a dictionary lookup a clock."""
        zone = ZoneInfo(self.calendar.timezone)
        local = last_contact_at.astimezone(zone)
        if self.counts_from is not None and local.date() < self.counts_from:
            local = datetime.combine(self.counts_from, time(0), tzinfo=zone)
        if self.period.unit in _SECONDS:
            return add_duration(local, self.period, self.calendar)
        day = self._due_days.get(local.date())
        if day is None:
            day = add_duration(local, self.period, self.calendar).date()
            self._due_days[local.date()] = day
        return datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=zone)

    def erase_at(self, due_at: datetime, notice_sent_at: datetime) -> datetime:
        """The period ended and the notice has had its full length (a late notice postpones the erasure)."""
        return max(due_at, add_duration(notice_sent_at, self.notice, self.calendar))

    def limits(self, now: datetime) -> Limits:
        """What `now` means for every clock, computed once per sweep (see `Limits`)."""
        remind_by = add_duration(now, self.reminder, self.calendar) if self.reminder is not None else None
        told_by = (
            now - timedelta(seconds=self.notice.amount * _SECONDS[self.notice.unit])
            if (self.notice.unit in _SECONDS)
            else self._latest_start(self.notice, now)
        )
        return Limits(now, add_duration(now, self.notice, self.calendar), remind_by, told_by)

    def _latest_start(self, duration: Duration, end_by: datetime) -> datetime:
        """The latest instant (to the microsecond) from which `duration`, a whole number of days or weeks (which
        never shrink as the start grows), ends at or before `end_by`."""
        lo, hi = end_by - timedelta(days=duration.approx_days + 2), end_by
        while hi - lo > _RESOLUTION:  # add(lo) <= end_by < add(hi)
            mid = lo + (hi - lo) / 2
            if add_duration(mid, duration, self.calendar) <= end_by:
                lo = mid
            else:
                hi = mid
        return lo

    def latest_candidate_contact(self, now: datetime) -> datetime:
        """A last contact later than this cannot be due for anything at `now` (a bound for the SQL scan: the
        exact test is `due_at` per row; a `counts_from` floor only moves a due date later, so the bound holds).
        Calendar lengths vary (a year has 365 or 366 days, a business day
        skips holidays), so the bound is generous: approximate days plus 1% plus 3 days."""
        window = self.reminder if self.reminder is not None else self.notice
        days = self.period.approx_days - window.approx_days
        return now - timedelta(days=days) + timedelta(days=3 + self.period.approx_days / 100)


def inactivity_terms(policy: CompiledPolicy) -> InactivityTerms | None:
    """The terms of the policy's inactivity rule that ends soonest, or None when it has none."""
    document = policy.document
    rules = [r for r in document.retention if r.trigger is RetentionTrigger.LAST_ACTIVITY and r.keep_for is not None]
    if not rules:
        return None
    rule = min(rules, key=lambda r: r.keep_for.approx_days if r.keep_for is not None else 0.0)
    assert rule.keep_for is not None
    notice = rule.advance_notice
    if notice is None or notice.approx_days < MINIMUM_NOTICE.approx_days:
        notice = MINIMUM_NOTICE
    return InactivityTerms(rule.id, rule.keep_for, notice, rule.reminder, document.calendar, rule.counts_from)

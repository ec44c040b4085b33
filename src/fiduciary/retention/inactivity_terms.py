"""What the policy says about inactivity erasure: the period, the notice and the reminder (docs/inactivity.md).

They come from the policy's retention rule with trigger `last_activity` (DPDP s.8(8), Rule 8(1) and the Third
Schedule: 3 years for a covered store, or the period a store sets itself). With several such rules the one
that ends soonest is the account's clock: the inactivity sweep erases the whole person (every registered
eraser), so it acts when the first of them runs out.

The notice is the rule's `advance_notice`, never less than the 48 hours of DPDP Rule 8(2); the reminder is
the rule's optional `reminder`, sent earlier. All three are counted in the policy's time zone
(`policy.retention_due.add_duration`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.duration import Duration, DurationUnit
from fiduciary.policy.retention_due import add_duration
from fiduciary.policy.schema import BusinessCalendar, RetentionTrigger

# DPDP Rule 8(2): the person is told at least 48 hours before the period ends.
MINIMUM_NOTICE: Final = Duration(amount=48, unit=DurationUnit.HOURS)


@dataclass(frozen=True)
class InactivityTerms:
    rule: str
    period: Duration
    notice: Duration
    reminder: Duration | None
    calendar: BusinessCalendar

    def due_at(self, last_contact_at: datetime) -> datetime:
        """When the period after the last contact ends, in the policy's time zone."""
        return add_duration(last_contact_at, self.period, self.calendar)

    def notice_due(self, now: datetime, due_at: datetime) -> bool:
        """Whether the notice must go at `now`: the erasure is at most the notice's length away."""
        return add_duration(now, self.notice, self.calendar) >= due_at

    def reminder_due(self, now: datetime, due_at: datetime) -> bool:
        """Whether the reminder (if the policy sets one) is due at `now` and the notice not yet."""
        if self.reminder is None or self.notice_due(now, due_at):
            return False
        return add_duration(now, self.reminder, self.calendar) >= due_at

    def erase_at(self, due_at: datetime, notice_sent_at: datetime) -> datetime:
        """The period ended and the notice has had its full length (a late notice postpones the erasure)."""
        return max(due_at, add_duration(notice_sent_at, self.notice, self.calendar))

    def latest_candidate_contact(self, now: datetime) -> datetime:
        """A last contact later than this cannot be due for anything at `now` (a bound for the SQL scan: the
        exact test is `due_at` per row). Calendar lengths vary (a year has 365 or 366 days, a business day
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
    return InactivityTerms(rule.id, rule.keep_for, notice, rule.reminder, document.calendar)

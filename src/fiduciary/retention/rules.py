"""How each retention rule's clock is read in SQL, and which rules the sweep acts on (issue 15 item 1).

A rule says: data of these categories goes (or is anonymised) this long after this trigger. The planner turns
each rule into SQL over `personal_fields` (one row per stored value): the instant its clock started for the
row's person (`start`), the latest start that is due now (`cutoff`, found once per rule in Python on the
policy's calendar, so months, business days and time zones count exactly as `policy.retention_due` counts
them), and whether the rule, while its clock has not started, still keeps the data.

Where rules overlap on a category, keeping wins (GDPR Art 5(1)(e) and 17(3), DPDP s.8(7): every rule that
still needs the data keeps it): a value goes only when every rule covering its category that has a clock
running for the person is due, and no rule that keeps it open-endedly covers it. The rule that decides is the
one that keeps longest (an anonymising rule before a deleting one, because it keeps something); it is the
rule the value is counted under and whose action applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from fiduciary.consent.models import ConsentState
from fiduciary.people.models import Person
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.retention_due import add_duration
from fiduciary.policy.schema import BusinessCalendar, EventTrigger, RetentionAction, RetentionRule, RetentionTrigger
from fiduciary.vault.records import PERSONAL_FIELDS
from fiduciary.vault.retention_events import RetentionEventRow

FIELDS = PERSONAL_FIELDS
PEOPLE = Person.__table__
CONSENT = ConsentState.__table__
EVENT_ROWS = RetentionEventRow.__table__

# Triggers whose end the sweep does not decide, and why (shown by `fiduciary retention plan`).
SKIPPED: dict[RetentionTrigger, str] = {
    RetentionTrigger.LAST_ACTIVITY: "inactivity erasure (retention.inactivity) runs this rule",
    RetentionTrigger.ERASURE_REQUESTED: "kept until the person asks: the rights erasure flow erases it",
    RetentionTrigger.LAW_REQUIRES: "the named law sets the end: kept as legal-hold records",
    RetentionTrigger.PURPOSE_FULFILLED: "no signal says when the purpose is fulfilled: erased on request",
}
# Of those, the ones that keep the data while they apply (keeping wins over another rule's deleting).
KEEPS_OPEN_ENDED = frozenset(
    {RetentionTrigger.ERASURE_REQUESTED, RetentionTrigger.LAW_REQUIRES, RetentionTrigger.PURPOSE_FULFILLED}
)
# Store-reported clocks: the trigger's name is the event the backend reports for it.
REPORTED = {RetentionTrigger.ORDER_COMPLETED: "order_completed", RetentionTrigger.CASE_CLOSED: "case_closed"}


# (after, last]: a range of person ids the run works through (ids, or the bound parameters that carry them)
Window = tuple[Any, Any] | None


class Clock(StrEnum):
    COLLECTED = "collected"  # the value's own `created_at`
    CLOSED = "account_closed"  # `people.closed_at`; an open account keeps its data
    EVENT = "event"  # the latest reported event; none reported: the rule has nothing of this person's
    CONSENT = "consent_withdrawn"  # the latest withdrawal for the rule's purposes; a consent still given keeps


@dataclass(frozen=True)
class SweptRule:
    """A rule the sweep acts on, with its clock and the latest start that is due at `now`."""

    rule: RetentionRule
    clock: Clock
    cutoff: datetime
    rank: int  # lower decides first: anonymising rules, then the longest keeping
    event: str | None = None

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def action(self) -> RetentionAction:
        return self.rule.action

    def start(self) -> Any:
        """The SQL expression of the instant this rule's clock started for a `personal_fields` row."""
        if self.clock is Clock.COLLECTED:
            return FIELDS.c.created_at
        if self.clock is Clock.CLOSED:
            return PEOPLE.c.closed_at  # the planner joins `people` (its closed_at index drives the search)
        if self.clock is Clock.EVENT:
            return (
                sa.select(sa.func.max(EVENT_ROWS.c.occurred_at))
                .where(EVENT_ROWS.c.person_id == FIELDS.c.person_id, EVENT_ROWS.c.event == self.event)
                .scalar_subquery()
            )
        return sa.select(sa.func.max(CONSENT.c.updated_at)).where(*self._consent_where("withdrawn")).scalar_subquery()

    def _consent_where(self, status: str) -> list[Any]:
        where = [CONSENT.c.subject_id == FIELDS.c.person_id, CONSENT.c.status == status]
        if self.rule.purposes:
            where.append(CONSENT.c.purpose.in_(self.rule.purposes))
        return where

    def is_due(self) -> Any:
        """This rule's clock started for the row and has run."""
        return self.start() <= sa.literal(self.cutoff, FIELDS.c.created_at.type)

    def allows(self, window: Window = None) -> Any:
        """This rule does not keep the row: its clock has run, or (event and consent clocks) never started.
        "Never started or started by the cutoff" is "no occurrence after the cutoff": one index probe.
        Within a `window` of person ids, the closing date is read per person of the window (the id range is
        the narrower search: `closed_at`'s index, which would read every closed account, is hidden)."""
        cutoff = sa.literal(self.cutoff, FIELDS.c.created_at.type)
        if self.clock is Clock.CLOSED and window is not None:
            return sa.func.coalesce(PEOPLE.c.closed_at, PEOPLE.c.closed_at) <= cutoff
        if self.clock is Clock.CONSENT:
            granted = sa.exists().where(*self._consent_where("granted"))
            later = sa.exists().where(*self._consent_where("withdrawn"), CONSENT.c.updated_at > cutoff)
            return sa.and_(~granted, ~later)
        if self.clock is Clock.EVENT:
            later = sa.exists().where(
                EVENT_ROWS.c.person_id == FIELDS.c.person_id,
                EVENT_ROWS.c.event == self.event,
                EVENT_ROWS.c.occurred_at > cutoff,
            )
            return ~later
        return self.is_due()  # collected: always started; closed: an open account keeps (NULL is not due)

    def started_people(self, window: Window = None) -> Any:
        """SELECT of the people whose clock under this rule started by the cutoff (drives the search by index),
        within `window` (after, last] of person ids when given."""
        cutoff = sa.literal(self.cutoff, FIELDS.c.created_at.type)
        if self.clock is Clock.CLOSED:
            closed_at: Any = PEOPLE.c.closed_at
            if window is not None:  # the id range is the narrower search: hide closed_at's index
                closed_at = sa.func.coalesce(closed_at, closed_at)
            column, where = PEOPLE.c.id, [closed_at <= cutoff]
        elif self.clock is Clock.EVENT:
            column = EVENT_ROWS.c.person_id
            where = [EVENT_ROWS.c.event == self.event, EVENT_ROWS.c.occurred_at <= cutoff]
        else:
            column, where = CONSENT.c.subject_id, [CONSENT.c.status == "withdrawn", CONSENT.c.updated_at <= cutoff]
            if self.rule.purposes:
                where.append(CONSENT.c.purpose.in_(self.rule.purposes))
        if window is not None:
            where += [column > window[0], column <= window[1]]
        return sa.select(column).where(*where)

    @property
    def always_started(self) -> bool:
        """Its clock must have run for the row to go at all (collection, closing): implies some rule is due."""
        return self.clock in (Clock.COLLECTED, Clock.CLOSED)


def driving_people(
    rules: Sequence[SweptRule], window: Window = None, shared: dict[str, Any] | None = None
) -> Any | None:
    """A condition on `personal_fields.person_id` that lets the database start from the few people whose
    clocks have run rather than read every value: an account closed long enough is required (an open account
    keeps); else, without a clock counting from collection, some rule's clock must have run. None where a
    collection clock decides (its own index on category and created_at serves).

    `shared`: the closed accounts of each closing rule as a common table expression, kept in this dict by
    rule id, so that one statement over several groups of a rule (the demo's account_data covers three)
    reads them once (both engines materialise a CTE referenced more than once)."""
    closed = [r for r in rules if r.clock is Clock.CLOSED]
    if closed and shared is not None:
        if closed[0].id not in shared:
            shared[closed[0].id] = closed[0].started_people(window).cte(f"closed_{len(shared)}")
        return FIELDS.c.person_id.in_(sa.select(shared[closed[0].id].c.id))
    if closed:
        return FIELDS.c.person_id.in_(closed[0].started_people(window))
    if any(r.clock is Clock.COLLECTED for r in rules):
        return None
    return FIELDS.c.person_id.in_(sa.union(*[r.started_people(window) for r in rules]))


def clock_of(rule: RetentionRule) -> tuple[Clock, str | None] | None:
    """The clock the sweep reads for a rule, or None for a rule it leaves to another part (`SKIPPED`)."""
    trigger = rule.trigger
    if isinstance(trigger, EventTrigger):
        return Clock.EVENT, trigger.event
    if trigger in SKIPPED:
        return None
    if trigger is RetentionTrigger.COLLECTED:
        return Clock.COLLECTED, None
    if trigger is RetentionTrigger.ACCOUNT_CLOSED:
        return Clock.CLOSED, None
    if trigger is RetentionTrigger.CONSENT_WITHDRAWN:
        return Clock.CONSENT, None
    return Clock.EVENT, REPORTED[trigger]


def due_at(rule: RetentionRule, start: datetime, calendar: BusinessCalendar) -> datetime:
    """When data whose clock started at `start` falls due: the rule's period and its legal minimum, both."""
    due = add_duration(start, rule.keep_for, calendar) if rule.keep_for is not None else start
    if rule.legal_hold is not None:
        due = max(due, add_duration(start, rule.legal_hold.minimum, calendar))
    return due


def cutoff(rule: RetentionRule, now: datetime, calendar: BusinessCalendar) -> datetime:
    """The latest start whose data is due at `now` (`due_at` never decreases as the start moves later, so a
    search over microseconds finds it exactly; about 50 steps)."""
    low = now - timedelta(days=40_000)  # longer than any duration the schema accepts (100 years)
    high = now
    if due_at(rule, high, calendar) <= now:
        return high
    while high - low > timedelta(microseconds=1):
        middle = low + (high - low) / 2
        if due_at(rule, middle, calendar) <= now:
            low = middle
        else:
            high = middle
    return low


def _keeps_for(rule: RetentionRule, calendar: BusinessCalendar, now: datetime) -> timedelta:
    return due_at(rule, now, calendar) - now


def swept_rules(policy: CompiledPolicy, now: datetime) -> list[SweptRule]:
    """Every rule the sweep acts on, ranked: anonymising first, then the longest keeping first."""
    calendar = policy.document.calendar
    found: list[tuple[RetentionRule, Clock, str | None]] = []
    for rule in policy.document.retention:
        clock = clock_of(rule)
        if clock is not None:
            found.append((rule, *clock))
    order = sorted(
        found,
        key=lambda item: (item[0].action is not RetentionAction.ANONYMISE, -_keeps_for(item[0], calendar, now)),
    )
    return [
        SweptRule(rule, clock, cutoff(rule, now, calendar), rank, event)
        for rank, (rule, clock, event) in enumerate(order)
    ]


@dataclass(frozen=True)
class CategoryGroup:
    """Categories covered by the same rules: one SQL statement finds what is due in all of them."""

    key: str
    categories: tuple[str, ...]
    rules: tuple[SweptRule, ...]  # the rules the sweep acts on, ranked
    kept_by: tuple[str, ...]  # open-ended rules that keep these categories (nothing is due)


def category_groups(policy: CompiledPolicy, rules: Sequence[SweptRule]) -> list[CategoryGroup]:
    by_category: dict[str, tuple[list[SweptRule], list[str]]] = {}
    for swept in rules:
        for category in swept.rule.categories:
            by_category.setdefault(category, ([], []))[0].append(swept)
    for rule in policy.document.retention:
        if rule.trigger in KEEPS_OPEN_ENDED:
            for category in rule.categories:
                by_category.setdefault(category, ([], []))[1].append(rule.id)
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for category, (acting_rules, keeping_rules) in by_category.items():
        signature = (tuple(sorted(s.id for s in acting_rules)), tuple(sorted(keeping_rules)))
        groups.setdefault(signature, []).append(category)
    ranked = {s.id: s for s in rules}
    out: list[CategoryGroup] = []
    for (acting_ids, keeping), categories in sorted(groups.items()):
        acting = tuple(sorted((ranked[i] for i in acting_ids), key=lambda s: s.rank))
        out.append(CategoryGroup(",".join(sorted(categories)), tuple(sorted(categories)), acting, keeping))
    return out

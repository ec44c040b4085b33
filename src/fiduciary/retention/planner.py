"""What is due now under the policy's retention rules, found set-wise in SQL (issue 15 item 1).

`due_rows` is the one statement per group of categories (`rules.category_groups`) that both the dry run and
the sweep use: a `personal_fields` row is due when every rule covering its category allows it to go and at
least one of them is due (`rules`), no staff hold covers its person or its category (`holds`), and its person
is not already erased (the vault's purge removes those rows). `plan` counts it per deciding rule, with the
earliest and latest due dates, and reads nothing else: it writes nothing, so it changes nothing (a test
hashes every table before and after, on both engines).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.schema import RetentionTrigger
from fiduciary.retention.models import RetentionHold
from fiduciary.retention.rules import (
    FIELDS,
    PEOPLE,
    SKIPPED,
    CategoryGroup,
    Clock,
    Window,
    category_groups,
    clock_of,
    driving_people,
    due_at,
    swept_rules,
)
from fiduciary.vault.records import LEGAL_HOLD_RECORDS, VAULT_ERASURES

HOLDS = RetentionHold.__table__


def held(today: date) -> Any:
    """A staff hold in force covers the row's person, or the row's category of that person's data."""
    return sa.exists().where(
        HOLDS.c.person_id == FIELDS.c.person_id,
        HOLDS.c.released_at.is_(None),
        HOLDS.c.until >= today,
        sa.or_(HOLDS.c.category.is_(None), HOLDS.c.category == FIELDS.c.category),
    )


def _erased() -> Any:
    return sa.exists().where(VAULT_ERASURES.c.person_id == FIELDS.c.person_id)


def deciding_rule(group: CategoryGroup) -> Any:
    """The id of the rule a due row goes under: the first due one in rank order (the longest keeping)."""
    return sa.case(*[(r.is_due(), sa.literal(r.id)) for r in group.rules], else_=sa.null())


def due_rows(
    group: CategoryGroup,
    today: date,
    *columns: Any,
    skip_rules: Collection[str] = (),
    window: Window = None,
    shared: dict[str, Any] | None = None,
) -> sa.Select[Any]:
    """SELECT `columns` of the group's due rows (see the module docstring); `skip_rules`: rules whose rows
    wait (a rule needing an approval the run does not have); `window`: only people with ids in (after, last];
    `shared`: for one statement over several groups (`rules.driving_people`)."""
    deciding = deciding_rule(group)
    where = [FIELDS.c.category.in_(group.categories), *[r.allows(window) for r in group.rules]]
    if not any(r.always_started for r in group.rules):  # else its `allows` already says it is due
        where.append(sa.or_(*[r.is_due() for r in group.rules]))
    where += [~held(today), ~_erased()]
    driver = driving_people(group.rules, window, shared)
    if driver is not None:
        where.insert(0, driver)
    closing = any(r.clock is Clock.CLOSED for r in group.rules)  # only a closing clock reads `people`
    if window is not None:  # on both sides of the join, so either may drive
        where += [PEOPLE.c.id > window[0], PEOPLE.c.id <= window[1]] if closing else []
        where += [FIELDS.c.person_id > window[0], FIELDS.c.person_id <= window[1]]
    if skip_rules:
        where.append(deciding.not_in(list(skip_rules)))
    source = FIELDS.join(PEOPLE, PEOPLE.c.id == FIELDS.c.person_id) if closing else FIELDS
    return sa.select(*columns).select_from(source).where(*where)


def acting_groups(policy: CompiledPolicy, now: datetime) -> list[CategoryGroup]:
    """The groups with something the sweep may act on (none kept open-endedly by another rule)."""
    return [g for g in category_groups(policy, swept_rules(policy, now)) if g.rules and not g.kept_by]


@dataclass(frozen=True)
class RulePlan:
    rule: str
    action: str
    status: str  # "swept" | "skipped"
    reason: str | None = None  # why skipped, or what keeps some of its categories
    fields: int = 0
    people: int = 0
    earliest_due: str | None = None
    latest_due: str | None = None
    approval_required: bool = False


@dataclass(frozen=True)
class Plan:
    now: datetime
    policy_hash: str
    rules: tuple[RulePlan, ...]
    legal_hold_records_due: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "policy_hash": self.policy_hash,
            "rules": [asdict(r) for r in self.rules],
            "legal_hold_records_due": self.legal_hold_records_due,
        }


def _counts(session: Session, groups: list[CategoryGroup], today: date) -> dict[str, tuple[int, int, Any, Any]]:
    """Per deciding rule: rows, distinct people, earliest and latest clock start (one UNION ALL statement)."""
    if not groups:
        return {}
    parts = []
    for group in groups:
        started = sa.case(*[(r.is_due(), r.start()) for r in group.rules], else_=sa.null())
        parts.append(
            due_rows(
                group,
                today,
                deciding_rule(group).label("rule"),
                FIELDS.c.person_id.label("person_id"),
                sa.type_coerce(started, FIELDS.c.created_at.type).label("start"),
            )
        )
    union = sa.union_all(*parts).subquery("due")
    start = sa.type_coerce(union.c.start, FIELDS.c.created_at.type)
    statement = sa.select(
        union.c.rule,
        sa.func.count(),
        sa.func.count(sa.distinct(union.c.person_id)),
        sa.type_coerce(sa.func.min(start), FIELDS.c.created_at.type),
        sa.type_coerce(sa.func.max(start), FIELDS.c.created_at.type),
    ).group_by(union.c.rule)
    return {rule: (rows, people, first, last) for rule, rows, people, first, last in session.execute(statement)}


def plan(session: Session, policy: CompiledPolicy, *, now: datetime | None = None) -> Plan:
    """The dry run: per rule, what would go now and when it fell due. Reads only."""
    now = now or datetime.now(UTC)
    today = now.date()
    groups = acting_groups(policy, now)
    counts = _counts(session, groups, today)
    calendar = policy.document.calendar
    kept: dict[str, list[str]] = {}
    for group in category_groups(policy, swept_rules(policy, now)):
        for swept in group.rules if group.kept_by else ():
            kept.setdefault(swept.id, []).extend(group.categories)
    rules = []
    for rule in policy.document.retention:
        approval = rule.approval_required
        if clock_of(rule) is None:
            reason = SKIPPED.get(rule.trigger) if isinstance(rule.trigger, RetentionTrigger) else None
            rules.append(RulePlan(rule.id, rule.action.value, "skipped", reason, approval_required=approval))
            continue
        rows, people, first, last = counts.get(rule.id, (0, 0, None, None))
        note = None
        if rule.id in kept:
            note = "kept by an open-ended rule: " + ", ".join(sorted(set(kept[rule.id])))
        rules.append(
            RulePlan(
                rule.id,
                rule.action.value,
                "swept",
                note,
                rows,
                people,
                due_at(rule, first, calendar).isoformat() if first is not None else None,
                due_at(rule, last, calendar).isoformat() if last is not None else None,
                approval,
            )
        )
    purge = session.scalar(
        sa.select(sa.func.count())
        .select_from(LEGAL_HOLD_RECORDS)
        .where(LEGAL_HOLD_RECORDS.c.purge_after < today, LEGAL_HOLD_RECORDS.c.purged_at.is_(None))
    )
    return Plan(now, policy.content_hash, tuple(rules), int(purge or 0))

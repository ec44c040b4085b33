"""The deadline engine of every case: a clock's end on the policy's calendar, with the functions rights
deadlines use (`rights.deadlines.due_after`: hours on the clock, days to the end of the day, business days
off the policy's weekend, its holidays and the public holidays of the controller's state; `policy.calendar`).

Several clocks of one case run at once (a breach's four, from one moment of awareness). A clock starts when
its case opens or on the transition its spec names, is met by the transitions that answer it, and is stopped
when the case closes without meeting it. Each is a `case_clocks` row, so the due listing and the escalation
sweep read one indexed table across every kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fiduciary.cases.kinds import CaseKind, ClockSpec
from fiduciary.cases.models import CLOCKS_TABLE, Case, CaseClock
from fiduciary.policy.calendar import WorkingCalendar
from fiduciary.policy.duration import Duration, DurationUnit
from fiduciary.policy.schema import PolicyDocument
from fiduciary.workflow.deadlines import DEFAULT_DUE_SOON, Due, due_after, due_soon_from


@dataclass(frozen=True, slots=True)
class ClockDue:
    """A clock's end and the instant from which it is due soon (escalated)."""

    due: Due
    escalate_at: datetime


def escalation_window(within: Duration, escalate_before: Duration | None) -> Duration:
    """How long before its end a clock is due soon: the spec's, else a quarter of a clock counted in hours or
    minutes (the last 6 hours of a 24-hour acknowledgement), else the last 3 business days."""
    if escalate_before is not None:
        return escalate_before
    if within.unit in (DurationUnit.HOURS, DurationUnit.MINUTES):
        minutes = within.amount * (60 if within.unit is DurationUnit.HOURS else 1)
        return Duration(amount=max(minutes // 4, 1), unit=DurationUnit.MINUTES)
    return DEFAULT_DUE_SOON


def clock_due(spec: ClockSpec, document: PolicyDocument, start: datetime, working: WorkingCalendar) -> ClockDue | None:
    """When `spec` ends if it starts at `start` (aware); None when the policy sets no such deadline."""
    within = spec.within(document)
    if within is None:
        return None
    due = due_after(start, within, working)
    escalate_at = due_soon_from(due, working, escalation_window(within, spec.escalate_before))
    return ClockDue(due, max(escalate_at, start))


def start_clocks(
    session: Session,
    case: Case,
    specs: Iterable[ClockSpec],
    document: PolicyDocument,
    working: WorkingCalendar,
    now: datetime,
) -> list[CaseClock]:
    """Add a row for each clock of `specs` the policy sets and the case does not have yet."""
    have = set(session.scalars(select(CaseClock.name).where(CaseClock.case_id == case.id)))
    started: list[CaseClock] = []
    for spec in specs:
        if spec.name in have:
            continue
        start = case.aware_at if spec.from_aware and case.aware_at is not None else now
        computed = clock_due(spec, document, start, working)
        if computed is None:
            continue
        clock = CaseClock(
            case_id=case.id,
            kind=case.kind,
            name=spec.name,
            started_at=start,
            due_at=computed.due.ends_at,
            due_on=computed.due.day,
            escalate_at=computed.escalate_at,
        )
        session.add(clock)
        started.append(clock)
    session.flush()
    return started


def clocks_started_by(kind: CaseKind, transition: str | None) -> list[ClockSpec]:
    return [c for c in kind.clocks if c.starts_on == transition]


def settle_clocks(
    session: Session, case: Case, kind: CaseKind, transition: str, *, closing: bool, now: datetime
) -> None:
    """Meet the open clocks `transition` answers; on a closure, stop the ones still open."""
    met = [c.name for c in kind.clocks if transition in c.met_by]
    open_clock = (
        CLOCKS_TABLE.c.case_id == case.id,
        CLOCKS_TABLE.c.met_at.is_(None),
        CLOCKS_TABLE.c.stopped_at.is_(None),
    )
    if met:
        session.execute(update(CLOCKS_TABLE).where(*open_clock, CLOCKS_TABLE.c.name.in_(met)).values(met_at=now))
    if closing:
        session.execute(update(CLOCKS_TABLE).where(*open_clock).values(stopped_at=now))


def clocks_of(session: Session, case_id: str) -> list[CaseClock]:
    return list(
        session.scalars(
            select(CaseClock).where(CaseClock.case_id == case_id).order_by(CaseClock.due_at, CaseClock.name)
        )
    )

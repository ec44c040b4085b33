"""Cases under test: a probe kind with parallel clocks (one counted from awareness, one in business days),
people, and the audit actions recorded."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.audit.models import AuditEventIndex
from fiduciary.cases.kinds import CaseKind, ClockSpec, register_kind
from fiduciary.policy.duration import Duration, DurationUnit
from fiduciary.workflow.machine import Transition

T0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # a Monday, 11:30 in Asia/Kolkata

PROBE = register_kind(
    CaseKind(
        name="probe",
        initial="open",
        states=frozenset({"open", "working", "closed"}),
        closed=frozenset({"closed"}),
        transitions={
            "start": Transition("start", frozenset({"open"}), "working"),
            "report": Transition("report", frozenset({"open", "working"}), None),
            "close": Transition("close", frozenset({"open", "working"}), "closed", needs_reason=True),
        },
        clocks=(
            ClockSpec(
                "six_hours",
                lambda d: Duration(amount=6, unit=DurationUnit.HOURS),
                frozenset({"report"}),
                from_aware=True,
            ),
            ClockSpec(
                "three_days",
                lambda d: Duration(amount=72, unit=DurationUnit.HOURS),
                frozenset({"close"}),
                from_aware=True,
            ),
            ClockSpec(
                "work",
                lambda d: Duration(amount=5, unit=DurationUnit.BUSINESS_DAYS),
                frozenset({"close"}),
                starts_on="start",
            ),
            ClockSpec("never", lambda d: None, frozenset({"close"})),
        ),
        reasons=frozenset({"done", "duplicate"}),
    )
)


def case_actions(session: Session) -> list[str]:
    query = sa.select(AuditEventIndex.action).order_by(AuditEventIndex.ledger_position)
    return [a for a in session.scalars(query) if a.startswith("case.")]

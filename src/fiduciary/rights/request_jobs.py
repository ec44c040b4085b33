"""The background work of rights requests: running a request whose waiting period ended, and the sweep
that flags overdue requests and reminds people whose request waits for their identity check.

The sweep (`rights.requests_sweep`, as often as housekeeping and at most every `SWEEP_MINUTES`; off with
it) flags each overdue request once, with an audit event `request.overdue` (the store's proof it knew, DPDP
s.8(10) and Rule 14(3)), and reminds a person once, `REMIND_AFTER` after receipt, that their request waits
for them: it then stays open until staff close it as never verified (`close_many`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from fiduciary.audit.service import AuditEvent
from fiduciary.config import Settings
from fiduciary.jobs import JobCall, register_job
from fiduciary.rights.models import REQUESTS_TABLE, RightsRequest, RightsRequestEvent
from fiduciary.rights.packages import register_package_listener
from fiduciary.rights.request_flows import package_ready, resume
from fiduciary.rights.requests import tell
from fiduciary.rights.running import RESUME_JOB
from fiduciary.rights.states import OPEN, State
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import unit_of_work

SWEEP_JOB: Final = "rights.requests_sweep"
SWEEP_MINUTES: Final = 15
REMIND_AFTER: Final = timedelta(days=3)
BATCH: Final = 500
SYSTEM_ACTOR: Final = "fiduciary"


def flag_overdue(runtime: Any, session: Session, *, now: datetime | None = None) -> int:
    """Flag the open requests whose deadline has ended, once each; the caller commits."""
    now = now or utcnow()
    uow = unit_of_work(runtime, session)
    rows = session.scalars(
        select(RightsRequest)
        .where(
            RightsRequest.state.in_([s.value for s in OPEN]),
            RightsRequest.due_at <= now,
            RightsRequest.overdue_flagged_at.is_(None),
            # a request waiting out a period the policy sets (an erasure's wait, a deactivation's keeping
            # period) was answered in time: the work left is scheduled, not late
            or_(RightsRequest.run_after.is_(None), RightsRequest.run_after <= now),
        )
        .order_by(RightsRequest.due_at)
        .limit(BATCH)
    ).all()
    for row in rows:
        session.execute(update(REQUESTS_TABLE).where(REQUESTS_TABLE.c.id == row.id).values(overdue_flagged_at=now))
        session.add(
            RightsRequestEvent(
                request_id=row.id,
                at=now,
                action="overdue",
                from_state=row.state,
                to_state=row.state,
                actor=SYSTEM_ACTOR,
                reason="deadline_passed",
            )
        )
        uow.audit(
            AuditEvent(
                actor=SYSTEM_ACTOR, action="request.overdue", person_id=row.person_id, target=row.id, reasons=[row.kind]
            )
        )
    return len(rows)


def remind_unverified(runtime: Any, session: Session, *, now: datetime | None = None) -> int:
    """Remind once each person whose request has waited `REMIND_AFTER` for their identity check."""
    now = now or utcnow()
    uow = unit_of_work(runtime, session)
    rows = session.scalars(
        select(RightsRequest)
        .where(
            RightsRequest.state == State.IDENTITY_CHECK.value,
            RightsRequest.received_at <= now - REMIND_AFTER,
            RightsRequest.reminded_at.is_(None),
        )
        .order_by(RightsRequest.received_at)
        .limit(BATCH)
    ).all()
    for row in rows:
        row.reminded_at = now
        tell(uow, row, "rights.reminder", {})
    session.flush()
    return len(rows)


def sweep(runtime: Any, call: JobCall) -> Mapping[str, int]:
    with runtime.sessions() as session:
        overdue = flag_overdue(runtime, session)
        reminded = remind_unverified(runtime, session)
        session.commit()
    return {"overdue": overdue, "reminded": reminded}


def resume_job(runtime: Any, call: JobCall) -> Mapping[str, int]:
    request_id = call.args.get("request_id")
    with runtime.sessions() as session:
        ran = resume(runtime, session, str(request_id))
        session.commit()
    return {"ran": int(ran)}


def _sweep_seconds(settings: Settings) -> float:
    """As often as housekeeping, at most every `SWEEP_MINUTES`; off where housekeeping is off (0)."""
    minutes = settings.housekeeping_interval_minutes
    return min(minutes, SWEEP_MINUTES) * 60.0 if minutes > 0 else 0.0


SWEEP: Final = register_job(SWEEP_JOB, sweep, retries=0, every=_sweep_seconds)
register_package_listener(package_ready)
RESUME: Final = register_job(RESUME_JOB, resume_job)

"""The job that tells one batch of affected people (`breach.notify_batch`, queued by `flows.notify_affected`).

Safe to run twice (`jobs.registry`): a person already told is skipped and the outbox's idempotency key
returns their first message. When no one in the set is left untold, the `notify_people` step is recorded
(meeting its clock, DPDP Rule 7(1)) by whichever batch finishes last; a batch that loses that race to
another leaves it recorded once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from fiduciary.audit.service import AuditEvent
from fiduciary.cases.breach.flows import notice_content
from fiduciary.cases.breach.kind import KIND, BreachClock, BreachStep
from fiduciary.cases.breach.notices import NOTIFY_JOB, tell_batch, untold
from fiduciary.cases.clocks import clocks_of
from fiduciary.cases.workflow import get_case, move
from fiduciary.errors import Conflict
from fiduciary.jobs import JobCall, register_job
from fiduciary.unit_of_work import unit_of_work

JOB_ACTOR: Final = "job:breach"


def notify_batch(runtime: Any, call: JobCall) -> Mapping[str, int]:
    case_id, first, last = (str(call.args[k]) for k in ("case_id", "first", "last"))
    with runtime.sessions() as session:
        uow = unit_of_work(runtime, session)
        case = get_case(session, case_id, kind=KIND)
        result = tell_batch(uow, case.id, first, last, notice_content(uow, case))
        uow.audit(AuditEvent(actor=JOB_ACTOR, action="breach.batch_told", target=case.id, count=result.queued))
        session.commit()
        done = record_notified(uow, case.id)
    return {"queued": result.queued, "no_contact": result.no_contact, "recorded": int(done)}


def record_notified(uow: Any, case_id: str) -> bool:
    """Record `notify_people` once nobody is left untold and its clock is still open; True when recorded."""
    session = uow.session
    clock = next((c for c in clocks_of(session, case_id) if c.name == BreachClock.NOTIFY_PEOPLE.value), None)
    if untold(session, case_id) or clock is None or clock.met_at is not None or clock.stopped_at is not None:
        return False
    case = get_case(session, case_id, kind=KIND, for_update=True)
    try:
        move(uow, case, BreachStep.NOTIFY_PEOPLE.value, actor=JOB_ACTOR)
        session.commit()
    except Conflict:  # another batch recorded it first, or the incident was closed
        session.rollback()
        return False
    return True


NOTIFY: Final = register_job(NOTIFY_JOB, notify_batch)

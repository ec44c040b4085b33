"""Record-and-audit for the vault's person facts: one home for each step, whoever asks.

`POST /v1/people/{person_id}/retention-events`, `fiduciary vault retention-event` and a process embedding
Fiduciary call these, so every recorded fact leaves the same audit event (DPDP Rule 6(1)(c): visibility of
processing) however it was reported; the route and the command only translate input and output. Each flow
runs in the caller's transaction: the row and its audit event (collected on the unit of work) commit or roll
back together.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from fiduciary.audit.service import Action, AuditEvent
from fiduciary.codes import safe_request_id
from fiduciary.context import RuntimeContext
from fiduciary.unit_of_work import unit_of_work
from fiduciary.vault.retention_events import Fields, ReportedEvent, record_retention_event


def report_retention_event_audited(
    runtime: RuntimeContext,
    session: Session,
    *,
    caller: str,
    person_id: str,
    event: str,
    occurred_at: datetime,
    request_id: str | None = None,
    fields: Fields | None = None,
) -> ReportedEvent:
    """Record a store-reported retention event for the person and audit it (actor, person, event id).

    The audit event carries the event's policy id as its target and no instant: ids and codes only. A repeated
    report writes nothing, so it leaves no second audit event either.
    """
    uow = unit_of_work(runtime, session)
    with uow.step():
        reported = record_retention_event(session, runtime.policy(), person_id, event, occurred_at, fields=fields)
        if reported.created:
            uow.audit(
                AuditEvent(
                    actor=caller,
                    action=Action.RETENTION_EVENT,
                    person_id=person_id,
                    target=event,
                    request_id=safe_request_id(request_id),
                )
            )
    return reported

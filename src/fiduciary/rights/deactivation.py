"""Deactivation requests: the person closes their account. Processing stops at once (a closed account is
used for nothing but a legal obligation, `decisions.engine` rule 3; DPDP s.8(7), GDPR Art 17(1)(a)-(b)),
and where the policy keeps the closed account's data for a while (`keep_after_deactivation`), they are
erased when that ends, by the same erasers as an erasure request.

The request's life, all of it one request so its history is the proof:

1. With a `waiting_period`, it waits first, as an erasure does; the person can cancel it until then and
   nothing has changed.
2. The account is closed (`people.service.close_person`, audited `person.close`). Without
   `keep_after_deactivation` the request completes here; the data then follow the policy's retention
   rules (e.g. a rule with trigger `account_closed`).
3. With `keep_after_deactivation`, the request stays in progress: the erasure is scheduled (`run_after`,
   a `rights.resume_request` job) and the person is told the date. When it comes, every registered eraser
   runs (`rights.erasure.erase_now`), and once the manual steps are confirmed the person is told what the law
   keeps, why and until when, as after an erasure.

Cancelling during the keeping period is what `request_flows.cancel` allows for any request waiting for
its `run_after`: it stops the scheduled erasure, but does not reopen the account (Fiduciary never reopens a
closed account); the data are then kept and deleted by the retention rules alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from fiduciary.audit.service import Action, AuditEvent
from fiduciary.comms.outbox import send
from fiduciary.identity.sessions import revoke_all_for_person
from fiduciary.people.service import close_person
from fiduciary.policy.duration import Duration
from fiduciary.rights.erasure import ERASED, erase_now, finish_erasure
from fiduciary.rights.requests import complete_request, contact_on_file
from fiduciary.rights.running import RESUME_JOB, Outcome, Run, calendar_for, waits_first
from fiduciary.workflow.deadlines import due_after

DEACTIVATED: Final = "deactivated"  # in `details`: when the account was closed (ISO instant)
ERASE_ON: Final = "erase_on"  # in `details`: the day the kept data are erased


def start_deactivation(run: Run) -> Outcome:
    return Outcome.WAITING if waits_first(run) else _deactivate(run)


def resume_deactivation(run: Run) -> Outcome:
    """After the waiting period: close the account. After the keeping period: erase."""
    if DEACTIVATED not in run.row.details:
        return _deactivate(run)
    return erase_now(run)


def finish_deactivation(run: Run) -> None:
    """Complete: after an erasure, with what the law keeps (`finish_erasure`); else as any request."""
    if ERASED in run.row.details:
        finish_erasure(run)
    else:
        complete_request(run.uow, run.row, actor=run.actor, now=run.now)


def _deactivate(run: Run) -> Outcome:
    uow, row = run.uow, run.row
    close_person(uow.session, row.person_id)
    revoke_all_for_person(uow.session, row.person_id)  # a closed account signs in nowhere any more
    uow.audit(AuditEvent(actor=run.actor, action=Action.PERSON_CLOSE, person_id=row.person_id, target=row.id))
    row.details = {**row.details, DEACTIVATED: run.now.isoformat()}
    keep = run.right.keep_after_deactivation
    if keep is None:
        uow.session.flush()
        return Outcome.DONE
    erase_at = _schedule_erasure(run, keep)
    row.details = {**row.details, ERASE_ON: erase_at.date().isoformat()}
    uow.session.flush()
    return Outcome.WAITING


def _schedule_erasure(run: Run, keep: Duration) -> datetime:
    """`resume` runs again at the end of the keeping period, on the policy's calendar, and the person is
    told the date. Its own queueing lock: the job of the waiting period may still be the one running."""
    uow, row = run.uow, run.row
    erase_at = due_after(run.now, keep, calendar_for(uow.runtime)).ends_at
    row.run_after = erase_at
    uow.session.flush()
    uow.enqueue(RESUME_JOB, {"request_id": row.id}, run_at=erase_at, queueing_lock=f"{RESUME_JOB}:{row.id}:erase")
    contact = contact_on_file(uow, row.person_id)
    if contact is not None:
        channel, address = contact
        send(
            uow,
            kind="rights.scheduled",
            channel=channel,
            to=address,
            params={"reference": row.id, "runs_on": erase_at.date()},
            idempotency_key=f"rights.scheduled:{row.id}:erase",
            person_id=row.person_id,
            language=row.language,
        )
    return erase_at

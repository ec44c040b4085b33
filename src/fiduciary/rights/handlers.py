"""What each kind of request does once the person is known: a map from kind to handler.

A handler's `start` runs in the transaction that moves the request to in_progress; it calls the domains
through their public surfaces and the registry, and answers DONE (the request completes now, the person is
told) or WAITING (a job, a waiting period or manual steps finish it later, through `resume` or the steps).
`check` runs at receipt, before anything is written: a request it refuses leaves no trace but its refusal.
Adding a kind of request is one handler here and its tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from fiduciary.comms.sealing import open_sealed, seal
from fiduciary.context import RuntimeContext
from fiduciary.policy.calendar import WorkingCalendar
from fiduciary.policy.schema import Right, RightKind
from fiduciary.rights.deadlines import due_after, working_calendar
from fiduciary.rights.flows import erase_person
from fiduciary.rights.models import RightsRequest
from fiduciary.rights.requests import NewRequest, complete_request, contact_on_file, steps_of, tell
from fiduciary.unit_of_work import UnitOfWork
from fiduciary.vault.legal_holds import held_records

RESUME_JOB: Final = "rights.resume_request"
_CONTACT: Final = "contact"


class Outcome(StrEnum):
    DONE = "done"
    WAITING = "waiting"


@dataclass(frozen=True)
class Run:
    """One request being worked on, in one transaction."""

    uow: UnitOfWork
    row: RightsRequest
    right: Right
    actor: str
    now: datetime


Check = Callable[[RuntimeContext, NewRequest, Right], NewRequest]


@dataclass(frozen=True)
class Handler:
    start: Callable[[Run], Outcome]
    resume: Callable[[Run], Outcome] | None = None  # after a waiting period (the `rights.resume_request` job)
    check: Check | None = None  # at receipt: validates the request's parameters, may normalise them
    staff_completes: bool = False  # finished by staff with a note (nothing in Fiduciary to run)
    finish: Callable[[Run], None] | None = None  # completes the request (default: `complete_request`)


READY: Final = "ready"  # in `details`: Fiduciary's part is done, the request waits for its manual steps


def settle(run: Run, outcome: Outcome) -> None:
    """After a handler's work: complete the request, unless it waits (a job, a period) or manual steps are
    still to be confirmed, in which case it completes when the last one is (`confirm_step`)."""
    if outcome is Outcome.WAITING:
        return
    if any(step.confirmed_at is None for step in steps_of(run.uow.session, run.row.id)):
        run.row.details = {**run.row.details, READY: True}
        run.uow.session.flush()
        return
    finish(run)


def finish(run: Run) -> None:
    handler = handler_for(run.row.kind)
    if handler is not None and handler.finish is not None:
        handler.finish(run)
    else:
        complete_request(run.uow, run.row, actor=run.actor, now=run.now)


def calendar_for(runtime: RuntimeContext) -> WorkingCalendar:
    """The policy's working calendar, built once per policy in force (public holidays are costly to load)."""
    policy = runtime.policy()
    return runtime.shared(
        f"rights.calendar.{policy.content_hash}", WorkingCalendar, lambda: working_calendar(policy.document)
    )


# ---------------------------------------------------------------------------------------------- erasure


def _start_erasure(run: Run) -> Outcome:
    """Erasure (DPDP s.12(3), GDPR Art 17, CCPA §1798.105): after the policy's waiting period, if any, during
    which the person may cancel; then every registered eraser."""
    wait = run.right.waiting_period
    if wait is not None and run.row.run_after is None:
        runs_at = due_after(run.now, wait, calendar_for(run.uow.runtime)).ends_at
        run.row.run_after = runs_at
        run.uow.session.flush()
        run.uow.enqueue(
            RESUME_JOB, {"request_id": run.row.id}, run_at=runs_at, queueing_lock=f"{RESUME_JOB}:{run.row.id}"
        )
        tell(run.uow, run.row, "rights.scheduled", {"runs_on": runs_at.date()})
        return Outcome.WAITING
    return _erase_now(run)


def _erase_now(run: Run) -> Outcome:
    """Run every eraser; record what the law keeps, why and until when, for the completion message. The
    address is read first: the erasure destroys it with the person's key."""
    uow, row = run.uow, run.row
    contact = contact_on_file(uow, row.person_id)
    held = held_records(uow.session, row.person_id)
    summary = erase_person(uow.runtime, uow.session, actor=run.actor, person_id=row.person_id)
    kept = [{"what": h.record_type, "count": h.count, "why": h.basis, "until": h.kept_until.isoformat()} for h in held]
    row.details = {**row.details, "kept": kept, "erased": sum(r.deleted + r.changed for r in summary.reports)}
    if contact is not None:
        # Kept for the completion message only, under the outbox key; cleared when the request closes.
        version, sealed = seal(uow.runtime, uow.session, None, row.id, {_CONTACT: "\n".join(contact)})
        row.sealed_key_version, row.sealed = version, sealed[_CONTACT]
    uow.session.flush()
    return Outcome.DONE


def _finish_erasure(run: Run) -> None:
    """Complete an erasure whose erasers ran and whose manual steps are all confirmed: tell the person what
    was kept, why and until when (GDPR Art 12(4) and 17(3); DPDP s.8(7)), then forget their address."""
    uow, row, actor, now = run.uow, run.row, run.actor, run.now
    contact: tuple[str, str] | None = None
    if row.sealed is not None and row.sealed_key_version == 0:
        channel, _, address = open_sealed(uow.runtime, uow.session, None, 0, row.id, _CONTACT, row.sealed).partition(
            "\n"
        )
        contact = (channel, address)
    kept = list(row.details.get("kept", []))
    row.sealed = row.sealed_key_version = None
    uow.session.flush()
    if contact is None:
        complete_request(uow, row, actor=actor, now=now, message="rights.erased", params={"kept": kept})
        return
    complete_request(
        uow,
        row,
        actor=actor,
        now=now,
        message="rights.erased",
        params={"kept": kept},
        to=contact,
        sealed_for_person=False,
    )


# ------------------------------------------------------------------------------------ handled by staff


def _wait_for_staff(run: Run) -> Outcome:
    return Outcome.WAITING


HANDLERS: dict[RightKind, Handler] = {
    RightKind.ERASURE: Handler(start=_start_erasure, resume=_erase_now, finish=_finish_erasure),
    # A grievance is a case (DPDP s.13, Rule 14(3)): staff answer it and complete the request with a note.
    RightKind.GRIEVANCE: Handler(start=_wait_for_staff, staff_completes=True),
}


def register_handler(kind: RightKind, handler: Handler) -> None:
    """Add or replace the handler of `kind` (a domain or an application adding its own)."""
    HANDLERS[kind] = handler


def handler_for(kind: str) -> Handler | None:
    try:
        return HANDLERS.get(RightKind(kind))
    except ValueError:
        return None


def with_details(new: NewRequest, details: Mapping[str, Any]) -> NewRequest:
    return replace(new, details={**new.details, **details})

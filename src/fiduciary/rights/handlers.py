"""What each kind of request does once the person is known: a map from kind to handler.

Each kind's work lives in its own module (`rights.erasure`, …) and is listed here; the vocabulary they
share (`Run`, `Outcome`, `Handler`) is `rights.running`. After a handler's work, `settle` completes the
request unless it waits for a job, a period or its manual steps. Adding a kind of request is one handler
and its tests.
"""

from __future__ import annotations

from typing import Final

from fiduciary.policy.schema import RightKind
from fiduciary.rights.consent_kinds import (
    check_objection,
    check_opt_out,
    check_restriction,
    check_withdrawal,
    start_marketing_opt_out,
    start_objection,
    start_restriction,
    start_sale_sharing_opt_out,
    start_withdrawal,
)
from fiduciary.rights.correction import check_correction, start_correction
from fiduciary.rights.deactivation import finish_deactivation, resume_deactivation, start_deactivation
from fiduciary.rights.erasure import erase_now, finish_erasure, start_erasure
from fiduciary.rights.nomination import check_nomination, start_nomination
from fiduciary.rights.requests import complete_request, steps_of
from fiduciary.rights.running import Handler, Outcome, Run

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


def _wait_for_staff(run: Run) -> Outcome:
    return Outcome.WAITING


HANDLERS: dict[RightKind, Handler] = {
    RightKind.ERASURE: Handler(start=start_erasure, resume=erase_now, finish=finish_erasure),
    # A grievance is a case (DPDP s.13, Rule 14(3)): staff answer it and complete the request with a note.
    RightKind.GRIEVANCE: Handler(start=_wait_for_staff, staff_completes=True),
    RightKind.CORRECTION: Handler(start=start_correction, check=check_correction),
    RightKind.RESTRICTION: Handler(start=start_restriction, check=check_restriction),
    RightKind.OBJECTION: Handler(start=start_objection, check=check_objection),
    RightKind.WITHDRAW_CONSENT: Handler(start=start_withdrawal, check=check_withdrawal),
    RightKind.OPT_OUT_MARKETING: Handler(start=start_marketing_opt_out, check=check_opt_out),
    RightKind.OPT_OUT_SALE_SHARING: Handler(start=start_sale_sharing_opt_out, check=check_opt_out),
    RightKind.DEACTIVATION: Handler(start=start_deactivation, resume=resume_deactivation, finish=finish_deactivation),
    RightKind.NOMINATION: Handler(start=start_nomination, check=check_nomination),
}


def register_handler(kind: RightKind, handler: Handler) -> None:
    """Add or replace the handler of `kind` (an application adding its own)."""
    HANDLERS[kind] = handler


def handler_for(kind: str) -> Handler | None:
    try:
        return HANDLERS.get(RightKind(kind))
    except ValueError:
        return None

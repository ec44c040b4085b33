"""What each kind of request does once the person is known: a map from kind to handler.

Each kind's work lives in its own module (`rights.erasure`, …) and is listed here; the vocabulary they
share (`Run`, `Outcome`, `Handler`) is `rights.running`. After a handler's work, `settle` completes the
request unless it waits for a job, a period or its manual steps. Adding a kind of request is one handler
and its tests.
"""

from __future__ import annotations

from typing import Final

from fiduciary.policy.schema import RightKind
from fiduciary.rights.erasure import erase_now, finish_erasure, start_erasure
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
}


def register_handler(kind: RightKind, handler: Handler) -> None:
    """Add or replace the handler of `kind` (an application adding its own)."""
    HANDLERS[kind] = handler


def handler_for(kind: str) -> Handler | None:
    try:
        return HANDLERS.get(RightKind(kind))
    except ValueError:
        return None

"""What a handler of a kind of request is given and answers: the shared vocabulary of `rights.handlers`
and the modules that implement each kind (`rights.erasure`, …), kept apart so those modules and the map
that lists them do not import each other.

A handler's `start` runs in the transaction that moves the request to in_progress; it calls the domains
through their public surfaces and the registry, and answers DONE (Fiduciary's part is done) or WAITING (a
job or a waiting period finishes it later, through `resume` or a listener). `check` runs at receipt, before
anything is written: a request it refuses leaves no trace but its refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext
from fiduciary.policy.calendar import WorkingCalendar
from fiduciary.policy.duration import Duration
from fiduciary.policy.schema import Right
from fiduciary.rights.models import RightsRequest
from fiduciary.rights.requests import NewRequest, tell
from fiduciary.unit_of_work import UnitOfWork
from fiduciary.workflow.deadlines import due_after, working_calendar

RESUME_JOB: Final = "rights.resume_request"


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


# At receipt, in the caller's session (the person was just read in it), before anything is written.
Check = Callable[[RuntimeContext, Session, NewRequest, Right], NewRequest]


@dataclass(frozen=True)
class Handler:
    start: Callable[[Run], Outcome]
    resume: Callable[[Run], Outcome] | None = None  # after a waiting period (the `rights.resume_request` job)
    check: Check | None = None  # at receipt: validates the request's parameters, may normalise them
    staff_completes: bool = False  # finished by staff with a note (nothing in Fiduciary to run)
    finish: Callable[[Run], None] | None = None  # completes the request (default: `complete_request`)


def calendar_for(runtime: RuntimeContext) -> WorkingCalendar:
    """The policy's working calendar, built once per policy in force (public holidays are costly to load)."""
    policy = runtime.policy()
    return runtime.shared(
        f"rights.calendar.{policy.content_hash}", WorkingCalendar, lambda: working_calendar(policy.document)
    )


def resume_after(run: Run, wait: Duration) -> datetime:
    """Schedule the request's `resume` after `wait` on the policy's calendar (the end of that day); it stays in
    progress, and can be cancelled, until then."""
    runs_at = due_after(run.now, wait, calendar_for(run.uow.runtime)).ends_at
    run.row.run_after = runs_at
    run.uow.session.flush()
    run.uow.enqueue(RESUME_JOB, {"request_id": run.row.id}, run_at=runs_at, queueing_lock=f"{RESUME_JOB}:{run.row.id}")
    return runs_at


def waits_first(run: Run) -> bool:
    """Where the policy sets a waiting period not yet begun (an erasure, a deactivation), schedule the request's
    `resume` after it and tell the person the date; True when the request now waits."""
    wait = run.right.waiting_period
    if wait is None or run.row.run_after is not None:
        return False
    runs_at = resume_after(run, wait)
    tell(run.uow, run.row, "rights.scheduled", {"runs_on": runs_at.date()})
    return True

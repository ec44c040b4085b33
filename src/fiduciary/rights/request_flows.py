"""The named steps of a rights request, each one transaction, called by the API, the CLI and the jobs.

`submit` receives a request (DPDP s.11-14 and Rule 14; GDPR Art 12-22; CCPA §1798.105-130): the kind must be
one the policy offers the person, its due dates are set at receipt on the policy's calendar, the person is
told it arrived, and it goes to an identity check unless the person is already known. Staff then verify a
document, approve, reject, extend, complete and confirm manual steps; the person verifies a code or
cancels. Each step is refused whole or done whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final, Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from fiduciary.codes import safe_slug
from fiduciary.context import RuntimeContext
from fiduciary.decisions.service import check_actor
from fiduciary.errors import Conflict, FieldProblem, ValidationFailed
from fiduciary.identity.codes import TooManyCodes, Verdict, Verification, issue_code, verify_code
from fiduciary.identity.sessions import verified_by_code
from fiduciary.people.service import get_person
from fiduciary.policy.schema import Right, RightKind
from fiduciary.policy.schema import Verification as Check
from fiduciary.rights.access import keep_link
from fiduciary.rights.deadlines import Extension, RequestDeadlines, deadlines_at_receipt, extend, right_for
from fiduciary.rights.erasure import ERASED
from fiduciary.rights.handlers import READY, finish, handler_for, settle
from fiduciary.rights.models import RightsRequest, RightsRequestStep
from fiduciary.rights.packages.job import JOB_ACTOR
from fiduciary.rights.packages.links import PackageLink
from fiduciary.rights.requests import (
    MadeBy,
    NewRequest,
    complete_request,
    contact_on_file,
    get_request,
    identity_at_receipt,
    insert_request,
    move,
    note_or_none,
    steps_of,
    tell,
)
from fiduciary.rights.running import Outcome, Run, calendar_for
from fiduciary.rights.states import State, Transition, after_identity
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import UnitOfWork, unit_of_work
from fiduciary.workflow.deadlines import Due

CODE_PURPOSE: Final = "rights.request"
STAFF_VERIFICATIONS: Final = frozenset({Check.DOCUMENT, Check.DATA_POINTS_2, Check.DATA_POINTS_3_DECLARATION})
CloseReason = Literal["duplicate", "never_verified", "withdrawn_by_person", "unfounded", "excessive"]
CLOSE_REASONS: Final = frozenset(get_args(CloseReason))


def _right_of(runtime: RuntimeContext, row: RightsRequest) -> Right:
    policy = runtime.policy()
    return right_for(policy.document, row.kind, policy.residence(row.jurisdiction))


def _run(uow: UnitOfWork, row: RightsRequest, actor: str, now: datetime) -> Run:
    return Run(uow, row, _right_of(uow.runtime, row), actor, now)


def _begin(uow: UnitOfWork, row: RightsRequest, actor: str, now: datetime) -> None:
    """The request is in progress: its handler starts now, in this transaction."""
    handler = handler_for(row.kind)
    if handler is None:  # submit refuses kinds without a handler; a policy change cannot add one
        raise Conflict("No handler runs this kind of request.", code="request_kind_unhandled")
    run = _run(uow, row, actor, now)
    settle(run, handler.start(run))


def _identified(uow: UnitOfWork, row: RightsRequest, right: Right, how: str, actor: str, now: datetime) -> None:
    to_state = after_identity(right.staff_approval)
    move(
        uow,
        row,
        Transition.VERIFY,
        to=to_state,
        actor=actor,
        reason=how,
        now=now,
        values={"verified_by": how, "verified_at": now, "challenge_id": None},
    )
    if to_state is State.IN_PROGRESS:
        _begin(uow, row, actor, now)


# ----------------------------------------------------------------------------------------------- submit


def _check_new(runtime: RuntimeContext, session: Session, new: NewRequest, right: Right) -> NewRequest:
    problems: list[FieldProblem] = []
    if new.channel not in {c.value for c in right.channels} and new.made_by is not MadeBy.PERSON:
        offered = ", ".join(c.value for c in right.channels)
        problems.append(FieldProblem("channel", f"the policy takes this request through: {offered}"))
    if new.made_by is MadeBy.AGENT and not right.authorised_agents:
        problems.append(FieldProblem("made_by", "the policy takes this request from no authorised agent"))
    if new.made_by in (MadeBy.AGENT, MadeBy.NOMINEE) and not new.personal.get("proof_reference"):
        # CCPA 11 CCR §7063(a): the agent's signed permission; DPDP s.14: the nominee's authority.
        problems.append(FieldProblem("proof_reference", "an agent or a nominee gives the reference of their proof"))
    if problems:
        raise ValidationFailed("The request cannot be made this way.", problems)
    handler = handler_for(right.kind.value)
    if handler is None:
        raise ValidationFailed(
            "This kind of request is not handled here.", [FieldProblem("kind", "no handler runs it")]
        )
    return handler.check(runtime, session, new, right) if handler.check is not None else new


def send_code(
    uow: UnitOfWork, person_id: str, right: Right, *, client_address: str, language: str | None, now: datetime
) -> str | None:
    """A code to the person's email (or phone) on file, if the policy verifies this way: its challenge id.

    Call it before writing anything else in the session: its rate limits are charged in a transaction of
    their own (`fiduciary.storage.ratelimit`), which on SQLite waits for the session's writer lock.
    """
    allowed = {v.value for v in right.verification}
    contact = contact_on_file(uow, person_id)
    if contact is None:
        return None
    channel, address = contact
    kind = "email" if channel == "email" else "phone"
    if {"email": "email_otp", "phone": "sms_otp"}[kind] not in allowed:
        return None
    try:
        issued = issue_code(
            uow.runtime,
            uow.session,
            kind=kind,
            identifier=address,
            client_address=client_address,
            purpose=CODE_PURPOSE,
            language=language,
            now=now,
        )
    except TooManyCodes:
        return None  # the request waits; the person asks again later (`resend_code`)
    return issued.challenge_id


def submit(
    runtime: RuntimeContext,
    session: Session,
    new: NewRequest,
    *,
    actor: str,
    client_address: str = "store",
    now: datetime | None = None,
) -> RightsRequest:
    """Receive a request; it is verified and started at once when the person is already known."""
    check_actor(actor)
    now = now or utcnow()
    uow = unit_of_work(runtime, session)
    with uow.step():
        policy = runtime.policy()
        try:
            RightKind(new.kind)
        except ValueError:
            offered = ", ".join(sorted(r.kind.value for r in policy.document.rights))
            raise ValidationFailed(
                "Unknown kind of request.", [FieldProblem("kind", f"the policy offers: {offered}")]
            ) from None
        person = get_person(session, new.person_id)
        jurisdiction = policy.residence(person.jurisdiction)
        right = right_for(policy.document, new.kind, jurisdiction)
        new = _check_new(runtime, session, new, right)
        deadlines = deadlines_at_receipt(policy.document, new.kind, jurisdiction, now, working=calendar_for(runtime))
        how = identity_at_receipt(right, new)
        challenge = None
        if how is None and new.made_by in (MadeBy.STORE, MadeBy.PERSON):
            challenge = send_code(
                uow, new.person_id, right, client_address=client_address, language=new.language, now=now
            )
        row = insert_request(uow, new, right, deadlines, actor=actor, now=now)
        tell(uow, row, "rights.received", {"due_on": row.due_on})
        if how is None:
            # Wait for the person to prove who they are: the code just sent, else staff check a document or
            # data points (CCPA 11 CCR §7062; an agent's or nominee's proof, §7063 and DPDP s.14).
            move(
                uow,
                row,
                Transition.ASK_IDENTITY,
                actor=actor,
                now=now,
                values={"challenge_id": challenge},
            )
        else:
            _identified(uow, row, right, how, actor, now)
    return row


# ------------------------------------------------------------------------------------- identity checks


def verify_with_code(
    runtime: RuntimeContext, session: Session, request_id: str, code: str, *, now: datetime | None = None
) -> tuple[RightsRequest | None, Verification]:
    """The person's code for a request waiting for its identity check. The attempt counts (and locks after
    5) whatever happens next: `verify_code` commits it first."""
    now = now or utcnow()
    row = get_request(session, request_id)
    if row.state != State.IDENTITY_CHECK or row.challenge_id is None:
        raise Conflict(
            "This request is not waiting for a code.",
            code="request_not_awaiting_code",
            # the same words whatever the state: this answers a caller who has proved nothing yet
            fields=[FieldProblem("request_id", "no code is awaited for this request")],
        )
    challenge = row.challenge_id
    verification = verify_code(runtime, session, challenge, code, now=now)
    if verification.verdict is not Verdict.OK or verification.person_id != row.person_id:
        return None, verification
    uow = unit_of_work(runtime, session)
    with uow.step():
        row = get_request(session, request_id, for_update=True)
        how = verified_by_code(session, challenge).value
        _identified(uow, row, _right_of(runtime, row), how, "person", now)
    return row, verification


def resend_code(
    runtime: RuntimeContext, session: Session, request_id: str, *, client_address: str, now: datetime | None = None
) -> RightsRequest:
    """A new code for a request waiting for its identity check (the person lost or let the first expire)."""
    now = now or utcnow()
    uow = unit_of_work(runtime, session)
    with uow.step():
        row = get_request(session, request_id)
        if row.state != State.IDENTITY_CHECK:
            raise Conflict("This request is not waiting for a code.", code="request_not_awaiting_code")
        challenge = send_code(
            uow, row.person_id, _right_of(runtime, row), client_address=client_address, language=row.language, now=now
        )
        if challenge is not None:
            row.challenge_id = challenge
            session.flush()
    return row


def staff_verify(
    runtime: RuntimeContext, session: Session, request_id: str, *, actor: str, method: str, now: datetime | None = None
) -> RightsRequest:
    """Staff checked a document, data points or an agent's or nominee's proof (11 CCR §7062-7063; DPDP s.14)."""
    check_actor(actor)
    now = now or utcnow()
    uow = unit_of_work(runtime, session)
    with uow.step():
        row = get_request(session, request_id)
        right = _right_of(runtime, row)
        allowed = {v.value for v in right.verification if v in STAFF_VERIFICATIONS}
        if row.made_by in (MadeBy.AGENT, MadeBy.NOMINEE):
            allowed.add(Check.DOCUMENT.value)  # their proof is a document staff check
        if method not in allowed:
            hint = ", ".join(sorted(allowed)) or "none: the person verifies with a code or a session"
            raise ValidationFailed("Not a check staff can make here.", [FieldProblem("method", f"one of: {hint}")])
        _identified(uow, row, right, method, actor, now)
    return row


# ----------------------------------------------------------------------------------------- staff steps


def approve(
    runtime: RuntimeContext, session: Session, request_id: str, *, actor: str, now: datetime | None = None
) -> RightsRequest:
    check_actor(actor)
    now = now or utcnow()
    uow = unit_of_work(runtime, session)
    with uow.step():
        row = get_request(session, request_id)
        move(uow, row, Transition.APPROVE, actor=actor, now=now)
        _begin(uow, row, actor, now)
    return row


_CLOSING: Final = {
    State.REJECTED: (Transition.REJECT, "rights.rejected"),
    State.CANCELLED: (Transition.CANCEL, "rights.cancelled"),
}


def _close(
    uow: UnitOfWork,
    row: RightsRequest,
    to_state: State,
    *,
    code: str,
    note: str | None,
    actor: str,
    now: datetime,
    notify: bool = True,
) -> None:
    """Reject or cancel with a reason code (audited) and the note for the person (kept, sent, never logged)."""
    transition, message = _CLOSING[to_state]
    move(
        uow,
        row,
        transition,
        actor=actor,
        reason=code,
        now=now,
        values={"outcome_reason": code, "outcome_note": note},
    )
    if notify:
        tell(uow, row, message, {"reason": note} if to_state is State.REJECTED else {})


def _refuse_if_running(row: RightsRequest, now: datetime, detail: str, field_name: str = "request_id") -> None:
    """In progress, only an erasure or deactivation still in its waiting period may be cancelled."""
    if row.state == State.IN_PROGRESS and not _cancellable(row, now):
        raise Conflict(detail, code="request_not_cancellable", fields=[FieldProblem(field_name, "is in progress")])


def _reason_code(reason: object, field_name: str = "reason") -> str:
    code = safe_slug(reason)
    if code is None:
        raise ValidationFailed("The reason must be a code.", [FieldProblem(field_name, "e.g. duplicate, unfounded")])
    return code


def reject(
    runtime: RuntimeContext,
    session: Session,
    request_id: str,
    *,
    actor: str,
    reason: str,
    note: str,
    now: datetime | None = None,
) -> RightsRequest:
    """Refuse with a reason the person is told (GDPR Art 12(4); CCPA §1798.130; DPDP Rule 14)."""
    check_actor(actor)
    code, text = _reason_code(reason), note_or_none(note)
    now = now or utcnow()
    uow = unit_of_work(runtime, session)
    with uow.step():
        row = get_request(session, request_id)
        _close(uow, row, State.REJECTED, code=code, note=text, actor=actor, now=now)
    return row


def cancel(
    runtime: RuntimeContext,
    session: Session,
    request_id: str,
    *,
    actor: str,
    reason: str = "withdrawn_by_person",
    note: str | None = None,
    now: datetime | None = None,
) -> RightsRequest:
    """Cancel an open request; an erasure waiting out its period can be cancelled until it runs."""
    check_actor(actor)
    code, text = _reason_code(reason), note_or_none(note)
    now = now or utcnow()
    uow = unit_of_work(runtime, session)
    with uow.step():
        row = get_request(session, request_id)
        _refuse_if_running(row, now, "The request is already running and can no longer be cancelled.")
        _close(uow, row, State.CANCELLED, code=code, note=text, actor=actor, now=now)
    return row


def _cancellable(row: RightsRequest, now: datetime) -> bool:
    """In progress, only an erasure or deactivation still in its waiting period."""
    return row.run_after is not None and now < row.run_after and ERASED not in row.details


def _deadlines_of(runtime: RuntimeContext, row: RightsRequest) -> RequestDeadlines:
    working = calendar_for(runtime)
    right = _right_of(runtime, row)
    jurisdiction = runtime.policy().residence(row.jurisdiction)

    def due(moment: datetime) -> Due:
        return Due((moment.astimezone(working.zone) - timedelta(microseconds=1)).date(), moment)

    extension = None
    if row.extended_at is not None:
        extension = Extension(due(row.due_at), row.extension_reason or "", row.extended_at)
    return RequestDeadlines(
        kind=right.kind,
        jurisdiction=jurisdiction,
        received_at=row.received_at.astimezone(working.zone),
        deadline=right.deadline_for(jurisdiction) if jurisdiction is not None else right.deadline,
        respond_by=due(row.respond_by),
        acknowledge_by=due(row.acknowledge_by) if row.acknowledge_by else None,
        extension_limit=due(row.extension_limit) if row.extension_limit else None,
        working=working,
        extension=extension,
    )


def extend_request(
    runtime: RuntimeContext,
    session: Session,
    request_id: str,
    *,
    actor: str,
    until: date,
    reason: str,
    now: datetime | None = None,
) -> RightsRequest:
    """Extend once, within the policy's `extendable_by`, before the first deadline, the reason sent to the
    person (GDPR Art 12(3); CCPA §1798.130(a)(2)(A); 11 CCR §7021(b))."""
    check_actor(actor)
    now = now or utcnow()
    uow = unit_of_work(runtime, session)
    with uow.step():
        row = get_request(session, request_id)
        extended = extend(_deadlines_of(runtime, row), until=until, reason=reason, at=now)
        assert extended.extension is not None
        move(
            uow,
            row,
            Transition.EXTEND,
            actor=actor,
            now=now,
            values={
                "due_at": extended.due.ends_at,
                "due_on": extended.due.day,
                "extended_at": now,
                "extension_reason": extended.extension.reason,
                "overdue_flagged_at": None,
            },
        )
        tell(uow, row, "rights.extended", {"due_on": row.due_on, "reason": extended.extension.reason})
    return row


def complete_by_staff(
    runtime: RuntimeContext,
    session: Session,
    request_id: str,
    *,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> RightsRequest:
    """Staff close a request only they can finish (a grievance); a request Fiduciary runs completes itself."""
    check_actor(actor)
    text = note_or_none(note)
    now = now or utcnow()
    uow = unit_of_work(runtime, session)
    with uow.step():
        row = get_request(session, request_id)
        handler = handler_for(row.kind)
        if handler is None or not handler.staff_completes:
            raise Conflict(
                "This request completes by itself when its work is done.",
                code="request_completes_itself",
                fields=[FieldProblem("request_id", f"a {row.kind} request is run by Fiduciary")],
            )
        row.outcome_note = text
        complete_request(uow, row, actor=actor, now=now, params={})
    return row


def confirm_step(
    runtime: RuntimeContext,
    session: Session,
    request_id: str,
    position: int,
    *,
    actor: str,
    now: datetime | None = None,
) -> RightsRequest:
    """Staff confirm one manual step (who and when kept as proof); the last one completes the request."""
    check_actor(actor)
    now = now or utcnow()
    uow = unit_of_work(runtime, session)
    with uow.step():
        row = get_request(session, request_id)
        if row.state != State.IN_PROGRESS:
            raise Conflict(
                "Steps are confirmed while the request is in progress.",
                code="request_state_conflict",
                fields=[FieldProblem("state", f"is {row.state}")],
            )
        step = session.scalars(
            select(RightsRequestStep).where(
                RightsRequestStep.request_id == row.id, RightsRequestStep.position == position
            )
        ).first()
        if step is None:
            raise ValidationFailed("No such step.", [FieldProblem("position", "not a step of this request")])
        if step.confirmed_at is not None:
            raise Conflict("This step was already confirmed.", code="step_already_confirmed")
        step.confirmed_by, step.confirmed_at = actor, now
        move(uow, row, Transition.CONFIRM_STEP, actor=actor, reason=f"step_{position}", now=now)
        if row.details.get(READY) and all(s.confirmed_at is not None for s in steps_of(session, row.id)):
            finish(_run(uow, row, actor, now))
    return row


@dataclass(frozen=True)
class CloseItem:
    request_id: str
    reason: str  # duplicate | never_verified | … (CLOSE_REASONS)
    note: str | None = None


def close_many(
    runtime: RuntimeContext, session: Session, items: Sequence[CloseItem], *, actor: str, now: datetime | None = None
) -> list[RightsRequest]:
    """Close duplicates and never-verified requests in bulk, each with its reason, all or none: one bad item
    refuses the whole batch naming it (`items[i]`), so a staff member never half-closes a list."""
    check_actor(actor)
    now = now or utcnow()
    problems = [
        FieldProblem(f"items[{i}].reason", "one of: " + ", ".join(sorted(CLOSE_REASONS)))
        for i, item in enumerate(items)
        if item.reason not in CLOSE_REASONS
    ]
    if not items or len(items) > 500:
        problems.append(FieldProblem("items", "1 to 500 requests"))
    if len({item.request_id for item in items}) != len(items):
        problems.append(FieldProblem("items", "a request is listed twice"))
    if problems:
        raise ValidationFailed("The requests were not closed.", problems)
    uow = unit_of_work(runtime, session)
    closed: list[RightsRequest] = []
    with uow.step():
        for i, item in enumerate(items):
            row = get_request(session, item.request_id)
            to_state = State.REJECTED if item.reason in ("unfounded", "excessive") else State.CANCELLED
            _refuse_if_running(row, now, "A request in the list is already running.", f"items[{i}].request_id")
            text = note_or_none(item.note, f"items[{i}].note")
            # never verified: nobody proved they own the address, so nothing is sent to it
            _close(
                uow,
                row,
                to_state,
                code=item.reason,
                note=text,
                actor=actor,
                now=now,
                notify=item.reason != "never_verified",
            )
            closed.append(row)
    return closed


def resume(runtime: RuntimeContext, session: Session, request_id: str, *, now: datetime | None = None) -> bool:
    """Run a request whose waiting period ended (the `rights.resume_request` job); False if it was cancelled
    or has already run. Idempotent: a second run finds it changed."""
    now = now or utcnow()
    uow = unit_of_work(runtime, session)
    with uow.step():
        row = get_request(session, request_id)
        handler = handler_for(row.kind)
        if row.state != State.IN_PROGRESS or row.run_after is None or now < row.run_after or handler is None:
            return False
        if handler.resume is None or row.details.get(READY) or row.details.get(ERASED) is not None:
            return False
        run = _run(uow, row, "fiduciary", now)
        settle(run, handler.resume(run))
    return True


def package_ready(runtime: RuntimeContext, session: Session, request_id: str, link: PackageLink) -> None:
    """The job `rights.build_package` built the package of an access or portability request: complete it and
    send the link, in the job's transaction (a listener of `rights.packages`). A request cancelled or closed
    meanwhile is left as it is; its package expires unused. A package built for no request (an operator's) is
    no concern of this listener."""
    uow = unit_of_work(runtime, session)
    row = session.get(RightsRequest, request_id)
    access_kinds = (RightKind.ACCESS.value, RightKind.PORTABILITY.value)
    if row is None or row.state != State.IN_PROGRESS or row.kind not in access_kinds:
        return
    run = _run(uow, row, JOB_ACTOR, utcnow())
    keep_link(run, link, runtime.public_base_url.rstrip("/") + link.url_path)
    settle(run, Outcome.DONE)

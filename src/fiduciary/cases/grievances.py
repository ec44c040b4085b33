"""Grievances (issue 16 item 1): a complaint about how the store handles personal data, from the API, the
privacy center's complaint form or the store's grievance mailbox, answered within the policy's periods.

The person is told through the outbox in their language, in the transaction of the change: the
acknowledgement when the complaint arrives (IT Rules 2021 Rule 3(2)(a)(i): within 24 hours for an
intermediary; the policy's `cases.grievance.acknowledge_within`), each reply staff write, and the closure,
which names the authority the policy lists and how to complain to it (DPDP s.13(3): the Data Protection
Board, after the store's own grievance route). The complaint, notes and replies are redacted
(`vault.redaction`: card, Aadhaar, PAN, bank and phone numbers become `[CARD_NUMBER]`, …) before they are
sealed under the case key, so staff views never show such a number and nothing stores it; the text is never
logged or audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from fiduciary.cases.clocks import clocks_of
from fiduciary.cases.grievance_kind import KIND, RECEIVED
from fiduciary.cases.models import Case, CaseNote
from fiduciary.cases.notes import clean_text, write_note
from fiduciary.cases.workflow import NewCase, add_note, assign, case_values, get_case, move, open_case
from fiduciary.comms.outbox import send
from fiduciary.context import RuntimeContext
from fiduciary.errors import Conflict, FieldProblem, ValidationFailed
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.rights.requests import contact_on_file
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import UnitOfWork, unit_of_work

CHANNELS: Final = ("api", "privacy_center", "email")
LANGUAGES: Final = ("en", "hi")
SYSTEM_ACTOR: Final = "fiduciary"


@dataclass(frozen=True)
class GrievanceIntake:
    """A complaint as received: by a person on file (`person_id`) or by someone who is not a customer
    (`contact_email`), or both (the contact given wins for the answers)."""

    text: str
    channel: str
    person_id: str | None = None
    contact_email: str | None = None
    language: str | None = None


def _check_intake(intake: GrievanceIntake) -> str | None:
    problems: list[FieldProblem] = []
    contact: str | None = None
    if intake.channel not in CHANNELS:
        problems.append(FieldProblem("channel", "one of: " + ", ".join(CHANNELS)))
    if intake.language is not None and intake.language not in LANGUAGES:
        problems.append(FieldProblem("language", "one of: " + ", ".join(LANGUAGES)))
    if intake.contact_email is not None:
        try:
            contact = str(validate_email(intake.contact_email, check_deliverability=False).normalized)
        except EmailNotValidError:
            problems.append(FieldProblem("contact_email", "not an e-mail address"))
    elif intake.person_id is None:
        problems.append(FieldProblem("person_id", "give person_id, or contact_email for someone not on file"))
    if problems:
        raise ValidationFailed("The complaint is not valid.", problems)
    return contact


def file_grievance(
    runtime: RuntimeContext, session: Session, intake: GrievanceIntake, *, actor: str, now: datetime | None = None
) -> Case:
    """Open a grievance case and acknowledge it at once through the outbox when there is someone to write
    to (else its acknowledge clock runs until staff acknowledge it). The caller commits."""
    now = now or utcnow()
    uow = unit_of_work(runtime, session)
    with uow.step():
        contact = _check_intake(intake)
        text, masked = clean_text(runtime.policy(), intake.text)
        personal: dict[str, Any] = {"text": text, **({"contact_email": contact} if contact else {})}
        new = NewCase(
            kind=KIND,
            channel=intake.channel,
            person_id=intake.person_id,
            language=intake.language,
            details={"masked": masked} if masked else {},
            personal=personal,
        )
        case = open_case(uow, new, actor=actor, now=now)
        if _contact(uow, case) is not None:
            _acknowledge(uow, case, actor=SYSTEM_ACTOR, now=now)
    return case


def _contact(uow: UnitOfWork, case: Case) -> tuple[str, str] | None:
    given = case_values(uow, case).get("contact_email")
    if isinstance(given, str):
        return "email", given
    return contact_on_file(uow, case.person_id) if case.person_id is not None else None


def answerable(uow: UnitOfWork, case: Case) -> bool:
    """Whether there is someone to write to (the address itself is never shown)."""
    return _contact(uow, case) is not None


def _tell(uow: UnitOfWork, case: Case, message: str, params: dict[str, Any], cause: str) -> None:
    contact = _contact(uow, case)
    if contact is None:
        raise Conflict("Nobody to write to: the case has no contact on file.", code="no_contact")
    channel, address = contact
    send(
        uow,
        kind=message,
        channel=channel,
        to=address,
        params={"reference": case.id, **params},
        idempotency_key=f"{message}:{case.id}:{cause}",
        person_id=case.person_id,
        language=case.language,
    )


def _acknowledge(uow: UnitOfWork, case: Case, *, actor: str, now: datetime) -> None:
    resolve = next(c for c in clocks_of(uow.session, case.id) if c.name == "resolve")
    _tell(uow, case, "cases.grievance.acknowledged", {"due_on": resolve.due_on}, "ack")
    move(uow, case, "acknowledge", actor=actor, now=now)


def acknowledge(runtime: RuntimeContext, session: Session, case_id: str, *, actor: str) -> Case:
    """Staff acknowledge a complaint that came with nobody to write to (the clock is met all the same)."""
    uow = unit_of_work(runtime, session)
    with uow.step():
        case = get_case(session, case_id, kind=KIND)
        if case.state == RECEIVED and _contact(uow, case) is not None:
            _acknowledge(uow, case, actor=actor, now=utcnow())
        else:
            move(uow, case, "acknowledge", actor=actor)
    return case


def assign_grievance(
    runtime: RuntimeContext, session: Session, case_id: str, assignee: str | None, *, actor: str
) -> Case:
    uow = unit_of_work(runtime, session)
    with uow.step():
        case = assign(uow, get_case(session, case_id, kind=KIND), assignee, actor=actor)
    return case


def _note(runtime: RuntimeContext, session: Session, case_id: str, text: object, actor: str, kind: str) -> CaseNote:
    uow = unit_of_work(runtime, session)
    with uow.step():
        case = get_case(session, case_id, kind=KIND)
        note, cleaned = write_note(uow, case, text, actor=actor, kind=kind)
        if kind == "reply":
            _tell(uow, case, "cases.grievance.reply", {"text": cleaned}, note.id)
    return note


def add_internal_note(runtime: RuntimeContext, session: Session, case_id: str, text: object, *, actor: str) -> CaseNote:
    """A note for staff only: redacted, sealed, audited as `case.grievance.noted`, never sent."""
    return _note(runtime, session, case_id, text, actor, "internal")


def reply(runtime: RuntimeContext, session: Session, case_id: str, text: object, *, actor: str) -> CaseNote:
    """A reply to the person: kept as a note and sent through the outbox in the same transaction."""
    return _note(runtime, session, case_id, text, actor, "reply")


def authorities_line(policy: CompiledPolicy) -> str:
    """The authorities the policy lists, one per line, with where to complain (DPDP s.13(3), GDPR Art 77)."""
    return "\n".join(
        f"{a.name} ({a.jurisdiction.value})" + (f": {a.url}" if a.url else "")
        for a in policy.document.contacts.authorities
    )


def close(
    runtime: RuntimeContext, session: Session, case_id: str, *, reason: object, text: object = None, actor: str
) -> Case:
    """Close with an outcome code; the person is told the outcome, staff's words if given, and the
    authority they may complain to (DPDP s.13(3)). Refused without a reason (422 naming `reason`)."""
    uow = unit_of_work(runtime, session)
    with uow.step():
        case = get_case(session, case_id, kind=KIND)
        cleaned = clean_text(runtime.policy(), text)[0] if text is not None else ""
        if cleaned:  # staff's words to the person are kept with the case, as a reply
            add_note(uow, case, author=actor, kind="reply", values={"text": cleaned})
        move(uow, case, "close", actor=actor, reason=reason if isinstance(reason, str) else None)
        params = {"outcome": case.outcome_reason, "text": cleaned, "authorities": authorities_line(runtime.policy())}
        if _contact(uow, case) is not None:
            _tell(uow, case, "cases.grievance.closed", params, "closed")
    return case

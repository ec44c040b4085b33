"""Rights requests as records: receipt, transitions, messages to the person, reads. The flows that move a
request (`rights.request_flows`) and the work each kind does (`rights.handlers`) build on these.

Every transition is one conditional UPDATE on the request's `version`: of two concurrent transitions of
one request exactly one wins, the other gets a 409 and changes nothing. Each writes one history row and
one audit event (`request.<transition>`, the request id as target) through the unit of work, and the
messages it causes go through the outbox in the same transaction (DPDP Rule 9: each carries the grievance
contact; the outbox adds it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from fiduciary.audit.service import AuditEvent
from fiduciary.comms.outbox import send
from fiduciary.errors import FieldProblem, NotFound, ValidationFailed
from fiduciary.people.service import get_person, new_id
from fiduciary.personal_data.contacts import report_contact
from fiduciary.policy.schema import Right, RightKind, Verification
from fiduciary.rights.deadlines import RequestDeadlines
from fiduciary.rights.models import REQUESTS_TABLE, RightsRequest, RightsRequestEvent, RightsRequestStep
from fiduciary.rights.states import REQUEST_LIFECYCLE, State, Transition
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import UnitOfWork
from fiduciary.vault.keys.data_keys import PersonErased, cipher_for_read, cipher_for_write
from fiduciary.vault.keys.startup import check_vault_keys
from fiduciary.vault.service import VaultService
from fiduciary.workflow.versioned import advance

REQUEST_ID_PREFIX: Final = "rr"
REQUEST_ID_PATTERN: Final = r"^rr_[a-z2-7]{26}$"  # `new_id("rr")`: the API states the same pattern
_REQUEST_ID: Final = re.compile(REQUEST_ID_PATTERN)
SEAL_CATEGORY: Final = "rights.request"
MAX_NOTE: Final = 500
CHANNEL_FOR_IDENTIFIER: Final = {"email": "email", "phone": "sms"}


class MadeBy(StrEnum):
    PERSON = "person"  # the person, through a customer session
    STORE = "store"  # the store's backend, on the person's behalf (an email to support, a form)
    AGENT = "agent"  # an authorised agent (CCPA §1798.135(e), 11 CCR §7063)
    NOMINEE = "nominee"  # a nominee acting on death or incapacity (DPDP s.14)


@dataclass(frozen=True)
class NewRequest:
    """What a request asks for. `personal` holds what must be sealed (corrected values, a nominee's
    contact, an agent's proof reference); `details` only policy codes."""

    kind: str
    person_id: str
    made_by: MadeBy
    channel: str
    verified_by: str | None = None  # a check already passed: signed_in_session, email_otp, sms_otp
    details: Mapping[str, Any] = field(default_factory=dict)
    personal: Mapping[str, Any] = field(default_factory=dict)
    language: str | None = None


def check_request_id(request_id: object, field_name: str = "request_id") -> str:
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        raise ValidationFailed(
            "Malformed request id.", [FieldProblem(field_name, "'rr_' followed by 26 characters a-z or 2-7")]
        )
    return request_id


def get_request(session: Session, request_id: object, *, for_update: bool = False) -> RightsRequest:
    checked = check_request_id(request_id)
    found = session.get(RightsRequest, checked, populate_existing=for_update)
    if found is None:
        raise NotFound("No request has this id.", code="request_not_found")
    return found


# ------------------------------------------------------------------------------------------- sealing


def seal_personal(uow: UnitOfWork, person_id: str, request_id: str, values: Mapping[str, Any]) -> tuple[int, bytes]:
    cipher = cipher_for_write(check_vault_keys(uow.runtime), uow.session, person_id)
    return cipher.key_version, cipher.encrypt(SEAL_CATEGORY, json.dumps(dict(values)), request_id)


def open_personal(uow: UnitOfWork, row: RightsRequest) -> dict[str, Any]:
    """The request's sealed values; {} when none, or when the person's key is gone (erased)."""
    if row.sealed is None or row.sealed_key_version is None:
        return {}
    try:
        cipher = cipher_for_read(check_vault_keys(uow.runtime), uow.session, row.person_id)
        if cipher is None:
            return {}
        opened: dict[str, Any] = json.loads(cipher.decrypt(SEAL_CATEGORY, row.sealed, row.id, row.sealed_key_version))
    except PersonErased:
        return {}
    return opened


# ---------------------------------------------------------------------------------------------- receipt


def insert_request(
    uow: UnitOfWork, new: NewRequest, right: Right, deadlines: RequestDeadlines, *, actor: str, now: datetime
) -> RightsRequest:
    """The request row as received, with its due dates, one history row and the `request.received` event."""
    get_person(uow.session, new.person_id)
    request_id = new_id(REQUEST_ID_PREFIX)
    row = RightsRequest(
        id=request_id,
        kind=right.kind.value,
        person_id=new.person_id,
        jurisdiction=deadlines.jurisdiction.value if deadlines.jurisdiction is not None else None,
        state=State.RECEIVED.value,
        made_by=new.made_by.value,
        channel=new.channel,
        actor=actor,
        language=new.language,
        details=dict(new.details),
        received_at=now,
        acknowledge_by=deadlines.acknowledge_by.ends_at if deadlines.acknowledge_by is not None else None,
        due_at=deadlines.due.ends_at,
        due_on=deadlines.due.day,
        respond_by=deadlines.respond_by.ends_at,
        extension_limit=deadlines.extension_limit.ends_at if deadlines.extension_limit is not None else None,
        version=1,
        updated_at=now,
    )
    if new.personal:
        row.sealed_key_version, row.sealed = seal_personal(uow, new.person_id, request_id, new.personal)
    uow.session.add(row)
    for position, step in enumerate(right.manual_steps):
        uow.session.add(
            RightsRequestStep(request_id=request_id, position=position, system=step.system, action=step.action)
        )
    _history(uow, row, "received", None, State.RECEIVED, actor, None, now)
    uow.session.flush()
    report_contact(uow.session, new.person_id, now, new.language)  # exercising a right is a contact (s.8(8))
    return row


def identity_at_receipt(right: Right, new: NewRequest) -> str | None:
    """The verification a request has passed when it arrives, or None: it waits for an identity check.

    Opt-outs and withdrawals the policy offers without verification pass at once (CCPA §7026(d): no
    verification for an opt-out). An agent or a nominee never does: staff check their proof first
    (11 CCR §7063; DPDP s.14, Rule 14(1)). Otherwise the check already passed must be one the policy lists.
    """
    if new.made_by in (MadeBy.AGENT, MadeBy.NOMINEE):
        return None
    if Verification.NONE in right.verification:
        return Verification.NONE.value
    if new.verified_by is not None and new.verified_by in {v.value for v in right.verification}:
        return new.verified_by
    return None


# ------------------------------------------------------------------------------------------ transitions


def _history(
    uow: UnitOfWork,
    row: RightsRequest,
    action: str,
    from_state: State | None,
    to_state: State,
    actor: str,
    reason: str | None,
    now: datetime,
) -> None:
    uow.session.add(
        RightsRequestEvent(
            request_id=row.id,
            at=now,
            action=action,
            from_state=from_state.value if from_state is not None else None,
            to_state=to_state.value,
            actor=actor,
            reason=reason,
        )
    )
    uow.audit(
        AuditEvent(
            actor=actor,
            action=f"request.{action}",
            person_id=row.person_id,
            target=row.id,
            reasons=[reason] if reason else [row.kind],
        )
    )


def move(
    uow: UnitOfWork,
    row: RightsRequest,
    transition: Transition,
    *,
    to: State | None = None,
    actor: str,
    reason: str | None = None,
    now: datetime | None = None,
    values: Mapping[str, Any] | None = None,
) -> RightsRequest:
    """Apply one transition of the request lifecycle (`to`: one of its other targets): checked against the
    state machine (409 `request_state_conflict`), then written only if nobody moved the request since it was
    read (its version), else 409 `request_changed` and nothing changes."""
    now = now or utcnow()
    current = State(row.state)
    _, target = REQUEST_LIFECYCLE.check(transition.value, current, to)
    changes: dict[str, Any] = {"state": target}
    if not REQUEST_LIFECYCLE.is_open(target):
        changes["closed_at"] = now
    changes.update(values or {})
    advance(uow.session, REQUESTS_TABLE, row, REQUEST_LIFECYCLE, changes, now, id_field="request_id")
    _history(uow, row, transition.value, current, State(target), actor, reason, now)
    return row


def note_or_none(note: str | None, field_name: str = "note") -> str | None:
    """A free-text reason for the person: kept on the request and sent to them, never logged or audited."""
    if note is None:
        return None
    if not isinstance(note, str) or not note.strip() or len(note) > MAX_NOTE:
        raise ValidationFailed("Bad reason.", [FieldProblem(field_name, f"1 to {MAX_NOTE} characters")])
    return note.strip()


# --------------------------------------------------------------------------------------------- messages


def contact_on_file(uow: UnitOfWork, person_id: str) -> tuple[str, str] | None:
    """(channel, address) to write to: the person's email on file, else their phone; None when neither."""
    try:
        identifiers = VaultService(uow.runtime).get_identifiers(uow.session, person_id)
    except PersonErased:
        return None
    by_kind = {kind: value for kind, value in identifiers}
    for kind in ("email", "phone"):
        if kind in by_kind:
            return CHANNEL_FOR_IDENTIFIER[kind], by_kind[kind]
    return None


def tell(
    uow: UnitOfWork,
    row: RightsRequest,
    message: str,
    params: Mapping[str, Any],
    *,
    to: tuple[str, str] | None = None,
    sealed_for_person: bool = True,
) -> bool:
    """Queue `message` to the person in this transaction; False when there is nobody to write to.

    `to` and `sealed_for_person=False` are for the message that follows an erasure: the address is read
    before the erasers run, and the message is sealed under the outbox key, the person's being destroyed.
    """
    contact = to or contact_on_file(uow, row.person_id)
    if contact is None:
        return False
    channel, address = contact
    send(
        uow,
        kind=message,
        channel=channel,
        to=address,
        params={"reference": row.id, **params},
        idempotency_key=f"{message}:{row.id}:{row.version}",
        person_id=row.person_id if sealed_for_person else None,
        language=row.language,
    )
    return True


# ------------------------------------------------------------------------------------------------ reads


def steps_of(session: Session, request_id: str) -> list[RightsRequestStep]:
    return list(
        session.scalars(
            select(RightsRequestStep)
            .where(RightsRequestStep.request_id == request_id)
            .order_by(RightsRequestStep.position)
        )
    )


def history_of(session: Session, request_id: str) -> list[RightsRequestEvent]:
    return list(
        session.scalars(
            select(RightsRequestEvent)
            .where(RightsRequestEvent.request_id == request_id)
            .order_by(RightsRequestEvent.id)
        )
    )


def requests_of(session: Session, person_id: str) -> list[RightsRequest]:
    return list(
        session.scalars(
            select(RightsRequest).where(RightsRequest.person_id == person_id).order_by(RightsRequest.received_at)
        )
    )


def kinds_offered(rights: Sequence[Right]) -> list[str]:
    return sorted({r.kind.value for r in rights})


def is_opt_out(kind: str) -> bool:
    return kind in (RightKind.WITHDRAW_CONSENT, RightKind.OPT_OUT_MARKETING, RightKind.OPT_OUT_SALE_SHARING)


def day_of(moment: datetime | None) -> date | None:
    return moment.date() if moment is not None else None


def complete_request(
    uow: UnitOfWork,
    row: RightsRequest,
    *,
    actor: str,
    message: str = "rights.completed",
    params: Mapping[str, Any] | None = None,
    to: tuple[str, str] | None = None,
    sealed_for_person: bool = True,
    now: datetime | None = None,
) -> RightsRequest:
    """in_progress → completed, and the person told in the same transaction."""
    move(uow, row, Transition.COMPLETE, actor=actor, now=now)
    tell(uow, row, message, params or {}, to=to, sealed_for_person=sealed_for_person)
    return row

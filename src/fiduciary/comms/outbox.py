"""`send`: put a message to a person in the outbox, in the transaction of the change that causes it.

The message row (and the `comms.deliver` job that will send it) commit with that change or not at all, so
a rolled-back request tells nobody anything and a committed one is never left untold. `idempotency_key`
names the cause (`rights.code:<request>:<n>`): a second `send` with it returns the first message, so a
retried step never writes two. The address and the body are sealed under the person's key
(`fiduciary.comms.sealing`); nothing here logs either.

Rules the outbox itself keeps, whoever calls it:
- a `marketing` message needs a decision that allows a direct-marketing purpose on the message's channel
  (DPDP s.6 and s.7; GDPR Art 6(1)(a) and 21(2)-(3)): the caller gets it from `decisions.flows`;
- a `rights` message carries the policy's grievance contact (DPDP Rule 9; `comms.messages`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import suppress
from typing import Any, Final, Literal

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from fiduciary.comms.delivery import JOB_NAME, sender_address
from fiduciary.comms.messages import Category, message_kind, render
from fiduciary.comms.models import OUTBOX_TABLE, OutboxMessage
from fiduciary.comms.sealing import seal
from fiduciary.context import RuntimeContext
from fiduciary.decisions.engine import Decision
from fiduciary.errors import Conflict, FieldProblem, Forbidden, ValidationFailed
from fiduciary.jobs import enqueue
from fiduciary.people.service import get_person, new_id
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import SESSION_KEY, UnitOfWork

Channel = Literal["email", "sms"]
CHANNELS: Final = ("email", "sms")
IDEMPOTENCY_KEY_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,200}$"
_IDEMPOTENCY_KEY: Final = re.compile(IDEMPOTENCY_KEY_PATTERN)
_E164: Final = re.compile(r"^\+[1-9][0-9]{7,14}$")
_LANGUAGE_TAG: Final = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")  # BCP 47, as the notice takes it


class MarketingRefused(Forbidden):
    """A marketing message without a decision allowing a marketing purpose on its channel."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, code="marketing_not_allowed")


def _context(target: UnitOfWork | Session, runtime: RuntimeContext | None) -> tuple[RuntimeContext, Session]:
    if isinstance(target, UnitOfWork):
        return target.runtime, target.session
    found = target.info.get(SESSION_KEY)
    if runtime is None and isinstance(found, UnitOfWork):
        runtime = found.runtime
    if runtime is None:
        raise TypeError("send(session, …) needs runtime= when the session has no unit of work")
    return runtime, target


def _check_address(channel: str, to: str) -> str:
    """The address, normalised; a problem names the field, never the value."""
    if channel == "email":
        try:
            return str(validate_email(to, check_deliverability=False).normalized)
        except EmailNotValidError:
            raise ValidationFailed("Bad recipient.", [FieldProblem("to", "not an e-mail address")]) from None
    compact = re.sub(r"[ ()-]", "", to)
    if not _E164.fullmatch(compact):
        raise ValidationFailed("Bad recipient.", [FieldProblem("to", "a phone number in E.164 form (+91…)")])
    return compact


def _check(channel: str, idempotency_key: str, language: str | None) -> None:
    problems = []
    if language is not None and not _LANGUAGE_TAG.fullmatch(language):
        problems.append(FieldProblem("language", "a BCP 47 language tag such as hi or en-IN"))
    if channel not in CHANNELS:
        problems.append(FieldProblem("channel", "email or sms"))
    if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        problems.append(FieldProblem("idempotency_key", "1 to 200 of A-Z a-z 0-9 . _ : - (ids, never a value)"))
    if problems:
        raise ValidationFailed("Bad message.", problems)


def _check_marketing(runtime: RuntimeContext, channel: str, person_id: str | None, decision: Decision | None) -> None:
    if person_id is None:
        raise MarketingRefused("A marketing message must name the person it goes to.")
    if decision is None or not decision.allow:
        raise MarketingRefused("A marketing message needs a decision that allows it.")
    purpose = runtime.policy().purposes.get(decision.purpose)
    if purpose is None or channel not in {str(c) for c in purpose.marketing_channels}:
        raise MarketingRefused("The decision is not for a marketing purpose on this channel.")


def _existing(session: Session, idempotency_key: str, kind: str, person_id: str | None) -> OutboxMessage | None:
    found = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)).first()
    if found is not None and (found.kind != kind or found.person_id != person_id):
        raise Conflict(
            "This idempotency key already names another message.",
            code="outbox_idempotency_conflict",
            fields=[FieldProblem("idempotency_key", "already used for another kind or person")],
        )
    return found


def send(
    target: UnitOfWork | Session,
    *,
    kind: str,
    channel: str,
    to: str,
    params: Mapping[str, Any],
    idempotency_key: str,
    person_id: str | None = None,
    language: str | None = None,
    decision: Decision | None = None,
    runtime: RuntimeContext | None = None,
) -> OutboxMessage:
    """Queue one message in the open transaction and return its row; the caller commits (or rolls back).

    `language` is a BCP 47 tag (the policy's language when None; English where no catalogue exists).
    """
    runtime, session = _context(target, runtime)
    _check(channel, idempotency_key, language)
    message_kind_ = message_kind(kind)
    address = _check_address(channel, to)
    if person_id is not None:
        get_person(session, person_id)
    if message_kind_.category is Category.MARKETING:
        _check_marketing(runtime, channel, person_id, decision)
    policy = runtime.policy()
    rendered = render(message_kind_, policy, params, language)
    message_id = new_id("msg")
    key_version, sealed = seal(runtime, session, person_id, message_id, {"recipient": address, "body": rendered.body})
    domain = sender_address(runtime, policy).rpartition("@")[2] or "localhost"
    now = utcnow()
    values = {
        "id": message_id,
        "kind": kind,
        "person_id": person_id,
        "channel": channel,
        "key_version": key_version,
        "recipient": sealed["recipient"],
        "language": rendered.language,
        "subject": rendered.subject,
        "body": sealed["body"],
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "idempotency_key": idempotency_key,
        "message_id": f"<{message_id}@{domain}>",
    }
    build = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # Core insert on the table: the ORM's bulk path re-coerced every value (a third of `send`, measured).
    inserted = session.execute(
        build(OUTBOX_TABLE)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboxMessage.id)
    ).scalar_one_or_none()
    if inserted is None:  # the same cause already has its message (this transaction's, or a committed one)
        found = _existing(session, idempotency_key, kind, person_id)
        if found is None:
            raise Conflict("The message could not be queued; try again.", code="outbox_busy")
        return found
    with suppress(Conflict):  # one deliverer already waiting to run will take this message too
        enqueue(session, JOB_NAME, {}, queueing_lock=JOB_NAME)
    message = session.get(OutboxMessage, message_id)
    if message is None:  # written just above in this transaction: cannot happen
        raise RuntimeError("the outbox message just written is missing")
    return message

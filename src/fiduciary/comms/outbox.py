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
from collections.abc import Hashable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Final, Literal

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from fiduciary.comms.delivery import JOB_NAME, sender_address
from fiduciary.comms.messages import Category, MessageKind, Rendered, message_kind, render
from fiduciary.comms.models import OUTBOX_TABLE, OutboxMessage
from fiduciary.comms.sealing import seal
from fiduciary.context import RuntimeContext
from fiduciary.decisions.engine import Decision
from fiduciary.errors import Conflict, FieldProblem, Forbidden, NotFound, ValidationFailed
from fiduciary.jobs import enqueue
from fiduciary.people.models import Person
from fiduciary.people.service import check_person_id, get_person, new_id
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import SESSION_KEY, UnitOfWork

Channel = Literal["email", "sms"]
CHANNELS: Final = ("email", "sms")
IDEMPOTENCY_KEY_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,200}$"
_IDEMPOTENCY_KEY: Final = re.compile(IDEMPOTENCY_KEY_PATTERN)
_E164: Final = re.compile(r"^\+[1-9][0-9]{7,14}$")
_IN_CHUNK: Final = 500  # ids per IN list of a batch
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


def _existing(session: Session, message: Outgoing) -> OutboxMessage | None:
    key = message.idempotency_key
    found = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)).first()
    if found is not None:
        _same_cause(found.kind, found.person_id, message)
    return found


@dataclass(frozen=True)
class Outgoing:
    """One message for `send_many`: the arguments `send` takes for one message."""

    kind: str
    channel: str
    to: str
    params: Mapping[str, Any]
    idempotency_key: str
    person_id: str | None = None
    language: str | None = None
    decision: Decision | None = None


class _Renderings:
    """Renderings within one call: a message with the same kind, language and parameters as an earlier one
    has the same subject and body (`render` depends on nothing else), so it is rendered once."""

    def __init__(self) -> None:
        self._done: dict[Hashable, Rendered] = {}

    def render(self, kind: MessageKind, policy: CompiledPolicy, message: Outgoing) -> Rendered:
        try:
            key: Hashable = (message.kind, message.language, tuple(sorted(message.params.items())))
            hash(key)
        except TypeError:  # an unhashable parameter: render it afresh
            return render(kind, policy, message.params, message.language)
        if key not in self._done:
            self._done[key] = render(kind, policy, message.params, message.language)
        return self._done[key]


def _checked(message: Outgoing) -> tuple[MessageKind, str]:
    """(its kind, the normalised address) of a well-formed message; 422 naming the field otherwise."""
    _check(message.channel, message.idempotency_key, message.language)
    return message_kind(message.kind), _check_address(message.channel, message.to)


def _prepared(
    runtime: RuntimeContext,
    session: Session,
    message: Outgoing,
    kind: MessageKind,
    address: str,
    renderings: _Renderings,
) -> dict[str, Any]:
    """The outbox row of one checked message: the marketing gate kept, rendered, sealed under the person's key."""
    if kind.category is Category.MARKETING:
        _check_marketing(runtime, message.channel, message.person_id, message.decision)
    policy = runtime.policy()
    rendered = renderings.render(kind, policy, message)
    message_id = new_id("msg")
    key_version, sealed = seal(
        runtime, session, message.person_id, message_id, {"recipient": address, "body": rendered.body}
    )
    domain = sender_address(runtime, policy).rpartition("@")[2] or "localhost"
    now = utcnow()
    return {
        "id": message_id,
        "kind": message.kind,
        "person_id": message.person_id,
        "channel": message.channel,
        "key_version": key_version,
        "recipient": sealed["recipient"],
        "language": rendered.language,
        "subject": rendered.subject,
        "body": sealed["body"],
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "idempotency_key": message.idempotency_key,
        "message_id": f"<{message_id}@{domain}>",
    }


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
    outgoing = Outgoing(kind, channel, to, params, idempotency_key, person_id, language, decision)
    kind_, address = _checked(outgoing)
    if person_id is not None:
        get_person(session, person_id)
    values = _prepared(runtime, session, outgoing, kind_, address, _Renderings())
    message_id = values["id"]
    build = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # Core insert on the table: the ORM's bulk path re-coerced every value (a third of `send`, measured).
    inserted = session.execute(
        build(OUTBOX_TABLE)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboxMessage.id)
    ).scalar_one_or_none()
    if inserted is None:  # the same cause already has its message (this transaction's, or a committed one)
        found = _existing(session, outgoing)
        if found is None:
            raise Conflict("The message could not be queued; try again.", code="outbox_busy")
        return found
    with suppress(Conflict):  # one deliverer already waiting to run will take this message too
        enqueue(session, JOB_NAME, {}, queueing_lock=JOB_NAME)
    message = session.get(OutboxMessage, message_id)
    if message is None:  # written just above in this transaction: cannot happen
        raise RuntimeError("the outbox message just written is missing")
    return message


def send_many(
    target: UnitOfWork | Session, messages: Sequence[Outgoing], *, runtime: RuntimeContext | None = None
) -> list[OutboxMessage]:
    """Queue many messages in the open transaction: the rows of one `send` per message, in order.

    Every rule `send` keeps is kept per message (its checks, the person's existence, the marketing gate,
    sealing under the person's key, the idempotency key naming one cause: a key already used returns its
    first message, or is a 409 when it names another kind or person). What a batch shares is done once: the
    people looked up in one query, a message identical in kind, language and parameters rendered once, the
    rows inserted in one statement, one `comms.deliver` job. A refused message refuses the whole batch.
    """
    runtime, session = _context(target, runtime)
    checked = [_checked(message) for message in messages]
    _check_people(session, [m.person_id for m in messages if m.person_id is not None])
    renderings = _Renderings()
    firsts: dict[str, Outgoing] = {}
    rows: list[dict[str, Any]] = []
    for message, (kind, address) in zip(messages, checked, strict=True):
        first = firsts.setdefault(message.idempotency_key, message)
        if first is not message:  # the same cause twice in the batch: one message, as two `send`s make
            _same_cause(first.kind, first.person_id, message)
            continue
        rows.append(_prepared(runtime, session, message, kind, address, renderings))
    if rows:
        build = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(build(OUTBOX_TABLE).on_conflict_do_nothing(index_elements=["idempotency_key"]), rows)
    found = _by_key(session, list(firsts))
    written = {row["id"] for row in rows}
    result: list[OutboxMessage] = []
    for message in messages:
        row = found.get(message.idempotency_key)
        if row is None:
            raise Conflict("The message could not be queued; try again.", code="outbox_busy")
        _same_cause(row.kind, row.person_id, message)
        result.append(row)
    if any(row.id in written for row in result):
        with suppress(Conflict):  # one deliverer already waiting to run will take these messages too
            enqueue(session, JOB_NAME, {}, queueing_lock=JOB_NAME)
    return result


def _check_people(session: Session, person_ids: Sequence[str]) -> None:
    """`get_person` for each id, in one query: 422 for a malformed id, 404 for an unknown one."""
    unique = list(dict.fromkeys(person_ids))
    for person_id in unique:
        check_person_id(person_id)
    known: set[str] = set()
    for start in range(0, len(unique), _IN_CHUNK):
        chunk = unique[start : start + _IN_CHUNK]
        known.update(session.scalars(select(Person.id).where(Person.id.in_(chunk))))
    if len(known) < len(unique):
        raise NotFound("No person has this id.", code="person_not_found")


def _by_key(session: Session, keys: Sequence[str]) -> dict[str, OutboxMessage]:
    found: dict[str, OutboxMessage] = {}
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = keys[start : start + _IN_CHUNK]
        for row in session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.in_(chunk))):
            found[row.idempotency_key] = row
    return found


def _same_cause(kind: str, person_id: str | None, message: Outgoing) -> None:
    if kind != message.kind or person_id != message.person_id:
        raise Conflict(
            "This idempotency key already names another message.",
            code="outbox_idempotency_conflict",
            fields=[FieldProblem("idempotency_key", "already used for another kind or person")],
        )

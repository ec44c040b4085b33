"""The audit trail: record events on the "audit" ledger stream and its index (`reads` lists and exports them,
`verification` checks them).

Every read, write, decision, key operation and staff or API-key action becomes one event naming the
actor (an API key id or a staff id, never a name), the action, the person by pseudonym, the categories,
the purpose and the outcome with reason codes — never a value. This is the "visibility through logs,
monitoring and review" of DPDP Rule 6(1)(c) and the access log of GDPR Art 32(1)(d); the logs are kept at
least one year (Rule 6(1)(e), 8(3)) and, being on the ledger, are tamper-evident (DESIGN principle 3).

Events are appended in the caller's transaction together with their index rows, so the state change and
its audit event commit or roll back together. A refused attempt that must leave a trace even though the
request fails is recorded and committed by the caller before it raises (see `vault.access`).

Every field of an event is checked against a strict shape before anything is written (ids, slugs, reason
codes); free text has no place in an event, so a value cannot slip in through it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.audit.models import AuditEventIndex
from fiduciary.codes import (
    ACTION_RE,
    ACTOR_RE,
    REQUEST_ID_RE,
    SLUG_RE,
    SUBJECT_RE,
    TARGET_RE,
    safe_request_id,
    safe_slug,
)
from fiduciary.config import Settings
from fiduciary.context import RuntimeContext
from fiduciary.errors import FiduciaryError
from fiduciary.ledger.models import LedgerEvent
from fiduciary.ledger.service import Ledger
from fiduciary.storage.sqlite_driver import sqlite_run, sqlite_time

T = TypeVar("T")


STREAM: Final = "audit"
INDEX = cast(sa.Table, AuditEventIndex.__table__)
EVENTS = cast(sa.Table, LedgerEvent.__table__)

MAX_PAGE: Final = 1000
DEFAULT_PAGE: Final = 100
MAX_CATEGORIES: Final = 100
MAX_REASONS: Final = 20
VERIFY_BATCH: Final = 5000


class Outcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    ERROR = "error"


_OUTCOMES: Final = frozenset(o.value for o in Outcome)


class Action(StrEnum):
    """The actions Fiduciary records; other domains may record further `a.b` names of the same shape."""

    FIELD_READ = "field.read"
    FIELD_WRITE = "field.write"
    PERSON_LOOKUP = "person.lookup"
    PERSON_CREATE = "person.create"
    PERSON_CLOSE = "person.close"
    PERSON_UPDATE = "person.update"  # a fact about the person changed (`target` names which, never its value)
    PERSON_ERASE = "person.erase"
    PERSON_EXPORT = "person.export"
    PACKAGE_BUILD = "package.build"  # an access package was built (rights.packages; `target` is its id)
    PACKAGE_DOWNLOAD = "package.download"  # an access package was downloaded through its link
    DECISION = "decision"
    AUDIENCE = "audience"
    KEY_ROTATE = "key.rotate"
    APIKEY_CREATE = "apikey.create"
    APIKEY_REVOKE = "apikey.revoke"
    AUDIT_READ = "audit.read"
    RETENTION_EVENT = "retention.event"  # a store-reported event that starts a retention clock (issue 12)
    SESSION_OPEN = "session.open"  # a customer session opened after a verification (issue 13 item 2)
    SESSION_REVOKE = "session.revoke"  # a customer session revoked (signed out)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One thing that happened. Only ids, policy slugs and codes: there is no field a value could go in.

    - `actor`: who acted — the API key id, a staff id, or `cli` for an operator at the command line.
    - `on_behalf_of`: the actor the caller named when it differs (a staff id or job behind a backend key).
    - `person_id`: the pseudonymous subject (`per_…` or `vis_…`).
    - `target`: a non-personal object acted on (an API key id, a KEK id).
    - `count`: how many items a bulk action touched.
    """

    actor: str
    action: str
    outcome: Outcome | str = Outcome.ALLOWED
    person_id: str | None = None
    purpose: str | None = None
    categories: Sequence[str] = ()
    reasons: Sequence[str] = ()
    request_id: str | None = None
    role: str | None = None
    on_behalf_of: str | None = None
    target: str | None = None
    count: int | None = None

    def payload(self) -> dict[str, Any]:
        """The ledger payload after checking every field's shape (ValueError names the field, not the value)."""
        _require(ACTOR_RE, self.actor, "actor")
        _require(ACTION_RE, self.action, "action")
        if self.outcome not in _OUTCOMES:
            raise ValueError("audit event field outcome must be one of allowed, denied, error")
        outcome = Outcome(self.outcome)
        payload: dict[str, Any] = {"actor": self.actor, "outcome": outcome.value}
        if self.person_id is not None:
            payload["person"] = _require(SUBJECT_RE, self.person_id, "person_id")
        if self.purpose is not None:
            payload["purpose"] = _require(SLUG_RE, self.purpose, "purpose")
        if self.categories:
            if isinstance(self.categories, str) or len(self.categories) > MAX_CATEGORIES:
                raise ValueError(f"audit categories must be a list of at most {MAX_CATEGORIES} slugs")
            payload["categories"] = sorted({_require(SLUG_RE, c, "categories") for c in self.categories})
        if self.reasons:
            if isinstance(self.reasons, str) or len(self.reasons) > MAX_REASONS:
                raise ValueError(f"audit reasons must be a list of at most {MAX_REASONS} codes")
            payload["reasons"] = list(dict.fromkeys(_require(SLUG_RE, str(r), "reasons") for r in self.reasons))
        if self.request_id is not None:
            payload["request"] = _require(REQUEST_ID_RE, self.request_id, "request_id")
        if self.role is not None:
            payload["role"] = _require(SLUG_RE, self.role, "role")
        if self.on_behalf_of is not None and self.on_behalf_of != self.actor:
            payload["on_behalf_of"] = _require(ACTOR_RE, self.on_behalf_of, "on_behalf_of")
        if self.target is not None:
            payload["target"] = _require(TARGET_RE, self.target, "target")
        if self.count is not None:
            if isinstance(self.count, bool) or not isinstance(self.count, int) or not 0 <= self.count <= 2**53 - 1:
                raise ValueError("audit count must be a non-negative integer")
            payload["count"] = self.count
        return payload


def _require(pattern: re.Pattern[str], value: Any, name: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"audit event field {name} does not have the required shape {pattern.pattern}")
    return value


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Where an event landed: its ledger position and hash."""

    position: int
    hash: str
    recorded_at: datetime


_INSERT_INDEX = sa.insert(INDEX)  # built once: an audited read is a handful of statements
_INSERT_INDEX_SQLITE = (
    "INSERT INTO audit_events (ledger_position, recorded_at, actor, action, person_id, purpose, outcome) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


class AuditTrail:
    """Records audit events. Stateless apart from its ledger; `for_runtime` shares one per runtime."""

    def __init__(
        self, runtime: RuntimeContext | None = None, *, ledger: Ledger | None = None, settings: Settings | None = None
    ) -> None:
        if ledger is None:
            configured = settings if settings is not None else (runtime.settings if runtime is not None else None)
            if configured is None:
                raise ValueError("AuditTrail needs a runtime, settings or a ledger")
            ledger = Ledger.from_settings(STREAM, configured)
        if ledger.stream != STREAM:
            raise ValueError(f"the audit trail writes to the '{STREAM}' stream")
        self.ledger = ledger

    @classmethod
    def for_runtime(cls, runtime: RuntimeContext) -> AuditTrail:
        return runtime.shared("audit.trail", AuditTrail, lambda: cls(runtime))

    def record(
        self,
        session: Session,
        *,
        actor: str,
        action: str,
        outcome: Outcome | str = Outcome.ALLOWED,
        person_id: str | None = None,
        purpose: str | None = None,
        categories: Sequence[str] = (),
        reasons: Sequence[str] = (),
        request_id: str | None = None,
        role: str | None = None,
        on_behalf_of: str | None = None,
        target: str | None = None,
        count: int | None = None,
    ) -> AuditRecord:
        event = AuditEvent(
            actor=actor,
            action=action,
            outcome=outcome,
            person_id=person_id,
            purpose=purpose,
            categories=categories,
            reasons=reasons,
            request_id=request_id,
            role=role,
            on_behalf_of=on_behalf_of,
            target=target,
            count=count,
        )
        return self.record_many(session, [event])[0]

    def record_many(self, session: Session, events: Sequence[AuditEvent]) -> list[AuditRecord]:
        """Append events in order (one ledger lock, one insert each for ledger and index); all or nothing.

        Every event is checked before anything is written, so a malformed one changes nothing.
        """
        return self.record_checked(session, [(event, event.payload()) for event in events])

    def record_checked(
        self, session: Session, prepared: Sequence[tuple[AuditEvent, dict[str, Any]]]
    ) -> list[AuditRecord]:
        """`record_many` for events already checked (`AuditEvent.payload()`), e.g. by the unit of work when
        it collected them, so a malformed event fails the step that made it rather than the commit."""
        if not prepared:
            return []
        # `append_batch`, not `append_many`: the index needs positions, hashes and the time, and an entry
        # object per event (its payload parsed back from JSON) cost more than the event's own insert.
        batch = self.ledger.append_batch(session, [(event.action, payload) for event, payload in prepared])
        first, moment = batch.first_position, batch.recorded_at
        connection = session.connection()
        if connection.dialect.name == "sqlite":  # straight on the driver, as the ledger's own statements
            stored = sqlite_time(moment)
            sqlite_run(
                connection,
                _INSERT_INDEX_SQLITE,
                [
                    (
                        first + i,
                        stored,
                        payload["actor"],
                        event.action,
                        payload.get("person"),
                        payload.get("purpose"),
                        payload["outcome"],
                    )
                    for i, (event, payload) in enumerate(prepared)
                ],
                many=True,
            )
            return [AuditRecord(first + i, hash_, moment) for i, hash_ in enumerate(batch.hashes)]
        connection.execute(  # Core straight through the transaction's connection, not the ORM
            _INSERT_INDEX,
            [
                {
                    "ledger_position": first + i,
                    "recorded_at": moment,
                    "actor": payload["actor"],
                    "action": event.action,
                    "person_id": payload.get("person"),
                    "purpose": payload.get("purpose"),
                    "outcome": payload["outcome"],
                }
                for i, (event, payload) in enumerate(prepared)
            ],
        )
        return [AuditRecord(first + i, hash_, moment) for i, hash_ in enumerate(batch.hashes)]


def decision_event(
    actor: str,
    subject_id: str,
    purpose: str,
    categories: Sequence[str],
    allow: bool,
    reasons: Sequence[str],
    *,
    on_behalf_of: str | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    """The audit event of one decision. Caller-supplied strings are kept only when they have the shape of
    a policy identifier; anything else (a value pasted into `purpose`) is dropped, never recorded."""
    safe_purpose = safe_slug(purpose)
    safe_categories = [c for c in categories if safe_slug(c)][:MAX_CATEGORIES]
    extra = [] if safe_purpose is not None or purpose is None else ["malformed_purpose"]
    return AuditEvent(
        actor=actor,
        action=Action.DECISION,
        outcome=Outcome.ALLOWED if allow else Outcome.DENIED,
        person_id=subject_id if SUBJECT_RE.fullmatch(subject_id) else None,
        purpose=safe_purpose,
        categories=safe_categories,
        reasons=[str(r) for r in reasons][: MAX_REASONS - 1] + extra,
        on_behalf_of=on_behalf_of if on_behalf_of is not None and ACTOR_RE.fullmatch(on_behalf_of) else None,
        request_id=safe_request_id(request_id),
    )


# ------------------------------------------------------------------------------------ audited refusals

_PENDING: Final = "pending_audit"


def refusal_event(
    exc: FiduciaryError,
    *,
    actor: str,
    action: str,
    request_id: str | None = None,
    reasons: Sequence[str] | None = None,
    **fields: Any,
) -> AuditEvent:
    """The audit event of a refused attempt: denied for a 403, else an error, with the problem's code as its
    reason (or `reasons`) and only ids and slugs in `fields`."""
    outcome = Outcome.DENIED if exc.status == 403 else Outcome.ERROR
    codes = list(reasons) if reasons else ([exc.code] if safe_slug(exc.code) else ["error"])
    return AuditEvent(
        actor=actor, action=action, outcome=outcome, reasons=codes, request_id=safe_request_id(request_id), **fields
    )


def attach_audit(exc: FiduciaryError, *events: AuditEvent) -> FiduciaryError:
    """Give a refusal the audit events that record it; the unit of work's step (`fiduciary.unit_of_work`)
    writes them in a transaction of their own."""
    setattr(exc, _PENDING, [*getattr(exc, _PENDING, []), *events])
    return exc


def pending_audit(exc: BaseException) -> list[AuditEvent]:
    events = getattr(exc, _PENDING, [])
    return list(events) if isinstance(events, list) else []


def take_pending_audit(exc: BaseException) -> list[AuditEvent]:
    """The refusal's events, detached from it: whoever records them takes them, so nobody records them twice."""
    events = pending_audit(exc)
    if events:
        setattr(exc, _PENDING, [])
    return events

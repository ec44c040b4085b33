"""The audit trail: record events on the "audit" ledger stream and its index; list, export and verify them.

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

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal, TypeVar, cast

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
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
from fiduciary.errors import FiduciaryError, FieldProblem, ValidationFailed
from fiduciary.ledger.models import LedgerEvent
from fiduciary.ledger.service import Ledger, sqlite_run, sqlite_time
from fiduciary.ledger.verification import VerificationReport, verify

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
    DECISION = "decision"
    AUDIENCE = "audience"
    KEY_ROTATE = "key.rotate"
    APIKEY_CREATE = "apikey.create"
    APIKEY_REVOKE = "apikey.revoke"
    AUDIT_READ = "audit.read"
    RETENTION_EVENT = "retention.event"  # a store-reported event that starts a retention clock (issue 12)


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


# --------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class AuditEventView:
    """An event as GET /v1/audit returns it: the index columns, the ledger payload, the ledger hashes."""

    position: int
    recorded_at: datetime
    action: str
    actor: str
    outcome: str
    person_id: str | None
    purpose: str | None
    categories: tuple[str, ...]
    reasons: tuple[str, ...]
    request_id: str | None
    role: str | None
    on_behalf_of: str | None
    target: str | None
    count: int | None
    hash: str
    prev_hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "recorded_at": self.recorded_at.isoformat(),
            "action": self.action,
            "actor": self.actor,
            "outcome": self.outcome,
            "person_id": self.person_id,
            "purpose": self.purpose,
            "categories": list(self.categories),
            "reasons": list(self.reasons),
            "request_id": self.request_id,
            "role": self.role,
            "on_behalf_of": self.on_behalf_of,
            "target": self.target,
            "count": self.count,
            "hash": self.hash,
            "prev_hash": self.prev_hash,
        }


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    person_id: str | None = None
    action: str | None = None
    purpose: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def check(self, prefix: str = "query.") -> None:
        """422 naming every malformed filter; a well-formed filter that matches nothing is just empty."""
        problems: list[FieldProblem] = []
        checks: list[tuple[str, str | None, re.Pattern[str], str]] = [
            ("actor", self.actor, ACTOR_RE, "an API key id or staff id"),
            ("person_id", self.person_id, SUBJECT_RE, "a person id per_… or visitor id vis_…"),
            ("action", self.action, ACTION_RE, "an action such as field.read"),
            ("purpose", self.purpose, SLUG_RE, "a purpose id of the policy"),
        ]
        for name, value, pattern, what in checks:
            if value is not None and not pattern.fullmatch(value):
                problems.append(FieldProblem(prefix + name, f"must be {what}"))
        if self.outcome is not None and self.outcome not in {o.value for o in Outcome}:
            problems.append(FieldProblem(prefix + "outcome", "must be one of allowed, denied, error"))
        for name, moment in (("since", self.since), ("until", self.until)):
            if moment is not None and moment.tzinfo is None:
                problems.append(FieldProblem(prefix + name, "must include a time zone, e.g. 2026-01-01T00:00:00Z"))
        if not problems and self.since is not None and self.until is not None and self.since > self.until:
            problems.append(FieldProblem(prefix + "until", "must not be before since"))
        if problems:
            raise ValidationFailed("Invalid audit filter.", problems)


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEventView]
    next_cursor: int | None = field(default=None)


def _view(row: Any) -> AuditEventView:
    payload: dict[str, Any] = json.loads(row.payload)
    return AuditEventView(
        position=row.ledger_position,
        recorded_at=row.recorded_at,
        action=row.action,
        actor=row.actor,
        outcome=row.outcome,
        person_id=row.person_id,
        purpose=row.purpose,
        categories=tuple(payload.get("categories", ())),
        reasons=tuple(payload.get("reasons", ())),
        request_id=payload.get("request"),
        role=payload.get("role"),
        on_behalf_of=payload.get("on_behalf_of"),
        target=payload.get("target"),
        count=payload.get("count"),
        hash=row.hash,
        prev_hash=row.prev_hash,
    )


_JOINED = sa.select(
    INDEX.c.ledger_position,
    INDEX.c.recorded_at,
    INDEX.c.actor,
    INDEX.c.action,
    INDEX.c.person_id,
    INDEX.c.purpose,
    INDEX.c.outcome,
    EVENTS.c.payload,
    EVENTS.c.hash,
    EVENTS.c.prev_hash,
).select_from(INDEX.join(EVENTS, sa.and_(EVENTS.c.stream == STREAM, EVENTS.c.position == INDEX.c.ledger_position)))


def list_events(
    session: Session,
    filters: AuditFilter | None = None,
    *,
    cursor: int | None = None,
    limit: int = DEFAULT_PAGE,
    order: Literal["asc", "desc"] = "asc",
) -> AuditPage:
    """One page of events matching every filter, by ledger position; pass `next_cursor` back for the next.

    Keyset pagination: `cursor` is the last position of the previous page, so pages stay stable while
    events are appended and each page is an index range scan however deep the caller has paged.
    """
    filters = filters or AuditFilter()
    filters.check()
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed("Invalid page size.", [FieldProblem("query.limit", f"must be 1..{MAX_PAGE}")])
    if cursor is not None and cursor < 0:
        raise ValidationFailed("Invalid cursor.", [FieldProblem("query.cursor", "must be a ledger position ≥ 0")])
    if order not in ("asc", "desc"):
        raise ValidationFailed("Invalid order.", [FieldProblem("query.order", "must be asc or desc")])
    query = _JOINED
    for column, value in (
        (INDEX.c.actor, filters.actor),
        (INDEX.c.person_id, filters.person_id),
        (INDEX.c.action, filters.action),
        (INDEX.c.purpose, filters.purpose),
        (INDEX.c.outcome, filters.outcome),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.since is not None:
        query = query.where(INDEX.c.recorded_at >= filters.since)
    if filters.until is not None:
        query = query.where(INDEX.c.recorded_at < filters.until)
    if order == "asc":
        if cursor is not None:
            query = query.where(INDEX.c.ledger_position > cursor)
        query = query.order_by(INDEX.c.ledger_position)
    else:
        if cursor is not None:
            query = query.where(INDEX.c.ledger_position < cursor)
        query = query.order_by(INDEX.c.ledger_position.desc())
    rows = session.execute(query.limit(limit + 1)).all()
    events = [_view(row) for row in rows[:limit]]
    next_cursor = events[-1].position if len(rows) > limit else None
    return AuditPage(events, next_cursor)


def iter_events(
    session: Session, filters: AuditFilter | None = None, *, batch: int = MAX_PAGE
) -> Iterator[AuditEventView]:
    """Every matching event in position order, page by page (for exports)."""
    cursor: int | None = None
    while True:
        page = list_events(session, filters, cursor=cursor, limit=batch)
        yield from page.events
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def events_about(session: Session, person_id: str) -> list[dict[str, Any]]:
    """The audit events about one person, for their access request (DPDP s.11; GDPR Art 15(1)(c))."""
    return [event.to_dict() for event in iter_events(session, AuditFilter(person_id=person_id))]


# ------------------------------------------------------------------------------------------- verifying


@dataclass(frozen=True)
class AuditVerification:
    """The ledger chain's verdict, then the index's agreement with the ledger."""

    ledger: VerificationReport
    index_ok: bool
    index_rows_checked: int
    first_bad_position: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.ledger.ok and self.index_ok


_INDEX_COLUMNS: Final = ("actor", "action", "person_id", "purpose", "outcome")


def _expected(event_type: str, payload_text: str) -> tuple[str | None, ...]:
    try:
        payload = json.loads(payload_text)
    except ValueError:
        payload = {}
    if not isinstance(payload, Mapping):
        payload = {}
    return (payload.get("actor"), event_type, payload.get("person"), payload.get("purpose"), payload.get("outcome"))


def verify_index(
    session: Session, *, up_to: int | None = None, batch: int = VERIFY_BATCH
) -> tuple[int, int | None, str | None]:
    """Check that every audit ledger event up to `up_to` has an index row saying the same, and no index
    row lacks its event. Returns (rows checked, first bad position, problem)."""
    bound = up_to
    if bound is None:
        bound = (
            session.execute(sa.select(sa.func.max(EVENTS.c.position)).where(EVENTS.c.stream == STREAM)).scalar() or 0
        )
    joined = (
        sa.select(
            EVENTS.c.position,
            EVENTS.c.event_type,
            EVENTS.c.payload,
            INDEX.c.ledger_position,
            *(INDEX.c[name] for name in _INDEX_COLUMNS),
        )
        .select_from(EVENTS.outerjoin(INDEX, INDEX.c.ledger_position == EVENTS.c.position))
        .where(EVENTS.c.stream == STREAM, EVENTS.c.position > sa.bindparam("after"), EVENTS.c.position <= bound)
        .order_by(EVENTS.c.position)
        .limit(batch)
    )
    checked = 0
    after = 0
    first_bad: tuple[int, str] | None = None
    while True:
        rows = session.execute(joined, {"after": after}).all()
        for row in rows:
            if row.ledger_position is None:
                first_bad = (row.position, f"the audit index has no row for ledger position {row.position}")
                break
            expected = _expected(row.event_type, row.payload)
            actual = tuple(getattr(row, name) for name in _INDEX_COLUMNS)
            if expected != actual:
                differs = [n for n, e, a in zip(_INDEX_COLUMNS, expected, actual, strict=True) if e != a]
                first_bad = (
                    row.position,
                    f"the audit index row at position {row.position} differs from the ledger in {', '.join(differs)}",
                )
                break
            checked += 1
        if first_bad is not None or len(rows) < batch:
            break
        after = rows[-1].position
    orphan = session.execute(
        sa.select(sa.func.min(INDEX.c.ledger_position)).where(
            ~sa.exists().where(EVENTS.c.stream == STREAM, EVENTS.c.position == INDEX.c.ledger_position)
        )
    ).scalar()
    if orphan is not None and (first_bad is None or orphan < first_bad[0]):
        first_bad = (orphan, f"the audit index has a row at position {orphan} with no ledger event")
    if first_bad is None:
        return checked, None, None
    return checked, first_bad[0], first_bad[1]


def verify_audit(session: Session, public_keys: Sequence[Ed25519PublicKey] | None = None) -> AuditVerification:
    """Verify the audit stream's chain and signatures, then that the index agrees with it.

    The index is checked only up to the last position the chain vouches for; a broken chain is reported
    first, because an index row can only be as trustworthy as the event it points to.
    """
    report = verify(session, STREAM, public_keys)
    if not report.ok:
        return AuditVerification(report, True, 0, report.first_bad_position, report.problem)
    checked, bad, problem = verify_index(session, up_to=report.head_position)
    return AuditVerification(report, bad is None, checked, bad, problem)

"""Objections and restrictions: how a person says "stop" to processing that does not run on consent.

- Objection: DPDP s.7(a) lets a store use data a person gave voluntarily for the purpose it was given
  "and in respect of which she has not indicated … that she does not consent"; GDPR Art 21 gives a right
  to object to legitimate-interest processing (absolute for direct marketing, 21(3)). An objection is for
  purposes on contract, legitimate use or legitimate interests; consent purposes are withdrawn instead.
- Restriction: GDPR Art 18 pauses processing (e.g. while accuracy is contested) on any ground but a legal
  obligation.
- A legal obligation cannot be objected to or restricted (GDPR Art 17(3)(b), 18(2); DPDP s.7(d)-(e)), so a
  restriction "for every purpose" (purpose NULL) covers every purpose except those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from fiduciary.consent.models import ProcessingRestriction
from fiduciary.context import RuntimeContext
from fiduciary.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from fiduciary.people.service import get_person, require_active
from fiduciary.personal_data.changes import ChangeKind, PersonDataChange
from fiduciary.personal_data.registry import announce
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.schema import Jurisdiction, LegalGround
from fiduciary.storage.base import utcnow
from fiduciary.storage.driver_reads import driver_datetime, rows_for_ids
from fiduciary.storage.ids import IDS

RestrictionKind = Literal["objection", "restriction"]
KINDS = ("objection", "restriction")


@dataclass(frozen=True, slots=True)
class Restriction:
    id: int
    person_id: str
    purpose: str | None  # None: every purpose not on a legal obligation
    kind: str
    created_at: datetime


def _to_dataclass(row: ProcessingRestriction) -> Restriction:
    return Restriction(row.id, row.person_id, row.purpose, row.kind, row.created_at)


def check_purpose(
    policy: CompiledPolicy,
    purpose: str | None,
    kind: str,
    where: Jurisdiction | None = None,
    *,
    field: str = "body.purpose",
) -> None:
    """Whether `purpose` may take an objection or restriction of `kind`, without writing anything: the
    checks `add_restriction` makes, for a caller that must refuse a request before it records it (a rights
    request at receipt). 422 for an unknown purpose, 409 for one the person cannot stop; each names `field`.

    The purpose's ground where the person lives (`where`) decides what they may object to (GDPR Art 21
    for legitimate interests in the EU, DPDP s.7(a) in India); an unknown residence takes its own ground."""
    if kind not in KINDS:
        raise ValidationFailed("Unknown kind.", [FieldProblem("body.kind", "must be objection or restriction")])
    if purpose is None:
        return
    compiled = policy.purpose(purpose, where)
    if compiled is None:
        raise ValidationFailed(
            "Unknown purpose. Valid purposes: " + ", ".join(sorted(policy.purposes)) + ".",
            [FieldProblem(field, "is not a purpose of the policy in force")],
        )
    ground = compiled.legal_ground
    if ground is LegalGround.LEGAL_OBLIGATION:
        raise Conflict(
            f"Purpose '{purpose}' is a legal obligation; the law requires it whatever the person prefers "
            "(GDPR Art 17(3)(b), 18(2); DPDP s.7).",
            code="purpose_is_legal_obligation",
            fields=[FieldProblem(field, "legal ground is legal_obligation")],
        )
    if kind == "objection" and compiled.needs_consent:
        raise Conflict(
            f"Purpose '{purpose}' runs on consent: withdraw the consent instead of objecting "
            "(POST /v1/consents with action withdraw).",
            code="purpose_is_consent_based",
            fields=[FieldProblem(field, "legal ground is consent")],
        )
    if kind == "objection" and not compiled.objectable:
        raise Conflict(
            f"Purpose '{purpose}' runs on {ground.value.replace('_', ' ')}, which a person cannot object to; "
            "ask for a restriction instead.",
            code="purpose_not_objectable",
            fields=[FieldProblem(field, f"legal ground is {ground.value}")],
        )


def stoppable_purposes(policy: CompiledPolicy, kind: str, where: Jurisdiction | None) -> list[str]:
    """The purposes a person living in `where` may name in an objection or restriction of `kind`, sorted:
    exactly those `check_purpose` lets through, so a form offering them offers nothing the request would
    refuse (an objection: contract, legitimate interests or voluntarily provided data, GDPR Art 21, DPDP
    s.7(a); a restriction: anything but a legal obligation, GDPR Art 18(2))."""
    offered = []
    for purpose in sorted(policy.purposes_for(where)):
        try:
            check_purpose(policy, purpose, kind, where)
        except (ValidationFailed, Conflict):
            continue
        offered.append(purpose)
    return offered


def add_restriction(
    session: Session,
    policy: CompiledPolicy,
    person_id: str,
    *,
    purpose: str | None,
    kind: str,
    runtime: RuntimeContext | None = None,
) -> tuple[Restriction, bool]:
    """Record an objection or restriction; an identical active one is returned as is (created=False).

    With the `runtime` (every caller in the service passes it), a new one is announced to the domains that
    react (`personal_data.changes`): the recipients that received data for the purpose must stop too
    (GDPR Art 18(1) and 19, DPDP s.8(7))."""
    person = get_person(session, person_id)
    check_purpose(policy, purpose, kind, policy.residence(person.jurisdiction))
    require_active(person)
    existing = session.scalars(
        select(ProcessingRestriction).where(
            ProcessingRestriction.person_id == person.id,
            ProcessingRestriction.kind == kind,
            ProcessingRestriction.purpose.is_(None) if purpose is None else ProcessingRestriction.purpose == purpose,
            ProcessingRestriction.lifted_at.is_(None),
        )
    ).first()
    if existing is not None:
        return _to_dataclass(existing), False
    row = ProcessingRestriction(person_id=person.id, purpose=purpose, kind=kind, created_at=utcnow())
    session.add(row)
    session.flush()
    if runtime is not None:
        purposes = None if purpose is None else [purpose]
        announce(runtime, session, PersonDataChange.of(ChangeKind.RESTRICTION, [person.id], purposes=purposes))
    return _to_dataclass(row), True


def lift_restriction(session: Session, person_id: str, *, purpose: str | None, kind: str | None = None) -> int:
    """Lift the active objections/restrictions for `purpose` (None: the every-purpose one); 404 if none."""
    person = get_person(session, person_id)
    if kind is not None and kind not in KINDS:
        raise ValidationFailed("Unknown kind.", [FieldProblem("query.kind", "must be objection or restriction")])
    conditions = [
        ProcessingRestriction.person_id == person.id,
        ProcessingRestriction.lifted_at.is_(None),
        ProcessingRestriction.purpose.is_(None) if purpose is None else ProcessingRestriction.purpose == purpose,
    ]
    if kind is not None:
        conditions.append(ProcessingRestriction.kind == kind)
    result = session.execute(update(ProcessingRestriction).where(*conditions).values(lifted_at=utcnow()))
    lifted = int(getattr(result, "rowcount", 0) or 0)
    if lifted == 0:
        raise NotFound("The person has no such active objection or restriction.", code="restriction_not_found")
    return lifted


_ACTIVE = ProcessingRestriction.__table__.c
# Active objections and restrictions of the people bound to :ids, oldest first; straight on the driver
# (`storage.driver_reads`), with the Core statement for any other database.
_ACTIVE_SQL = {
    "sqlite": "SELECT id, person_id, purpose, kind, created_at FROM processing_restrictions "
    "WHERE person_id IN (SELECT value FROM json_each(?)) AND lifted_at IS NULL ORDER BY id",
    "postgresql": "SELECT id, person_id, purpose, kind, created_at FROM processing_restrictions "
    "WHERE person_id = ANY(%s) AND lifted_at IS NULL ORDER BY id",
}
_ACTIVE_QUERY = (
    select(_ACTIVE.id, _ACTIVE.person_id, _ACTIVE.purpose, _ACTIVE.kind, _ACTIVE.created_at)
    .where(_ACTIVE.person_id.in_(bindparam(IDS, expanding=True)), _ACTIVE.lifted_at.is_(None))
    .order_by(_ACTIVE.id)
)


def active_restrictions(session: Session, person_ids: Sequence[str]) -> dict[str, list[Restriction]]:
    """person → active objections and restrictions (oldest first); people without any are absent.

    Every decision about a person reads this, so it is read straight on the driver with the ids as one
    parameter (`storage.driver_reads`).
    """
    out: dict[str, list[Restriction]] = {}
    if not person_ids:
        return out
    for rid, person_id, purpose, kind, created_at in rows_for_ids(session, _ACTIVE_SQL, _ACTIVE_QUERY, set(person_ids)):
        out.setdefault(person_id, []).append(Restriction(rid, person_id, purpose, kind, driver_datetime(created_at)))
    return out

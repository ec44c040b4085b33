"""Linking a banner visitor to the person who signs in, without losing either history.

When a visitor ("vis_…") signs in as a person ("per_…"), the choices they made on the banner are theirs:
we record a `consent.linked` event and copy each visitor state onto the person unless the person already
has a newer one (newer wins, by ledger position, which is the order the events happened in). Nothing is
rewritten: the visitor's events stay in the ledger under the visitor id, and a copied person row keeps
the ledger position of the visitor event it came from, which is how it notes its source.

Two exceptions, both protective: a grant is not copied onto a child or a person under lawful guardianship
(their consent must come from a guardian, DPDP s.9(1), Rules 10-11), and a closed account takes nothing.
The event lists exactly which purposes were copied, so replaying the ledger (`fiduciary consent
rebuild-state`) reproduces the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from fiduciary.consent import projection
from fiduciary.consent.children import child_by_age
from fiduciary.consent.models import VisitorLink
from fiduciary.consent.service import ConsentService, state_for
from fiduciary.errors import Conflict, FieldProblem, ValidationFailed
from fiduciary.people.guardianship import lawful_guardian
from fiduciary.people.service import VISITOR_ID_RE, get_person, require_active


@dataclass(frozen=True)
class LinkResult:
    visitor_id: str
    person_id: str
    created: bool  # False: the visitor was already linked to this person; nothing was written
    copied: tuple[str, ...]
    ledger_position: int | None


def link_visitor(service: ConsentService, session: Session, person_id: str, visitor_id: str) -> LinkResult:
    person = get_person(session, person_id, field="path.person_id")
    if not isinstance(visitor_id, str) or not VISITOR_ID_RE.fullmatch(visitor_id):
        raise ValidationFailed(
            "Malformed visitor id.",
            [FieldProblem("body.visitor_id", "must be 'vis_' followed by 26 characters a-z or 2-7")],
        )
    require_active(person)
    existing = session.get(VisitorLink, visitor_id)
    if existing is not None:
        if existing.person_id == person.id:
            return LinkResult(visitor_id, person.id, False, (), None)
        raise Conflict(
            "This visitor is already linked to another person; a browser's history belongs to one person.",
            code="visitor_already_linked",
            fields=[FieldProblem("body.visitor_id", "linked to another person")],
        )
    states = state_for(session, [visitor_id, person.id])
    visitor_rows = states.get(visitor_id, {})
    person_rows = states.get(person.id, {})
    policy = service.policy()
    # A child (or unknown age treated as one), or a person under lawful guardianship (DPDP s.9(1), Rule 11):
    # only a guardian grants for them, so a grant made on the banner is not theirs to copy.
    child = child_by_age(policy, person.age_status, person.adult_on, policy.today(), person.jurisdiction) or (
        lawful_guardian(person) is not None
    )
    copied = tuple(
        sorted(
            purpose
            for purpose, row in visitor_rows.items()
            if not (child and row.status == "granted")
            and (purpose not in person_rows or person_rows[purpose].ledger_position < row.ledger_position)
        )
    )
    payload = {"visitor": visitor_id, "person": person.id, "copied": list(copied)}
    entry = service.ledger.append(session, projection.LINKED, payload, subjects=projection.payload_subjects(payload))
    session.add(VisitorLink(visitor_id=visitor_id, person_id=person.id, linked_at=entry.recorded_at))
    session.flush()
    rows = []
    for purpose in copied:
        source = visitor_rows[purpose]
        rows.append({c: getattr(source, c) for c in projection.STATE_COLUMNS} | {"subject_id": person.id})
    projection.upsert_states(session, rows)
    return LinkResult(visitor_id, person.id, True, copied, entry.position)

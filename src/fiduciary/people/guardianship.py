"""Lawful guardians of persons with a disability (DPDP s.9(1), Rule 11).

A person with a disability who has a lawful guardian (appointed by a court, a designated authority or a
local-level committee under the RPwD Act 2016 or the National Trust Act 1999) gives consent through that
guardian, as a child does through a parent. We record the guardian's person id and a reference to the order
of appointment, and the appointment takes effect only once a member of staff has checked the order
(`verify`): until then the person's own choices stand. (The check is a field now; a case with the order
attached comes with the cases domain.)

In force, every purpose except Fourth Schedule Part B and s.17(1) exemptions needs a grant by exactly that
guardian (`decisions.engine`, reason `guardian_consent_required`); s.9(3)'s bars on tracking and targeted
advertising are about children and do not follow.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from fiduciary.errors import Conflict, FieldProblem, ValidationFailed
from fiduciary.people.models import Person
from fiduciary.people.service import ACTIVE, get_person, is_adult, require_active
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.storage.base import utcnow

ORDER_RE = re.compile(r"[\w./:() -]{1,200}")
STAFF_RE = re.compile(r"[A-Za-z0-9_.:@-]{1,100}")


def appoint(session: Session, policy: CompiledPolicy, ward_id: str, guardian_id: str, order_reference: str) -> Person:
    """Record a lawful guardian, pending verification; a new appointment replaces an older one unverified."""
    ward = get_person(session, ward_id, field="path.person_id")
    require_active(ward)
    if not isinstance(order_reference, str) or not ORDER_RE.fullmatch(order_reference):
        raise ValidationFailed(
            "Malformed reference to the order of appointment.",
            [FieldProblem("body.order_reference", "1 to 200 letters, digits, spaces and . / : ( ) -")],
        )
    guardian = get_person(session, guardian_id, field="body.guardian_id")
    if (
        guardian.id == ward.id
        or guardian.status != ACTIVE
        or not is_adult(guardian.age_status, guardian.adult_on, policy.today())
    ):
        raise Conflict(
            "A lawful guardian must be an existing, active adult person other than the ward (DPDP Rule 11).",
            code="guardian_not_adult",
            fields=[FieldProblem("body.guardian_id", "not an active adult person")],
        )
    ward.lawful_guardian_id = guardian.id
    ward.guardianship_order = order_reference
    ward.guardianship_verified_by = None
    ward.guardianship_verified_at = None
    session.flush()
    return ward


def verify(session: Session, ward_id: str, staff_id: str) -> Person:
    """A member of staff has checked the order of appointment: the guardianship is in force from now."""
    ward = get_person(session, ward_id, field="path.person_id")
    if not isinstance(staff_id, str) or not STAFF_RE.fullmatch(staff_id):
        raise ValidationFailed("Malformed staff id.", [FieldProblem("body.verified_by", "a staff id")])
    if ward.lawful_guardian_id is None:
        raise Conflict("No lawful guardian is recorded for this person.", code="no_guardianship")
    ward.guardianship_verified_by = staff_id
    ward.guardianship_verified_at = utcnow()
    session.flush()
    return ward


def lawful_guardian(person: Person) -> str | None:
    """The guardian whose consent counts for this person, once verified; else None."""
    return person.lawful_guardian_id if person.guardianship_verified_at is not None else None

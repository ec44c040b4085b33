"""People: create, close, and record their age without keeping the date of birth.

A person is a pseudonymous id ("per_" + 26 random base32 characters): it says nothing about the person, so
it can sit in ledgers and logs, and erasing the personal fields later never breaks a hash chain.

Age: DPDP s.2(f) makes anyone under 18 a child (the policy's `children.minimum_age`); a child needs a
guardian's verifiable consent (s.9(1), Rule 10) and is never tracked, profiled or targeted (s.9(3)). From
a declared date of birth we keep only `adult_on`, the day the person reaches the minimum age, which is
enough to answer "is this person a child today?" for ever after (data minimisation, DPDP s.6(1)).
"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from fiduciary.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from fiduciary.people.models import Person
from fiduciary.policy.ages import add_years
from fiduciary.storage.base import utcnow

if TYPE_CHECKING:  # annotations only: reading the vault's keys needs no policy
    from fiduciary.policy.compiled import CompiledPolicy

PERSON_ID_RE = re.compile(r"per_[a-z2-7]{26}")
VISITOR_ID_RE = re.compile(r"vis_[a-z2-7]{26}")
SUBJECT_ID_RE = re.compile(r"(per|vis)_[a-z2-7]{26}")

ACTIVE = "active"
CLOSED = "closed"
ADULT = "adult"
CHILD = "child"
UNKNOWN = "unknown"

MAX_AGE_YEARS = 130  # an older date of birth is a typing error, not a person


def new_id(prefix: str) -> str:
    """`<prefix>_` + 26 base32 characters: 130 random bits, meaningless and unguessable."""
    return prefix + "_" + base64.b32encode(secrets.token_bytes(17)).decode("ascii")[:26].lower()


def new_person_id() -> str:
    return new_id("per")


def new_visitor_id() -> str:
    return new_id("vis")


def today_utc() -> date:
    return datetime.now(UTC).date()


def is_child(age_status: str, adult_on: date | None, today: date) -> bool:
    """A child today (DPDP s.2(f)): declared a child and not yet past the day of coming of age.

    The same rule the decisions engine applies (`SubjectFacts.is_child`), so consent and decisions agree.
    """
    return age_status == CHILD and (adult_on is None or adult_on > today)


def is_adult(age_status: str, adult_on: date | None, today: date) -> bool:
    """Known to be an adult today: declared adult, or a declared child whose day of coming of age has passed.

    A guardian must be an identifiable adult (DPDP Rule 10(1)); an unknown age does not qualify.
    """
    return age_status == ADULT or (age_status == CHILD and adult_on is not None and adult_on <= today)


def check_person_id(person_id: str, field: str = "person_id") -> None:
    if not PERSON_ID_RE.fullmatch(person_id):
        raise ValidationFailed(
            "Malformed person id.",
            [FieldProblem(field, "must be 'per_' followed by 26 characters a-z or 2-7")],
        )


def get_person(session: Session, person_id: str, *, field: str = "person_id") -> Person:
    """The person, or 422 for a malformed id and 404 for an unknown one."""
    check_person_id(person_id, field)
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("No person has this id.", code="person_not_found")
    return person


def declare_age(
    person: Person,
    *,
    policy: CompiledPolicy,
    date_of_birth: date | None = None,
    is_child: bool | None = None,
    today: date | None = None,
) -> None:
    """Set `age_status` and `adult_on` from a date of birth or a yes/no declaration; the date is not kept.

    A bare "is a child" declaration leaves `adult_on` empty: the person stays a child until a later
    declaration (DPDP Rule 10 puts the burden of due diligence on the store, so we never guess an age).
    """
    today = today or policy.today()  # the store's calendar (DPDP s.2(f) age counts from its birthday)
    if (date_of_birth is None) == (is_child is None):
        raise ValidationFailed(
            "Declare the age with either a date of birth or is_child, not both and not neither.",
            [FieldProblem("date_of_birth", "give exactly one of date_of_birth and is_child")],
        )
    if date_of_birth is not None:
        if date_of_birth > today:
            raise ValidationFailed(
                "The date of birth is in the future.",
                [FieldProblem("date_of_birth", "must not be after today")],
            )
        if date_of_birth < add_years(today, -MAX_AGE_YEARS):
            raise ValidationFailed(
                "The date of birth is implausibly early.",
                [FieldProblem("date_of_birth", f"must be within the last {MAX_AGE_YEARS} years")],
            )
        adult_on = add_years(date_of_birth, policy.child_age)
        person.adult_on = adult_on
        person.age_status = ADULT if adult_on <= today else CHILD
    else:
        person.adult_on = None
        person.age_status = CHILD if is_child else ADULT


def check_residence(policy: CompiledPolicy, value: str | None, field: str = "body.jurisdiction") -> str | None:
    """A residence the policy in force declares (its code), or None; 422 naming the field otherwise: a
    residence the store does not serve would decide on a law it never stated (issue 12 item 1)."""
    jurisdiction = policy.declared_jurisdiction(value, field)
    return jurisdiction.value if jurisdiction is not None else None


def _child_where(policy: CompiledPolicy, person: Person, today: date) -> bool:
    """A child today under the ages of where the person lives (`policy.ages`; unknown: the policy-wide)."""
    return policy.ages_for(policy.residence(person.jurisdiction)).is_child(person.age_status, person.adult_on, today)


def create_person(
    session: Session,
    *,
    policy: CompiledPolicy,
    date_of_birth: date | None = None,
    is_child: bool | None = None,
    today: date | None = None,
    jurisdiction: str | None = None,
) -> Person:
    """A new person, optionally with an age declaration and a residence (validated before anything is
    written)."""
    person = Person(
        id=new_person_id(),
        status=ACTIVE,
        age_status=UNKNOWN,
        created_at=utcnow(),
        jurisdiction=check_residence(policy, jurisdiction),
    )
    if date_of_birth is not None or is_child is not None:
        today = today or policy.today()
        declare_age(person, policy=policy, date_of_birth=date_of_birth, is_child=is_child, today=today)
        if not policy.guardian_consent and _child_where(policy, person, today):
            # The policy serves no children (children.guardian_consent: false): refused at collection.
            age = policy.ages_for(policy.residence(person.jurisdiction)).child_age
            raise Conflict(
                f"This store serves no one under {age}: the person cannot be created.",
                code="children_not_served",
                fields=[FieldProblem("body.date_of_birth" if date_of_birth else "body.is_child", "below the age")],
            )
    session.add(person)
    session.flush()
    return person


def record_residence(session: Session, policy: CompiledPolicy, person: Person, jurisdiction: str | None) -> bool:
    """Record (or clear, with None) where the person lives; True when it changed. From the next decision
    on, that jurisdiction's ground and ages apply to them (`decisions.engine` rule 0)."""
    code = check_residence(policy, jurisdiction)
    if person.jurisdiction == code:
        return False
    person.jurisdiction = code
    session.flush()
    return True


def redeclare_age(
    session: Session,
    person: Person,
    *,
    policy: CompiledPolicy,
    date_of_birth: date | None = None,
    is_child: bool | None = None,
    today: date | None = None,
) -> bool:
    """Declare or correct an existing person's age; True when the account was closed because of it.

    Processing follows the new age at once: decisions and audiences read `age_status` on every call, so a
    person now declared a child drops out of every purpose that needs a guardian (DPDP s.9(1)). A store that
    serves no children ends the account of a person found to be one (the membership seed's "false age ends
    the membership"); its data then follows the policy's retention rules for closed accounts.
    """
    today = today or policy.today()
    declare_age(person, policy=policy, date_of_birth=date_of_birth, is_child=is_child, today=today)
    closed = False
    if not policy.guardian_consent and _child_where(policy, person, today) and person.status != CLOSED:
        person.status = CLOSED
        person.closed_at = utcnow()
        closed = True
    session.flush()
    return closed


def close_person(session: Session, person_id: str) -> Person:
    """Close the account; closing a closed account changes nothing and answers the same."""
    person = get_person(session, person_id)
    if person.status != CLOSED:
        person.status = CLOSED
        person.closed_at = utcnow()
        session.flush()
    return person


def require_active(person: Person) -> None:
    """409 for a closed account: it takes no new consent or restriction (DPDP s.8(7))."""
    if person.status == CLOSED:
        raise Conflict("The person's account is closed.", code="person_closed")

"""Nomination requests (DPDP s.14; DPDP Rules 2025 Rule 14): the person names someone to exercise their
rights on their death or incapacity.

`personal["nominee"]` is {name, contact, relationship?}; the contact is an email address or a phone number,
validated and normalised as the vault normalises an identifier (`vault.validation.normalise_identifier`),
so staff compare like with like. It stays sealed under the person's key on the completed request; nothing
else is written. The latest completed nomination is the one in force (`nominees_of`): a new nomination
replaces the earlier one, so a person can always withdraw a nominee by naming another. Staff check the
proof of a nominee who later acts (`MadeBy.NOMINEE`, DPDP s.14(2)) against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext
from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.policy.schema import Right, RightKind
from fiduciary.rights.kind_support import with_personal
from fiduciary.rights.models import RightsRequest, RightsRequestEvent
from fiduciary.rights.requests import MadeBy, NewRequest, open_personal
from fiduciary.rights.running import Outcome, Run
from fiduciary.rights.states import State, Transition
from fiduciary.unit_of_work import UnitOfWork
from fiduciary.vault.fields import default_validator

NOMINEE: Final = "nominee"  # in `personal`: {name, contact, contact_kind, relationship}
MAX_NAME: Final = 200
MAX_RELATIONSHIP: Final = 100


def check_nomination(runtime: RuntimeContext, session: Session, new: NewRequest, right: Right) -> NewRequest:
    if new.made_by is MadeBy.NOMINEE:
        raise ValidationFailed(
            "A nominee cannot name a nominee.", [FieldProblem("made_by", "the person names their nominee")]
        )
    raw = new.personal.get(NOMINEE)
    if not isinstance(raw, Mapping):
        raise ValidationFailed("Name the nominee.", [FieldProblem(NOMINEE, "an object with a name and a contact")])
    problems: list[FieldProblem] = []
    name = _text(raw.get("name"), MAX_NAME, f"{NOMINEE}.name", problems, required=True)
    relationship = _text(raw.get("relationship"), MAX_RELATIONSHIP, f"{NOMINEE}.relationship", problems)
    contact, kind = _contact(runtime, raw.get("contact"), problems)
    if problems:
        raise ValidationFailed("The nominee is not valid.", problems)
    nominee = {"name": name, "contact": contact, "contact_kind": kind, "relationship": relationship}
    return with_personal(new, **{NOMINEE: nominee})


def _text(value: object, limit: int, at: str, problems: list[FieldProblem], *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit or "\n" in value:
        problems.append(FieldProblem(at, f"one line of 1 to {limit} characters"))
        return None
    return value.strip()


def _contact(runtime: RuntimeContext, value: object, problems: list[FieldProblem]) -> tuple[str | None, str]:
    """(normalised contact, 'email' or 'phone'); a problem naming `nominee.contact` (never the value)."""
    at = f"{NOMINEE}.contact"
    if not isinstance(value, str) or not value.strip():
        problems.append(FieldProblem(at, "an email address or a phone number"))
        return None, "email"
    kind = "email" if "@" in value else "phone"
    country = runtime.policy().document.controller.default_country
    try:
        return default_validator().normalise_identifier(kind, value.strip(), default_country=country), kind
    except ValidationFailed as exc:
        first = exc.fields[0] if exc.fields else FieldProblem(at, f"is not a valid {kind}")
        problems.append(FieldProblem(at, first.message, first.hint))
        return None, kind


def start_nomination(run: Run) -> Outcome:
    """Nothing to run: the completed request, with its sealed nominee, is the record."""
    return Outcome.DONE


def nominees_of(uow: UnitOfWork, person_id: str) -> list[dict[str, Any]]:
    """The nominees in force: those of the person's latest completed nomination ([] when none, or when the
    person's key is gone). For staff checking a nominee's proof; the caller audits the read."""
    # Latest completion first: the history row of each completion, whose id grows with time (two requests
    # completed in the same instant are still ordered).
    rows = uow.session.scalars(
        select(RightsRequest)
        .join(RightsRequestEvent, RightsRequestEvent.request_id == RightsRequest.id)
        .where(
            RightsRequest.person_id == person_id,
            RightsRequest.kind == RightKind.NOMINATION.value,
            RightsRequest.state == State.COMPLETED.value,
            RightsRequestEvent.action == Transition.COMPLETE.value,
        )
        .order_by(RightsRequest.closed_at.desc(), RightsRequestEvent.id.desc())
    )
    for row in rows:
        nominee = open_personal(uow, row).get(NOMINEE)
        if isinstance(nominee, dict):
            return [nominee]
    return []

"""What the handlers of several kinds of request share: the person as they stand at receipt, the
`purposes` parameter, refusals that name each bad item, and the recipients a change must reach.

A handler's `check` runs before the request is written, in the caller's session (`rights.running.Check`),
where `submit` has just read the person: their account status and residence are read from it here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext
from fiduciary.disclosures.log import recipients_of
from fiduciary.errors import FiduciaryError, FieldProblem, ValidationFailed
from fiduciary.people.models import Person
from fiduciary.people.service import CLOSED
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.schema import Jurisdiction
from fiduciary.rights.requests import NewRequest

PURPOSES: Final = "purposes"  # in `details`: the policy purposes a request names
MAX_PURPOSES: Final = 100
SKIPPED: Final = "skipped"  # in `details`: purposes left alone when the request ran, with the reason code


@dataclass(frozen=True)
class PersonAtReceipt:
    closed: bool
    residence: Jurisdiction | None


def person_at_receipt(runtime: RuntimeContext, session: Session, person_id: str) -> PersonAtReceipt:
    """Whether the account is closed, and where the person lives as the policy knows it."""
    person = session.get(Person, person_id)
    if person is None:
        return PersonAtReceipt(False, None)
    return PersonAtReceipt(person.status == CLOSED, runtime.policy().residence(person.jurisdiction))


def purposes_param(details: Mapping[str, Any]) -> list[str] | None:
    """The `purposes` a request names, in order without repeats; None when it names none."""
    raw = details.get(PURPOSES)
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) > MAX_PURPOSES or not all(isinstance(p, str) and p for p in raw):
        raise ValidationFailed(
            "The purposes are not a list of purpose ids.",
            [FieldProblem(PURPOSES, f"a list of at most {MAX_PURPOSES} purpose ids of the policy")],
        )
    return list(dict.fromkeys(raw))


def with_details(new: NewRequest, **changes: Any) -> NewRequest:
    """`new` with its details changed (None removes a key): a check's normalised parameters."""
    details = {k: v for k, v in {**new.details, **changes}.items() if v is not None}
    return NewRequest(
        kind=new.kind,
        person_id=new.person_id,
        made_by=new.made_by,
        channel=new.channel,
        verified_by=new.verified_by,
        details=details,
        personal=new.personal,
        language=new.language,
    )


def with_personal(new: NewRequest, **changes: Any) -> NewRequest:
    """`new` with its sealed values changed (normalised by a check)."""
    return NewRequest(
        kind=new.kind,
        person_id=new.person_id,
        made_by=new.made_by,
        channel=new.channel,
        verified_by=new.verified_by,
        details=new.details,
        personal={**new.personal, **changes},
        language=new.language,
    )


def refuse(detail: str, refusals: Sequence[FiduciaryError]) -> None:
    """One 422 naming every refused item (each refusal already names its field); the code of the refusals
    when they share one (e.g. `purpose_is_legal_obligation`), else `validation_failed`."""
    if not refusals:
        return
    codes = {r.code for r in refusals}
    problems = [p for r in refusals for p in r.fields]
    raise ValidationFailed(detail, problems, code=codes.pop() if len(codes) == 1 else "validation_failed")


def recipients_receiving(
    policy: CompiledPolicy,
    session: Session,
    person_id: str,
    *,
    categories: Collection[str] = (),
    purposes: Collection[str] = (),
) -> list[dict[str, str]]:
    """The recipients that received the person's `categories`, or their data for any of `purposes`, as the
    disclosure log records it: those a correction or a restriction must be passed on to (GDPR Art 19: "each
    recipient to whom the personal data have been disclosed"; DPDP s.8(3), accuracy of data disclosed to
    another fiduciary). None when nothing was disclosed: a recipient the policy allows but that never
    received the person's data has nothing to correct. Ids and names only, in the policy's order (a
    recipient the policy no longer names last, by id)."""
    received = set(recipients_of(session, person_id, categories=categories, purposes=purposes))
    declared = [r for r in policy.document.recipients if r.id in received]
    named = [{"id": r.id, "name": r.name} for r in declared]
    gone = sorted(received - {r.id for r in declared})
    return named + [{"id": r, "name": r} for r in gone]

"""Disclosing personal data to a recipient: the one home of the step, for the API, the CLI and in-process
callers (DESIGN "Data flows: Disclosure").

`disclose` checks, before anything is read or written, that the policy lets this recipient receive these
categories for this purpose (DPDP s.8(2) and s.4(1); GDPR Art 5(1)(b), 13(1)(e) and 28), and that an order
names its reference when the recipient is an authority (DPDP s.7(d)-(e), GDPR Art 6(1)(c)). Then the
decision engine, set-wise, says for each person whether consent or another ground holds now: a person who
withdrew, objected or was erased is left out with the reasons. The package holds only the allowed fields,
read through the vault's purpose-bound access (each read audited); the log records the disclosure without a
value, in the same transaction, with one audit event for the whole share (DPDP s.11(1)(b), Rule 6(1)(c)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy.orm import Session

from fiduciary.audit.service import AuditEvent, attach_audit, refusal_event
from fiduciary.codes import safe_slug
from fiduciary.context import RuntimeContext
from fiduciary.decisions.audiences import eligible_people
from fiduciary.decisions.ids import PERSON_ID_RE
from fiduciary.decisions.service import DecisionService, check_actor
from fiduciary.disclosures.log import LogEntry, References, new_disclosure_id, write_log
from fiduciary.errors import FiduciaryError, FieldProblem
from fiduciary.policy.compiled import CompiledPolicy, CompiledPurpose
from fiduciary.policy.schema import Recipient, RecipientKind
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import unit_of_work
from fiduciary.vault.access import VaultAccess

ACTION: Final = "disclosure.make"
MAX_PEOPLE: Final = 10_000
MAX_PACKAGE: Final = 1_000
MAX_CATEGORIES: Final = 100
SERVICE_ROLE: Final = "service"


@dataclass(frozen=True)
class DisclosureRequest:
    """`people`, or `audience` (everyone the purpose may reach now); `order_reference` for authorities."""

    recipient: str
    purpose: str
    categories: Sequence[str]
    people: Sequence[str] | None = None
    audience: bool = False
    order_reference: str | None = None
    include_values: bool = True


@dataclass(frozen=True)
class Shared:
    """One person in the package: the reference the recipient knows them by, and the allowed fields."""

    person_id: str
    recipient_ref: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DisclosureResult:
    entry: LogEntry
    shared: list[Shared]
    excluded: dict[str, list[str]]  # person -> reason codes


def _refuse(status: int, code: str, detail: str, problems: list[FieldProblem]) -> FiduciaryError:
    title = "Forbidden" if status == 403 else "Validation failed"
    return FiduciaryError(detail=detail, status=status, title=title, code=code, fields=problems)


def _check_recipient(policy: CompiledPolicy, request: DisclosureRequest) -> tuple[Recipient, CompiledPurpose]:
    """422 for what the policy does not know, 403 for what it forbids this recipient; each names the field."""
    recipient = policy.recipients.get(request.recipient)
    if recipient is None:
        declared = ", ".join(sorted(policy.recipients)) or "none"
        raise _refuse(
            422, "validation_failed", "Unknown recipient.", [FieldProblem("body.recipient", f"one of: {declared}")]
        )
    purpose = policy.compiled_purposes.get(request.purpose)
    if purpose is None:
        raise _refuse(
            422, "validation_failed", "Unknown purpose.", [FieldProblem("body.purpose", "not a purpose of the policy")]
        )
    if request.purpose not in recipient.purposes:
        raise _refuse(
            403,
            "purpose_not_for_recipient",
            f"The policy does not share data with {recipient.id} for {request.purpose}; it does for: "
            + ", ".join(recipient.purposes)
            + ".",
            [FieldProblem("body.purpose", "not a purpose of this recipient")],
        )
    _check_categories(policy, recipient, purpose, request.categories)
    if recipient.kind is RecipientKind.AUTHORITY and not request.order_reference:
        raise _refuse(
            422,
            "order_reference_required",
            "A disclosure to an authority cites the order or request it answers.",
            [FieldProblem("body.order_reference", "required for a recipient of kind authority")],
        )
    if recipient.kind is not RecipientKind.AUTHORITY and request.order_reference is not None:
        raise _refuse(
            422,
            "validation_failed",
            "Only a disclosure to an authority carries an order reference.",
            [FieldProblem("body.order_reference", "only for a recipient of kind authority")],
        )
    return recipient, purpose


def _check_categories(
    policy: CompiledPolicy, recipient: Recipient, purpose: CompiledPurpose, categories: Sequence[str]
) -> None:
    if not categories or len(categories) > MAX_CATEGORIES:
        raise _refuse(
            422,
            "validation_failed",
            "Name the categories.",
            [FieldProblem("body.categories", f"1 to {MAX_CATEGORIES}")],
        )
    unknown = [
        FieldProblem(f"body.categories[{i}]", "not a category of the policy")
        for i, c in enumerate(categories)
        if c not in policy.categories
    ]
    if unknown:
        raise _refuse(422, "validation_failed", "Unknown category.", unknown)
    barred = [
        FieldProblem(f"body.categories[{i}]", f"{recipient.id} may not receive it")
        for i, c in enumerate(categories)
        if c not in recipient.categories
    ]
    if barred:
        raise _refuse(
            403,
            "category_not_for_recipient",
            f"The policy does not let {recipient.id} receive these categories; it may receive: "
            + ", ".join(recipient.categories)
            + ".",
            barred,
        )
    outside = [
        FieldProblem(f"body.categories[{i}]", f"not used by {purpose.id}")
        for i, c in enumerate(categories)
        if c not in purpose.categories
    ]
    if outside:
        raise _refuse(
            403, "category_not_in_purpose", f"The purpose {purpose.id} does not use these categories.", outside
        )


def _check_people(request: DisclosureRequest) -> list[str]:
    if request.audience == (request.people is not None):
        raise _refuse(
            422,
            "validation_failed",
            "Give people or an audience.",
            [FieldProblem("body.people", "people, or audience: true")],
        )
    if request.people is None:
        return []
    if not request.people or len(request.people) > MAX_PEOPLE:
        raise _refuse(
            422, "validation_failed", "Too many or no people.", [FieldProblem("body.people", f"1 to {MAX_PEOPLE} ids")]
        )
    bad = [
        FieldProblem(f"body.people[{i}]", "must be a person id (per_…)")
        for i, p in enumerate(request.people)
        if not isinstance(p, str) or not PERSON_ID_RE.fullmatch(p)
    ]
    if bad:
        raise _refuse(422, "validation_failed", "Some person ids are malformed.", bad[:20])
    return list(dict.fromkeys(request.people))


def _decide(
    runtime: RuntimeContext, session: Session, request: DisclosureRequest, purpose: CompiledPurpose, people: list[str]
) -> tuple[list[str], dict[str, list[str]]]:
    """The people the purpose reaches now with these categories, and the others with their reasons."""
    service = DecisionService.for_runtime(runtime)
    policy = runtime.policy()
    if request.audience:
        today = service.today(policy)
        return [p for batch in eligible_people(session, purpose, today=today, policy=policy) for p in batch], {}
    context = service.prepare(session, people)
    allowed: list[str] = []
    excluded: dict[str, list[str]] = {}
    for person in people:
        decision = context.decide(person, request.purpose, request.categories, strict=True)
        if decision.allow:
            allowed.append(person)
        else:
            excluded[person] = [str(r) for r in decision.reasons] or ["denied"]
    return allowed, excluded


def disclose(runtime: RuntimeContext, session: Session, request: DisclosureRequest, *, actor: str) -> DisclosureResult:
    """Check, decide, read the allowed fields, log and audit; all in the caller's transaction. A refusal
    changes nothing and is audited on its own."""
    check_actor(actor)
    uow = unit_of_work(runtime, session)
    policy = runtime.policy()
    with uow.step():
        try:
            recipient, purpose = _check_recipient(policy, request)
            people = _check_people(request)
            allowed, excluded = _decide(runtime, session, request, purpose, people)
            if request.include_values and len(allowed) > MAX_PACKAGE:
                raise _refuse(
                    422,
                    "package_too_large",
                    f"A package holds at most {MAX_PACKAGE} people; log larger shares without values.",
                    [FieldProblem("body.include_values", f"false for more than {MAX_PACKAGE} people")],
                )
        except FiduciaryError as exc:
            event = refusal_event(
                exc, actor=actor, action=ACTION, target=safe_slug(request.recipient), purpose=safe_slug(request.purpose)
            )
            raise attach_audit(exc, event) from None
        shared = _package(runtime, session, request, allowed, actor=actor)
        entry = LogEntry(
            id=new_disclosure_id(),
            recipient_id=recipient.id,
            recipient_kind=recipient.kind.value,
            purpose=request.purpose,
            categories=sorted(set(request.categories)),
            actor=actor,
            policy_version=policy.version or 0,
            order_reference=request.order_reference,
            audience=request.audience,
            people=len(allowed),
            disclosed_at=utcnow(),
        )
        write_log(session, References.for_runtime(runtime), entry, allowed)
        uow.audit(
            AuditEvent(
                actor=actor,
                action=ACTION,
                purpose=request.purpose,
                categories=entry.categories,
                target=recipient.id,
                count=len(allowed),
                person_id=allowed[0] if len(allowed) == 1 else None,
                reasons=sorted({r for rs in excluded.values() for r in rs}),
            )
        )
    return DisclosureResult(entry, shared, excluded)


def _package(
    runtime: RuntimeContext, session: Session, request: DisclosureRequest, allowed: list[str], *, actor: str
) -> list[Shared]:
    """The minimised package: only the allowed categories, read for the disclosure's purpose (audited)."""
    references = References.for_runtime(runtime)
    if not request.include_values:
        return [Shared(p, references.of(request.recipient, p)) for p in allowed]
    access = VaultAccess.for_runtime(runtime)
    out: list[Shared] = []
    for person in allowed:
        read = access.read_fields(session, actor, SERVICE_ROLE, person, request.purpose, list(request.categories))
        out.append(Shared(person, references.of(request.recipient, person), dict(read.fields)))
    return out


def result_dict(result: DisclosureResult) -> dict[str, Any]:
    """The answer: the log entry, the package and who was left out with why."""
    return {
        **result.entry.to_dict(),
        "shared": [
            {"person_id": s.person_id, "recipient_ref": s.recipient_ref, "fields": s.fields} for s in result.shared
        ],
        "excluded": [{"person_id": p, "reasons": r} for p, r in sorted(result.excluded.items())],
    }

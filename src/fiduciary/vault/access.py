"""Purpose-bound access to personal fields: every read and write names an actor and a purpose, is decided
by the decision engine, masked by role, and audited (DESIGN principle 2; DPDP s.4(1) and s.5(1) purpose
limitation, s.8(5) and Rule 6(1)(a)-(c) masking, access control and logs; GDPR Art 5(1)(b)-(c), Art 32).

- `read_fields` returns only the categories the decision allows; the rest come back as denied with the
  reason codes. Roles see masked values (support sees ******4321) unless the purpose lists the role in
  `full_values_for_roles` (unset: only `service`, the store backend's own processing, sees full values).
- `write_fields` accepts a value only under a declared purpose of collection that lists its category and
  that the person's consent, age and restrictions allow: collection is processing (DPDP s.2(x)), so it
  needs the same lawful basis as any use. Values are validated, encrypted and stored by `VaultService`.
- Every attempt is audited, allowed or not, with categories and reason codes and never a value.

Each read, write and lookup is one step of the session's unit of work (`fiduciary.unit_of_work`): its
audit events are written when the transaction commits. A refusal or error rolls the transaction back (the
attempt changes nothing) and its audit events are recorded in a transaction of their own, so every caller
— the HTTP routes, the SDK in process, a job — gets the same trail without wrapping anything.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, Final, ParamSpec, TypeVar

from sqlalchemy.orm import Session

from fiduciary.audit.service import Action, AuditEvent, AuditTrail, Outcome, attach_audit, refusal_event
from fiduciary.codes import safe_request_id, safe_slug
from fiduciary.decisions.engine import DENY_REASONS, Decision, Reason
from fiduciary.decisions.service import DecisionContext, DecisionService, check_actor
from fiduciary.errors import Conflict, FiduciaryError, FieldProblem, Forbidden, NotFound, ValidationFailed
from fiduciary.people.models import Person
from fiduciary.people.service import PERSON_ID_RE
from fiduciary.personal_data.changes import ChangeKind, PersonDataChange
from fiduciary.personal_data.registry import announce
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.schema import AccessRole, FieldType, Source
from fiduciary.unit_of_work import unit_of_work
from fiduciary.vault.keys.blind_index import IDENTIFIER_KINDS
from fiduciary.vault.keys.data_keys import PersonErased
from fiduciary.vault.masking import full_value_roles, reveal
from fiduciary.vault.service import VaultService

if TYPE_CHECKING:
    from fiduciary.context import RuntimeContext

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_ROLE: Final = AccessRole.SERVICE
MAX_CATEGORIES: Final = 100
# Which identifier kind holds values of which category type (an e-mail identifier is a `contact.email`-like value).
IDENTIFIER_FIELD_TYPES: Final[Mapping[str, FieldType]] = {"email": FieldType.EMAIL, "phone": FieldType.PHONE}


@dataclass(frozen=True)
class ReadResult:
    person_id: str
    purpose: str
    role: str
    fields: dict[str, str]  # category -> value (masked when the category is in `masked`)
    masked: list[str]
    denied: dict[str, list[str]]  # category -> reason codes
    absent: list[str]  # allowed, but no value stored
    reasons: list[str]  # the decision's reason codes

    def to_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "purpose": self.purpose,
            "role": self.role,
            "fields": self.fields,
            "masked": self.masked,
            "denied": self.denied,
            "absent": self.absent,
            "reasons": self.reasons,
        }


@dataclass(frozen=True)
class WriteResult:
    person_id: str
    purpose_of_collection: str
    source: str
    categories: list[str]
    reasons: list[str] = field(default_factory=list)


def _one_step(
    method: Callable[Concatenate[VaultAccess, Session, P], R],
) -> Callable[Concatenate[VaultAccess, Session, P], R]:
    """Run the method as one step of the session's unit of work: its audit events commit with it, and a
    refusal is rolled back and recorded on its own, whoever calls (the API, the SDK in process, a job)."""

    @functools.wraps(method)
    def run(self: VaultAccess, session: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with unit_of_work(self.runtime, session).step():
            return method(self, session, *args, **kwargs)

    return run


class VaultAccess:
    """The purpose-bound door to the vault for one runtime. Cheap: share via `for_runtime`."""

    def __init__(
        self,
        runtime: RuntimeContext,
        *,
        vault: VaultService | None = None,
        decisions: DecisionService | None = None,
        trail: AuditTrail | None = None,
    ) -> None:
        self.runtime = runtime
        self.vault = vault or VaultService(runtime)
        self.decisions = decisions or DecisionService.for_runtime(runtime)
        self.trail = trail or AuditTrail.for_runtime(runtime)

    @classmethod
    def for_runtime(cls, runtime: RuntimeContext) -> VaultAccess:
        return runtime.shared("vault.access", VaultAccess, lambda: cls(runtime))

    # ------------------------------------------------------------------------------------------ checks

    def _event(self, actor: str, action: str, request_id: str | None, **kw: Any) -> AuditEvent:
        return AuditEvent(actor=actor, action=action, request_id=safe_request_id(request_id), **kw)

    def _fail(self, exc: FiduciaryError, actor: str, action: str, request_id: str | None, **kw: Any) -> FiduciaryError:
        """`exc` carrying its audit event (outcome error, or denied for a 403)."""
        return attach_audit(exc, refusal_event(exc, actor=actor, action=action, request_id=request_id, **kw))

    @staticmethod
    def _check_actor(actor: str) -> None:
        check_actor(actor)

    @staticmethod
    def _person_field(person_id: object) -> str | None:
        """The id if well-formed (safe to audit), else None."""
        return person_id if isinstance(person_id, str) and PERSON_ID_RE.fullmatch(person_id) else None

    def _person(self, session: Session, person_id: str, field: str) -> Person:
        if not isinstance(person_id, str) or not PERSON_ID_RE.fullmatch(person_id):
            raise ValidationFailed(
                "Malformed person id.", [FieldProblem(field, "must be 'per_' followed by 26 characters a-z or 2-7")]
            )
        person = session.get(Person, person_id)
        if person is None:
            raise NotFound("No person has this id.", code="person_not_found")
        return person

    def _context(self, session: Session, person_id: str) -> DecisionContext:
        """The person's decision facts in one load (people, consent, restrictions); 404 if nobody has the id."""
        if not isinstance(person_id, str) or not PERSON_ID_RE.fullmatch(person_id):
            raise ValidationFailed(
                "Malformed person id.",
                [FieldProblem("person_id", "must be 'per_' followed by 26 characters a-z or 2-7")],
            )
        context = self.decisions.prepare(session, [person_id])
        if not context.facts[person_id].exists:
            raise NotFound("No person has this id.", code="person_not_found")
        return context

    @staticmethod
    def _purpose(value: object, field: str) -> str:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValidationFailed(
                "Name the purpose: every use of personal data is for a declared purpose.",
                [FieldProblem(field, "is required")],
                code="purpose_required",
            )
        if safe_slug(value) is None:
            raise ValidationFailed(
                "The purpose is not a purpose id.",
                [FieldProblem(field, "must be a purpose id of the policy, e.g. order_fulfilment")],
            )
        assert isinstance(value, str)
        return value

    @staticmethod
    def _categories(policy: CompiledPolicy, categories: Sequence[str], field: str) -> list[str]:
        valid = sorted(policy.categories)
        if isinstance(categories, str) or len(categories) > MAX_CATEGORIES:
            raise ValidationFailed(
                "Too many categories.", [FieldProblem(field, f"give a list of at most {MAX_CATEGORIES} categories")]
            )
        problems = [
            FieldProblem(f"{field}.{c}" if safe_slug(c) else field, "is not a data category the policy declares")
            for c in categories
            if c not in policy.categories
        ]
        if problems:
            raise ValidationFailed(
                "Unknown data category. Valid categories: " + ", ".join(valid) + ".",
                problems,
                code="unknown_category",
            )
        return list(dict.fromkeys(categories))

    @staticmethod
    def _role(role: str | None) -> str:
        if role is None:
            return DEFAULT_ROLE.value
        try:
            return AccessRole(role).value
        except ValueError:
            valid = ", ".join(r.value for r in AccessRole)
            raise ValidationFailed(
                f"Unknown role. Valid roles: {valid}.", [FieldProblem("role", f"must be one of {valid}")]
            ) from None

    # ------------------------------------------------------------------------------------------- reads

    @_one_step
    def read_fields(
        self,
        session: Session,
        actor: str,
        role: str | None,
        person_id: str,
        purpose: str | None,
        categories: Sequence[str] = (),
        *,
        request_id: str | None = None,
        field_prefix: str = "",
    ) -> ReadResult:
        """The allowed fields of a person for a purpose, masked by role; denied categories with reasons.

        No categories means every category the purpose declares. An undeclared purpose or one that covers
        none of the categories is a deny (200 with everything denied), not an error: it is an answer about
        this use. Malformed input is a 422, a person nobody has a 404 and an erased person a 410 whatever
        the purpose, all audited as errors.
        """
        self._check_actor(actor)
        audit_person = self._person_field(person_id)
        audit_purpose = safe_slug(purpose)
        requested_safe = [c for c in categories if safe_slug(c)] if not isinstance(categories, str) else []
        policy = self.runtime.policy()
        try:
            purpose_id = self._purpose(purpose, field_prefix + "purpose")
            role_value = self._role(role)
            wanted = self._categories(policy, categories, field_prefix + "categories")
            context = self._context(session, person_id)
        except FiduciaryError as exc:
            raise self._fail(
                exc,
                actor,
                Action.FIELD_READ,
                request_id,
                person_id=audit_person,
                purpose=audit_purpose,
                categories=requested_safe[:MAX_CATEGORIES],
                role=safe_slug(role),
            ) from None

        decision = context.decide(person_id, purpose_id, wanted)
        reasons = [str(r) for r in decision.reasons]
        compiled = policy.compiled_purposes.get(purpose_id)
        denied = self._denied(decision, compiled.categories if compiled is not None else frozenset())
        allowed = sorted(decision.allowed_categories)
        full = role_value in full_value_roles(policy, purpose_id)
        fields: dict[str, str] = {}
        masked: list[str] = []
        stored = self._stored_fields(session, actor, request_id, person_id, purpose_id, allowed, role_value)
        if allowed:
            fields, masked = reveal(policy, allowed, stored, full)
        events = self._read_events(
            actor, request_id, decision, person_id, purpose_id, allowed, denied, reasons, full, role_value
        )
        unit_of_work(self.runtime, session).audit_many(events)
        return ReadResult(
            person_id=person_id,
            purpose=purpose_id,
            role=role_value,
            fields=fields,
            masked=masked,
            denied=denied,
            absent=[c for c in allowed if c not in fields],
            reasons=reasons,
        )

    def _stored_fields(
        self,
        session: Session,
        actor: str,
        request_id: str | None,
        person_id: str,
        purpose_id: str,
        allowed: list[str],
        role_value: str,
    ) -> dict[str, str]:
        """The stored values of the allowed categories; an erased person is a 410 (audited)."""
        try:
            # A read of an erased person is 410 whatever the decision: with nothing allowed (a consent purpose
            # after erasure closed the account) the key row is checked without decrypting anything, so the
            # caller learns the data is gone rather than seeing a deny it could retry after a new consent.
            if not allowed and self.vault.is_erased(session, person_id):
                raise PersonErased()
            return self.vault.get_fields(session, person_id, allowed) if allowed else {}
        except PersonErased as exc:
            raise self._fail(
                exc,
                actor,
                Action.FIELD_READ,
                request_id,
                person_id=person_id,
                purpose=purpose_id,
                categories=allowed,
                role=role_value,
            ) from None

    def _read_events(
        self,
        actor: str,
        request_id: str | None,
        decision: Decision,
        person_id: str,
        purpose_id: str,
        allowed: list[str],
        denied: dict[str, list[str]],
        reasons: list[str],
        full: bool,
        role_value: str,
    ) -> list[AuditEvent]:
        """A read's audit events: what was given (and whether masked), what was withheld and why."""
        events: list[AuditEvent] = []
        if allowed:
            events.append(
                self._event(
                    actor,
                    Action.FIELD_READ,
                    request_id,
                    outcome=Outcome.ALLOWED,
                    person_id=person_id,
                    purpose=purpose_id,
                    categories=allowed,
                    reasons=[*reasons, "full_values" if full else "masked"],
                    role=role_value,
                )
            )
        if denied:
            deny_reasons = sorted({r for codes in denied.values() for r in codes})
            events.append(
                self._event(
                    actor,
                    Action.FIELD_READ,
                    request_id,
                    outcome=Outcome.DENIED,
                    person_id=person_id,
                    purpose=purpose_id,
                    categories=sorted(denied),
                    reasons=deny_reasons,
                    role=role_value,
                )
            )
        if not events:  # nothing asked and nothing to give (an undeclared purpose): still a recorded attempt
            events.append(
                self._event(
                    actor,
                    Action.FIELD_READ,
                    request_id,
                    outcome=Outcome.ALLOWED if decision.allow else Outcome.DENIED,
                    person_id=person_id,
                    purpose=purpose_id,
                    reasons=reasons,
                    role=role_value,
                )
            )
        return events

    @staticmethod
    def _denied(decision: Decision, declared: frozenset[str]) -> dict[str, list[str]]:
        """Per withheld category, why: outside the purpose, and/or the decision's deny reasons."""
        if Reason.PURPOSE_NOT_DECLARED in decision.reasons:
            return {c: [str(Reason.PURPOSE_NOT_DECLARED)] for c in sorted(decision.denied_categories)}
        others = [str(r) for r in decision.reasons if r in DENY_REASONS and r is not Reason.CATEGORY_NOT_IN_PURPOSE]
        out: dict[str, list[str]] = {}
        for category in sorted(decision.denied_categories):
            codes = [str(Reason.CATEGORY_NOT_IN_PURPOSE)] if category not in declared else []
            out[category] = codes + others
        return out

    # ------------------------------------------------------------------------------------------ writes

    @staticmethod
    def _check_kinds(identifiers: Mapping[str, str], field_prefix: str) -> None:
        unknown_kinds = [k for k in identifiers if k not in IDENTIFIER_KINDS]
        if unknown_kinds:
            raise ValidationFailed(
                "Unknown identifier kind. Valid kinds: " + ", ".join(IDENTIFIER_KINDS) + ".",
                [
                    FieldProblem(
                        f"{field_prefix}identifiers.{k}" if safe_slug(k) else field_prefix + "identifiers",
                        "is not an identifier kind",
                    )
                    for k in unknown_kinds
                ],
            )

    @staticmethod
    def _check_collects(
        policy: CompiledPolicy, purpose_id: str, wanted: Sequence[str], identifiers: Mapping[str, str]
    ) -> None:
        """403 unless the purpose is declared and collects every category and identifier kind asked for."""
        compiled = policy.compiled_purposes.get(purpose_id)
        if compiled is None:
            raise Forbidden(
                "The purpose of collection is not declared in the policy. Valid purposes: "
                + ", ".join(sorted(policy.purposes))
                + ".",
                code=str(Reason.PURPOSE_NOT_DECLARED),
            )
        outside = [c for c in wanted if c not in compiled.categories]
        if outside:
            raise Forbidden(
                f"The purpose {purpose_id} does not collect {', '.join(outside)}; it declares "
                + ", ".join(sorted(compiled.categories))
                + ".",
                code=str(Reason.CATEGORY_NOT_IN_PURPOSE),
            )
        types = {policy.categories[c].field_type for c in compiled.categories if c in policy.categories}
        uncovered = [k for k in identifiers if k in IDENTIFIER_FIELD_TYPES and IDENTIFIER_FIELD_TYPES[k] not in types]
        if uncovered:
            raise Forbidden(
                f"The purpose {purpose_id} declares no category for the identifier kinds {', '.join(uncovered)}.",
                code=str(Reason.CATEGORY_NOT_IN_PURPOSE),
            )

    @_one_step
    def write_fields(
        self,
        session: Session,
        actor: str,
        person_id: str,
        purpose_of_collection: str | None,
        source: str,
        fields: Mapping[str, str],
        *,
        identifiers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        field_prefix: str = "",
    ) -> WriteResult:
        """Validate, decide, encrypt and store single-valued fields (and lookup identifiers); audit it.

        422: no purpose, an unknown category (the message lists the valid ones), an unknown source, an
        invalid value (a card number anywhere). 403 `purpose_not_declared` / `category_not_in_purpose`, or
        the decision's deny reason (no consent, a child, an objection): the purpose may not collect it.
        404 unknown person; 409 closed or erased person, or an identifier registered to someone else.
        Nothing is written unless everything passes.

        Identifiers (email, phone, customer id) make the person findable by `lookup`; an email or phone
        identifier is contact data, so the purpose must declare a category of that type.
        """
        identifiers = identifiers or {}
        self._check_actor(actor)
        audit_person = self._person_field(person_id)
        audit_purpose = safe_slug(purpose_of_collection)
        names = list(fields) if isinstance(fields, Mapping) else []
        safe_names = [c for c in names if safe_slug(c)][:MAX_CATEGORIES]
        policy = self.runtime.policy()
        context: dict[str, Any] = {"person_id": audit_person, "purpose": audit_purpose, "categories": safe_names}
        deny_reasons: list[str] = []
        try:
            purpose_id, wanted = self._write_input(
                policy, purpose_of_collection, source, fields, identifiers, names, field_prefix
            )
            facts = self._context(session, person_id)
            if facts.facts[person_id].closed:
                raise Conflict("The person's account is closed.", code="person_closed")
            self._check_collects(policy, purpose_id, wanted, identifiers)
            decision = facts.decide(person_id, purpose_id, wanted, strict=True)
            if not decision.allow:
                deny_reasons = [str(r) for r in decision.reasons]
                raise Forbidden(
                    "The policy does not allow collecting these fields for this purpose now: "
                    + ", ".join(deny_reasons),
                    code=deny_reasons[0] if deny_reasons else "denied",
                )
            self.vault.create_person_record(
                session, person_id, dict(fields), dict(identifiers), purpose=purpose_id, source=source
            )
            # A value written again must reach every recipient that received the old one (DPDP s.12(2),
            # GDPR Art 16 and 19); the listeners act only where a recipient did.
            announce(self.runtime, session, PersonDataChange.of(ChangeKind.CORRECTION, [person_id], categories=wanted))
        except FiduciaryError as exc:
            raise self._fail(
                exc, actor, Action.FIELD_WRITE, request_id, reasons=deny_reasons or None, **context
            ) from None
        unit_of_work(self.runtime, session).audit(
            AuditEvent(
                actor=actor,
                action=Action.FIELD_WRITE,
                outcome=Outcome.ALLOWED,
                person_id=person_id,
                purpose=purpose_id,
                categories=wanted,
                reasons=[str(r) for r in decision.reasons] + [f"identifier.{k}" for k in sorted(identifiers)],
                count=len(identifiers) or None,
                request_id=safe_request_id(request_id),
            )
        )
        return WriteResult(person_id, purpose_id, source, sorted(wanted), [str(r) for r in decision.reasons])

    def _write_input(
        self,
        policy: CompiledPolicy,
        purpose_of_collection: str | None,
        source: str,
        fields: Mapping[str, str],
        identifiers: Mapping[str, str],
        names: list[str],
        field_prefix: str,
    ) -> tuple[str, list[str]]:
        """The 422 checks of a write, in order (purpose, something to write, identifier kinds, categories,
        source); returns the purpose id and the categories to write."""
        purpose_id = self._purpose(purpose_of_collection, field_prefix + "purpose_of_collection")
        if not isinstance(fields, Mapping) or not isinstance(identifiers, Mapping) or not (fields or identifiers):
            raise ValidationFailed(
                "Give at least one field.",
                [FieldProblem(field_prefix + "fields", "must name at least one category")],
            )
        self._check_kinds(identifiers, field_prefix)
        wanted = self._categories(policy, names, field_prefix + "fields")
        sources = [s.value for s in Source]
        if source not in sources:
            raise ValidationFailed(
                "Unknown source. Valid sources: " + ", ".join(sources) + ".",
                [FieldProblem(field_prefix + "source", "must be one of " + ", ".join(sources))],
            )
        return purpose_id, wanted

    # ----------------------------------------------------------------------------------------- lookups

    @_one_step
    def lookup(
        self,
        session: Session,
        actor: str,
        kind: str,
        value: str,
        *,
        purpose: str | None = None,
        request_id: str | None = None,
    ) -> str | None:
        """The person with exactly this identifier, or None; audited either way on the same path.

        The identifier itself is never recorded: the event names the kind and, when found, the person.
        """
        self._check_actor(actor)
        audit_purpose = safe_slug(purpose)
        try:
            if kind not in IDENTIFIER_KINDS:
                raise ValidationFailed(
                    "Unknown identifier kind. Valid kinds: " + ", ".join(IDENTIFIER_KINDS) + ".",
                    [FieldProblem("kind", "must be one of " + ", ".join(IDENTIFIER_KINDS))],
                )
            if purpose is not None:
                self._purpose(purpose, "purpose")
            found = self.vault.find_by_identifier(session, kind, value)
        except FiduciaryError as exc:
            raise self._fail(
                exc, actor, Action.PERSON_LOOKUP, request_id, purpose=audit_purpose, target=safe_slug(kind)
            ) from None
        unit_of_work(self.runtime, session).audit(
            AuditEvent(
                actor=actor,
                action=Action.PERSON_LOOKUP,
                outcome=Outcome.ALLOWED if found else Outcome.ERROR,
                person_id=found,
                purpose=audit_purpose,
                reasons=[] if found else ["person_not_found"],
                target=kind,
                request_id=safe_request_id(request_id),
            )
        )
        return found

"""The decision rules: may this subject's data in these categories be used for this purpose today?

Pure: no database session, no web framework. `DecisionService` loads the facts; the audience query in
`decisions.audiences` is the set-wise SQL twin of these rules, and a property test keeps the two in step.

The rules, in order; every reason that applies is collected so a person can read why:

0. Where the caller names the person's jurisdiction, or the person's residence is recorded
   (`people.jurisdiction`; the caller's wins), each purpose is taken with the ground the policy states for
   it there (`Purpose.grounds_by_jurisdiction`; GDPR Art 6(1), DPDP s.4 and s.7), else with its own
   `legal_ground`, and the ages are that jurisdiction's band (`policy.ages`: DPDP s.2(f) 18, GDPR Art 8(1)
   16 or lower by member state, CCPA 1798.120(c) 16 and 13), else the policy-wide ages, which are at least
   every band's. Every rule below reads the ground and the ages so chosen.
1. The purpose must be declared in the policy (DPDP s.5(1), GDPR Art 5(1)(b) purpose limitation), else
   `purpose_not_declared` and nothing else is evaluated.
2. Categories the purpose does not declare are masked out with `category_not_in_purpose` (DPDP s.6(1)
   "limited to such personal data as is necessary"; GDPR Art 5(1)(c)). The decision still allows the rest:
   `allowed_categories` is the field mask. It denies outright only when no requested category remains, or
   when the caller asks for `strict`. No categories requested means "the purpose as declared".
3. A closed account is used for nothing but a legal obligation (DPDP s.8(7) erasure once the purpose is
   served; the Rule 8(3) one-year floor and tax retention continue under `legal_obligation`).
4. Children (under the policy's minimum age today; a person of unknown age too under `unknown_age:
   treat_as_child`), except for Fourth Schedule Part B purposes and s.17(1) exemptions (`child_exempt`):
   a store that serves no children (`guardian_consent: false`) processes nothing → `children_not_served`;
   tracking, profiling, targeted advertising, and where DPDP applies a sale or sharing, never happen
   whatever consent says (DPDP s.9(3)) → `child_protection`; anything else needs a guardian's current
   grant for the purpose, whatever its legal ground (DPDP s.9(1), Rule 10) → `guardian_consent_required`.
   Under `unknown_age: ask` a person of unknown age gets no consent purpose → `age_unknown`. A person with
   a verified lawful guardian (DPDP s.9(1), Rule 11) needs that guardian's grant in the same way.
   A sale or sharing for someone under `sale_opt_in_age` (16) needs an opt-in grant, a guardian's under
   `sale_parent_age` (13), whatever its legal ground (CCPA Civ. Code 1798.120(c)) → `sale_opt_in_required`.
5. A consent purpose needs a current grant: none → `no_consent`; withdrawn or refused → `withdrawn`
   (DPDP s.6(4), GDPR Art 7(3)); given under a policy version older than the purpose's re-consent floor →
   `consent_predates_material_change` (ISO/IEC 29184 5.5.3).
6. An active objection or restriction by the person (for this purpose, or for every purpose) stops the
   processing (DPDP s.7(a) illustration II, GDPR Art 18(1) and 21), on any ground except a legal
   obligation, which neither restriction nor objection can stop (GDPR Art 17(3)(b), 18(2), 21(1); DPDP
   s.7(d)-(e)).

The hot path is dictionary lookups and frozenset operations only: the service caches the compiled policy
and the floors, and `SubjectFacts` is a plain slotted dataclass, so a decision costs a few microseconds.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import NamedTuple

from fiduciary.policy.ages import AgeRules
from fiduciary.policy.compiled import CompiledPolicy, CompiledPurpose
from fiduciary.policy.schema import Jurisdiction, LegalGround, UnknownAge


class Reason(StrEnum):
    """Reason codes a decision carries; stable strings that the API and the audit trail expose."""

    # deny reasons (issue 3 item 5)
    NO_CONSENT = "no_consent"
    WITHDRAWN = "withdrawn"
    CONSENT_PREDATES_MATERIAL_CHANGE = "consent_predates_material_change"
    RESTRICTED_BY_PERSON = "restricted_by_person"
    CHILD_PROTECTION = "child_protection"
    GUARDIAN_CONSENT_REQUIRED = "guardian_consent_required"  # DPDP s.9(1): a child, no guardian's grant
    CHILDREN_NOT_SERVED = "children_not_served"  # the policy's children.guardian_consent is false
    AGE_UNKNOWN = "age_unknown"  # unknown_age: ask, and no age declared yet
    SALE_OPT_IN_REQUIRED = "sale_opt_in_required"  # CCPA 1798.120(c): under 16, a sale needs an opt-in
    PURPOSE_NOT_DECLARED = "purpose_not_declared"
    CATEGORY_NOT_IN_PURPOSE = "category_not_in_purpose"
    ACCOUNT_CLOSED = "account_closed"
    UNKNOWN_SUBJECT = "unknown_subject"  # a person id with no person, asked about a non-consent purpose
    # allow reasons
    CONSENT_GIVEN = "consent_given"
    LEGAL_GROUND = "legal_ground"  # a non-consent ground (contract, legal obligation, legitimate use …)


DENY_REASONS = frozenset(r for r in Reason if r not in (Reason.CONSENT_GIVEN, Reason.LEGAL_GROUND))

GRANTED = "granted"
ADULT = "adult"
CHILD = "child"
UNKNOWN = "unknown"
ANONYMOUS = "anonymous"  # an unlinked banner visitor: no account, no age (docs/decisions/0015-unknown-age.md)


@dataclass(frozen=True, slots=True)
class ConsentFact:
    """The current consent state of one subject for one purpose (a `consent_state` row)."""

    status: str  # granted | withdrawn | denied
    policy_version: int
    guardian_id: str | None = None


@dataclass(frozen=True, slots=True)
class RestrictionFact:
    """An active objection or restriction; `purpose` None covers every purpose."""

    purpose: str | None
    kind: str  # objection | restriction


@dataclass(frozen=True, slots=True)
class SubjectFacts:
    """Everything the rules need about one subject, loaded once per request.

    `exists` is False for a person id with no person row. Anonymous visitor ids (`vis_…`) have no
    person row by nature: the service marks them as existing adults of unknown age unless linked.
    """

    subject_id: str
    exists: bool = True
    closed: bool = False
    age_status: str = "unknown"  # adult | child | unknown | anonymous (an unlinked visitor)
    adult_on: date | None = None
    consents: Mapping[str, ConsentFact] = field(default_factory=dict)
    restrictions: tuple[RestrictionFact, ...] = ()
    lawful_guardian: str | None = None  # a verified lawful guardian (DPDP s.9(1), Rule 11): consents for them
    jurisdiction: Jurisdiction | None = None  # where the person lives, as recorded and declared by the policy

    def is_child(self, today: date) -> bool:
        """Child under the policy's minimum age today (DPDP s.2(f)); `adult_on` is the birthday that ends it."""
        return self.age_status == CHILD and (self.adult_on is None or self.adult_on > today)


class Decision(NamedTuple):
    """The answer. A named tuple rather than a frozen dataclass: it is built on every decision, and a
    frozen dataclass's `__init__` (one `object.__setattr__` per field) cost more than the rules."""

    allow: bool
    reasons: tuple[Reason, ...]
    purpose: str
    allowed_categories: frozenset[str]
    denied_categories: frozenset[str]


_EMPTY: frozenset[str] = frozenset()
_LEGAL_OBLIGATION = LegalGround.LEGAL_OBLIGATION
# Enum member lookups cost a class-attribute access each; the hot path uses these module constants.
_NO_CONSENT = Reason.NO_CONSENT
_WITHDRAWN = Reason.WITHDRAWN
_PREDATES = Reason.CONSENT_PREDATES_MATERIAL_CHANGE
_RESTRICTED = Reason.RESTRICTED_BY_PERSON
_CHILD = Reason.CHILD_PROTECTION
_GUARDIAN = Reason.GUARDIAN_CONSENT_REQUIRED
_NOT_SERVED = Reason.CHILDREN_NOT_SERVED
_AGE_UNKNOWN = Reason.AGE_UNKNOWN
_SALE_OPT_IN = Reason.SALE_OPT_IN_REQUIRED
_TREAT_AS_CHILD = UnknownAge.TREAT_AS_CHILD
_ASK = UnknownAge.ASK
_CATEGORY = Reason.CATEGORY_NOT_IN_PURPOSE
_CLOSED = Reason.ACCOUNT_CLOSED
_UNKNOWN = Reason.UNKNOWN_SUBJECT
_NOT_DECLARED = (Reason.PURPOSE_NOT_DECLARED,)
_ALLOW_CONSENT = (Reason.CONSENT_GIVEN,)
_ALLOW_GROUND = (Reason.LEGAL_GROUND,)
_new = tuple.__new__  # builds a Decision without the generated __new__'s argument handling


def decide(
    policy: CompiledPolicy,
    facts: SubjectFacts,
    purpose: str,
    categories: Collection[str],
    *,
    floors: Mapping[str, int],
    today: date,
    strict: bool = False,
    jurisdiction: Jurisdiction | None = None,
) -> Decision:
    """Apply the rules in the module docstring; see there for the law behind each one.

    `jurisdiction` is where the person lives, when the caller knows it; else `facts.jurisdiction`, the
    residence recorded for the person. The purpose is then decided on the ground the policy states for that
    jurisdiction (`grounds_by_jurisdiction`), e.g. consent in India and legitimate interests in the EU, and
    under its age band. None decides on each purpose's own ground and the policy-wide ages. It must be one
    the policy declares (the service checks; here an undeclared one is a KeyError).
    """
    where = jurisdiction if jurisdiction is not None else facts.jurisdiction
    cp = (policy.compiled_purposes if where is None else policy.by_jurisdiction[where]).get(purpose)
    if cp is None:
        requested = categories if type(categories) is frozenset else frozenset(categories)
        return _new(Decision, (False, _NOT_DECLARED, purpose, _EMPTY, requested))

    reasons: list[Reason] = []
    deny = False
    declared = cp.categories
    if categories:
        requested = categories if type(categories) is frozenset else frozenset(categories)
        if requested <= declared:
            allowed, denied = requested, _EMPTY
        else:
            reasons.append(_CATEGORY)
            allowed, denied = requested & declared, requested - declared
            deny = strict or not allowed
    else:
        allowed, denied = declared, _EMPTY

    needs_consent = cp.needs_consent
    legal_obligation = cp.legal_ground is _LEGAL_OBLIGATION
    if not facts.exists:
        # Nobody to have consented; for other grounds the caller asked about someone we do not know.
        reasons.append(_NO_CONSENT if needs_consent else _UNKNOWN)
        return _new(Decision, (False, tuple(reasons), purpose, _EMPTY, denied | allowed))
    if facts.closed and not legal_obligation:
        reasons.append(_CLOSED)
        deny = True
    # Rule 4 is skipped at the cost of three tests for the common case: a known adult, no lawful guardian,
    # no age that a sale could turn on.
    if facts.age_status != ADULT or facts.lawful_guardian is not None or (cp.sale_or_sharing and facts.adult_on):
        ages = policy.default_ages if where is None else policy.ages_for(where)
        deny = _age_rules(policy, ages, cp, facts, purpose, today, reasons) or deny

    if needs_consent:
        row = facts.consents.get(purpose)
        if row is None:
            reasons.append(_NO_CONSENT)
            deny = True
        elif row.status != GRANTED:
            reasons.append(_WITHDRAWN)
            deny = True
        elif floors and row.policy_version < floors.get(purpose, 0):
            reasons.append(_PREDATES)
            deny = True

    if facts.restrictions and not legal_obligation:
        for r in facts.restrictions:
            if r.purpose is None or r.purpose == purpose:
                reasons.append(_RESTRICTED)
                deny = True
                break

    if deny:
        return _new(Decision, (False, tuple(reasons), purpose, _EMPTY, denied | allowed))
    if reasons:
        reasons.append(Reason.CONSENT_GIVEN if needs_consent else Reason.LEGAL_GROUND)
        return _new(Decision, (True, tuple(reasons), purpose, allowed, denied))
    return _new(Decision, (True, _ALLOW_CONSENT if needs_consent else _ALLOW_GROUND, purpose, allowed, denied))


def _age_rules(
    policy: CompiledPolicy,
    ages: AgeRules,
    cp: CompiledPurpose,
    facts: SubjectFacts,
    purpose: str,
    today: date,
    reasons: list[Reason],
) -> bool:
    """Rule 4, under the ages of the person's jurisdiction (`policy.ages`); True when it denies."""
    deny = False
    age = facts.age_status
    if age == CHILD:
        child = ages.is_child(age, facts.adult_on, today)
    elif age == UNKNOWN:
        child = policy.unknown_age is _TREAT_AS_CHILD
        if cp.needs_consent and policy.unknown_age is _ASK:
            reasons.append(_AGE_UNKNOWN)
            deny = True
    else:
        child = False
    if child:
        return _child_rules(policy, cp, facts, purpose, reasons) or deny
    if facts.lawful_guardian is not None and not cp.child_exempt:
        row = facts.consents.get(purpose)  # DPDP s.9(1), Rule 11: only the lawful guardian's grant counts
        if row is None or row.status != GRANTED or row.guardian_id != facts.lawful_guardian:
            reasons.append(_GUARDIAN)
            return True
        return deny
    if cp.sale_or_sharing and ages.minor_for_sale(facts.adult_on, today):
        return _minor_sale(ages, facts, purpose, today, reasons) or deny
    return deny


def _child_rules(
    policy: CompiledPolicy, cp: CompiledPurpose, facts: SubjectFacts, purpose: str, reasons: list[Reason]
) -> bool:
    """Rule 4 for a child; True when it denies. Part B purposes and s.17(1) exemptions still never track."""
    if not policy.guardian_consent and not cp.child_exempt:
        reasons.append(_NOT_SERVED)  # the store takes no child, even with a guardian
        return True
    if cp.barred_for_children:
        reasons.append(_CHILD)  # DPDP s.9(3), whatever consent or an exemption says
        return True
    if cp.child_exempt:
        return False  # DPDP s.9(5) Fourth Schedule Part B; s.17(1) disapplies Chapter II (s.9 with it)
    row = facts.consents.get(purpose)
    if row is None or row.status != GRANTED or row.guardian_id is None:
        reasons.append(_GUARDIAN)  # DPDP s.9(1), Rule 10: a verified guardian's consent before any processing
        return True
    return False


def _minor_sale(ages: AgeRules, facts: SubjectFacts, purpose: str, today: date, reasons: list[Reason]) -> bool:
    """CCPA Civ. Code 1798.120(c): no sale or sharing under 16 without an opt-in (a parent's under 13).

    Only reached for someone below the opt-in age who is not a child under their ages (so only when the
    band's age of a child is below its `sale_opt_in_age`); the age comes from `adult_on`.
    """
    adult_on = facts.adult_on
    assert adult_on is not None
    row = facts.consents.get(purpose)
    if row is None or row.status != GRANTED or (ages.parent_needed(adult_on, today) and row.guardian_id is None):
        reasons.append(_SALE_OPT_IN)
        return True
    return False

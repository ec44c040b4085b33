"""The children's rules a consent write enforces (DPDP s.9, Rules 10-12; CCPA Civ. Code 1798.120(c)).

Decisions (`decisions.engine`, rule 4) deny a child's processing without a guardian's grant; this module
makes sure only the right grants can be recorded in the first place:

- A guardian (`guardian_id`, channel `guardian`) must be an existing, active adult person other than the
  child (DPDP s.9(1), Rule 10(1)): an identifiable adult, known as such from an age declared to us or a
  verified virtual token (`fiduciary.vault.age_tokens`). A child or an erased guardian cannot consent.
- A child's grant must come from a guardian, for any purpose the child's data would serve — consent
  purposes and, unlike for adults, contract and other non-consent purposes too, since s.9(1) asks for the
  parent's consent "before processing any personal data of a child". Part B purposes and s.17(1)
  exemptions need none and take none.
- Tracking, profiling, targeted advertising and (where DPDP applies) a sale or sharing are never granted
  for a child, whoever asks (s.9(3)).
- A store that serves no children (`children.guardian_consent: false`) takes no guardian grant at all.
- Someone under `sale_opt_in_age` (16) may opt in to a sale or sharing whatever its ground, which is what
  CCPA's opt-in for minors means; under `sale_parent_age` (13) only a guardian may.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Protocol

from fiduciary.errors import Conflict, FieldProblem
from fiduciary.people.service import ACTIVE, UNKNOWN, is_adult
from fiduciary.policy.compiled import CompiledPolicy, CompiledPurpose
from fiduciary.policy.schema import UnknownAge

GUARDIAN_CHANNEL = "guardian"

Locate = Callable[[int, str], str]


class PersonFacts(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def age_status(self) -> str: ...
    @property
    def adult_on(self) -> date | None: ...
    @property
    def lawful_guardian(self) -> str | None: ...
    @property
    def jurisdiction(self) -> str | None: ...


class Item(Protocol):
    @property
    def subject_id(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def guardian_id(self) -> str | None: ...


def treated_as_child(policy: CompiledPolicy, person: PersonFacts, today: date) -> bool:
    """A child today (DPDP s.2(f)) under the ages of where the person lives (`policy.ages`), or a person of
    unknown age under `unknown_age: treat_as_child`."""
    return child_by_age(policy, person.age_status, person.adult_on, today, person.jurisdiction)


def child_by_age(
    policy: CompiledPolicy, age_status: str, adult_on: date | None, today: date, residence: str | None = None
) -> bool:
    if age_status == UNKNOWN:
        return policy.unknown_age is UnknownAge.TREAT_AS_CHILD
    return policy.ages_for(policy.residence(residence)).is_child(age_status, adult_on, today)


def minor_for_sale(policy: CompiledPolicy, person: PersonFacts, today: date) -> bool:
    """Under the sale opt-in age of where the person lives, by the declared date of birth (`adult_on`),
    though not a child there (CCPA 1798.120(c))."""
    return policy.ages_for(policy.residence(person.jurisdiction)).minor_for_sale(person.adult_on, today)


def purpose_for(policy: CompiledPolicy, purpose: str, person: PersonFacts | None) -> CompiledPurpose:
    """The purpose as it applies to where the person lives (`grounds_by_jurisdiction`); a visitor or a person
    of unknown residence gets the purpose's own ground."""
    where = policy.residence(person.jurisdiction) if person is not None else None
    return policy.purposes_for(where)[purpose]


def guardian_takes(cp: CompiledPurpose) -> bool:
    """Whether a guardian's grant for a child can be recorded for this purpose at all."""
    return not cp.child_exempt and not cp.barred_for_children


def account_purposes(policy: CompiledPolicy) -> list[str]:
    """The non-consent purposes a guardian's grant "for the account" covers (issue 9: the contract purposes
    of the account, with everything else s.9(1) needs consent for): neither Part B, nor an exemption, nor
    barred for children. Consent purposes are granted one by one, as for anyone."""
    return sorted(pid for pid, cp in policy.compiled_purposes.items() if not cp.needs_consent and guardian_takes(cp))


def needs_people_check(policy: CompiledPolicy, items: Sequence[Item]) -> bool:
    """True when some item is for a purpose that is not on consent for everyone (a guardian's or a minor's
    opt-in, or a ground that differs where the person lives): check each person."""
    everywhere = policy.consent_everywhere
    return not all(i.purpose in everywhere for i in items)


def check_item(
    policy: CompiledPolicy,
    index: int,
    item: Item,
    subject: PersonFacts | None,
    guardian: PersonFacts | None,
    today: date,
    locate: Locate,
) -> None:
    """409 for a grant the children's rules forbid; the guardian has been validated already."""
    cp = purpose_for(policy, item.purpose, subject)
    child = subject is not None and treated_as_child(policy, subject, today)
    if not child and subject is not None and subject.lawful_guardian is not None:
        _check_ward(index, item, cp, subject.lawful_guardian, locate)
        return
    if item.guardian_id and item.action == "grant" and not policy.guardian_consent:
        raise Conflict(
            "This store serves no children: it takes no guardian's consent (the policy's "
            "children.guardian_consent is false).",
            code="children_not_served",
            fields=[FieldProblem(locate(index, "guardian_id"), "the store serves no children")],
        )
    if not cp.needs_consent:
        _check_non_consent(policy, index, item, cp, subject, child, today, locate)
        return
    if item.action != "grant" or not child:
        return
    _check_child_grant(policy, index, item, cp, guardian, locate)


def _check_non_consent(
    policy: CompiledPolicy,
    index: int,
    item: Item,
    cp: CompiledPurpose,
    subject: PersonFacts | None,
    child: bool,
    today: date,
    locate: Locate,
) -> None:
    """A non-consent purpose takes a guardian's choice for a child, or a minor's own sale opt-in; else 409."""
    if child and item.channel == GUARDIAN_CHANNEL and guardian_takes(cp):
        return  # DPDP s.9(1): the guardian consents (or withdraws) for the child's account
    if child and item.action == "grant":
        _check_child_grant(policy, index, item, cp, None, locate)
    if subject is not None and cp.sale_or_sharing and not child and minor_for_sale(policy, subject, today):
        return  # CCPA 1798.120(c): the minor's own opt-in (a guardian's under sale_parent_age, by the engine)
    raise Conflict(
        f"Purpose '{item.purpose}' runs on {cp.legal_ground.value.replace('_', ' ')} and needs no "
        "consent; a person who disagrees objects or restricts it through POST /v1/people/{id}/restrictions.",
        code="purpose_not_consent_based",
        fields=[FieldProblem(locate(index, "purpose"), f"legal ground is {cp.legal_ground.value}")],
    )


def _check_child_grant(
    policy: CompiledPolicy,
    index: int,
    item: Item,
    cp: CompiledPurpose,
    guardian: PersonFacts | None,
    locate: Locate,
) -> None:
    if not policy.guardian_consent:
        raise Conflict(
            "This person is a child and the store serves no children (children.guardian_consent is false).",
            code="children_not_served",
            fields=[FieldProblem(locate(index, "subject_id"), "a child; the store serves no children")],
        )
    if cp.barred_for_children:
        raise Conflict(
            f"Purpose '{item.purpose}' involves tracking, profiling, targeted advertising or a sale or sharing, "
            "which is never permitted for a child, even with a guardian's consent (DPDP s.9(3)).",
            code="child_protection",
            fields=[FieldProblem(locate(index, "purpose"), "barred for children")],
        )
    if item.channel != GUARDIAN_CHANNEL or guardian is None:
        raise Conflict(
            "This person is a child: consent must come from a verified guardian, on the guardian "
            "channel, naming the guardian's person id (DPDP s.9(1), Rule 10).",
            code="child_protection",
            fields=[FieldProblem(locate(index, "guardian_id"), "a guardian's consent is required")],
        )


def _check_ward(index: int, item: Item, cp: CompiledPurpose, guardian_id: str, locate: Locate) -> None:
    """A person under lawful guardianship consents through that guardian alone (DPDP s.9(1), Rule 11)."""
    if item.action == "grant" and (item.channel != GUARDIAN_CHANNEL or item.guardian_id != guardian_id):
        raise Conflict(
            "This person has a lawful guardian: consent must come from that guardian, on the guardian channel "
            "(DPDP s.9(1), Rule 11).",
            code="guardian_consent_required",
            fields=[FieldProblem(locate(index, "guardian_id"), "the lawful guardian's consent is required")],
        )
    if not cp.needs_consent and (cp.child_exempt or item.channel != GUARDIAN_CHANNEL):
        raise Conflict(
            f"Purpose '{item.purpose}' runs on {cp.legal_ground.value.replace('_', ' ')} and takes no consent here.",
            code="purpose_not_consent_based",
            fields=[FieldProblem(locate(index, "purpose"), f"legal ground is {cp.legal_ground.value}")],
        )


def check_guardian(
    index: int, item: Item, guardian: PersonFacts | None, today: date, locate: Locate
) -> PersonFacts | None:
    """The named guardian must be an existing, active adult other than the child (DPDP s.9(1), Rule 10(1))."""
    if not item.guardian_id:
        return None
    if (
        guardian is None
        or guardian.status != ACTIVE
        or guardian.id == item.subject_id
        or not is_adult(guardian.age_status, guardian.adult_on, today)
    ):
        raise Conflict(
            "The guardian must be an existing, active adult person other than the child (DPDP s.9(1), Rule 10).",
            code="child_protection",
            fields=[FieldProblem(locate(index, "guardian_id"), "not a verified adult person")],
        )
    return guardian


def any_guarded(policy: CompiledPolicy, people: Mapping[str, PersonFacts], ids: Sequence[str], today: date) -> bool:
    """Whether any of these people consents only through a guardian (a child, or under lawful guardianship)."""
    return any(people[i].lawful_guardian is not None or treated_as_child(policy, people[i], today) for i in ids)

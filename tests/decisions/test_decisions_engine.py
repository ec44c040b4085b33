"""The pure decision rules: every reason code, field masks, children, floors, restrictions vs legal duty."""

from __future__ import annotations

from datetime import date
from functools import partial

import pytest

from children_support import us_only, variant
from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.decisions.engine import (
    DENY_REASONS,
    ConsentFact,
    Decision,
    Reason,
    RestrictionFact,
    decide,
)
from fiduciary.decisions.engine import SubjectFacts as Facts
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.loader import load_policy

TODAY = date(2027, 6, 1)
# Adults unless a test says otherwise: the demo policy (Indian law) asks for the age of a person whose age
# is unknown before any consent purpose (unknown_age: ask); test_children_rules.py covers that.
SubjectFacts = partial(Facts, age_status="adult")


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return CompiledPolicy.build(load_policy(DEMO_POLICY_PATH).document, "sha256:test", 3)


def run(
    policy: CompiledPolicy,
    facts: Facts,
    purpose: str,
    categories: tuple[str, ...] = (),
    *,
    floors: dict[str, int] | None = None,
    strict: bool = False,
) -> Decision:
    return decide(policy, facts, purpose, categories, floors=floors or {}, today=TODAY, strict=strict)


def granted(version: int = 3, guardian: str | None = None) -> ConsentFact:
    return ConsentFact("granted", version, guardian)


ADULT = SubjectFacts("per_adult", age_status="adult")
CHILD = SubjectFacts("per_child", age_status="child", adult_on=date(2030, 1, 1))


def test_consent_given_allows_with_the_requested_mask(policy: CompiledPolicy) -> None:
    facts = SubjectFacts("per_a", consents={"marketing.email": granted()})
    d = run(policy, facts, "marketing.email", ("contact.email",))
    assert d == Decision(True, (Reason.CONSENT_GIVEN,), "marketing.email", frozenset({"contact.email"}), frozenset())


def test_no_categories_means_the_purpose_as_declared(policy: CompiledPolicy) -> None:
    facts = SubjectFacts("per_a", consents={"marketing.email": granted()})
    d = run(policy, facts, "marketing.email")
    assert d.allow
    assert d.allowed_categories == frozenset({"identity.name", "contact.email"})
    assert d.denied_categories == frozenset()


def test_no_consent(policy: CompiledPolicy) -> None:
    d = run(policy, ADULT, "analytics", ("usage.browsing",))
    assert not d.allow
    assert d.reasons == (Reason.NO_CONSENT,)
    assert d.allowed_categories == frozenset()
    assert d.denied_categories == frozenset({"usage.browsing"})


@pytest.mark.parametrize("status", ["withdrawn", "denied"])
def test_withdrawn_or_refused(policy: CompiledPolicy, status: str) -> None:
    facts = SubjectFacts("per_a", consents={"analytics": ConsentFact(status, 3)})
    d = run(policy, facts, "analytics")
    assert (d.allow, d.reasons) == (False, (Reason.WITHDRAWN,))
    assert d.denied_categories == frozenset({"device.identifiers", "usage.browsing"})


def test_consent_under_an_older_version_than_the_floor(policy: CompiledPolicy) -> None:
    facts = SubjectFacts("per_a", consents={"analytics": granted(version=2)})
    d = run(policy, facts, "analytics", floors={"analytics": 3})
    assert (d.allow, d.reasons) == (False, (Reason.CONSENT_PREDATES_MATERIAL_CHANGE,))
    # given at the floor itself counts, and a floor on another purpose does not matter
    assert run(policy, facts, "analytics", floors={"analytics": 2}).allow
    assert run(policy, facts, "analytics", floors={"marketing.email": 9}).allow


def test_purpose_not_declared_is_a_deny_not_an_error(policy: CompiledPolicy) -> None:
    facts = SubjectFacts("per_a", closed=True, consents={"analytics": granted()})
    d = run(policy, facts, "telepathy", ("contact.email",))
    assert (d.allow, d.reasons) == (False, (Reason.PURPOSE_NOT_DECLARED,))
    assert d.denied_categories == frozenset({"contact.email"})
    assert d.allowed_categories == frozenset()


def test_categories_outside_the_purpose_are_masked_out(policy: CompiledPolicy) -> None:
    d = run(policy, ADULT, "order_fulfilment", ("contact.address", "usage.browsing", "nonexistent.thing"))
    assert d.allow
    assert d.reasons == (Reason.CATEGORY_NOT_IN_PURPOSE, Reason.LEGAL_GROUND)
    assert d.allowed_categories == frozenset({"contact.address"})
    assert d.denied_categories == frozenset({"usage.browsing", "nonexistent.thing"})


def test_strict_denies_when_any_category_is_outside(policy: CompiledPolicy) -> None:
    d = run(policy, ADULT, "order_fulfilment", ("contact.address", "usage.browsing"), strict=True)
    assert (d.allow, d.reasons) == (False, (Reason.CATEGORY_NOT_IN_PURPOSE,))
    assert d.allowed_categories == frozenset()
    assert d.denied_categories == frozenset({"contact.address", "usage.browsing"})


def test_no_category_left_denies(policy: CompiledPolicy) -> None:
    d = run(policy, ADULT, "order_fulfilment", ("usage.browsing",))
    assert (d.allow, d.reasons) == (False, (Reason.CATEGORY_NOT_IN_PURPOSE,))


def test_optional_categories_belong_to_the_purpose(policy: CompiledPolicy) -> None:
    d = run(policy, ADULT, "tax_compliance", ("government.pan",))
    assert d.allow and d.allowed_categories == frozenset({"government.pan"})


def test_account_closed_stops_everything_but_legal_obligations(policy: CompiledPolicy) -> None:
    closed = SubjectFacts("per_c", closed=True, consents={"marketing.email": granted()})
    for purpose in ("account", "customer_support", "marketing.email"):
        d = run(policy, closed, purpose)
        assert not d.allow and Reason.ACCOUNT_CLOSED in d.reasons, purpose
    for purpose in ("tax_compliance", "security"):
        d = run(policy, closed, purpose)
        assert (d.allow, d.reasons) == (True, (Reason.LEGAL_GROUND,)), purpose


def test_child_barred_purposes_are_denied_whatever_consent_says(policy: CompiledPolicy) -> None:
    child = SubjectFacts(
        "per_k",
        age_status="child",
        adult_on=date(2030, 1, 1),
        consents={"personalised_ads": granted(guardian="per_parent"), "analytics": granted(guardian="per_p")},
    )
    for purpose in ("personalised_ads", "analytics"):
        d = run(policy, child, purpose)
        assert (d.allow, d.reasons) == (False, (Reason.CHILD_PROTECTION,)), purpose


def test_child_consent_purpose_needs_a_guardian_grant(policy: CompiledPolicy) -> None:
    own = SubjectFacts("per_k", age_status="child", adult_on=None, consents={"marketing.email": granted(guardian=None)})
    d = run(policy, own, "marketing.email")
    assert (d.allow, d.reasons) == (False, (Reason.GUARDIAN_CONSENT_REQUIRED,))
    by_guardian = SubjectFacts(
        "per_k", age_status="child", adult_on=None, consents={"marketing.email": granted(guardian="per_g")}
    )
    assert run(policy, by_guardian, "marketing.email").allow


def test_child_non_consent_purposes_need_a_guardian_grant_too(policy: CompiledPolicy) -> None:
    """DPDP s.9(1): a parent's consent before processing *any* personal data of a child, contract included."""
    d = run(policy, CHILD, "order_fulfilment")
    assert (d.allow, d.reasons) == (False, (Reason.GUARDIAN_CONSENT_REQUIRED,))
    with_guardian = SubjectFacts(
        "per_child",
        age_status="child",
        adult_on=date(2030, 1, 1),
        consents={"order_fulfilment": granted(guardian="per_g")},
    )
    assert run(policy, with_guardian, "order_fulfilment").reasons == (Reason.LEGAL_GROUND,)


def test_a_child_comes_of_age_on_adult_on(policy: CompiledPolicy) -> None:
    facts = SubjectFacts("per_k", age_status="child", adult_on=TODAY, consents={"analytics": granted(guardian=None)})
    assert facts.is_child(date(2027, 5, 31))
    assert not facts.is_child(TODAY)
    assert run(policy, facts, "analytics").allow
    tomorrow = SubjectFacts("per_k", age_status="child", adult_on=date(2027, 6, 2), consents={"analytics": granted()})
    assert run(policy, tomorrow, "analytics").reasons == (Reason.CHILD_PROTECTION,)


def test_an_anonymous_visitor_is_not_asked_for_an_age(policy: CompiledPolicy) -> None:
    facts = SubjectFacts("vis_x", age_status="anonymous", consents={"analytics": granted()})
    assert run(policy, facts, "analytics").allow


@pytest.mark.parametrize("restricted_purpose", ["customer_support", None])
@pytest.mark.parametrize("kind", ["objection", "restriction"])
def test_restrictions_stop_non_consent_grounds(
    policy: CompiledPolicy, restricted_purpose: str | None, kind: str
) -> None:
    facts = SubjectFacts("per_r", restrictions=(RestrictionFact(restricted_purpose, kind),))
    d = run(policy, facts, "customer_support", ("support.messages",))
    assert (d.allow, d.reasons) == (False, (Reason.RESTRICTED_BY_PERSON,))


def test_a_restriction_on_another_purpose_does_not_apply(policy: CompiledPolicy) -> None:
    facts = SubjectFacts("per_r", restrictions=(RestrictionFact("marketing.email", "objection"),))
    assert run(policy, facts, "customer_support").allow


def test_restrictions_also_stop_consent_purposes(policy: CompiledPolicy) -> None:
    facts = SubjectFacts(
        "per_r", consents={"analytics": granted()}, restrictions=(RestrictionFact(None, "restriction"),)
    )
    assert run(policy, facts, "analytics").reasons == (Reason.RESTRICTED_BY_PERSON,)


def test_legal_obligations_are_not_stopped_by_restrictions(policy: CompiledPolicy) -> None:
    facts = SubjectFacts(
        "per_r",
        restrictions=(RestrictionFact(None, "restriction"), RestrictionFact("tax_compliance", "objection")),
    )
    d = run(policy, facts, "tax_compliance")
    assert (d.allow, d.reasons) == (True, (Reason.LEGAL_GROUND,))


def test_unknown_person(policy: CompiledPolicy) -> None:
    ghost = SubjectFacts("per_ghost", exists=False)
    assert run(policy, ghost, "marketing.email").reasons == (Reason.NO_CONSENT,)
    d = run(policy, ghost, "account")
    assert (d.allow, d.reasons) == (False, (Reason.UNKNOWN_SUBJECT,))


def test_every_applicable_reason_is_collected(policy: CompiledPolicy) -> None:
    facts = SubjectFacts(
        "per_all",
        closed=True,
        age_status="child",
        consents={"personalised_ads": ConsentFact("withdrawn", 1)},
        restrictions=(RestrictionFact(None, "objection"),),
    )
    d = run(policy, facts, "personalised_ads", ("usage.browsing", "contact.email"))
    assert d.reasons == (
        Reason.CATEGORY_NOT_IN_PURPOSE,
        Reason.ACCOUNT_CLOSED,
        Reason.CHILD_PROTECTION,
        Reason.WITHDRAWN,
        Reason.RESTRICTED_BY_PERSON,
    )
    assert not d.allow
    assert d.denied_categories == frozenset({"usage.browsing", "contact.email"})


def test_every_reason_code_is_reachable(policy: CompiledPolicy) -> None:
    """A reason that no input can produce is dead code or a missing rule (over the demo policy, a store
    serving no children, and a California-only store with CCPA's 13-15 band)."""
    seen: set[Reason] = set()
    policies = [policy, variant(policy.document, guardian_consent=False), us_only(policy.document)]
    population = [
        ADULT,
        CHILD,
        SubjectFacts("per_u", age_status="unknown"),
        SubjectFacts("per_m", age_status="adult", adult_on=date(2028, 1, 1)),  # 13-15 under minimum_age 13
        SubjectFacts("per_g", exists=False),
        SubjectFacts("per_c", closed=True),
        SubjectFacts("per_r", restrictions=(RestrictionFact(None, "objection"),)),
        SubjectFacts("per_w", consents={p: ConsentFact("withdrawn", 3) for p in policy.consent_purposes}),
        SubjectFacts("per_o", consents={p: granted(1) for p in policy.consent_purposes}),
        SubjectFacts("per_y", consents={p: granted() for p in policy.consent_purposes}),
    ]
    for compiled, facts in ((c, f) for c in policies for f in population):
        for purpose in [*compiled.purposes, "undeclared"]:
            for cats in ((), ("usage.browsing", "contact.email")):
                d = run(compiled, facts, purpose, cats, floors={p: 2 for p in compiled.consent_purposes})
                seen.update(d.reasons)
                # an allow always ends with its ground and leaves a non-empty mask; a deny has no ground
                assert d.allow == (d.reasons[-1] in (Reason.CONSENT_GIVEN, Reason.LEGAL_GROUND))
                assert d.allow == bool(d.allowed_categories)
                assert set(d.reasons[:-1]) <= DENY_REASONS
    assert seen == set(Reason)


def test_a_frozenset_of_categories_is_used_as_is(policy: CompiledPolicy) -> None:
    cats = frozenset({"contact.phone"})
    d = run(policy, ADULT, "order_fulfilment", cats)  # type: ignore[arg-type]
    assert d.allowed_categories is cats

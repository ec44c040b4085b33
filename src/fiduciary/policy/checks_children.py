"""Checks on the children's settings: the age of a child and the guardian's verification in India, Fourth
Schedule Part B purposes and the ages of consent.

Registered with `@check` like every other check; `policy.checks` imports this module last, so these
checks close the list.
"""

from __future__ import annotations

from collections.abc import Iterator

from fiduciary.policy.checks_registry import CheckContext, Finding, check
from fiduciary.policy.schema import ChildrenExemption, FieldType, Jurisdiction, LegalGround

# The field types each Part B purpose can need. Confirming age: a date of birth, a token or document
# reference; an email-only account: an email address and an account identifier; blocking harmful content:
# identifiers and the content itself. Anything else is more than Part B allows.
_PART_B_FIELD_TYPES: dict[ChildrenExemption, frozenset[FieldType]] = {
    ChildrenExemption.CONFIRM_NOT_CHILD: frozenset(
        {FieldType.DATE, FieldType.DOCUMENT_REFERENCE, FieldType.IDENTIFIER}
    ),
    ChildrenExemption.EMAIL_ONLY_ACCOUNT: frozenset({FieldType.EMAIL, FieldType.IDENTIFIER, FieldType.TEXT}),
    ChildrenExemption.BLOCK_HARMFUL_CONTENT: frozenset(
        {FieldType.IDENTIFIER, FieldType.FREE_TEXT, FieldType.MEDIA_REFERENCE, FieldType.DEVICE}
    ),
}


@check("children_age_india")
def children_rules_india(ctx: CheckContext) -> Iterator[Finding]:
    """DPDP s.2(f): a child is under 18. Rule 10: the guardian must be verified as an identifiable adult."""
    if not ctx.applies(Jurisdiction.IN):
        return
    children = ctx.document.children
    if children.minimum_age < 18:
        yield Finding(
            ("children", "minimum_age"),
            f"minimum_age is {children.minimum_age}, but under Indian law everyone under 18 is a child",
            "set minimum_age: 18 (DPDP s.2(f))",
        )
    if children.guardian_consent and not children.guardian_verification:
        yield Finding(
            ("children", "guardian_consent"),
            "children may use the service with a guardian's consent, but no way to verify the guardian is given",
            "list guardian_verification, e.g. [existing_adult_account, virtual_token] (DPDP Rule 10)",
        )


@check("children_part_b")
def part_b_purposes(ctx: CheckContext) -> Iterator[Finding]:
    """DPDP s.9(5), Rule 12, Fourth Schedule Part B: only those purposes run for a child without a guardian.

    A purpose that claims Part B but tracks, profiles, targets, sells, markets, rests on consent, or uses
    data beyond what the Part B purpose needs would let a child's data flow without a parent's consent.
    """
    for i, p in enumerate(ctx.document.purposes):
        kind = p.children_exemption
        if kind is None:
            continue
        at = ("purposes", i, "children_exemption")
        hint = "remove children_exemption: only the Fourth Schedule Part B purposes run without a guardian"
        what = [
            w
            for w, on in (
                ("tracking", p.tracking),
                ("profiling", p.profiling),
                ("targeted advertising", p.targeted_advertising),
                ("a sale or sharing", p.sale_or_sharing),
                ("direct marketing", p.is_marketing),
                ("automated decisions", p.automated_decision),
            )
            if on
        ]
        if what:
            yield Finding(at, f"purpose '{p.id}' is marked Part B ({kind.value}) but involves {', '.join(what)}", hint)
        if p.legal_ground is LegalGround.CONSENT:
            yield Finding(
                at,
                f"purpose '{p.id}' is marked Part B ({kind.value}) but rests on consent, which a child cannot give",
                hint + " (or give it a non-consent ground such as legitimate_use)",
            )
        allowed = _PART_B_FIELD_TYPES[kind]
        for cid in [*p.categories, *p.optional_categories]:
            category = ctx.categories.get(cid)
            if category is not None and category.field_type not in allowed:
                yield Finding(
                    at,
                    f"purpose '{p.id}' is marked Part B ({kind.value}) but uses '{cid}' "
                    f"({category.field_type.value}), more than that purpose needs",
                    hint + f"; {kind.value} may use only: " + ", ".join(sorted(t.value for t in allowed)),
                )


@check("children_country_ages")
def country_ages(ctx: CheckContext) -> Iterator[Finding]:
    """GDPR Art 8(1): a member state's age of digital consent (13-16) binds there; people carry no country,
    so the one age the runtime applies (`minimum_age`) must cover the highest declared."""
    children = ctx.document.children
    if not children.country_ages:
        return
    country, age = max(children.country_ages.items(), key=lambda kv: kv[1])
    if children.minimum_age < age:
        yield Finding(
            ("children", "minimum_age"),
            f"minimum_age is {children.minimum_age}, below the age of digital consent {age} declared for {country}",
            f"set minimum_age to at least {age}: decisions apply one age to everyone (GDPR Art 8(1))",
        )

"""The comparisons of a policy diff that need more than one field or a look at the rest of the policy,
and the words its summaries use. `fiduciary.policy.diff.table` places them in the table of rules.

Summaries are made from identifiers and store-authored labels; contact details and free texts are never
quoted (they may name a person).
"""

from __future__ import annotations

from fiduciary.policy.diff.engine import (
    At,
    ChangeKind,
    Custom,
    Differ,
    Field,
    added_removed,
    cap,
    days,
    text,
)
from fiduciary.policy.duration import Duration
from fiduciary.policy.schema import (
    Contact,
    Cookie,
    Jurisdiction,
    JurisdictionGround,
    LegalGround,
    PolicyDocument,
    Purpose,
    RecipientKind,
    RetentionRule,
    RetentionTrigger,
    SecurityContact,
    Verification,
)

# ------------------------------------------------------------------------------------------ words

GROUND_FIELDS = ("legal_ground", "legitimate_use", "exemption", "grounds_by_jurisdiction")

VERIFICATION_BURDEN = {
    Verification.NONE: 0,
    Verification.SIGNED_IN_SESSION: 1,
    Verification.EMAIL_OTP: 1,
    Verification.SMS_OTP: 1,
    Verification.DATA_POINTS_2: 2,
    Verification.DATA_POINTS_3_DECLARATION: 3,
    Verification.DOCUMENT: 3,
}

# A processor acts only on the store's instructions; other kinds use the data for their own ends.
OWN_ENDS = {RecipientKind.AFFILIATE, RecipientKind.THIRD_PARTY, RecipientKind.ACQUIRER, RecipientKind.PUBLIC}

PURPOSE_FLAGS = {
    "tracking": "tracking",
    "profiling": "profiling",
    "targeted_advertising": "targeted advertising",
    "sale_or_sharing": "sale or sharing",
    "automated_decision": "automated decisions",
    "spdi_written_consent": "sensitive personal data (SPDI)",
}

CONTACT_LABELS = {
    "grievance_officer": "the grievance officer",
    "data_protection_officer": "the data protection officer",
    "privacy_contact": "the privacy contact",
    "security": "the security contact",
    "cert_in_point_of_contact": "the CERT-In point of contact",
}

SOURCE_WORDS = {
    "provided": "from you directly",
    "automatic": "automatically as you use the service",
    "third_party": "from third parties",
}


def ground(purpose: Purpose | JurisdictionGround) -> str:
    if purpose.legal_ground is LegalGround.LEGITIMATE_USE and purpose.legitimate_use is not None:
        return f"legitimate use (DPDP s.7({purpose.legitimate_use.value[1:]}))"
    if purpose.legal_ground is LegalGround.EXEMPTION and purpose.exemption is not None:
        return f"an exemption (DPDP s.{purpose.exemption.value})"
    return text(purpose.legal_ground)


def lifetime_words(lifetime: Duration | str) -> str:
    return "for the session" if isinstance(lifetime, str) else lifetime.describe()


def cookie_days(lifetime: Duration | str) -> float:
    return 0.0 if isinstance(lifetime, str) else lifetime.approx_days


def cookie_purposes(d: Differ, cookie: Cookie) -> tuple[str, ...]:
    return (cookie.purpose,) if cookie.purpose else ()


def rule_purposes(d: Differ, doc: PolicyDocument, rule: RetentionRule) -> set[str]:
    if rule.purposes:
        return set(rule.purposes)
    found: set[str] = set()
    for cid in rule.categories:
        found |= d.purposes_using(doc, cid)
    return found


def no_longer_limited(d: Differ, cid: str) -> bool:
    """True if the category is still collected but no rule of the new policy limits how long it is kept."""
    return cid in d.new_categories and d.longest(d.new, cid) is None


# ----------------------------------------------------------------------------------- custom rules


def contact(name: str, label: str) -> Custom:
    def compare(d: Differ, at: At) -> None:
        before: Contact | SecurityContact | None = getattr(at.old, name)
        after: Contact | SecurityContact | None = getattr(at.new, name)
        path = f"{at.path}.{name}"
        if before == after:
            return
        if before is None:
            d.add(path, "added", f"{cap(label)} is now named in the notice.")
        elif after is None:
            d.add(path, "removed", f"{cap(label)} is no longer named in the notice.")
        else:
            # Contact values may name a person: say which detail changed, never what it is.
            for field_name in type(after).model_fields:
                if getattr(before, field_name) != getattr(after, field_name):
                    words = field_name.replace("_", " ")
                    d.add(f"{path}.{field_name}", "changed", f"The {words} of {label} changed.")

    return Custom((name,), compare)


def address(d: Differ, at: At) -> None:
    old, new = at.old.address, at.new.address
    if old.country != new.country:
        d.add(
            "controller.address.country",
            "changed",
            f"The store's registered country changed from {old.country} to {new.country}.",
            material=True,
            reason="controller moved to another country",
            purposes=d.common_purposes,
        )
    elif old != new:
        d.add("controller.address", "changed", "The store's postal address changed.")


def purpose_ground(d: Differ, at: At) -> None:
    old: Purpose = at.old
    new: Purpose = at.new
    ground_changed = [f for f in GROUND_FIELDS[:3] if getattr(old, f) != getattr(new, f)]
    if not ground_changed and old.grounds_by_jurisdiction != new.grounds_by_jurisdiction:
        _jurisdiction_grounds(d, at, old, new)
    if ground_changed:
        consent = LegalGround.CONSENT in (old.legal_ground, new.legal_ground)
        d.add(
            f"{at.path}.{ground_changed[0]}",
            "changed",
            f"{cap(at.label)} now relies on {ground(new)} instead of {ground(old)}.",
            material=True,
            reason="legal ground changed to or from consent" if consent else "legal ground changed",
            purposes=at.scope,
        )


def _jurisdiction_grounds(d: Differ, at: At, old: Purpose, new: Purpose) -> None:
    """A ground stated for one jurisdiction changed (issue 12 item 1): material as any change of ground is,
    for the people who live there (GDPR Art 13(3), DPDP s.5: a new basis needs a new notice)."""
    for j in Jurisdiction:
        before, after = old.ground_for(j), new.ground_for(j)
        if (before.legal_ground, before.legitimate_use, before.exemption) == (
            after.legal_ground,
            after.legitimate_use,
            after.exemption,
        ):
            continue
        consent = LegalGround.CONSENT in (before.legal_ground, after.legal_ground)
        d.add(
            f"{at.path}.grounds_by_jurisdiction.{j.value}",
            "changed",
            f"{cap(at.label)} now relies on {ground(after)} instead of {ground(before)} for people in {j.value}.",
            material=True,
            reason="legal ground changed to or from consent" if consent else "legal ground changed",
            purposes=at.scope,
        )


def purpose_categories(d: Differ, at: At) -> None:
    old: Purpose = at.old
    new: Purpose = at.new
    path, label = at.path, cap(at.label)
    old_req, new_req = set(old.categories), set(new.categories)
    old_all = old_req | set(old.optional_categories)
    new_all = new_req | set(new.optional_categories)
    for cid in dict.fromkeys([*new.categories, *new.optional_categories]):
        where = "categories" if cid in new_req else "optional_categories"
        if cid not in old_all:
            d.add(
                f"{path}.{where}[{cid}]",
                "added",
                f"{label} now uses {d.category_name(cid)}.",
                material=True,
                reason="category added to purpose",
                purposes=at.scope,
            )
        elif cid in new_req and cid not in old_req:
            d.add(
                f"{path}.categories[{cid}]",
                "changed",
                f"{label} now requires {d.category_name(cid)}, which was optional.",
                material=True,
                reason="optional data made required",
                purposes=at.scope,
            )
        elif cid not in new_req and cid in old_req:
            d.add(
                f"{path}.optional_categories[{cid}]",
                "changed",
                f"{label} now uses {d.category_name(cid)} only if you give it.",
            )
    for cid in dict.fromkeys([*old.categories, *old.optional_categories]):
        if cid not in new_all:
            where = "categories" if cid in old_req else "optional_categories"
            d.add(f"{path}.{where}[{cid}]", "removed", f"{label} no longer uses {d.category_name(cid)}.")


def recipient_purposes(d: Differ, at: At) -> None:
    added, removed = added_removed(at.old.purposes, at.new.purposes)
    for pid in added:
        d.add(
            f"{at.path}.purposes[{pid}]",
            "added",
            f"{cap(at.label)} now receives data for the purpose {pid}.",
            material=True,
            reason="recipient receives data for a new purpose",
            purposes=(pid,),
        )
    for pid in removed:
        d.add(
            f"{at.path}.purposes[{pid}]", "removed", f"{cap(at.label)} no longer receives data for the purpose {pid}."
        )


def recipient_categories(d: Differ, at: At) -> None:
    added, removed = added_removed(at.old.categories, at.new.categories)
    for cid in added:
        users = d.purposes_using(d.new, cid) & set(at.new.purposes)
        d.add(
            f"{at.path}.categories[{cid}]",
            "added",
            f"{cap(at.label)} now receives {d.category_name(cid)}.",
            material=True,
            reason="recipient receives a new category",
            purposes=users or at.new.purposes,
        )
    for cid in removed:
        d.add(f"{at.path}.categories[{cid}]", "removed", f"{cap(at.label)} no longer receives {d.category_name(cid)}.")


def keep_for(d: Differ, at: At) -> None:
    old: RetentionRule = at.old
    new: RetentionRule = at.new
    path, label = f"{at.path}.keep_for", cap(at.label)
    if old.keep_for == new.keep_for:
        return
    if new.keep_for is None:
        assert old.keep_for is not None
        summary = f"{label} no longer states how long data is kept (was {old.keep_for.describe()})."
        kind: ChangeKind = "removed"
        material = True
    elif old.keep_for is None:
        # Without keep_for, data ends at the trigger; with it, data outlives the trigger.
        summary = f"{label} now keeps data for {new.keep_for.describe()} after {text(new.trigger)}."
        kind, material = "added", new.trigger is not RetentionTrigger.COLLECTED
    else:
        summary = f"{label} now keeps data for {new.keep_for.describe()} instead of {old.keep_for.describe()}."
        kind, material = "changed", new.keep_for.approx_days > old.keep_for.approx_days
    d.add(path, kind, summary, material=material, reason="longer retention", purposes=at.scope)


def legal_hold(d: Differ, at: At) -> None:
    old: RetentionRule = at.old
    new: RetentionRule = at.new
    path, label = f"{at.path}.legal_hold", at.label
    if old.legal_hold == new.legal_hold:
        return
    if new.legal_hold is None:
        d.add(path, "removed", f"{cap(label)} no longer has a legal hold.")
    elif old.legal_hold is None:
        d.add(
            path,
            "added",
            f"{cap(label)} now has a legal hold of {new.legal_hold.minimum.describe()}, "
            "kept even if you ask for erasure.",
            material=True,
            reason="legal hold added",
            purposes=at.scope,
        )
    elif old.legal_hold.minimum != new.legal_hold.minimum:
        d.add(
            f"{path}.minimum",
            "changed",
            f"The legal hold of {label} is now {new.legal_hold.minimum.describe()} instead of "
            f"{old.legal_hold.minimum.describe()}.",
            material=new.legal_hold.minimum.approx_days > old.legal_hold.minimum.approx_days,
            reason="longer legal hold",
            purposes=at.scope,
        )
    else:
        d.add(f"{path}.basis", "changed", f"The legal basis of the hold in {label} changed.")


def retention_categories(d: Differ, at: At) -> None:
    old: RetentionRule = at.old
    new: RetentionRule = at.new
    added, removed = added_removed(old.categories, new.categories)
    for cid in added:
        d.add(
            f"{at.path}.categories[{cid}]",
            "added",
            f"{cap(at.label)} now applies to {d.category_name(cid)}.",
            material=d.extends(cid, days(new.keep_for)),
            reason="longer retention",
            purposes=d.purposes_using(d.new, cid) & (set(new.purposes) or d.common_purposes),
        )
    for cid in removed:
        unlimited = no_longer_limited(d, cid)
        d.add(
            f"{at.path}.categories[{cid}]",
            "removed",
            f"{cap(at.label)} no longer applies to {d.category_name(cid)}"
            + ("; no rule now limits how long it is kept." if unlimited else "."),
            material=unlimited,
            reason="retention no longer limited",
            purposes=d.purposes_using(d.new, cid),
        )


def verification(d: Differ, at: At) -> None:
    old_burden = [VERIFICATION_BURDEN[v] for v in at.old.verification]
    new_burden = [VERIFICATION_BURDEN[v] for v in at.new.verification]
    added, removed = added_removed(at.old.verification, at.new.verification)
    for v in added:
        d.add(
            f"{at.path}.verification[{v.value}]",
            "added",
            f"{cap(at.label)} may now be verified by {text(v)}.",
            material=VERIFICATION_BURDEN[v] > max(old_burden),
            reason="weaker rights: heavier identity verification",
        )
    for v in removed:
        easiest_gone = VERIFICATION_BURDEN[v] == min(old_burden) and min(new_burden) > min(old_burden)
        d.add(
            f"{at.path}.verification[{v.value}]",
            "removed",
            f"{cap(at.label)} is no longer verified by {text(v)}.",
            material=easiest_gone,
            reason="weaker rights: heavier identity verification",
        )


def vulnerability(d: Differ, at: At) -> None:
    old, new = at.old.vulnerability, at.new.vulnerability
    if old == new:
        return
    if old is None or new is None:
        kind: ChangeKind = "added" if old is None else "removed"
        d.add("cases.vulnerability", kind, "The vulnerability disclosure terms " + kind + ".")
    else:
        d.other_fields("cases.vulnerability", old, new, "the vulnerability disclosure terms", set())


def flag(name: str, words: str) -> Field:
    return Field(
        name,
        lambda label, b, a: f"{cap(label)} now involves {words}." if a else f"{cap(label)} no longer involves {words}.",
        material=lambda b, a: bool(a),
        reason=f"purpose now involves {words}",
    )


def grievance(name: str, verb: str) -> Field:
    return Field(
        name,
        lambda label, b, a: f"Grievances are now {verb}d within {a.describe()} instead of {b.describe()}.",
        material=lambda b, a: a.approx_days > b.approx_days,
        reason="weaker rights: longer grievance deadline",
    )


def longer(b: Duration, a: Duration) -> bool:
    return a.approx_days > b.approx_days


def retention_added(d: Differ, label: str, rule: RetentionRule) -> str:
    return f"A new retention rule {rule.id} applies to {', '.join(rule.categories)}."


def retention_removed(d: Differ, label: str, rule: RetentionRule) -> str:
    unlimited = [c for c in rule.categories if no_longer_limited(d, c)]
    limit = f"; no rule now limits how long {', '.join(unlimited)} is kept." if unlimited else "."
    return f"The retention rule {rule.id} was removed" + limit

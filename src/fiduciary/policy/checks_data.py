"""Checks on the data sections of a policy: unique ids, references between sections, the grounds of
purposes, the use of categories, recipients' contracts, retention and cookies.
"""

from __future__ import annotations

from collections.abc import Iterator

from fiduciary.policy.checks_registry import (
    DAY,
    CheckContext,
    Finding,
    NodePath,
    check,
    closest,
    keeps_processing_logs,
    purpose_categories,
    span_days,
)
from fiduciary.policy.schema import (
    THIRD_SCHEDULE_COMMENCEMENT,
    THIRD_SCHEDULE_PERIOD_DAYS,
    THIRD_SCHEDULE_THRESHOLDS,
    CookieCategory,
    Jurisdiction,
    LegalGround,
    RecipientKind,
    RetentionTrigger,
    RightKind,
    Sensitivity,
    third_schedule_class,
)

# ---------------------------------------------------------------------------------- identity of items


@check("duplicate_id")
def duplicate_ids(ctx: CheckContext) -> Iterator[Finding]:
    """Two entries with one id make every reference to it ambiguous."""
    doc = ctx.document
    sections: list[tuple[str, str, list[str]]] = [
        ("categories", "category", [c.id for c in doc.categories]),
        ("purposes", "purpose", [p.id for p in doc.purposes]),
        ("recipients", "recipient", [r.id for r in doc.recipients]),
        ("retention", "retention rule", [r.id for r in doc.retention]),
    ]
    for section, noun, ids in sections:
        first: dict[str, int] = {}
        for index, item_id in enumerate(ids):
            if item_id in first:
                yield Finding(
                    (section, index, "id"),
                    f"duplicate {noun} id '{item_id}' (first defined at {ctx.where((section, first[item_id]))})",
                    "give each entry its own id, or merge the two entries",
                )
            else:
                first[item_id] = index
    seen_cookies: dict[tuple[str, str], int] = {}
    for index, cookie in enumerate(doc.cookies):
        cookie_key = (cookie.name, cookie.provider)
        if cookie_key in seen_cookies:
            yield Finding(
                ("cookies", index, "name"),
                f"cookie '{cookie.name}' of {cookie.provider} is listed twice "
                f"(first at {ctx.where(('cookies', seen_cookies[cookie_key]))})",
                "describe each cookie once",
            )
        else:
            seen_cookies[cookie_key] = index
    seen_rights: dict[RightKind, int] = {}
    for index, right in enumerate(doc.rights):
        if right.kind in seen_rights:
            yield Finding(
                ("rights", index, "kind"),
                f"the right '{right.kind.value}' is described twice "
                f"(first at {ctx.where(('rights', seen_rights[right.kind]))})",
                "describe each right once; list all its channels in that entry",
            )
        else:
            seen_rights[right.kind] = index


@check("dangling_reference")
def dangling_references(ctx: CheckContext) -> Iterator[Finding]:
    """A reference to an undeclared category or purpose is a promise about nothing."""
    doc = ctx.document
    cats = set(ctx.categories)
    purps = set(ctx.purposes)

    def refs(owner: str, paths: list[NodePath], ids: list[str], known: set[str], noun: str) -> Iterator[Finding]:
        section = "categories" if noun == "category" else "purposes"
        for path, ref in zip(paths, ids, strict=True):
            if ref not in known:
                guess = closest(ref, known)
                yield Finding(
                    path,
                    f"{owner} refers to unknown {noun} '{ref}'",
                    f"did you mean '{guess}'?" if guess else f"declare it under {section}, or fix the id",
                )

    def each(path: NodePath, ids: list[str]) -> list[NodePath]:
        return [(*path, j) for j in range(len(ids))]

    for i, p in enumerate(doc.purposes):
        owner = f"purpose '{p.id}'"
        yield from refs(owner, each(("purposes", i, "categories"), p.categories), p.categories, cats, "category")
        path: NodePath = ("purposes", i, "optional_categories")
        yield from refs(owner, each(path, p.optional_categories), p.optional_categories, cats, "category")
    for i, r in enumerate(doc.recipients):
        owner = f"recipient '{r.id}'"
        yield from refs(owner, each(("recipients", i, "purposes"), r.purposes), r.purposes, purps, "purpose")
        yield from refs(owner, each(("recipients", i, "categories"), r.categories), r.categories, cats, "category")
    for i, rule in enumerate(doc.retention):
        owner = f"retention rule '{rule.id}'"
        yield from refs(owner, each(("retention", i, "categories"), rule.categories), rule.categories, cats, "category")
        yield from refs(owner, each(("retention", i, "purposes"), rule.purposes), rule.purposes, purps, "purpose")
    for i, cookie in enumerate(doc.cookies):
        if cookie.purpose is not None:
            owner = f"cookie '{cookie.name}'"
            yield from refs(owner, [("cookies", i, "purpose")], [cookie.purpose], purps, "purpose")


@check("recipient_category_without_purpose")
def recipient_categories_within_purposes(ctx: CheckContext) -> Iterator[Finding]:
    """Purpose limitation (DPDP s.4, s.8(2); GDPR Art 5(1)(b)): a recipient gets data only for a purpose."""
    for i, recipient in enumerate(ctx.document.recipients):
        known = [ctx.purposes[p] for p in recipient.purposes if p in ctx.purposes]
        if not known:
            continue
        allowed = set().union(*(purpose_categories(p) for p in known))
        for j, category in enumerate(recipient.categories):
            if category in ctx.categories and category not in allowed:
                listed = ", ".join(f"'{p.id}'" for p in known)
                yield Finding(
                    ("recipients", i, "categories", j),
                    f"recipient '{recipient.id}' receives '{category}', which none of its purposes ({listed}) uses",
                    f"add '{category}' to one of those purposes, or stop sharing it (purpose limitation, "
                    "DPDP s.8(2), GDPR Art 5(1)(b))",
                )


# -------------------------------------------------------------------------------------------- purposes


@check("consent_bundled")
def consent_not_required_for_service(ctx: CheckContext) -> Iterator[Finding]:
    """DPDP s.6(1) / GDPR Art 7(4): the service must not be conditional on consent."""
    # Indian law has no contract ground: what a person hands over to get the service is DPDP s.7(a).
    alternative = (
        "legal_ground: legitimate_use with legitimate_use: '7a' (DPDP s.7(a): data the person voluntarily "
        "provided for a specified purpose; Indian law has no contract ground)"
        if ctx.jurisdictions == {Jurisdiction.IN}
        else "contract"
    )
    for i, p in enumerate(ctx.document.purposes):
        if p.legal_ground is LegalGround.CONSENT and p.required_for_service:
            yield Finding(
                ("purposes", i, "required_for_service"),
                f"purpose '{p.id}' relies on consent but is required for the service (consent would not be free)",
                f"set required_for_service: false, or use {alternative} if the service truly cannot work without "
                "it (DPDP s.6(1), GDPR Art 7(4))",
            )


@check("children_barred_processing")
def children_not_tracked(ctx: CheckContext) -> Iterator[Finding]:
    """DPDP s.9(3): no tracking, behavioural monitoring or targeted advertising directed at children."""
    for i, p in enumerate(ctx.document.purposes):
        if p.children_allowed and p.barred_for_children:
            what = [
                w
                for w, on in (
                    ("tracking", p.tracking),
                    ("profiling", p.profiling),
                    ("targeted advertising", p.targeted_advertising),
                )
                if on
            ]
            yield Finding(
                ("purposes", i, "children_allowed"),
                f"purpose '{p.id}' involves {' and '.join(what)} and may not include children",
                "remove children_allowed (or set it to false); a guardian's consent does not cure this (DPDP s.9(3))",
            )


@check("legitimate_interests_in_india")
def no_legitimate_interests_in_india(ctx: CheckContext) -> Iterator[Finding]:
    """DPDP s.4 knows only consent and the s.7 legitimate uses; GDPR legitimate interests has no equivalent."""
    if not ctx.applies(Jurisdiction.IN):
        return
    only_india = ctx.jurisdictions == {Jurisdiction.IN}
    for i, p in enumerate(ctx.document.purposes):
        # An IN entry in grounds_by_jurisdiction is checked by `ground_of_another_law` (checks_jurisdictions).
        if p.legal_ground is LegalGround.LEGITIMATE_INTERESTS and Jurisdiction.IN not in p.grounds_by_jurisdiction:
            yield Finding(
                ("purposes", i, "legal_ground"),
                f"purpose '{p.id}' relies on legitimate interests, which is not a ground under Indian law (DPDP s.4)",
                "use consent, or legitimate_use with a DPDP s.7 clause; for Indian customers this purpose needs "
                "one of those",
                severity="error" if only_india else "warning",
            )


@check("consent_required_in_india")
def consent_for_marketing_in_india(ctx: CheckContext) -> Iterator[Finding]:
    """Marketing, targeted ads and selling/sharing are not s.7 legitimate uses: consent is the only ground."""
    if not ctx.applies(Jurisdiction.IN):
        return
    for i, p in enumerate(ctx.document.purposes):
        ground = p.ground_for(Jurisdiction.IN).legal_ground  # the ground for people in India
        if ground is LegalGround.CONSENT:
            continue
        what = [
            w
            for w, on in (
                ("direct marketing", p.is_marketing),
                ("targeted advertising", p.targeted_advertising),
                ("sale or sharing", p.sale_or_sharing),
            )
            if on
        ]
        if what:
            yield Finding(
                ("purposes", i, "legal_ground"),
                f"purpose '{p.id}' is {' and '.join(what)} but relies on {ground.value}",
                "use legal_ground: consent; under DPDP s.4 and s.7 only consent covers this",
            )


@check("legal_obligation_basis")
def legal_obligation_names_law(ctx: CheckContext) -> Iterator[Finding]:
    """A legal obligation must say which law (GDPR Art 6(3); the notice should name it)."""
    for i, p in enumerate(ctx.document.purposes):
        if p.legal_ground is LegalGround.LEGAL_OBLIGATION and not p.legal_basis_reference:
            yield Finding(
                ("purposes", i, "legal_ground"),
                f"purpose '{p.id}' relies on a legal obligation but does not name the law",
                "add legal_basis_reference, e.g. 'CGST Act 2017 s.35'",
                severity="warning",
            )


@check("spdi_written_consent")
def spdi_written_consent(ctx: CheckContext) -> Iterator[Finding]:
    """SPDI Rules 2011 r.5(1): sensitive personal data needs consent in writing (until DPDP s.44(2))."""
    if not ctx.applies(Jurisdiction.IN):
        return
    sensitive = {Sensitivity.SENSITIVE, Sensitivity.FINANCIAL, Sensitivity.GOVERNMENT_ID}
    for i, p in enumerate(ctx.document.purposes):
        if p.legal_ground is not LegalGround.CONSENT or p.spdi_written_consent:
            continue
        used = sorted(
            c for c in purpose_categories(p) if c in ctx.categories and ctx.categories[c].sensitivity in sensitive
        )
        if used:
            yield Finding(
                ("purposes", i),
                f"consent purpose '{p.id}' uses sensitive data ({', '.join(used)}) without written consent",
                "set spdi_written_consent: true so consent is taken in writing before collection (SPDI Rule 5(1))",
                severity="warning",
                at_value=False,
            )


# -------------------------------------------------------------------------------------------- categories


@check("unused_category")
def categories_used(ctx: CheckContext) -> Iterator[Finding]:
    """Data minimisation (DPDP s.6(1), GDPR Art 5(1)(c)): data no purpose needs should not be collected."""
    used: set[str] = set()
    for p in ctx.document.purposes:
        used |= purpose_categories(p)
    for i, c in enumerate(ctx.document.categories):
        if c.id not in used:
            yield Finding(
                ("categories", i, "id"),
                f"category '{c.id}' is not used by any purpose",
                "add it to a purpose's categories or optional_categories, or remove it (data minimisation)",
                severity="warning",
            )


# ------------------------------------------------------------------------------------------- recipients


@check("processor_contract")
def processors_have_contracts(ctx: CheckContext) -> Iterator[Finding]:
    """DPDP s.8(2) and GDPR Art 28(3): a processor works under a contract."""
    for i, r in enumerate(ctx.document.recipients):
        if r.kind is RecipientKind.PROCESSOR and not r.contract_reference:
            yield Finding(
                ("recipients", i, "kind"),
                f"processor '{r.id}' has no contract_reference",
                "name the processing contract (DPDP s.8(2), GDPR Art 28(3))",
                severity="warning",
            )


# -------------------------------------------------------------------------------------------- retention


@check("retention_below_legal_hold")
def retention_covers_hold(ctx: CheckContext) -> Iterator[Finding]:
    """A rule that deletes before its own legal minimum contradicts itself."""
    for i, rule in enumerate(ctx.document.retention):
        keep, hold = rule.keep_for, rule.legal_hold
        if keep is not None and hold is not None and keep.approx_days < hold.minimum.approx_days:
            yield Finding(
                ("retention", i, "keep_for"),
                f"retention rule '{rule.id}' keeps data for {keep.describe()}, less than its legal minimum of "
                f"{hold.minimum.describe()}",
                f"set keep_for to at least {hold.minimum}",
            )


@check("retention_minimum_india")
def retention_floor_india(ctx: CheckContext) -> Iterator[Finding]:
    """DPDP Rule 8(3) (with Rule 6(1)(e)): processing data and logs are kept at least one year.

    A rule for a purpose that keeps processing logs (`processing_logs: true`) or a legal-obligation purpose,
    on categories that purpose declares, is checked only when its clock starts at the
    processing itself (collection, order, fulfilment, case): with account_closed, last_activity or
    consent_withdrawn the time since processing is unknown, and such rules usually govern a second copy
    while the records the law requires are held by a rule of their own.
    """
    if not ctx.applies(Jurisdiction.IN):
        return
    late_triggers = {
        RetentionTrigger.ACCOUNT_CLOSED,
        RetentionTrigger.LAST_ACTIVITY,
        RetentionTrigger.CONSENT_WITHDRAWN,
    }
    for i, rule in enumerate(ctx.document.retention):
        if rule.legal_hold is not None and rule.legal_hold.minimum.approx_days < 365:
            yield Finding(
                ("retention", i, "legal_hold", "minimum"),
                f"retention rule '{rule.id}' holds data for {rule.legal_hold.minimum.describe()}; Indian law keeps "
                "such data at least one year",
                "set legal_hold.minimum to 1y or more (DPDP Rule 8(3))",
            )
            continue
        # A rule limited to purposes covers those; an unlimited rule covers every purpose using its categories.
        scope = (
            [ctx.purposes[p] for p in rule.purposes if p in ctx.purposes] if rule.purposes else ctx.document.purposes
        )
        covered = [p.id for p in scope if keeps_processing_logs(p) and set(rule.categories) & purpose_categories(p)]
        kept = max(span_days(rule.keep_for), span_days(rule.legal_hold.minimum if rule.legal_hold else None))
        if covered and kept < 365 and rule.trigger not in late_triggers:
            yield Finding(
                ("retention", i, "keep_for") if rule.keep_for else ("retention", i),
                f"retention rule '{rule.id}' covers {', '.join(repr(p) for p in covered)} but keeps the data less "
                "than one year",
                "keep it at least 1y, e.g. legal_hold: {minimum: 1y, basis: DPDP Rules 2025 Rule 8(3)}",
                at_value=rule.keep_for is not None,
            )


@check("inactivity_notice")
def inactivity_notice(ctx: CheckContext) -> Iterator[Finding]:
    """DPDP Rule 8(2): warn the person at least 48 hours before erasing for inactivity; an earlier reminder
    comes before that notice. DPDP s.8(8), Rule 8(1) and the Third Schedule: a covered class keeps data at
    most 3 years after the person's last contact."""
    doc = ctx.document
    covered = third_schedule_class(doc.controller)
    inactivity_rules = 0
    for i, rule in enumerate(doc.retention):
        if rule.trigger is not RetentionTrigger.LAST_ACTIVITY:
            if rule.reminder is not None:
                yield Finding(
                    ("retention", i, "reminder"),
                    f"rule '{rule.id}' sets a reminder, which only an inactivity rule sends",
                    "use reminder with trigger: last_activity, or remove it",
                )
            if rule.counts_from is not None:
                yield Finding(
                    ("retention", i, "counts_from"),
                    f"rule '{rule.id}' sets counts_from, which only an inactivity rule's clock has",
                    "use counts_from with trigger: last_activity, or remove it",
                )
            continue
        inactivity_rules += 1
        yield from _inactivity_rule_findings(ctx, i, covered is not None)
    if ctx.applies(Jurisdiction.IN) and covered is not None and not inactivity_rules:
        yield Finding(
            ("controller", "registered_users_in_india"),
            f"a {covered.value.replace('_', ' ')} with {THIRD_SCHEDULE_THRESHOLDS[covered]:,} or more registered "
            "users in India must erase data after 3 years of inactivity, and the policy has no retention rule "
            "with trigger last_activity",
            "add a rule with trigger: last_activity, keep_for: 3y, advance_notice: 48h (DPDP s.8(8), Third "
            "Schedule), or set controller.third_schedule_class",
        )


def _inactivity_rule_findings(ctx: CheckContext, i: int, covered: bool) -> Iterator[Finding]:
    rule = ctx.document.retention[i]
    if rule.advance_notice is None:
        if ctx.applies(Jurisdiction.IN):
            yield Finding(
                ("retention", i, "trigger"),
                f"inactivity rule '{rule.id}' gives no advance notice before erasure",
                "add advance_notice of at least 48h (DPDP Rule 8(2))",
                severity="warning",
            )
    elif rule.advance_notice.approx_days < 2 * DAY - 1e-9:
        yield Finding(
            ("retention", i, "advance_notice"),
            f"inactivity rule '{rule.id}' warns only {rule.advance_notice.describe()} before erasure",
            "give at least 48h notice (DPDP Rule 8(2))",
        )
    notice_days = rule.advance_notice.approx_days if rule.advance_notice is not None else 2 * DAY
    if rule.reminder is not None and rule.reminder.approx_days <= notice_days:
        yield Finding(
            ("retention", i, "reminder"),
            f"inactivity rule '{rule.id}' reminds {rule.reminder.describe()} before erasure, no earlier than "
            "its notice",
            "make the reminder longer than advance_notice (e.g. reminder: 30d, advance_notice: 48h)",
        )
    if covered and rule.counts_from is not None and rule.counts_from > THIRD_SCHEDULE_COMMENCEMENT:
        # The Schedule's period runs from the last contact or the Rules' commencement, whichever is later: a
        # later start would keep a covered store's data past the 3 years the Schedule allows.
        yield Finding(
            ("retention", i, "counts_from"),
            f"inactivity rule '{rule.id}' counts from {rule.counts_from.isoformat()}, after the commencement of "
            f"the Rules ({THIRD_SCHEDULE_COMMENCEMENT.isoformat()}) from which the Third Schedule's 3 years run",
            f"counts_from: {THIRD_SCHEDULE_COMMENCEMENT.isoformat()} or earlier (DPDP Rule 8(1), Third Schedule)",
        )
    if covered and rule.keep_for is not None and rule.keep_for.approx_days > THIRD_SCHEDULE_PERIOD_DAYS + 1e-9:
        yield Finding(
            ("retention", i, "keep_for"),
            f"inactivity rule '{rule.id}' keeps data {rule.keep_for.describe()} after the last contact, longer "
            "than the 3 years the Third Schedule allows",
            "keep_for: 3y or less (DPDP s.8(8), Rule 8(1), Third Schedule)",
        )


# ---------------------------------------------------------------------------------------- cookies


@check("cookie_purpose")
def cookies_have_purposes(ctx: CheckContext) -> Iterator[Finding]:
    """ePrivacy Art 5(3) and DPDP s.6: only strictly necessary storage goes without consent."""
    for i, cookie in enumerate(ctx.document.cookies):
        if cookie.category is CookieCategory.NECESSARY:
            continue
        if cookie.purpose is None:
            yield Finding(
                ("cookies", i, "category"),
                f"{cookie.category.value} cookie '{cookie.name}' names no purpose",
                "set purpose to the policy purpose it serves, so the banner can ask for it",
            )
            continue
        purpose = ctx.purposes.get(cookie.purpose)
        if (
            purpose is not None
            and cookie.category in (CookieCategory.ANALYTICS, CookieCategory.ADVERTISING)
            and purpose.legal_ground is not LegalGround.CONSENT
        ):
            yield Finding(
                ("cookies", i, "purpose"),
                f"{cookie.category.value} cookie '{cookie.name}' serves purpose '{purpose.id}', which does not "
                "rely on consent",
                "analytics and advertising cookies need consent (ePrivacy Art 5(3), DPDP s.6); point the cookie "
                "at a consent purpose",
            )

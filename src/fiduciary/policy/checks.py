"""Checks that relate several parts of a validated policy: references, duplicates and the law.

The schema can only say whether each value is well formed. Whether a purpose names categories that
exist, whether a consent is bundled with the service, or whether a breach deadline is longer than the
law allows needs the whole document, and the answer depends on the jurisdictions the store declares.

Each check is a small function registered with `@check`; it yields `Finding`s that name the offending
node by path (e.g. `("purposes", 3, "legal_ground")`). The loader turns paths into file positions, so a
check never deals with YAML. To add a check, write a function and decorate it; `run_checks` runs them all.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

from fiduciary.policy.duration import Duration, DurationUnit
from fiduciary.policy.schema import (
    CookieCategory,
    DataCategory,
    Jurisdiction,
    LegalGround,
    PolicyDocument,
    Purpose,
    RecipientKind,
    RetentionTrigger,
    RightKind,
    Sensitivity,
    StoreRole,
)

NodePath = tuple[str | int, ...]
LineOf = Callable[[NodePath], int | None]
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    path: NodePath
    message: str
    hint: str | None = None
    severity: Severity = "error"
    code: str = ""
    at_value: bool = True  # point at the value written at `path` (else at its key)


def format_path(path: NodePath) -> str:
    """`("purposes", 3, "categories", 0)` → `purposes[3].categories[0]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(frozen=True)
class CheckContext:
    document: PolicyDocument
    line_of: LineOf
    jurisdictions: frozenset[Jurisdiction]
    categories: dict[str, DataCategory]  # by id, first definition
    purposes: dict[str, Purpose]

    def applies(self, jurisdiction: Jurisdiction) -> bool:
        return jurisdiction in self.jurisdictions

    @property
    def eu_or_uk(self) -> bool:
        return bool(self.jurisdictions & {Jurisdiction.EU, Jurisdiction.UK})

    def where(self, path: NodePath) -> str:
        line = self.line_of(path)
        return f"line {line}" if line else format_path(path)


Check = Callable[[CheckContext], Iterable[Finding]]
CHECKS: list[tuple[str, Check]] = []


def check(code: str) -> Callable[[Check], Check]:
    """Register a check; its findings carry `code` unless they name their own."""

    def register(func: Check) -> Check:
        CHECKS.append((code, func))
        return func

    return register


def run_checks(document: PolicyDocument, line_of: LineOf | None = None) -> list[Finding]:
    ctx = CheckContext(
        document=document,
        line_of=line_of or (lambda _path: None),
        jurisdictions=frozenset(document.controller.jurisdictions),
        categories=_first_by_id(document.categories),
        purposes=_first_by_id(document.purposes),
    )
    findings: list[Finding] = []
    for code, func in CHECKS:
        findings.extend(f if f.code else replace(f, code=code) for f in func(ctx))
    return findings


_Item = TypeVar("_Item", DataCategory, Purpose)


def _first_by_id(items: list[_Item]) -> dict[str, _Item]:
    out: dict[str, _Item] = {}
    for item in items:
        out.setdefault(item.id, item)
    return out


# ------------------------------------------------------------------------------------------- helpers

ONE_MONTH_DAYS = 365.25 / 12
DAY = 1.0
HOUR = 1 / 24


def _days(duration: Duration | None) -> float:
    return duration.approx_days if duration is not None else 0.0


def _over_one_month(duration: Duration) -> bool:
    """GDPR Art 12(3) "one month" is a calendar month: `1mo` is fine, 31 days may not be."""
    if duration.unit is DurationUnit.MONTHS:
        return duration.amount > 1
    return duration.approx_days > ONE_MONTH_DAYS + 1e-9


def _guess(word: str, options: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return close[0] if close else None


def _purpose_categories(purpose: Purpose) -> set[str]:
    return set(purpose.categories) | set(purpose.optional_categories)


def _is_security_purpose(purpose: Purpose) -> bool:
    """Rule 8(3) covers processing logs: the legal-obligation purposes and the security/fraud purposes."""
    if purpose.legal_ground is LegalGround.LEGAL_OBLIGATION:
        return True
    parts = set(purpose.id.replace(".", "_").split("_"))
    return bool(parts & {"security", "fraud"})


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
                guess = _guess(ref, known)
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
        allowed = set().union(*(_purpose_categories(p) for p in known))
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
    for i, p in enumerate(ctx.document.purposes):
        if p.legal_ground is LegalGround.CONSENT and p.required_for_service:
            yield Finding(
                ("purposes", i, "required_for_service"),
                f"purpose '{p.id}' relies on consent but is required for the service (consent would not be free)",
                "set required_for_service: false, or use contract if the service truly cannot work without it "
                "(DPDP s.6(1), GDPR Art 7(4))",
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
        if p.legal_ground is LegalGround.LEGITIMATE_INTERESTS:
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
        if p.legal_ground is LegalGround.CONSENT:
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
                f"purpose '{p.id}' is {' and '.join(what)} but relies on {p.legal_ground.value}",
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
            c for c in _purpose_categories(p) if c in ctx.categories and ctx.categories[c].sensitivity in sensitive
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
        used |= _purpose_categories(p)
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

    A rule for a legal-obligation or security purpose is checked only when its clock starts at the
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
        covered = [p for p in rule.purposes if p in ctx.purposes and _is_security_purpose(ctx.purposes[p])]
        kept = max(_days(rule.keep_for), _days(rule.legal_hold.minimum if rule.legal_hold else None))
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
    """DPDP Rule 8(2): warn the person at least 48 hours before erasing for inactivity."""
    doc = ctx.document
    has_inactivity_rule = False
    for i, rule in enumerate(doc.retention):
        if rule.trigger is not RetentionTrigger.LAST_ACTIVITY:
            continue
        has_inactivity_rule = True
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
    users = doc.controller.registered_users_in_india
    if (
        ctx.applies(Jurisdiction.IN)
        and users is not None
        and users >= 20_000_000
        and doc.controller.role is StoreRole.MARKETPLACE
        and not has_inactivity_rule
    ):
        yield Finding(
            ("controller", "registered_users_in_india"),
            "an e-commerce entity with 2 crore or more registered users in India must erase data after 3 years "
            "of inactivity, and the policy has no retention rule with trigger last_activity",
            "add a rule with trigger: last_activity, keep_for: 3y, advance_notice: 48h (DPDP s.8(8), Third Schedule)",
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


# ----------------------------------------------------------------------------------- contacts and cases


@check("grievance_officer_india")
def grievance_officer_in_india(ctx: CheckContext) -> Iterator[Finding]:
    """IT Act / SPDI Rule 5(9), DPDP s.8(10), Consumer Protection (E-Commerce) Rules r.4(4)."""
    if ctx.applies(Jurisdiction.IN) and ctx.document.contacts.grievance_officer is None:
        yield Finding(
            ("contacts",),
            "Indian law requires a grievance officer and the policy names none",
            "add contacts.grievance_officer with name, designation and email (SPDI Rule 5(9), DPDP s.8(10))",
            at_value=False,
        )


@check("cert_in_contact")
def cert_in_contact(ctx: CheckContext) -> Iterator[Finding]:
    """CERT-In Directions of 28 April 2022, direction (iii): a point of contact for CERT-In."""
    if ctx.applies(Jurisdiction.IN) and ctx.document.contacts.cert_in_point_of_contact is None:
        yield Finding(
            ("contacts",),
            "no CERT-In point of contact is named",
            "add contacts.cert_in_point_of_contact (CERT-In Directions 2022, direction (iii))",
            severity="warning",
            at_value=False,
        )


@check("grievance_deadline")
def grievance_deadlines(ctx: CheckContext) -> Iterator[Finding]:
    """DPDP Rule 14(3): at most 90 days. SPDI Rule 5(9) and the E-Commerce Rules: one month."""
    grievance = ctx.document.cases.grievance
    path: NodePath = ("cases", "grievance", "resolve_within")
    resolve = grievance.resolve_within
    if resolve.approx_days > 90:
        yield Finding(
            path,
            f"grievances are resolved within {resolve.describe()}, more than 90 days",
            "set resolve_within to 90d or less (DPDP Rule 14(3)); 30d meets every Indian rule",
        )
    elif ctx.applies(Jurisdiction.IN) and _over_one_month(resolve):
        yield Finding(
            path,
            f"grievances are resolved within {resolve.describe()}, more than one month",
            "SPDI Rule 5(9) and the Consumer Protection (E-Commerce) Rules ask for one month: use 30d",
            severity="warning",
        )
    if ctx.applies(Jurisdiction.IN) and ctx.document.controller.role is StoreRole.MARKETPLACE:
        if resolve.approx_days > 15:
            yield Finding(
                path,
                f"a marketplace resolves grievances within {resolve.describe()}",
                "intermediaries resolve within 15 days (IT Rules 2021 r.3(2)); use 15d",
                severity="warning",
            )
        if grievance.acknowledge_within.approx_days > 1:
            yield Finding(
                ("cases", "grievance", "acknowledge_within"),
                f"a marketplace acknowledges grievances within {grievance.acknowledge_within.describe()}",
                "intermediaries acknowledge within 24 hours (IT Rules 2021 r.3(2)); use 24h",
                severity="warning",
            )
    if grievance.acknowledge_within.approx_days > resolve.approx_days:
        yield Finding(
            ("cases", "grievance", "acknowledge_within"),
            "grievances would be acknowledged after the date they must be resolved",
            "make acknowledge_within shorter than resolve_within",
        )


@check("breach_deadline")
def breach_deadlines(ctx: CheckContext) -> Iterator[Finding]:
    """DPDP Rule 7(2)(b) and GDPR Art 33(1): 72 hours. CERT-In direction (ii): 6 hours."""
    breach = ctx.document.cases.breach
    if breach.authority_detailed.approx_days > 3 + 1e-9:
        yield Finding(
            ("cases", "breach", "authority_detailed"),
            f"the detailed breach report is due within {breach.authority_detailed.describe()}, more than 72 hours",
            "set authority_detailed to 72h or less (DPDP Rule 7(2)(b), GDPR Art 33(1))",
        )
    if breach.authority_initial.approx_days > breach.authority_detailed.approx_days:
        yield Finding(
            ("cases", "breach", "authority_initial"),
            "the initial breach report would be due after the detailed one",
            "make authority_initial shorter than authority_detailed",
        )
    if ctx.applies(Jurisdiction.IN):
        if breach.cert_in is None:
            yield Finding(
                ("cases", "breach"),
                "no CERT-In reporting deadline is set",
                "add cert_in: 6h (CERT-In Directions 2022, direction (ii))",
                at_value=False,
            )
        elif breach.cert_in.approx_days > 6 * HOUR + 1e-9:
            yield Finding(
                ("cases", "breach", "cert_in"),
                f"incidents are reported to CERT-In within {breach.cert_in.describe()}, more than 6 hours",
                "set cert_in to 6h or less (CERT-In Directions 2022, direction (ii))",
            )


# -------------------------------------------------------------------------------------------- rights


@check("rights_deadline")
def rights_deadlines(ctx: CheckContext) -> Iterator[Finding]:
    """GDPR Art 12(3): one month, extendable by two. CCPA §1798.130(a)(2): 45 days, extendable by 45."""
    for i, right in enumerate(ctx.document.rights):
        respond = right.deadline.respond_within
        extend = right.deadline.extendable_by
        path: NodePath = ("rights", i, "deadline", "respond_within")
        if ctx.eu_or_uk and _over_one_month(respond):
            yield Finding(
                path,
                f"'{right.kind.value}' requests are answered within {respond.describe()}, more than one month",
                "use 1mo or less, and extendable_by: 2mo for complex requests (GDPR Art 12(3))",
            )
        elif ctx.applies(Jurisdiction.US_CA) and respond.approx_days > 45:
            yield Finding(
                path,
                f"'{right.kind.value}' requests are answered within {respond.describe()}, more than 45 days",
                "use 45d or less (CCPA §1798.130(a)(2))",
            )
        if extend is None:
            continue
        epath: NodePath = ("rights", i, "deadline", "extendable_by")
        if ctx.eu_or_uk and (
            (extend.unit is DurationUnit.MONTHS and extend.amount > 2)
            or (extend.unit is not DurationUnit.MONTHS and extend.approx_days > 2 * ONE_MONTH_DAYS)
        ):
            yield Finding(
                epath,
                f"the extension of {extend.describe()} is more than two months",
                "extendable_by may be at most 2mo (GDPR Art 12(3))",
            )
        elif ctx.applies(Jurisdiction.US_CA) and extend.approx_days > 45:
            yield Finding(
                epath,
                f"the extension of {extend.describe()} is more than 45 days",
                "extendable_by may be at most 45d (11 CCR §7021(b))",
            )


_RIGHTS_BY_LAW: dict[Jurisdiction, dict[RightKind, str]] = {
    Jurisdiction.IN: {
        RightKind.ACCESS: "DPDP s.11",
        RightKind.CORRECTION: "DPDP s.12",
        RightKind.ERASURE: "DPDP s.12",
        RightKind.WITHDRAW_CONSENT: "DPDP s.6(4)",
        RightKind.GRIEVANCE: "DPDP s.13",
        RightKind.NOMINATION: "DPDP s.14",
    },
    Jurisdiction.EU: {
        RightKind.ACCESS: "GDPR Art 15",
        RightKind.CORRECTION: "GDPR Art 16",
        RightKind.ERASURE: "GDPR Art 17",
        RightKind.RESTRICTION: "GDPR Art 18",
        RightKind.PORTABILITY: "GDPR Art 20",
        RightKind.OBJECTION: "GDPR Art 21",
        RightKind.WITHDRAW_CONSENT: "GDPR Art 7(3)",
    },
    Jurisdiction.UK: {
        RightKind.ACCESS: "UK GDPR Art 15",
        RightKind.CORRECTION: "UK GDPR Art 16",
        RightKind.ERASURE: "UK GDPR Art 17",
        RightKind.RESTRICTION: "UK GDPR Art 18",
        RightKind.PORTABILITY: "UK GDPR Art 20",
        RightKind.OBJECTION: "UK GDPR Art 21",
        RightKind.WITHDRAW_CONSENT: "UK GDPR Art 7(3)",
    },
    Jurisdiction.US_CA: {
        RightKind.ACCESS: "CCPA §1798.110",
        RightKind.CORRECTION: "CCPA §1798.106",
        RightKind.ERASURE: "CCPA §1798.105",
    },
}


@check("missing_right")
def required_rights(ctx: CheckContext) -> Iterator[Finding]:
    """Every right a declared law gives must be offered, with a deadline and a channel."""
    offered = {r.kind for r in ctx.document.rights}
    needed: dict[RightKind, list[str]] = {}
    for jurisdiction in sorted(ctx.jurisdictions):
        for kind, law in _RIGHTS_BY_LAW[jurisdiction].items():
            needed.setdefault(kind, []).append(law)
    if ctx.applies(Jurisdiction.US_CA) and any(p.sale_or_sharing for p in ctx.document.purposes):
        needed.setdefault(RightKind.OPT_OUT_SALE_SHARING, []).append("CCPA §1798.120")
    for kind in RightKind:
        if kind in needed and kind not in offered:
            yield Finding(
                ("rights",),
                f"the right '{kind.value}' is missing ({', '.join(needed[kind])})",
                f"add an entry with kind: {kind.value}, a deadline, identifiers, verification and channels",
                at_value=False,
            )


# -------------------------------------------------------------------------------------------- children


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


# The children's checks live in their own module and register themselves on import (kept last: it imports
# `check` from here).
from fiduciary.policy import checks_children  # noqa: E402, F401

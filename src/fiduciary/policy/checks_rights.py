"""Checks on contacts, case deadlines and rights: grievance officers and CERT-In contacts, grievance and
breach deadlines, rights deadlines and the rights each declared law requires.
"""

from __future__ import annotations

from collections.abc import Iterator

from fiduciary.policy.checks_registry import (
    HOUR,
    ONE_MONTH_DAYS,
    CheckContext,
    Finding,
    NodePath,
    check,
    over_one_month,
)
from fiduciary.policy.duration import DurationUnit
from fiduciary.policy.schema import (
    Deadline,
    Jurisdiction,
    RightKind,
    StoreRole,
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
    elif ctx.applies(Jurisdiction.IN) and over_one_month(resolve):
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
    """GDPR Art 12(3): one month, extendable by two. CCPA §1798.130(a)(2): 45 days, extendable by 45.

    Each deadline is checked against the laws of the people it is for: a right's `deadline` governs the
    jurisdictions it is offered in (`jurisdictions`, default all) that have no entry of their own in
    `deadlines_by_jurisdiction`, and each entry governs its own jurisdiction.
    """
    for i, right in enumerate(ctx.document.rights):
        offered = set(right.jurisdictions) or set(ctx.jurisdictions)
        governed: list[tuple[NodePath, Deadline, set[Jurisdiction]]] = [
            (("rights", i, "deadline"), right.deadline, offered - set(right.deadlines_by_jurisdiction))
        ]
        for j, deadline in right.deadlines_by_jurisdiction.items():
            governed.append((("rights", i, "deadlines_by_jurisdiction", j.value), deadline, {j}))
        for at, deadline, jurisdictions in governed:
            yield from _deadline_findings(right.kind, at, deadline, jurisdictions)


def _deadline_findings(
    kind: RightKind, at: NodePath, deadline: Deadline, jurisdictions: set[Jurisdiction]
) -> Iterator[Finding]:
    respond, extend = deadline.respond_within, deadline.extendable_by
    gdpr = bool(jurisdictions & {Jurisdiction.EU, Jurisdiction.UK})
    ccpa = Jurisdiction.US_CA in jurisdictions
    path: NodePath = (*at, "respond_within")
    if gdpr and over_one_month(respond):
        yield Finding(
            path,
            f"'{kind.value}' requests are answered within {respond.describe()}, more than one month",
            "use 1mo or less, and extendable_by: 2mo for complex requests (GDPR Art 12(3))",
        )
    elif ccpa and respond.approx_days > 45:
        yield Finding(
            path,
            f"'{kind.value}' requests are answered within {respond.describe()}, more than 45 days",
            "use 45d or less (CCPA §1798.130(a)(2))",
        )
    if extend is None:
        return
    epath: NodePath = (*at, "extendable_by")
    if gdpr and (
        (extend.unit is DurationUnit.MONTHS and extend.amount > 2)
        or (extend.unit is not DurationUnit.MONTHS and extend.approx_days > 2 * ONE_MONTH_DAYS)
    ):
        yield Finding(
            epath,
            f"the extension of {extend.describe()} is more than two months",
            "extendable_by may be at most 2mo (GDPR Art 12(3))",
        )
    elif ccpa and extend.approx_days > 45:
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


@check("right_options")
def right_options(ctx: CheckContext) -> Iterator[Finding]:
    """Options that only mean something for some kinds of request: a waiting period before an erasure or a
    deactivation runs, a keeping period after a deactivation."""
    waits = {RightKind.ERASURE, RightKind.DEACTIVATION}
    for i, right in enumerate(ctx.document.rights):
        if right.waiting_period is not None and right.kind not in waits:
            yield Finding(
                ("rights", i, "waiting_period"),
                f"a waiting period means nothing for a {right.kind.value} request",
                "remove it; only erasure and deactivation wait before they run",
            )
        if right.keep_after_deactivation is not None and right.kind is not RightKind.DEACTIVATION:
            yield Finding(
                ("rights", i, "keep_after_deactivation"),
                f"keep_after_deactivation means nothing for a {right.kind.value} request",
                "remove it; it belongs on the deactivation right",
            )
        if right.manual_steps and right.kind in _AUTOMATIC_ONLY:
            yield Finding(
                ("rights", i, "manual_steps"),
                f"a {right.kind.value} request runs inside Fiduciary and has no manual steps",
                "remove manual_steps, or list them on the erasure, correction or deactivation right",
            )


# Opt-outs and withdrawals are kept in the consent ledger the moment they are made (CCPA §7026(f)).
_AUTOMATIC_ONLY = frozenset({RightKind.WITHDRAW_CONSENT, RightKind.OPT_OUT_MARKETING, RightKind.OPT_OUT_SALE_SHARING})


@check("missing_right")
def required_rights(ctx: CheckContext) -> Iterator[Finding]:
    """Every right a declared law gives must be offered, with a deadline and a channel."""
    # A right limited by `jurisdictions` is offered only to the people of those (issue 12 item 1).
    offered = {(r.kind, j) for r in ctx.document.rights for j in (r.jurisdictions or ctx.jurisdictions)}
    needed: dict[RightKind, list[str]] = {}
    for jurisdiction in sorted(ctx.jurisdictions):
        for kind, law in _RIGHTS_BY_LAW[jurisdiction].items():
            if (kind, jurisdiction) not in offered:
                needed.setdefault(kind, []).append(law)
    sells = any(p.sale_or_sharing for p in ctx.document.purposes)
    if (
        ctx.applies(Jurisdiction.US_CA)
        and sells
        and (RightKind.OPT_OUT_SALE_SHARING, Jurisdiction.US_CA) not in offered
    ):
        needed.setdefault(RightKind.OPT_OUT_SALE_SHARING, []).append("CCPA §1798.120")
    for kind in RightKind:
        if kind in needed:
            yield Finding(
                ("rights",),
                f"the right '{kind.value}' is missing ({', '.join(needed[kind])})",
                f"add an entry with kind: {kind.value}, a deadline, identifiers, verification and channels",
                at_value=False,
            )

"""Checks for what real store policies get wrong: template text left in, grounds the law refuses for
targeted advertising, channels a person cannot use, headings with nothing under them, and statements
about browser signals and third-party opt-outs that the code or the law contradicts (issue 12).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from fiduciary.policy.checks_registry import CheckContext, Finding, NodePath, check, closest
from fiduciary.policy.schema import (
    Contact,
    GpcHandling,
    Jurisdiction,
    LegalGround,
    RequestChannel,
    RightKind,
)
from fiduciary.policy.schema_optouts import DoNotTrack

# ------------------------------------------------------------------------------------ template text

# Text a template or a generator leaves for the store to fill in; a published notice must not show it.
_BRACKETED = re.compile(r"\[[A-Z][A-Za-z .&/'-]{2,}\]")
_INSERT = re.compile(r"(?i:<\s*(?:insert|enter|add|your)\b[^>]*>)")
_PLACEHOLDER_TEXT: list[tuple[re.Pattern[str], str]] = [
    (_BRACKETED, "a bracketed blank such as [Company Legal Entity]"),
    (re.compile(r"(?<![A-Za-z0-9])X{4,}(?![A-Za-z0-9])"), "a run of X standing for a number or name"),
    (re.compile(r"(?i:lorem ipsum)"), "Lorem ipsum filler"),
    (re.compile(r"(?<![A-Za-z])(?:TBD|TBA|TODO|FIXME)(?![A-Za-z])"), "a to-be-decided marker"),
    (_INSERT, "an <insert …> blank"),
    (re.compile(r"\{\{[^}]*\}\}"), "an unfilled {{ template }} field"),
]
# The documentation domains of RFC 2606 that templates fill addresses with: a store's real address is
# never one. The reserved top-level name `.example` is deliberately not flagged: the sample policies use it
# (tests/policy/test_examples.py insists on it) so an invented store never points at a real domain that a
# reader could write to.
_RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
_HOSTS_IN_TEXT = re.compile(r"(?:@|://)([A-Za-z0-9.-]+\.[A-Za-z]{2,})|\b((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})\b")
# Cookie names like `_ga_XXXXXXXXXX` are the vendor's documented form (the X stand for a container id).
_X_RUN_ALLOWED: frozenset[str] = frozenset({"name"})


def _reserved_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in _RESERVED_DOMAINS)


# Plain substrings every placeholder holds (the bracket and <insert> patterns start with a literal, so the
# regex engine scans for them fast). A text holding none of them is clean, which settles a whole large
# policy in one pass over its serialised form (bench/policy_load.py); the patterns run only on the rest.
_MARKERS = ("XXXX", "TBD", "TBA", "TODO", "FIXME", "{{")


def _may_hold_placeholder(text: str) -> bool:
    lowered = text.lower()
    return (
        "example." in lowered
        or "lorem ipsum" in lowered
        or any(marker in text for marker in _MARKERS)
        or _BRACKETED.search(text) is not None
        or _INSERT.search(text) is not None
    )


def _strings(document: BaseModel) -> Iterator[tuple[NodePath, str]]:
    """Every text in the document with its path (URLs as text), in document order, without recursion."""
    stack: list[tuple[NodePath, Any]] = [((), document.model_dump(mode="json", exclude_defaults=True))]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            yield path, value
        elif isinstance(value, dict):
            stack.extend(reversed([((*path, key), element) for key, element in value.items()]))
        elif isinstance(value, list):
            stack.extend(reversed([((*path, index), element) for index, element in enumerate(value)]))


def _placeholder_in(path: NodePath, text: str) -> str | None:
    if not _may_hold_placeholder(text):
        return None
    if "example." in text.lower():
        for match in _HOSTS_IN_TEXT.finditer(text):
            host = match.group(1) or match.group(2)
            if _reserved_host(host):
                return f"the reserved example host '{host}'"
    for pattern, what in _PLACEHOLDER_TEXT:
        if what.startswith("a run of X") and path and path[0] == "cookies" and path[-1] in _X_RUN_ALLOWED:
            continue
        if pattern.search(text):
            return what
    return None


@check("placeholder_text")
def no_placeholders(ctx: CheckContext) -> Iterator[Finding]:
    """A notice must be the store's own truth (DPDP s.5(1), GDPR Art 12(1)): a blank from a template,
    Lorem ipsum or a documentation domain tells a reader nothing and shows the text was never finished."""
    if not _may_hold_placeholder(ctx.document.model_dump_json(exclude_defaults=True)):
        return  # the usual case, decided in one pass over the serialised document
    for path, text in _strings(ctx.document):
        what = _placeholder_in(path, text)
        if what is not None:
            yield Finding(
                path,
                f"placeholder left in the policy: {what}",
                "replace it with the store's real value; the notice prints this text as written",
            )


# ------------------------------------------------------------------------------------ grounds and purposes


@check("targeted_ads_legitimate_interests")
def targeted_ads_need_consent_in_eu(ctx: CheckContext) -> Iterator[Finding]:
    """GDPR Art 6(1)(a) with ePrivacy Art 5(3): targeted advertising in the EU/UK rests on consent, whether it
    reads a cookie or not (CJEU C-252/21 Meta v Bundeskartellamt: users do not reasonably expect it)."""
    if not ctx.eu_or_uk:
        return
    for i, p in enumerate(ctx.document.purposes):
        if p.targeted_advertising and p.legal_ground is LegalGround.LEGITIMATE_INTERESTS:
            yield Finding(
                ("purposes", i, "legal_ground"),
                f"purpose '{p.id}' is targeted advertising for people in the EU/UK but relies on legitimate interests",
                "use legal_ground: consent (GDPR Art 6(1)(a), ePrivacy Art 5(3); CJEU C-252/21), with or without "
                "a cookie listed",
            )


@check("withdrawal_effect_ground")
def withdrawal_effect_only_for_consent(ctx: CheckContext) -> Iterator[Finding]:
    """Only consent can be withdrawn (DPDP s.6(4), GDPR Art 7(3)); the notice would promise a withdrawal
    that does not exist."""
    for i, p in enumerate(ctx.document.purposes):
        if p.withdrawal_limits_service is not None and p.legal_ground is not LegalGround.CONSENT:
            yield Finding(
                ("purposes", i, "withdrawal_limits_service"),
                f"purpose '{p.id}' says what withdrawing consent limits, but relies on {p.legal_ground.value}",
                "remove withdrawal_limits_service, or rely on consent (DPDP s.6(4), GDPR Art 7(3))",
            )


# ---------------------------------------------------------------------------------- channels and headings


def _answering_contact(ctx: CheckContext, kind: RightKind) -> Contact | None:
    """Who answers a right, as the notice names them (notice/view/rights.py)."""
    contacts = ctx.document.contacts
    if kind is RightKind.GRIEVANCE and contacts.grievance_officer is not None:
        return contacts.grievance_officer
    return contacts.data_protection_officer or contacts.privacy_contact or contacts.grievance_officer


@check("post_without_address")
def post_channel_has_address(ctx: CheckContext) -> Iterator[Finding]:
    """DPDP Rule 14(1) and GDPR Art 12(2): a channel offered for a right must be usable; 'by post' with no
    address leaves the reader nowhere to write."""
    for i, right in enumerate(ctx.document.rights):
        if RequestChannel.POST not in right.channels:
            continue
        contact = _answering_contact(ctx, right.kind)
        if contact is None or contact.address is None:
            yield Finding(
                ("rights", i, "channels", right.channels.index(RequestChannel.POST)),
                f"the right '{right.kind.value}' may be asked for by post, but the contact who answers it has no "
                "postal address",
                "add an address to contacts.data_protection_officer or privacy_contact (the grievance officer for "
                "grievances), or remove post from the channels",
            )


@check("security_measures_missing")
def security_measures_listed(ctx: CheckContext) -> Iterator[Finding]:
    """SPDI Rules r.4(1)(v): the privacy policy states the security practices; an empty list would print a
    heading with only the breach sentence under it."""
    if ctx.document.security_measures:
        return
    yield Finding(
        ("security_measures",) if "security_measures" in ctx.document.model_fields_set else (),
        "the policy lists no security measures, so 'How we protect your data' would say nothing about them",
        "list security_measures with a name and a description each (e.g. encryption at rest, access control); "
        "SPDI Rules r.4(1)(v) asks for them where Indian law applies",
        severity="error" if ctx.applies(Jurisdiction.IN) else "warning",
        at_value=False,
    )


# ------------------------------------------------------------------------- opt-outs others run, signals


# Rights an opt-out run by someone else can serve: it stops a use, it cannot show, correct or erase data.
_OPT_OUT_RIGHTS = frozenset(
    {RightKind.OBJECTION, RightKind.WITHDRAW_CONSENT, RightKind.OPT_OUT_MARKETING, RightKind.OPT_OUT_SALE_SHARING}
)


@check("external_opt_out")
def external_opt_outs_resolve(ctx: CheckContext) -> Iterator[Finding]:
    """An opt-out named for nothing, or a channel that points at no opt-out, is a promise about nothing."""
    doc = ctx.document
    recipients = {r.id for r in doc.recipients}
    for i, mechanism in enumerate(doc.external_opt_outs):
        for j, pid in enumerate(mechanism.purposes):
            if pid not in ctx.purposes:
                guess = closest(pid, ctx.purposes)
                yield Finding(
                    ("external_opt_outs", i, "purposes", j),
                    f"external opt-out '{mechanism.name}' refers to unknown purpose '{pid}'",
                    f"did you mean '{guess}'?" if guess else "declare it under purposes, or fix the id",
                )
        for j, rid in enumerate(mechanism.recipients):
            if rid not in recipients:
                guess = closest(rid, recipients)
                yield Finding(
                    ("external_opt_outs", i, "recipients", j),
                    f"external opt-out '{mechanism.name}' refers to unknown recipient '{rid}'",
                    f"did you mean '{guess}'?" if guess else "declare it under recipients, or fix the id",
                )
    for i, right in enumerate(doc.rights):
        if RequestChannel.EXTERNAL_MECHANISM not in right.channels:
            continue
        path: NodePath = ("rights", i, "channels", right.channels.index(RequestChannel.EXTERNAL_MECHANISM))
        if right.kind not in _OPT_OUT_RIGHTS:
            yield Finding(
                path,
                f"the right '{right.kind.value}' offers an opt-out run by another company, which cannot answer it",
                "keep external_mechanism for objection, withdraw_consent, opt_out_marketing or "
                "opt_out_sale_sharing; the store itself answers the other rights",
            )
        elif not doc.external_opt_outs:
            yield Finding(
                path,
                f"the right '{right.kind.value}' offers an external mechanism, but external_opt_outs is empty",
                "list the mechanism under external_opt_outs with its name, operator, url and purposes",
            )


@check("browser_signals")
def browser_signals_true(ctx: CheckContext) -> Iterator[Finding]:
    """11 CCR §7025(b): an opt-out preference signal (GPC) is a valid opt-out and must be honoured. The
    statement must also be true to the code: consent/gpc.py honours `Sec-GPC: 1` wherever the store is."""
    signals = ctx.document.browser_signals
    sells_or_targets = any(p.sale_or_sharing or p.targeted_advertising for p in ctx.document.purposes)
    if signals is None:
        if ctx.applies(Jurisdiction.US_CA) and sells_or_targets:
            yield Finding(
                (),
                "the policy serves California and sells, shares or targets ads, but does not say how it treats "
                "Global Privacy Control",
                "add browser_signals: {gpc: opt_out, do_not_track: not_honoured} so the notice states it "
                "(11 CCR §7025)",
                severity="warning",
                at_value=False,
            )
        return
    if signals.gpc is GpcHandling.IGNORED:
        california = ctx.applies(Jurisdiction.US_CA)
        yield Finding(
            ("browser_signals", "gpc"),
            "the policy says Global Privacy Control is ignored, "
            + ("but CCPA requires honouring it" if california else "but this service honours it"),
            "set gpc: opt_out; "
            + (
                "11 CCR §7025(b) makes a GPC signal a valid opt-out of sale and sharing"
                if california
                else "consent/gpc.py treats Sec-GPC: 1 as an opt-out, and the notice must say what the code does"
            ),
        )
    if signals.do_not_track is DoNotTrack.HONOURED:
        yield Finding(
            ("browser_signals", "do_not_track"),
            "the policy says Do Not Track is honoured; Fiduciary does not act on the DNT header itself",
            "keep it only if the store's own tags stop tracking on DNT: 1; otherwise say not_honoured",
            severity="warning",
        )

"""Checks on what a policy states per jurisdiction (issue 12 item 1): every jurisdiction named is declared,
each purpose's ground belongs to the law it is stated for, age bands meet each law's floor, an authority
to complain to and an EU/UK representative where the law asks for them.

Registered with `@check` like every other check; `policy.checks` imports this module after the others.
"""

from __future__ import annotations

from collections.abc import Iterator

from fiduciary.policy.checks_registry import CheckContext, Finding, NodePath, check
from fiduciary.policy.schema import Jurisdiction, LegalGround, PolicyDocument
from fiduciary.policy.schema_jurisdictions import (
    CCPA_SALE_OPT_IN_AGE,
    CCPA_SALE_PARENT_AGE,
    CHILD_AGE_FLOOR,
    ESTABLISHED_IN,
    GDPR_DEFAULT_CHILD_AGE,
)

_GDPR = frozenset({Jurisdiction.EU, Jurisdiction.UK})
# DPDP s.7 legitimate uses and s.17(1) exemptions are Indian law; GDPR Art 6(1) knows neither.
_INDIAN_GROUNDS = frozenset({LegalGround.LEGITIMATE_USE, LegalGround.EXEMPTION})
# GDPR Art 6(1)(f) legitimate interests has no equivalent under DPDP s.4 (consent or a s.7 use only).
_GDPR_ONLY_GROUNDS = frozenset({LegalGround.LEGITIMATE_INTERESTS})


def _named_jurisdictions(doc: PolicyDocument) -> Iterator[tuple[NodePath, Jurisdiction, str]]:
    """Every place a policy names a jurisdiction besides `controller.jurisdictions`: path, value, what."""
    for i, p in enumerate(doc.purposes):
        for j in p.grounds_by_jurisdiction:
            yield ("purposes", i, "grounds_by_jurisdiction", j.value), j, f"purpose '{p.id}' states a ground"
    for i, r in enumerate(doc.rights):
        for k, j in enumerate(r.jurisdictions):
            yield ("rights", i, "jurisdictions", k), j, f"the right '{r.kind.value}' is offered"
        for j in r.deadlines_by_jurisdiction:
            yield ("rights", i, "deadlines_by_jurisdiction", j.value), j, f"the right '{r.kind.value}' has a deadline"
    for j in doc.children.by_jurisdiction:
        yield ("children", "by_jurisdiction", j.value), j, "an age band is stated"
    for i, a in enumerate(doc.contacts.authorities):
        yield ("contacts", "authorities", i, "jurisdiction"), a.jurisdiction, f"the authority '{a.name}' is listed"
    for i, rep in enumerate(doc.contacts.representatives):
        yield ("contacts", "representatives", i, "jurisdiction"), rep.jurisdiction, "a representative is named"


@check("jurisdiction_not_declared")
def jurisdictions_declared(ctx: CheckContext) -> Iterator[Finding]:
    """A statement for a jurisdiction the store does not serve is a promise about nobody, and the checks of
    that law (which `controller.jurisdictions` switches on) would never run on it."""
    for path, jurisdiction, what in _named_jurisdictions(ctx.document):
        if jurisdiction not in ctx.jurisdictions:
            declared = ", ".join(j.value for j in ctx.document.controller.jurisdictions)
            yield Finding(
                path,
                f"{what} for {jurisdiction.value}, which controller.jurisdictions does not declare ({declared})",
                f"add {jurisdiction.value} to controller.jurisdictions, or remove this entry",
                at_value=path[-1] == "jurisdiction" or isinstance(path[-1], int),
            )


@check("ground_of_another_law")
def grounds_belong_to_their_law(ctx: CheckContext) -> Iterator[Finding]:
    """DPDP s.4 knows consent and the s.7 legitimate uses (with the s.17 exemptions); GDPR Art 6(1) knows
    consent, contract, legal obligation, vital interests, public task and legitimate interests. A ground
    stated for people of one law that only the other law has is no ground at all."""
    gdpr_served = sorted(ctx.jurisdictions & _GDPR)
    for i, p in enumerate(ctx.document.purposes):
        for j, statement in p.grounds_by_jurisdiction.items():
            path: NodePath = ("purposes", i, "grounds_by_jurisdiction", j.value, "legal_ground")
            ground = statement.legal_ground
            if j in _GDPR and ground in _INDIAN_GROUNDS:
                yield Finding(
                    path,
                    f"purpose '{p.id}' relies on {ground.value} for {j.value}, a DPDP ground that GDPR does not know",
                    "use a GDPR Art 6(1) ground for the EU and UK, e.g. legitimate_interests, contract or "
                    "legal_obligation (GDPR Art 6(1))",
                )
            elif j is Jurisdiction.IN and ground in _GDPR_ONLY_GROUNDS:
                yield Finding(
                    path,
                    f"purpose '{p.id}' relies on {ground.value} for IN, which is not a ground under Indian law",
                    "use consent, legitimate_use with a DPDP s.7 clause, or exemption with a s.17(1) clause (DPDP s.4)",
                )
        # The purpose's own ground applies to every declared jurisdiction without an entry of its own.
        own = p.legal_ground
        if own not in _INDIAN_GROUNDS:
            continue
        uses = [j for j in gdpr_served if j not in p.grounds_by_jurisdiction]
        if not uses:
            continue
        names = " and ".join(j.value for j in uses)
        hint = (
            f"add grounds_by_jurisdiction for {names} with a GDPR Art 6(1) ground, e.g. "
            f"{{{uses[0].value}: {{legal_ground: legitimate_interests}}}}"
        )
        if Jurisdiction.IN not in ctx.jurisdictions:
            yield Finding(
                ("purposes", i, "legal_ground"),
                f"purpose '{p.id}' relies on {own.value}, a DPDP ground, but the policy does not serve India",
                hint + "; or use that ground as legal_ground (GDPR Art 6(1))",
            )
        else:
            yield Finding(
                ("purposes", i, "legal_ground"),
                f"purpose '{p.id}' relies on {own.value}, a DPDP ground, for people in {names} too",
                hint + " (GDPR Art 6(1)); legal_ground then stays the ground for India",
                severity="warning",
            )


@check("age_band")
def age_bands(ctx: CheckContext) -> Iterator[Finding]:
    """Each band meets its law's floor (DPDP s.2(f) 18; GDPR Art 8(1) 16, or 13-16 by member state; UK GDPR
    Art 8(1) 13; CCPA Civ. Code 1798.120(c) 16 and 13), and the ages decisions apply cover every band."""
    children = ctx.document.children
    for j, band in children.by_jurisdiction.items():
        at: NodePath = ("children", "by_jurisdiction", j.value)
        floor = CHILD_AGE_FLOOR.get(j)
        if floor is not None and band.minimum_age < floor:
            yield Finding(
                (*at, "minimum_age"),
                f"the {j.value} age band makes a child of anyone under {band.minimum_age}; the law there says {floor}",
                f"set minimum_age to at least {floor} ("
                + ("DPDP s.2(f)" if j is Jurisdiction.IN else "GDPR Art 8(1)")
                + ")",
            )
        if j is Jurisdiction.EU:
            if band.country_ages and band.minimum_age < max(band.country_ages.values()):
                country, age = max(band.country_ages.items(), key=lambda kv: kv[1])
                yield Finding(
                    (*at, "minimum_age"),
                    f"the EU age band says {band.minimum_age}, below the age of digital consent {age} it declares "
                    f"for {country}",
                    f"set minimum_age to at least {age} (GDPR Art 8(1))",
                )
            elif not band.country_ages and band.minimum_age < GDPR_DEFAULT_CHILD_AGE:
                yield Finding(
                    (*at, "minimum_age"),
                    f"the EU age band says {band.minimum_age}, below GDPR's default age of digital consent (16)",
                    "list the member states' ages in country_ages (13 to 16), or use 16 (GDPR Art 8(1))",
                    severity="warning",
                )
        if j is Jurisdiction.US_CA:
            if band.sale_opt_in_age is not None and band.sale_opt_in_age < CCPA_SALE_OPT_IN_AGE:
                yield Finding(
                    (*at, "sale_opt_in_age"),
                    f"the US-CA age band asks for an opt-in to a sale only under {band.sale_opt_in_age}",
                    "set sale_opt_in_age to at least 16 (CCPA Civ. Code 1798.120(c))",
                )
            if band.sale_parent_age is not None and band.sale_parent_age < CCPA_SALE_PARENT_AGE:
                yield Finding(
                    (*at, "sale_parent_age"),
                    f"the US-CA age band asks a parent's opt-in to a sale only under {band.sale_parent_age}",
                    "set sale_parent_age to at least 13 (CCPA Civ. Code 1798.120(c), 11 CCR 7070)",
                )
        # Decisions apply the policy-wide ages to everyone whose residence is unknown (`policy.ages`): they
        # must hold for whichever jurisdiction such a person lives in.
        for name, band_age, applied in (
            ("minimum_age", band.minimum_age, children.minimum_age),
            ("sale_opt_in_age", band.sale_opt_in_age, children.sale_opt_in_age),
            ("sale_parent_age", band.sale_parent_age, children.sale_parent_age),
        ):
            if band_age is not None and band_age > applied:
                yield Finding(
                    (*at, name),
                    f"the {j.value} age band says {band_age}, above children.{name} ({applied}), the age decisions "
                    "apply to everyone whose residence is unknown",
                    f"set children.{name} to at least {band_age}: a person of unknown residence may live there",
                )


@check("authority_per_jurisdiction")
def authority_per_jurisdiction(ctx: CheckContext) -> Iterator[Finding]:
    """DPDP s.5(1)(iii) and GDPR Art 13(2)(d): the notice says where to complain. In a policy serving several
    laws, each needs its own authority; a single-law policy is left to the notice's general sentence."""
    if len(ctx.jurisdictions) < 2:
        return
    listed = {a.jurisdiction for a in ctx.document.contacts.authorities}
    laws = {Jurisdiction.IN: "DPDP s.5(1)(iii)", Jurisdiction.EU: "GDPR Art 77", Jurisdiction.UK: "UK GDPR Art 77"}
    for j in ctx.document.controller.jurisdictions:
        if j in laws and j not in listed:
            yield Finding(
                ("contacts",),
                f"no authority to complain to is listed for {j.value}",
                f"add contacts.authorities with jurisdiction: {j.value} ({laws[j]})",
                severity="warning",
                at_value=False,
            )


@check("eu_representative")
def eu_uk_representative(ctx: CheckContext) -> Iterator[Finding]:
    """GDPR Art 27(1) / UK GDPR Art 27(1): a controller not established in the EU (UK) that offers goods or
    services to people there designates a representative there. Art 27(2)(a) exempts occasional processing
    that is not large-scale special-category data and unlikely to result in a risk: a warning then."""
    controller = ctx.document.controller
    named = {rep.jurisdiction for rep in ctx.document.contacts.representatives}
    for j, countries in ESTABLISHED_IN.items():
        if not ctx.applies(j) or controller.address.country in countries or j in named:
            continue
        law = "GDPR Art 27" if j is Jurisdiction.EU else "UK GDPR Art 27"
        message = f"the store serves {j.value} from {controller.address.country} and names no {j.value} representative"
        hint = f"add contacts.representatives with jurisdiction: {j.value}, a name and a contact ({law}(1))"
        if controller.occasional_processing:
            yield Finding(
                ("controller", "occasional_processing"),
                message,
                hint + f"; without one, be sure the processing is occasional and unlikely to result in a risk "
                f"({law}(2)(a))",
                severity="warning",
            )
        else:
            yield Finding(
                ("controller", "jurisdictions"),
                message,
                hint + f", or set controller.occasional_processing if {law}(2)(a) exempts you",
            )

"""Checks on who the store is and how to reach it: addresses a letter could not be delivered to, and
California's authorised agents (issue 12)."""

from __future__ import annotations

from collections.abc import Iterator

from fiduciary.policy.checks_registry import CheckContext, Finding, NodePath, check
from fiduciary.policy.schema import Contact, Jurisdiction, PostalAddress, RightKind


def _addresses(ctx: CheckContext) -> Iterator[tuple[NodePath, PostalAddress]]:
    yield ("controller", "address"), ctx.document.controller.address
    contacts = ctx.document.contacts
    for name in type(contacts).model_fields:
        contact = getattr(contacts, name)
        if isinstance(contact, Contact) and contact.address is not None:
            yield ("contacts", name, "address"), contact.address


@check("partial_address")
def partial_addresses(ctx: CheckContext) -> Iterator[Finding]:
    """Some stores publish only a city or a country (issue 12): accepted, but a letter cannot reach it.

    A warning, not an error: the law asks for contact details (GDPR Art 13(1)(a), DPDP Rule 3(c) means of
    communication) and a store reachable by email meets that; a request by post needs the full address.
    """
    for path, address in _addresses(ctx):
        missing = [name for name, value in (("lines", address.lines), ("city", address.city)) if not value]
        if missing:
            yield Finding(
                path,
                f"the address at {'.'.join(str(p) for p in path)} gives no {' and no '.join(missing)}: "
                "a letter cannot be delivered to it",
                "add the street lines and city if people may write to it; the notice shows only what is given",
                severity="warning",
                at_value=False,
            )


# Requests a Californian may make through an authorised agent (CCPA Regulations §7063 for requests to know,
# delete and correct; §7026(d) for opting out of sale or sharing).
AGENT_RIGHTS = frozenset({RightKind.ACCESS, RightKind.ERASURE, RightKind.CORRECTION, RightKind.OPT_OUT_SALE_SHARING})


@check("authorised_agents_california")
def authorised_agents_in_california(ctx: CheckContext) -> Iterator[Finding]:
    """CCPA §1798.185(a)(7) and Regulations §7063: a Californian may use an authorised agent; say so."""
    if not ctx.applies(Jurisdiction.US_CA):
        return
    for i, right in enumerate(ctx.document.rights):
        if right.kind in AGENT_RIGHTS and not right.authorised_agents:
            yield Finding(
                ("rights", i, "kind"),
                f"the right '{right.kind.value}' does not say whether an authorised agent may ask for it, and "
                "California residents may use one",
                "set authorised_agents: true (CCPA §1798.185(a)(7), CCPA Regulations §7063)",
                severity="warning",
            )

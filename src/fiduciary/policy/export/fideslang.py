"""The store's data map as a fideslang manifest, so a store can hand it to Fides (issue 12, item 8).

One fideslang `system` for the store (the controller) with one privacy declaration per purpose, and one
`system` per recipient, linked by data flows (`egress` / `ingress`), which is how fideslang models who
receives what. Pure: a `PolicyDocument` in, plain dicts out; fideslang itself is only used by the tests
to validate the result (its pydantic pin is older than ours, see docs/decisions/0022-policy-exports.md).

Where fideslang cannot say what the policy says, the export says the nearest thing and records why in
the system's `meta.fiduciary.notes` (fideslang's extension field): a DPDP ground exported as the nearest
GDPR basis, a category key fideslang does not know exported as its nearest parent.
"""

from __future__ import annotations

import re
from typing import Any

from fiduciary.policy.export.mapping import (
    Ground,
    approximations,
    data_use,
    fideslang_category,
    ground_of,
    grounds_apart,
    is_payment,
    retention_for,
)
from fiduciary.policy.schema import PolicyDocument, Purpose, Recipient, RecipientKind

ORGANIZATION_KEY = "default_organization"  # the organization every Fides deployment starts with

_RESPONSIBILITY = {RecipientKind.PROCESSOR: "Processor"}  # everyone else decides its own purposes: a controller


def fides_key(text: str) -> str:
    """A fideslang key (letters, digits, `_ . - < >`) from a name: runs of anything else become `_`."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text.strip().lower()).strip("_") or "store"


def fideslang_manifest(document: PolicyDocument) -> tuple[dict[str, Any], list[str]]:
    """The manifest (`{"system": [...]}`) and the notes on what had to be approximated."""
    notes = approximations(document, "fideslang")
    keys = {category.id: fideslang_category(category)[0] for category in document.categories}
    controller = document.controller
    store_key = fides_key(controller.trading_name or controller.legal_name)
    recipient_keys = {r.id: f"{store_key}-{fides_key(r.id)}" for r in document.recipients}
    declarations: list[dict[str, Any]] = []
    declared_for: dict[str, str] = {}  # declaration name → purpose id, for meta
    grounds: dict[str, dict[str, Any]] = {}
    for purpose in document.purposes:
        ground = ground_of(purpose)
        if ground.law:
            grounds[purpose.id] = {"law": ground.law, "exported_as": ground.fideslang}
        apart = grounds_apart(purpose)
        if apart:
            grounds.setdefault(purpose.id, {"exported_as": ground.fideslang})["by_jurisdiction"] = {
                j.value: {"exported_as": other.fideslang, **({"law": other.law} if other.law else {})}
                for other, jurisdictions in apart
                for j in jurisdictions
            }
        for declaration in _declarations(document, purpose, keys, recipient_keys):
            declarations.append(declaration)
            declared_for[declaration["name"]] = purpose.id
    system: dict[str, Any] = {
        "fides_key": store_key,
        "organization_fides_key": ORGANIZATION_KEY,
        "name": controller.trading_name or controller.legal_name,
        "description": document.name,
        "system_type": "Service",
        "legal_name": controller.legal_name,
        "legal_address": _address(document),
        "responsibility": ["Controller"],
        "processes_personal_data": True,
        "uses_profiling": any(p.profiling for p in document.purposes),
        "does_international_transfers": _transfers(document),
        "legal_basis_for_transfers": sorted(
            {r.transfer_safeguard for r in document.recipients if r.transfer_safeguard}
        ),
        "uses_cookies": bool(document.cookies),
        "egress": [_flow(recipient_keys[r.id], r, keys) for r in document.recipients],
        "privacy_declarations": declarations,
        "meta": {
            "fiduciary": {
                "policy_name": document.name,
                "schema_version": document.schema_version,
                "jurisdictions": [j.value for j in controller.jurisdictions],
                "purposes": declared_for,
                "legal_grounds": grounds,
                "notes": notes,
            }
        },
    }
    if document.contacts.data_protection_officer and document.contacts.data_protection_officer.email:
        system["dpo"] = document.contacts.data_protection_officer.email
    systems = [system] + [_recipient_system(r, recipient_keys[r.id], store_key, keys) for r in document.recipients]
    return {"system": systems}, notes


def _declarations(
    document: PolicyDocument, purpose: Purpose, keys: dict[str, str], recipient_keys: dict[str, str]
) -> list[dict[str, Any]]:
    """One declaration per purpose; a service purpose that also takes a payment gets a second one for it.

    A purpose whose ground differs by jurisdiction (`grounds_by_jurisdiction`) gets the same declarations
    again for each other ground, named for the jurisdictions it applies to ("Fraud screening (EU, UK)"):
    fideslang has one legal basis per declaration and no jurisdiction of its own.
    """
    ids = list(dict.fromkeys([*purpose.categories, *purpose.optional_categories]))
    use = data_use(document, purpose)
    by_id = {c.id: c for c in document.categories}
    payment = [i for i in ids if i in by_id and is_payment(by_id[i])] if use == "essential.service" else []
    groups = [(use, [i for i in ids if i not in payment], purpose.name)]
    if payment:
        groups.append(("essential.service.payment_processing", payment, f"{purpose.name} (payment)"))
    grounds = [
        (ground_of(purpose), ""),
        *((g, f" ({', '.join(j.value for j in js)})") for g, js in grounds_apart(purpose)),
    ]
    return [
        _declaration(document, purpose, group_use, group_ids, name + suffix, ground, keys, recipient_keys)
        for ground, suffix in grounds
        for group_use, group_ids, name in groups
        if group_ids
    ]


def _declaration(
    document: PolicyDocument,
    purpose: Purpose,
    use: str,
    ids: list[str],
    name: str,
    ground: Ground,
    keys: dict[str, str],
    recipient_keys: dict[str, str],
) -> dict[str, Any]:
    recipients = [r for r in document.recipients if purpose.id in r.purposes and set(r.categories) & set(ids)]
    rules = retention_for(document, purpose.id, set(ids))
    declaration: dict[str, Any] = {
        "name": name,
        "data_use": use,
        "data_categories": sorted({keys[i] for i in ids if i in keys}),
        "data_subjects": ["customer"],
        "legal_basis_for_processing": ground.fideslang,
        "flexible_legal_basis_for_processing": False,
        "features": [f for f in ("tracking", "profiling", "automated_decision") if getattr(purpose, f)],
        "data_shared_with_third_parties": bool(recipients),
    }
    if recipients:
        declaration["egress"] = [recipient_keys[r.id] for r in recipients]
        declaration["third_parties"] = "; ".join(r.name for r in recipients)
        declaration["shared_categories"] = sorted({keys[c] for r in recipients for c in r.categories if c in ids})
    if rules:
        declaration["retention_period"] = "; ".join(f"{rule.id}: {sentence}" for rule, sentence in rules)
    return declaration


def _flow(key: str, recipient: Recipient, keys: dict[str, str]) -> dict[str, Any]:
    return {"fides_key": key, "type": "system", "data_categories": sorted({keys[c] for c in recipient.categories})}


def _recipient_system(recipient: Recipient, key: str, store_key: str, keys: dict[str, str]) -> dict[str, Any]:
    """A recipient as a system of its own, receiving from the store: fideslang's way to name a third party."""
    return {
        "fides_key": key,
        "organization_fides_key": ORGANIZATION_KEY,
        "name": recipient.name,
        "description": recipient.description or f"Receives personal data from the store ({recipient.kind.value}).",
        "system_type": "Third Party",
        "responsibility": [_RESPONSIBILITY.get(recipient.kind, "Controller")],
        "ingress": [_flow(store_key, recipient, keys)],
        "privacy_declarations": [],
        "meta": {
            "fiduciary": {"recipient": recipient.id, "kind": recipient.kind.value, "countries": recipient.countries}
        },
    }


def _address(document: PolicyDocument) -> str:
    address = document.controller.address
    parts = [*address.lines, address.city, address.region, address.postal_code, address.country]
    return ", ".join(p for p in parts if p)


def _transfers(document: PolicyDocument) -> bool:
    home = document.controller.address.country
    return any(country != home for r in document.recipients for country in r.countries)

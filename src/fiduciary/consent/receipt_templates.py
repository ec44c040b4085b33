"""The policy-dependent part of a consent receipt: its ISO/IEC TS 27560 and Kantara blocks for one purpose.

Everything in a receipt that depends only on the policy version, the purpose and the base URL is built
once per (policy, purpose, base URL) and compiled into text templates (`receipt_text`); only the
per-event members are filled in per receipt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from fiduciary.consent.receipt_text import Constant, Slot, TextTemplate, compile_template
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.schema import (
    Contact,
    Controller,
    DataCategory,
    PolicyDocument,
    PostalAddress,
    Purpose,
    Recipient,
    RecipientKind,
    trigger_code,
)

RECEIPT_SCHEMA: Final = "fiduciary.consent-receipt.v1"
ISO_SCHEMA: Final = "ISO/IEC TS 27560:2023"
KANTARA_VERSION: Final = "KI-CR-v1.1.0"


def notice_url(base_url: str, version: int | None) -> str:
    return f"{base_url.rstrip('/')}/v1/policy/versions/{version}"


def _address_text(address: PostalAddress) -> str:
    parts = [*address.lines, address.city, address.region, address.postal_code, address.country]
    return ", ".join(p for p in parts if p)


def _contact_text(contact: Contact | None) -> str | None:
    if contact is None:
        return None
    if contact.email:
        return str(contact.email)
    if contact.url:
        return str(contact.url)
    if contact.phone:
        return contact.phone
    return _address_text(contact.address) if contact.address else None


_VALIDITY_DURATION = "until withdrawn, or until a material change of this purpose"


@dataclass(frozen=True)
class ReceiptTemplate:
    """The parts of a receipt that depend only on the policy version and the purpose."""

    processing: dict[str, Any]
    controller_party: dict[str, Any]
    kantara: dict[str, Any]
    text: TextTemplate  # the whole receipt without a guardian
    text_with_guardian: TextTemplate


def _receipt_shape(
    processing: Mapping[str, Any], controller: Mapping[str, Any], kantara: Mapping[str, Any], *, guardian: bool
) -> dict[str, Any]:
    """The receipt with its per-event members replaced by `Slot` slots (names shared where values are)."""
    f = Slot
    party: list[Any] = [
        {"party_id": f("subject"), "party_type": "natural person", "party_role": "pii principal"},
        Constant(controller),
    ]
    if guardian:
        party.append({"party_id": f("guardian"), "party_type": "natural person", "party_role": "guardian"})
    return {
        "schema_version": RECEIPT_SCHEMA,
        "header": {"schema_version": ISO_SCHEMA, "record_id": f("record_id"), "pii_principal_id": f("subject")},
        "processing": {
            **{k: Constant(v) for k, v in processing.items()},
            "language": f("language"),
            "collection_method": f("channel"),
        },
        "party": party,
        "event": {
            "event_time": f("event_time"),
            "event_type": f("event_kind"),
            "event_state": f("event_state"),
            "entity_id": f("entity"),
            "validity_duration": _VALIDITY_DURATION,
            "validity": {"policy_version": f("version"), "notice_hash": f("notice")},
        },
        "evidence": {
            "channel": f("channel"),
            "guardian_id": f("guardian"),
            "user_agent_sha256": f("ua"),
            "ip_prefix": f("ip_prefix"),
            "request_ref": f("ref"),
        },
        "ledger": {
            "stream": f("stream"),
            "position": f("position"),
            "event_hash": f("event_hash"),
            "event_type": f("event_type"),
        },
        "kantara": {
            **{k: Constant(v) for k, v in kantara.items()},
            "consentTimestamp": f("timestamp"),
            "collectionMethod": f("channel"),
            "consentReceiptID": f("record_id"),
            "language": f("language"),
            "piiPrincipalId": f("subject"),
        },
    }


_templates: dict[tuple[str, int | None, str, str], ReceiptTemplate] = {}


def receipt_template(policy: CompiledPolicy, purpose_id: str, base_url: str) -> ReceiptTemplate:
    """The compiled template of a purpose's receipts under a policy version (built once, then cached)."""
    key = (policy.content_hash, policy.version, purpose_id, base_url)
    cached = _templates.get(key)
    if cached is not None:
        return cached
    built = _build_template(policy, purpose_id, base_url)
    _templates[key] = built
    return built


def _build_template(policy: CompiledPolicy, purpose_id: str, base_url: str) -> ReceiptTemplate:
    doc = policy.document
    contacts = doc.contacts
    purpose = policy.purposes[purpose_id]
    contact = contacts.privacy_contact or contacts.data_protection_officer or contacts.grievance_officer
    address = _address_text(doc.controller.address)
    url = notice_url(base_url, policy.version)
    category_ids = [*purpose.categories, *purpose.optional_categories]
    categories = [policy.categories[c] for c in category_ids if c in policy.categories]
    recipients = [r for r in doc.recipients if purpose_id in r.purposes]
    controller_party = _controller_party(doc.controller, address, _contact_text(contact))
    processing = _processing_block(policy, purpose, categories, recipients, controller_party, url, base_url)
    kantara = _kantara_block(doc.controller, purpose, categories, recipients, contact, address, url)
    return ReceiptTemplate(
        processing,
        controller_party,
        kantara,
        compile_template(_receipt_shape(processing, controller_party, kantara, guardian=False)),
        compile_template(_receipt_shape(processing, controller_party, kantara, guardian=True)),
    )


def _controller_party(controller: Controller, address: str, contact_text: str | None) -> dict[str, Any]:
    return {
        "party_id": "controller",
        "party_name": controller.legal_name,
        "party_address": address,
        "party_contact": contact_text,
        "party_url": str(controller.website),
        "party_type": "legal entity",
        "party_role": "pii controller",
    }


def _storage_locations(controller: Controller, recipients: Sequence[Recipient]) -> list[str]:
    """The controller's country and every country a processor of this purpose stores data in."""
    return sorted(
        {controller.address.country} | {c for r in recipients if r.kind is RecipientKind.PROCESSOR for c in r.countries}
    )


def _retention_period(doc: PolicyDocument, purpose: Purpose) -> list[dict[str, Any]]:
    """The retention rules naming this purpose, or naming none but covering one of its categories."""
    category_ids = [*purpose.categories, *purpose.optional_categories]
    return [
        {
            "rule": rule.id,
            "keep_for": str(rule.keep_for) if rule.keep_for else None,
            "trigger": trigger_code(rule.trigger),
            "action": rule.action.value,
        }
        for rule in doc.retention
        if purpose.id in rule.purposes or (not rule.purposes and set(rule.categories) & set(category_ids))
    ]


def _processing_block(
    policy: CompiledPolicy,
    purpose: Purpose,
    categories: Sequence[DataCategory],
    recipients: Sequence[Recipient],
    controller_party: dict[str, Any],
    url: str,
    base_url: str,
) -> dict[str, Any]:
    """The ISO/IEC TS 27560 `processing` block: notice, purpose, data, controller, storage, retention."""
    doc = policy.document
    controller = doc.controller
    optional = set(purpose.optional_categories)
    withdrawal = (
        f"Withdraw at any time, as easily as you gave it: {base_url.rstrip('/')}/privacy, the unsubscribe "
        "link in every message, or the store's API (POST /v1/consents with action withdraw)."
    )
    return {
        "privacy_notice": {"url": url, "version": policy.version, "hash": policy.content_hash},
        "purposes": [
            {
                "purpose": purpose.id,
                "name": purpose.name,
                "description": purpose.description,
                "service": purpose.service,
                "lawful_basis": purpose.legal_ground.value,
                "marketing_channels": [c.value for c in purpose.marketing_channels],
                "barred_for_children": purpose.barred_for_children,
                "sale_or_sharing": purpose.sale_or_sharing,
            }
        ],
        "pii_information": [
            {
                "pii_type": c.id,
                "name": c.name,
                "pii_optional": c.id in optional or not c.required,
                "sensitive_pii_category": None if c.sensitivity.value == "standard" else c.sensitivity.value,
            }
            for c in categories
        ],
        "pii_controllers": [controller_party],
        "storage_locations": _storage_locations(controller, recipients),
        "retention_period": _retention_period(doc, purpose),
        "jurisdiction": [j.value for j in controller.jurisdictions],
        "recipient_third_parties": [
            {"party_name": r.name, "party_type": r.kind.value, "countries": list(r.countries)} for r in recipients
        ],
        "withdrawal_method": withdrawal,
    }


def _kantara_block(
    controller: Controller,
    purpose: Purpose,
    categories: Sequence[DataCategory],
    recipients: Sequence[Recipient],
    contact: Contact | None,
    address: str,
    url: str,
) -> dict[str, Any]:
    """The Kantara Consent Receipt v1.1 fields that map onto this purpose."""
    third_parties = [r for r in recipients if r.kind is not RecipientKind.PROCESSOR]
    sensitive = sorted({c.sensitivity.value for c in categories if c.sensitivity.value != "standard"})
    return {
        "version": KANTARA_VERSION,
        "jurisdiction": ",".join(j.value for j in controller.jurisdictions),  # Kantara: one string
        "piiControllers": [
            {
                "piiController": controller.legal_name,
                "onBehalf": False,
                "contact": (contact.name if contact and contact.name else "Privacy contact"),
                "address": address,
                "email": str(contact.email) if contact and contact.email else None,
                "phone": contact.phone if contact else None,
                "piiControllerUrl": str(controller.website),
            }
        ],
        "policyUrl": url,
        "services": [
            {
                "service": purpose.service,
                "purposes": [
                    {
                        "purpose": purpose.name,
                        "purposeCategory": [purpose.id],
                        "consentType": "EXPLICIT",
                        "piiCategory": [c.name for c in categories],
                        "primaryPurpose": purpose.required_for_service,
                        "termination": "Until you withdraw consent or the purpose changes materially.",
                        "thirdPartyDisclosure": bool(third_parties),
                        "thirdPartyName": ", ".join(r.name for r in third_parties) or None,
                    }
                ],
            }
        ],
        "sensitive": bool(sensitive),
        "spiCat": sensitive,
    }

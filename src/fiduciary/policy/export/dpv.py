"""The store's purposes, legal bases, data categories and recipients as W3C DPV JSON-LD (issue 12, item 8).

One `dpv:Process` node per purpose (DPV 2 renamed `PersonalDataHandling` to `Process`; both types are
given so tools of either version read it), each with its purpose, legal basis, personal data, recipients,
data subjects and storage durations. The `@context` is inline, so the document expands with no network
access. Node IRIs are fragments of the store's website (`https://shop.example/#purpose-account`): stable,
and owned by the store, never by us.

DPV has GDPR legal bases but no DPDP ones: a DPDP ground is a node typed `dpv:LegalBasis` and its nearest
DPV basis, labelled with the Indian clause, so nothing the policy says is lost or misnamed.
"""

from __future__ import annotations

from typing import Any

from fiduciary.policy.export.mapping import (
    Ground,
    data_use,
    dpv_personal_data,
    dpv_purpose,
    fideslang_category,
    ground_of,
    grounds_apart,
    retention_for,
)
from fiduciary.policy.schema import PolicyDocument, Purpose, Recipient, RecipientKind

DPV = "https://w3id.org/dpv#"
DPV_PD = "https://w3id.org/dpv/pd#"

CONTEXT: dict[str, Any] = {
    "dpv": DPV,
    "dpv-pd": DPV_PD,
    "dct": "http://purl.org/dc/terms/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    # Object properties take IRIs, so `"dpv:hasPurpose": "…#purpose-x"` is a link, not a string.
    **{
        f"dpv:{name}": {"@type": "@id"}
        for name in (
            "hasPurpose",
            "hasLegalBasis",
            "hasPersonalData",
            "hasRecipient",
            "hasDataController",
            "hasDataSubject",
        )
    },
}

_RECIPIENT_TYPES = {
    RecipientKind.PROCESSOR: "dpv:DataProcessor",
    RecipientKind.AFFILIATE: "dpv:ThirdParty",
    RecipientKind.THIRD_PARTY: "dpv:ThirdParty",
    RecipientKind.AUTHORITY: "dpv:Authority",
    RecipientKind.ACQUIRER: "dpv:ThirdParty",
    RecipientKind.PUBLIC: "dpv:Recipient",  # what a person publishes: DPV has no narrower term for the public
}


def dpv_document(document: PolicyDocument) -> dict[str, Any]:
    """The JSON-LD document: `@context` and an `@graph` of controller, recipients, bases and processes."""
    base = str(document.controller.website).rstrip("/") + "/#"
    controller = document.controller
    graph: list[dict[str, Any]] = [
        {
            "@id": base + "controller",
            "@type": "dpv:DataController",
            "dpv:hasName": controller.legal_name,
            "dct:spatial": [j.value for j in controller.jurisdictions],
        }
    ]
    graph.extend(_recipient(base, r) for r in document.recipients)
    laws: dict[str, dict[str, Any]] = {}
    for purpose in document.purposes:
        for ground in [ground_of(purpose), *(g for g, _ in grounds_apart(purpose))]:
            if ground.law:
                node_id = f"{base}legal-basis-{_slug(ground.law)}"
                laws.setdefault(
                    node_id,
                    {"@id": node_id, "@type": ["dpv:LegalBasis", f"dpv:{ground.dpv}"], "rdfs:label": ground.law},
                )
        graph.append(_process(document, base, purpose))
    graph.extend(laws.values())
    return {"@context": CONTEXT, "@graph": graph}


def _process(document: PolicyDocument, base: str, purpose: Purpose) -> dict[str, Any]:
    ground = ground_of(purpose)
    ids = list(dict.fromkeys([*purpose.categories, *purpose.optional_categories]))
    by_id = {c.id: c for c in document.categories}
    personal_data = sorted({_personal_data(fideslang_category(by_id[i])[0]) for i in ids if i in by_id})
    recipients = [r for r in document.recipients if purpose.id in r.purposes]
    node: dict[str, Any] = {
        "@id": f"{base}process-{purpose.id}",
        "@type": ["dpv:Process", "dpv:PersonalDataHandling"],
        "rdfs:label": purpose.name,
        "dct:description": purpose.description,
        "dpv:hasPurpose": {
            "@id": f"{base}purpose-{purpose.id}",
            "@type": ["dpv:Purpose", f"dpv:{dpv_purpose(data_use(document, purpose))}"],
            "rdfs:label": purpose.name,
        },
        "dpv:hasLegalBasis": _basis(base, ground),
        "dpv:hasPersonalData": personal_data,
        "dpv:hasDataController": base + "controller",
        "dpv:hasDataSubject": "dpv:Customer",
    }
    apart = grounds_apart(purpose)
    if apart:
        # A ground that differs by jurisdiction: the process's own basis, then each other one scoped to the
        # jurisdictions it applies to (DPV's dct:spatial, as for the controller).
        elsewhere = {j for _, js in apart for j in js}
        own = [j.value for j in document.controller.jurisdictions if j not in elsewhere]
        node["dpv:hasLegalBasis"] = [
            {"@id": _basis(base, ground), **({"dct:spatial": own} if own else {})},
            *({"@id": _basis(base, g), "dct:spatial": [j.value for j in js]} for g, js in apart),
        ]
    if recipients:
        node["dpv:hasRecipient"] = [f"{base}recipient-{r.id}" for r in recipients]
    rules = retention_for(document, purpose.id, set(ids))
    if rules:
        node["dpv:hasStorageCondition"] = [
            {"@type": "dpv:StorageDuration", "rdfs:label": f"{rule.id}: {sentence}"} for rule, sentence in rules
        ]
    return node


def _basis(base: str, ground: Ground) -> str:
    """The legal-basis node of a DPDP ground (kept with its clause), else DPV's own GDPR basis class."""
    return f"{base}legal-basis-{_slug(ground.law)}" if ground.law else f"dpv:{ground.dpv}"


def _recipient(base: str, recipient: Recipient) -> dict[str, Any]:
    return {
        "@id": f"{base}recipient-{recipient.id}",
        "@type": ["dpv:Recipient", _RECIPIENT_TYPES[recipient.kind]],
        "dpv:hasName": recipient.name,
        "dct:spatial": list(recipient.countries),
    }


def _personal_data(fideslang_key: str) -> str:
    concept = dpv_personal_data(fideslang_key)
    return f"dpv-pd:{concept}" if concept else "dpv:PersonalData"


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")

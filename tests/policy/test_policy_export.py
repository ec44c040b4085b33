"""Interoperable exports (issue 12, item 8): fideslang manifests and W3C DPV JSON-LD, on every example policy.

fideslang is checked two ways. Always: against fideslang 3.1.4's own JSON Schema for `System` (generated
from its pydantic models and kept in tests/policy/fixtures/fideslang/; regenerate with
`python -c "import json; from fideslang.models import System; print(json.dumps(System.model_json_schema()))"`)
and its default taxonomy keys. Where the `fideslang` package is installed (it is not in our lock: it
pins pydantic<2.13, we run 2.14; see docs/decisions/0022-policy-exports.md): by `fideslang.Taxonomy` itself,
which also runs its cross-field validators, and the vendored schema and keys are compared with it.

DPV is expanded by pyld with a document loader that refuses every remote context, so it passes only
because the `@context` is inline, and the expanded graph is checked for the DPV types and IRIs.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from pyld import jsonld

from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy.export import ExportFormat, export_policy
from fiduciary.policy.export.dpv import DPV, DPV_PD
from fiduciary.policy.export.mapping import FIDESLANG_DATA_CATEGORIES, FIDESLANG_DATA_USES, grounds_apart
from fiduciary.policy.loader import load_policy
from fiduciary.policy.schema import LegalGround, PolicyDocument
from jurisdictions_support import three_jurisdictions_document

ROOT = Path(__file__).resolve().parents[2]
POLICIES = [*sorted((ROOT / "examples" / "policies").glob("*.yaml")), DEMO_POLICY_PATH]
SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "fideslang" / "system.schema.json").read_text("utf-8"))
HAS_FIDESLANG = importlib.util.find_spec("fideslang") is not None
GDPR_BASIS = {
    LegalGround.CONSENT: "Consent",
    LegalGround.CONTRACT: "Contract",
    LegalGround.LEGAL_OBLIGATION: "Legal obligations",
    LegalGround.LEGITIMATE_INTERESTS: "Legitimate interests",
    LegalGround.VITAL_INTERESTS: "Vital interests",
}

_DOCS: dict[Path, PolicyDocument] = {}


def document(path: Path) -> PolicyDocument:
    if path not in _DOCS:
        _DOCS[path] = load_policy(path).document
    return _DOCS[path]


def manifest(path: Path) -> dict[str, Any]:
    return export_policy(document(path), ExportFormat.FIDESLANG).data


def store_system(data: dict[str, Any]) -> dict[str, Any]:
    system: dict[str, Any] = data["system"][0]
    return system


def declaration(data: dict[str, Any], purpose_id: str, suffix: str = "") -> dict[str, Any]:
    system = store_system(data)
    names = [n for n, p in system["meta"]["fiduciary"]["purposes"].items() if p == purpose_id]
    found = [d for d in system["privacy_declarations"] if d["name"] in names and d["name"].endswith(suffix)]
    assert found, f"no declaration for {purpose_id}"
    return found[0]


def refuse_remote(url: str, options: Any = None) -> Any:
    reason = "loading document failed"
    raise jsonld.JsonLdError(f"remote context refused: {url}", reason, code=reason)


def expand(data: dict[str, Any]) -> list[dict[str, Any]]:
    expanded: list[dict[str, Any]] = jsonld.expand(data, {"documentLoader": refuse_remote})
    return expanded


def ids(values: list[dict[str, Any]] | None) -> set[str]:
    return {v["@id"] for v in values or []}


# ------------------------------------------------------------------------------------------------ fideslang


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.stem)
def test_fideslang_manifest_is_valid_against_fideslang_schema_and_taxonomy(path: Path) -> None:
    data = manifest(path)
    validator = jsonschema_rs.validator_for(SCHEMA)
    keys = {s["fides_key"] for s in data["system"]}
    for system in data["system"]:
        validator.validate(system)
        for flow in [*(system.get("egress") or []), *(system.get("ingress") or [])]:
            assert flow["fides_key"] in keys and set(flow["data_categories"]) <= FIDESLANG_DATA_CATEGORIES
        for d in system["privacy_declarations"]:
            assert d["data_use"] in FIDESLANG_DATA_USES
            assert d["data_categories"] and set(d["data_categories"]) <= FIDESLANG_DATA_CATEGORIES
            assert set(d.get("egress", [])) <= {f["fides_key"] for f in system["egress"]}


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.stem)
def test_fideslang_manifest_carries_every_purpose_ground_recipient_and_retention(path: Path) -> None:
    doc, data = document(path), manifest(path)
    system = store_system(data)
    meta = system["meta"]["fiduciary"]
    assert set(meta["purposes"].values()) == {p.id for p in doc.purposes}
    assert len(data["system"]) == 1 + len(doc.recipients)
    for p in doc.purposes:
        d = declaration(data, p.id)
        if p.legal_ground in GDPR_BASIS:
            assert d["legal_basis_for_processing"] == GDPR_BASIS[p.legal_ground]
        else:  # a DPDP ground: the nearest GDPR basis, and the Indian clause kept in the extension field
            assert meta["legal_grounds"][p.id]["law"].startswith("DPDP Act 2023 s.")
            assert meta["legal_grounds"][p.id]["exported_as"] == d["legal_basis_for_processing"]
        governed = [
            r for r in doc.retention if set(r.categories) & set(p.categories) and (not r.purposes or p.id in r.purposes)
        ]
        names = {n for n, purpose_id in meta["purposes"].items() if purpose_id == p.id}
        stated = " ".join(x.get("retention_period", "") for x in system["privacy_declarations"] if x["name"] in names)
        assert all(f"{r.id}: " in stated for r in governed), p.id
    assert len(meta["notes"]) >= len([g for g in meta["legal_grounds"].values() if "law" in g])
    # A ground that differs by jurisdiction: the same declarations again, named for where they apply.
    for p in doc.purposes:
        for ground, jurisdictions in grounds_apart(p):
            where = ", ".join(j.value for j in jurisdictions)
            again = [
                x
                for x in system["privacy_declarations"]
                if x["name"].endswith(f"({where})") and meta["purposes"][x["name"]] == p.id
            ]
            assert again and all(x["legal_basis_for_processing"] == ground.fideslang for x in again), (p.id, where)
            for j in jurisdictions:
                assert meta["legal_grounds"][p.id]["by_jurisdiction"][j.value]["exported_as"] == ground.fideslang


@pytest.mark.skipif(not HAS_FIDESLANG, reason="fideslang is not installed (not locked: it pins pydantic<2.13)")
@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.stem)
def test_fideslang_manifest_is_accepted_by_fideslang_itself(path: Path) -> None:
    from fideslang import Taxonomy
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    taxonomy = Taxonomy.model_validate(manifest(path))
    uses = {u.fides_key for u in DEFAULT_TAXONOMY.data_use}
    categories = {c.fides_key for c in DEFAULT_TAXONOMY.data_category}
    subjects = {s.fides_key for s in DEFAULT_TAXONOMY.data_subject}
    assert taxonomy.system and len(taxonomy.system) == len(manifest(path)["system"])
    for system in taxonomy.system:
        for d in system.privacy_declarations:
            assert d.data_use in uses and set(d.data_categories) <= categories and set(d.data_subjects) <= subjects


@pytest.mark.skipif(not HAS_FIDESLANG, reason="fideslang is not installed")
def test_vendored_fideslang_schema_and_taxonomy_match_the_package() -> None:
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY
    from fideslang.models import System

    assert {c.fides_key for c in DEFAULT_TAXONOMY.data_category} == FIDESLANG_DATA_CATEGORIES
    assert {u.fides_key for u in DEFAULT_TAXONOMY.data_use} == FIDESLANG_DATA_USES
    vendored = {k: v for k, v in SCHEMA.items() if k != "$comment"}
    assert vendored == System.model_json_schema()


def test_the_schema_check_can_fail() -> None:
    bad = store_system(manifest(DEMO_POLICY_PATH)) | {"privacy_declarations": [{"name": "no data use"}]}
    assert not jsonschema_rs.validator_for(SCHEMA).is_valid(bad)


def test_demo_purposes_map_to_fideslang_uses_by_what_they_do() -> None:
    data = manifest(DEMO_POLICY_PATH)
    ads = declaration(data, "personalised_ads")
    assert ads["data_use"] == "marketing.advertising.third_party.targeted"
    assert ads["legal_basis_for_processing"] == "Consent"
    assert ads["egress"] == ["saffron_lane-ad_network"] and ads["data_shared_with_third_parties"] is True
    assert {"tracking", "profiling"} <= set(ads["features"])
    assert declaration(data, "marketing.email")["data_use"] == "marketing.communications.email"
    # SMS and WhatsApp: fideslang has no WhatsApp use, so the parent of both
    assert declaration(data, "marketing.sms")["data_use"] == "marketing.communications"
    assert declaration(data, "tax_compliance")["data_use"] == "essential.legal_obligation"
    assert declaration(data, "analytics")["data_use"] == "analytics.reporting"
    order = declaration(data, "order_fulfilment")
    payment = declaration(data, "order_fulfilment", " (payment)")
    assert order["data_use"] == "essential.service" and "user.contact.address" in order["data_categories"]
    assert payment["data_use"] == "essential.service.payment_processing"
    assert payment["data_categories"] == ["user.financial.credit_card"]
    assert "Rule 8(3)" in order["retention_period"]
    support = declaration(data, "customer_support")
    assert support["legal_basis_for_processing"] == "Contract"
    grounds = store_system(data)["meta"]["fiduciary"]["legal_grounds"]
    assert grounds["customer_support"] == {"law": "DPDP Act 2023 s.7(a) legitimate use", "exported_as": "Contract"}


def test_exemptions_and_state_requests_map_by_clause() -> None:
    data = manifest(ROOT / "examples" / "policies" / "01_manufacturer_retailer.yaml")
    assert declaration(data, "fraud_prevention")["data_use"] == "essential.fraud_detection"
    assert declaration(data, "fraud_prevention")["legal_basis_for_processing"] == "Legitimate interests"
    assert declaration(data, "court_orders")["data_use"] == "third_party_sharing.legal_obligation"
    assert declaration(data, "court_orders")["legal_basis_for_processing"] == "Legal obligations"
    assert declaration(data, "business_transfer")["data_use"] == "operations"


def test_a_category_fideslang_does_not_know_is_exported_as_its_nearest_parent() -> None:
    raw = document(DEMO_POLICY_PATH).model_dump(mode="json")
    raw["categories"][1]["fideslang"] = "user.contact.email.work"  # contact.email
    exported = export_policy(PolicyDocument.model_validate(raw), ExportFormat.FIDESLANG)
    account = declaration(exported.data, "account")
    assert "user.contact.email" in account["data_categories"]
    assert "user.contact.email.work" not in json.dumps(exported.data["system"][0]["privacy_declarations"])
    assert any("user.contact.email.work" in n and "'user.contact.email'" in n for n in exported.notes)
    raw["categories"][1]["fideslang"] = "customer.email"  # no known ancestor at all: the root, said so
    exported = export_policy(PolicyDocument.model_validate(raw), ExportFormat.FIDESLANG)
    assert "user" in declaration(exported.data, "account")["data_categories"]


# ------------------------------------------------------------------------------------------------------ DPV


def by_type(expanded: list[dict[str, Any]], local: str) -> list[dict[str, Any]]:
    return [n for n in expanded if DPV + local in n.get("@type", [])]


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.stem)
def test_dpv_expands_offline_into_dpv_types(path: Path) -> None:
    doc = document(path)
    data = export_policy(doc, ExportFormat.DPV).data
    assert isinstance(data["@context"], dict)  # inline: nothing to fetch
    expanded = expand(data)
    processes = by_type(expanded, "Process")
    assert len(processes) == len(doc.purposes)
    assert len(by_type(expanded, "Recipient")) == len(doc.recipients)
    assert len(by_type(expanded, "DataController")) == 1
    local_bases = ids(by_type(expanded, "LegalBasis"))
    for node in processes:
        assert DPV + "PersonalDataHandling" in node["@type"]
        [purpose] = node[DPV + "hasPurpose"]
        assert DPV + "Purpose" in purpose["@type"] and len(purpose["@type"]) == 2
        bases = ids(node[DPV + "hasLegalBasis"])
        assert bases and all(b.startswith(DPV) or b in local_bases for b in bases)
        data_iris = ids(node[DPV + "hasPersonalData"])
        assert data_iris and all(i.startswith(DPV_PD) or i == DPV + "PersonalData" for i in data_iris)
        assert ids(node[DPV + "hasDataSubject"]) == {DPV + "Customer"}
    quads = jsonld.to_rdf(data, {"format": "application/n-quads", "documentLoader": refuse_remote})
    assert f"<{DPV}hasLegalBasis>" in quads


def test_dpv_demo_grounds_purposes_and_data() -> None:
    exported = export_policy(document(DEMO_POLICY_PATH), ExportFormat.DPV)
    assert exported.notes == [
        "purpose customer_support: dpv has no DPDP Act 2023 s.7(a) legitimate use; exported as the nearest legal "
        "basis 'dpv:Contract', with the clause kept beside it"
    ]
    expanded = expand(exported.data)
    nodes = {n["@id"]: n for n in expanded}
    ads = nodes["https://saffronlane.example/#process-personalised_ads"]
    assert ids(ads[DPV + "hasLegalBasis"]) == {DPV + "Consent"}
    assert DPV + "TargetedAdvertising" in ads[DPV + "hasPurpose"][0]["@type"]
    assert ids(ads[DPV + "hasRecipient"]) == {"https://saffronlane.example/#recipient-ad_network"}
    account = nodes["https://saffronlane.example/#process-account"]
    assert ids(account[DPV + "hasLegalBasis"]) == {DPV + "Contract"}
    contact = {DPV_PD + "EmailAddress", DPV_PD + "TelephoneNumber", DPV_PD + "Name"}
    assert contact <= ids(account[DPV + "hasPersonalData"])
    assert account[DPV + "hasStorageCondition"][0]["@type"] == [DPV + "StorageDuration"]
    support = nodes["https://saffronlane.example/#process-customer_support"]
    [basis] = ids(support[DPV + "hasLegalBasis"])
    assert set(nodes[basis]["@type"]) == {DPV + "LegalBasis", DPV + "Contract"}
    assert "s.7(a)" in nodes[basis]["http://www.w3.org/2000/01/rdf-schema#label"][0]["@value"]
    tax = nodes["https://saffronlane.example/#process-tax_compliance"]
    assert ids(tax[DPV + "hasLegalBasis"]) == {DPV + "LegalObligation"}
    assert DPV + "LegalCompliance" in tax[DPV + "hasPurpose"][0]["@type"]
    couriers = nodes["https://saffronlane.example/#recipient-couriers"]
    assert DPV + "DataProcessor" in couriers["@type"]


def test_the_offline_loader_really_refuses_a_remote_context() -> None:
    """Guards the DPV test above: a document that needs the network cannot expand here."""
    with pytest.raises(jsonld.JsonLdError):
        expand({"@context": "https://w3id.org/dpv", "@id": "https://shop.example/#x", "@type": "Consent"})


def test_a_ground_that_differs_by_jurisdiction_is_exported_per_jurisdiction() -> None:
    """Fraud screening: a DPDP s.17(1)(c) exemption in India, legitimate interests in the EU and UK (issue 12
    item 1). fideslang gets a declaration per ground; DPV a legal basis per ground, scoped by dct:spatial."""
    doc = three_jurisdictions_document()
    fraud = next(p for p in doc.purposes if p.id == "fraud_screening")
    [(ground, where)] = grounds_apart(fraud)
    assert (ground.fideslang, [j.value for j in where]) == ("Legitimate interests", ["EU", "UK"])
    system = store_system(export_policy(doc, ExportFormat.FIDESLANG).data)
    declared = {d["name"]: d["legal_basis_for_processing"] for d in system["privacy_declarations"]}
    assert declared["Fraud screening (EU, UK)"] == "Legitimate interests"
    assert system["meta"]["fiduciary"]["legal_grounds"]["fraud_screening"]["law"] == (
        "DPDP Act 2023 s.17(1)(c) exemption"
    )
    graph = export_policy(doc, ExportFormat.DPV).data["@graph"]
    process = next(n for n in graph if n["@id"].endswith("process-fraud_screening"))
    scopes = {json.dumps(b.get("dct:spatial")): b["@id"] for b in process["dpv:hasLegalBasis"]}
    assert scopes['["EU", "UK"]'] == "dpv:LegitimateInterest"
    assert scopes['["IN", "US-CA"]'].endswith("legal-basis-dpdp-act-2023-s-17-1--c--exemption")
    data = export_policy(doc, ExportFormat.DPV).data
    quads = jsonld.to_rdf(data, {"format": "application/n-quads", "documentLoader": refuse_remote})
    assert quads.count(f"<{DPV}hasLegalBasis>") >= 2

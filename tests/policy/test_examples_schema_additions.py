"""The schema fields added so the seed stores' practices can be expressed, with their bad inputs.

- `legal_ground: exemption` + `exemption: "17(1)(x)"` (DPDP s.17(1): legal claims, offences, mergers),
- `if_not_provided` on a data category (what refusing costs the person),
- `researcher_rules` on the vulnerability-disclosure section.
Each bad input must be refused with a problem naming the field, and must not produce a document.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.loader import PolicyInvalid, load_policy_text
from fiduciary.policy.schema import DpdpExemption, LegalGround, PolicyDocument

BASE = Path(__file__).resolve().parents[2] / "examples" / "policies" / "05_b2b_import_platform.yaml"


def base_data() -> dict[str, Any]:
    data = YAML(typ="safe").load(BASE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def dump(data: dict[str, Any]) -> str:
    out = io.StringIO()
    YAML(typ="safe").dump(data, out)
    return out.getvalue()


def purpose_entry(data: dict[str, Any], purpose_id: str) -> dict[str, Any]:
    entry = next(p for p in data["purposes"] if p["id"] == purpose_id)
    assert isinstance(entry, dict)
    return entry


def load(data: dict[str, Any]) -> PolicyDocument:
    return load_policy_text(dump(data), filename="edited.yaml").document


def refused(data: dict[str, Any]) -> list[str]:
    with pytest.raises(PolicyInvalid) as caught:
        load_policy_text(dump(data), filename="edited.yaml")
    errors = [p for p in caught.value.problems if p.severity == "error"]
    assert errors, "a refusal must carry at least one error"
    return [f"{p.path}: {p.message}" for p in errors]


# ------------------------------------------------------------------------------------ the exemption ground


def test_every_dpdp_exemption_clause_is_accepted() -> None:
    for clause in DpdpExemption:
        data = base_data()
        purpose_entry(data, "legal_claims")["exemption"] = clause.value
        document = load(data)
        legal_claims = next(p for p in document.purposes if p.id == "legal_claims")
        assert legal_claims.legal_ground is LegalGround.EXEMPTION and legal_claims.exemption is clause


def test_exemption_purposes_need_no_consent_and_cannot_be_objected_to() -> None:
    """s.17(1) switches off consent and the Chapter III rights, so the runtime must not ask for either."""
    compiled = CompiledPolicy.build(load(base_data()), "sha256:t")
    for pid in ("legal_claims", "fraud_prevention", "business_transfer"):
        assert compiled.compiled_purposes[pid].legal_ground is LegalGround.EXEMPTION
        assert not compiled.compiled_purposes[pid].needs_consent
        assert not compiled.compiled_purposes[pid].objectable
        assert pid not in compiled.consent_purposes


def test_exemption_ground_without_its_clause_is_refused() -> None:
    data = base_data()
    del purpose_entry(data, "legal_claims")["exemption"]
    messages = refused(data)
    assert any("purposes" in m and "17(1)" in m for m in messages), messages


def test_exemption_clause_on_another_ground_is_refused() -> None:
    data = base_data()
    purpose_entry(data, "marketing")["exemption"] = "17(1)(a)"
    messages = refused(data)
    assert any("purposes" in m and "exemption is only meaningful" in m for m in messages), messages


@pytest.mark.parametrize("clause", ["17(1)(g)", "17(2)(a)", "17", "", "s.17(1)(a)", 17])
def test_unknown_exemption_clause_is_refused(clause: object) -> None:
    data = base_data()
    purpose_entry(data, "legal_claims")["exemption"] = clause
    messages = refused(data)
    assert any("exemption" in m for m in messages), messages


def test_exemption_is_not_a_legitimate_use_clause() -> None:
    data = base_data()
    entry = purpose_entry(data, "legal_claims")
    entry["legitimate_use"] = "7a"
    messages = refused(data)
    assert any("legitimate_use is only meaningful" in m for m in messages), messages


# -------------------------------------------------------------------------------------- if_not_provided


def test_if_not_provided_is_kept_and_optional() -> None:
    document = load(base_data())
    gstin = next(c for c in document.categories if c.id == "business.gstin")
    assert gstin.if_not_provided is not None and "input tax credit" in gstin.if_not_provided
    name = next(c for c in document.categories if c.id == "identity.name")
    assert name.if_not_provided is None


@pytest.mark.parametrize("value", ["", "   ", "x" * 301, ["a list"], {"a": "map"}])
def test_bad_if_not_provided_is_refused(value: object) -> None:
    data = base_data()
    next(c for c in data["categories"] if c["id"] == "business.gstin")["if_not_provided"] = value
    messages = refused(data)
    assert any("categories" in m and "if_not_provided" in m for m in messages), messages


# ------------------------------------------------------------------------------------- researcher_rules


def test_researcher_rules_default_to_none_and_are_kept_in_order() -> None:
    data = base_data()
    assert load(data).cases.vulnerability is None
    rules = ["Include a way to reach you.", "Do not access other people's data.", "Wait for our fix."]
    data["cases"]["vulnerability"] = {"acknowledge_within": "3d", "triage_within": "10 business days"}
    assert load(data).cases.vulnerability is not None
    assert load(data).cases.vulnerability.researcher_rules == []  # type: ignore[union-attr]
    data["cases"]["vulnerability"]["researcher_rules"] = rules
    vulnerability = load(data).cases.vulnerability
    assert vulnerability is not None and vulnerability.researcher_rules == rules


@pytest.mark.parametrize("value", ["one string, not a list", [""], ["ok", 3.5], [["nested"]]])
def test_bad_researcher_rules_are_refused(value: object) -> None:
    data = base_data()
    data["cases"]["vulnerability"] = {
        "acknowledge_within": "3d",
        "triage_within": "10 business days",
        "researcher_rules": value,
    }
    messages = refused(data)
    assert any("researcher_rules" in m for m in messages), messages


def test_misspelt_new_keys_are_refused() -> None:
    """Unknown keys stay errors, so a typo in a new key cannot silently drop a promise."""
    data = base_data()
    purpose_entry(data, "legal_claims")["exemptoin"] = "17(1)(a)"
    assert any("exemptoin" in m for m in refused(data))
    data = base_data()
    next(c for c in data["categories"] if c["id"] == "business.gstin")["if_not_provded"] = "x"
    assert any("if_not_provded" in m for m in refused(data))

"""A store serving India, the EU, the UK and California from one policy: the demo policy with statements
per jurisdiction (issue 12 item 1). Shared by the checks, notice and decisions tests."""

from __future__ import annotations

import copy
import io
from typing import Any

from ruamel.yaml import YAML

from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy.schema import PolicyDocument

Data = dict[str, Any]

DEMO: Data = YAML(typ="safe").load(DEMO_POLICY_PATH.read_text(encoding="utf-8"))

GDPR_LI = {"legal_ground": "legitimate_interests"}

# A purpose on consent in India and on legitimate interests in the EU and UK: where a person's jurisdiction
# changes the answer of a decision.
RECOMMENDATIONS: Data = {
    "id": "recommendations",
    "name": "Recommendations",
    "description": "Suggest products based on what you bought from us.",
    "service": "Suggestions in the store",
    "legal_ground": "consent",
    "grounds_by_jurisdiction": {"EU": GDPR_LI, "UK": GDPR_LI},
    "categories": ["commerce.orders"],
}
# A DPDP s.17(1)(c) exemption in India, legitimate interests in the EU and UK.
FRAUD: Data = {
    "id": "fraud_screening",
    "name": "Fraud screening",
    "description": "Screen orders for fraud before we ship them.",
    "service": "Safe payments",
    "legal_ground": "exemption",
    "exemption": "17(1)(c)",
    "grounds_by_jurisdiction": {"EU": GDPR_LI, "UK": GDPR_LI},
    "categories": ["commerce.orders", "device.identifiers"],
}

# Every use of a category has a retention rule (issue 12 item 2): the two purposes above bring new uses.
RETENTION: list[Data] = [
    {
        "id": "recommendation_history",
        "categories": ["commerce.orders"],
        "purposes": ["recommendations"],
        "trigger": "erasure_requested",
        "action": "delete",
    },
    {
        "id": "fraud_screening_records",
        "categories": ["commerce.orders", "device.identifiers"],
        "purposes": ["fraud_screening"],
        "trigger": "collected",
        "keep_for": "1y",
        "action": "delete",
    },
]

_IDS = ["email", "phone"]
_GDPR_RIGHT = {"identifiers": _IDS, "verification": ["signed_in_session", "email_otp"], "channels": ["email"]}


def three_jurisdictions() -> Data:
    """The demo policy for IN, EU, UK and US-CA; it passes every check."""
    data = copy.deepcopy(DEMO)
    data["name"] = "Saffron Lane privacy policy (India, Europe, California)"
    data["controller"]["jurisdictions"] = ["IN", "EU", "UK", "US-CA"]
    # a store serving California says how it treats the browser's privacy signals (11 CCR §7025)
    data["browser_signals"] = {"do_not_track": "not_honoured", "gpc": "opt_out"}
    contacts = data["contacts"]
    contacts["authorities"] += [
        {"name": "Your EU country's data protection authority", "url": "https://edpb.europa.eu", "jurisdiction": "EU"},
        {"name": "Information Commissioner's Office", "url": "https://ico.org.uk", "jurisdiction": "UK"},
        {"name": "California Privacy Protection Agency", "url": "https://cppa.ca.gov", "jurisdiction": "US-CA"},
    ]
    contacts["representatives"] = [
        {
            "name": "Lantern Representation B.V.",
            "email": "eu-rep@saffronlane.example",
            "address": {"lines": ["Keizersgracht 1"], "city": "Amsterdam", "country": "NL"},
            "jurisdiction": "EU",
        },
        {"name": "Lantern Representation Ltd", "email": "uk-rep@saffronlane.example", "jurisdiction": "UK"},
    ]
    support = next(p for p in data["purposes"] if p["id"] == "customer_support")
    support["grounds_by_jurisdiction"] = {"EU": GDPR_LI, "UK": GDPR_LI}
    data["purposes"] += [copy.deepcopy(RECOMMENDATIONS), copy.deepcopy(FRAUD)]
    data["retention"] += copy.deepcopy(RETENTION)
    access = next(r for r in data["rights"] if r["kind"] == "access")
    access["deadlines_by_jurisdiction"] = {
        "EU": {"respond_within": "1mo", "extendable_by": "2mo"},
        "UK": {"respond_within": "1mo", "extendable_by": "2mo"},
        "US-CA": {"respond_within": "45d", "acknowledge_within": "10 business days", "extendable_by": "45d"},
    }
    for kind in ("portability", "restriction", "objection"):
        data["rights"].append({"kind": kind, "deadline": {"respond_within": "1mo"}, "jurisdictions": ["EU", "UK"]})
        data["rights"][-1].update(copy.deepcopy(_GDPR_RIGHT))
    for right in data["rights"]:
        if right["kind"] in ("access", "correction", "erasure"):
            right["authorised_agents"] = True  # CCPA §1798.185(a)(7): California residents may use an agent
    data["rights"].append(
        {
            "kind": "opt_out_sale_sharing",
            "authorised_agents": True,
            "deadline": {"respond_within": "15 business days"},
            "jurisdictions": ["US-CA"],
            "identifiers": _IDS,
            "verification": ["none"],
            "channels": ["privacy_center", "email"],
        }
    )
    data["children"]["by_jurisdiction"] = {
        "IN": {"minimum_age": 18},
        "EU": {"minimum_age": 16, "country_ages": {"DE": 16, "FR": 15}},
        "UK": {"minimum_age": 13},
        "US-CA": {"minimum_age": 13, "sale_opt_in_age": 16, "sale_parent_age": 13},
    }
    return data


def three_jurisdictions_document() -> PolicyDocument:
    return PolicyDocument.model_validate(three_jurisdictions())


def dump_yaml(data: Data) -> str:
    out = io.StringIO()
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    yaml.dump(data, out)
    return out.getvalue()

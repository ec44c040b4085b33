"""Issue 12, items 2 and 4 in the rendered notice: retention as stores word it, and the sources, recipients,
channels, addresses, agents and durations real policies use, in HTML, Markdown and JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ruamel.yaml import YAML

from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy.checks import run_checks
from fiduciary.policy.notice import build_view, render_notice
from fiduciary.policy.schema import PolicyDocument

DISPUTE = "the dispute about your order is closed"
WORDING = "We keep what you told us about a dispute for a year after it is settled."
LAW = "Consumer Protection (E-Commerce) Rules 2020 r.5(4)"
AGENT = "You can also ask through an authorised agent."


def rule(data: dict[str, Any], rid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in data["retention"] if r["id"] == rid)
    return found


def category(data: dict[str, Any], cid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in data["categories"] if c["id"] == cid)
    return found


def policy() -> PolicyDocument:
    data: dict[str, Any] = YAML(typ="safe").load(DEMO_POLICY_PATH.read_text(encoding="utf-8"))
    data["retention_events"] = [{"id": "dispute_closed", "description": DISPUTE}]
    rule(data, "support_history").update(trigger={"event": "dispute_closed"}, keep_for="1y", store_wording=WORDING)
    rule(data, "delivery_data").update(trigger="law_requires", law=LAW)
    del rule(data, "delivery_data")["keep_for"]
    rule(data, "browsing").update(trigger="erasure_requested", action="delete")
    del rule(data, "browsing")["keep_for"]
    rule(data, "browsing").pop("anonymise", None)  # deleting keeps nothing to anonymise
    category(data, "support.messages")["sources"] = ["provided", "created_by_us"]
    category(data, "identity.name")["sources"] = ["provided", "in_store"]
    data["recipients"].append(
        {
            "id": "reviews_public",
            "name": "Anyone who reads our reviews",
            "kind": "public",
            "countries": ["IN", "US"],
            "purposes": ["customer_support"],
            "categories": ["support.messages"],
        }
    )
    data["policy_changes"]["announce_via"] = ["posted_on_page"]
    data["controller"]["address"] = {"city": "Noida", "country": "IN"}
    data["rights"][0]["authorised_agents"] = True
    data["cookies"][0]["lifetime"] = "30min"
    return PolicyDocument.model_validate(data)


@pytest.fixture(scope="module")
def document() -> PolicyDocument:
    return policy()


def test_the_policy_is_valid_apart_from_the_partial_address_warning(document: PolicyDocument) -> None:
    found = run_checks(document)
    assert [f.severity for f in found if f.code != "partial_address"] == []
    assert [(f.code, f.severity) for f in found if f.code == "partial_address"] == [("partial_address", "warning")]


def test_view_says_each_retention_rule_as_worded(document: PolicyDocument) -> None:
    items = {(i.category, i.purpose): i.retention for i in build_view(document).items}
    support = items[("support.messages", "customer_support")]
    assert support == [f"Deleted 1 year after {DISPUTE}.", f"In our own words: {WORDING}"]
    assert items[("logistics.delivery_status", "order_fulfilment")] == [  # the demo rule anonymises
        f"Kept as long as the law requires ({LAW}), then anonymised, so it no longer identifies you."
    ]
    # exactly the store's words: no period, nothing about consent or the purpose being served
    assert items[("usage.browsing", "analytics")] == ["Kept until you ask us to erase it."]


def test_view_sources_recipients_channels_address_agents_minutes(document: PolicyDocument) -> None:
    view = build_view(document)
    categories = {c.id: c for c in view.categories}
    assert [s.code for s in categories["support.messages"].sources] == ["provided", "created_by_us"]
    assert "Created by us" in categories["support.messages"].obtained
    assert categories["identity.name"].obtained.endswith("Collected in our physical stores")
    public = next(r for r in view.recipients if r.id == "reviews_public")
    assert public.kind.code == "public"
    assert public.kind.label == "The public: anyone can see what you choose to publish"
    assert (public.cross_border, public.transfer) == (False, None)  # publishing is not a transfer
    assert view.changes.statement.startswith("We announce changes to this notice by posting the new version")
    assert view.controller.address.text == "Noida, India"
    assert view.controller.address.city == "Noida" and view.controller.address.lines == []
    rights = view.rights
    assert rights[0].authorised_agent is not None and rights[0].authorised_agent.startswith(AGENT)
    assert all(r.authorised_agent is None for r in rights[1:])
    lifetimes = [c.lifetime for g in view.cookies for c in g.cookies]
    assert "30 minutes" in lifetimes


def test_html_markdown_and_json_render_them(document: PolicyDocument) -> None:
    html = render_notice(document, "html")
    md = render_notice(document, "markdown")
    data = json.loads(render_notice(document, "json"))
    for text in (html, md):
        assert f"Deleted 1 year after {DISPUTE}." in text
        assert "In our own words:" in text and "for a year after it is settled" in text
        assert "Kept until you ask us to erase it." in text
        assert f"Kept as long as the law requires ({LAW}), then anonymised" in text
        assert "Created by us" in text
        assert "The public: anyone can see what you choose to publish" in text
        assert "posting the new version on this page" in text
        assert "Noida, India" in text
        assert AGENT in text
        assert "30 minutes" in text
    assert md.count(AGENT) == 1 and html.count(AGENT) == 1
    support = next(i for i in data["items"] if i["category"] == "support.messages")
    assert support["retention"][1] == f"In our own words: {WORDING}"
    assert next(r for r in data["recipients"] if r["id"] == "reviews_public")["kind"]["code"] == "public"
    assert data["rights"][0]["authorised_agent"].startswith(AGENT)
    assert data["controller"]["address"]["city"] == "Noida"


def test_hindi_says_the_open_ended_rules_in_hindi(document: PolicyDocument) -> None:
    items = {(i.category, i.purpose): i.retention for i in build_view(document, language="hi").items}
    assert items[("usage.browsing", "analytics")] == ["जब तक आप हमसे इसे मिटाने के लिए नहीं कहते, तब तक रखा जाता है।"]
    assert items[("support.messages", "customer_support")][0].startswith(DISPUTE)

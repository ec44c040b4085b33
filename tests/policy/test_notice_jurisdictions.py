"""The notice of a policy serving several jurisdictions (issue 12 item 1), in HTML, Markdown and JSON: each
statement that differs by where a person lives is shown once with whom it applies to; and a policy serving
one law renders exactly as it did before per-jurisdiction statements existed.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from test_notice_render import md_plain, parse

from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy.loader import load_policy
from fiduciary.policy.notice import render_notice
from fiduciary.policy.schema import PolicyDocument
from jurisdictions_support import three_jurisdictions, three_jurisdictions_document

SNAPSHOTS = Path(__file__).resolve().parent / "notice_snapshots"
EU_UK = "If you live in the European Union or the United Kingdom"
IN_CA = "If you live in India or California"
FRAUD_IN = "To prevent, detect, investigate or prosecute offences (DPDP Act s.17(1)(c))"
LI = "Our legitimate interests (GDPR Art 6(1)(f))"


@pytest.fixture(scope="module")
def three() -> PolicyDocument:
    return three_jurisdictions_document()


@pytest.mark.parametrize(("fmt", "ext"), [("html", "html"), ("markdown", "md"), ("json", "json")])
def test_india_only_policy_renders_exactly_as_before(fmt: str, ext: str) -> None:
    """The snapshots were rendered from the demo policy by the code without issue 12's per-jurisdiction
    statements (commit bf13c66, then again from the notice fixes of issue 12 items 5-6 on their own branch,
    which changed the demo's notice on purpose; the JSON again for the `authorised_agent` key of item 4); if
    another change alters them on purpose, regenerate them."""
    document = load_policy(DEMO_POLICY_PATH).document
    expected = (SNAPSHOTS / f"demo.{ext}").read_text(encoding="utf-8")
    assert render_notice(document, fmt, base_url="https://shop.example") == expected  # type: ignore[arg-type]


def test_markdown_states_each_jurisdiction_once_with_whom_it_applies_to(three: PolicyDocument) -> None:
    md = md_plain(render_notice(three, "markdown"))
    # Grounds per jurisdiction, in the itemised table and under the purpose.
    assert f"| Fraud screening | Safe payments | {IN_CA}: {FRAUD_IN}; {EU_UK}: {LI} |" in md
    assert f"- **Legal ground**: {IN_CA}: {FRAUD_IN}. The law exempts this use" in md
    assert f"- **Legal ground**: {EU_UK}: {LI}. We rely on our legitimate interests" in md
    assert f"- **Legal ground**: {IN_CA}: Your consent. We do this only if you agree." in md
    # Rights offered per jurisdiction, and deadlines per jurisdiction.
    assert f"{EU_UK}: Receive the data you gave us in a common, machine-readable format." in md
    assert "If you live in California: Tell us not to sell or share your data for advertising." in md
    assert "- **How fast**: If you live in India: We commit to acting within 30 days" in md
    assert f"- **How fast**: {EU_UK}: We commit to acting within 1 month of receiving your request. If a request" in md
    assert "- **How fast**: If you live in California: We commit to acting within 45 days" in md
    # Age bands, authorities and representatives.
    assert "- **If you live in India**: Under 18 you count as a child." in md
    assert "- **If you live in the European Union**: Under 16 you count as a child. The age differs by country: " in md
    assert "Germany 16 and France 15." in md
    assert "- **If you live in the United Kingdom**: Under 13 you count as a child." in md
    assert (
        "- **If you live in California**: Under 13 you count as a child. Under 16 we sell or share your personal "
        "data only if you opt in. Under 13 only a parent or guardian can opt in for you." in md
    )
    lines = md.splitlines()
    assert "- If you live in the United Kingdom: Information Commissioner's Office (United Kingdom): [" in md
    assert [line.split(":")[0] for line in lines if line.startswith("- If you live in")] == [
        "- If you live in India",
        "- If you live in the European Union",
        "- If you live in the United Kingdom",
        "- If you live in California",
    ]  # one authority a line
    assert "### Our representative in the European Union (GDPR Art 27)" in md
    assert "### Our representative in the United Kingdom (UK GDPR Art 27)" in md
    assert "If you live in the European Union, you can also contact our representative about your personal data." in md
    # Each jurisdiction-specific statement once: the EU/UK ground of customer support is not repeated.
    assert md.count(f"- **Legal ground**: {EU_UK}: {LI}") == 3  # support, recommendations, fraud screening
    # Never an empty heading: every heading is followed by text before the next heading.
    headings = [i for i, line in enumerate(lines) if line.startswith("#")]
    for a, b in itertools.pairwise(headings):
        assert any(line.strip() for line in lines[a + 1 : b]) or lines[b].count("#") > lines[a].count("#"), lines[a]


def test_html_states_each_jurisdiction(three: PolicyDocument) -> None:
    page = parse(render_notice(three, "html"))
    assert page.errors == []
    text = page.plain
    assert f"Legal ground {IN_CA}: {FRAUD_IN}." in text
    assert f"{EU_UK}: {LI}." in text
    assert f"{EU_UK}: Receive the data you gave us" in text
    assert "If you live in California: We commit to acting within 45 days" in text
    assert "If you live in the European Union: Under 16 you count as a child." in text
    assert "If you live in the United Kingdom: Information Commissioner's Office (United Kingdom)" in text
    assert "Our representative in the United Kingdom (UK GDPR Art 27)" in text
    assert "Lantern Representation B.V." in text and "Keizersgracht 1, Amsterdam, Netherlands" in text
    jurisdictions = [attrs.get("data-jurisdictions") for tag, attrs in page.starts if "data-jurisdictions" in attrs]
    assert jurisdictions.count("EU UK") == 3 and jurisdictions.count("IN US-CA") == 3
    assert all(text for _, text in page.headings)


def test_json_carries_the_per_jurisdiction_statements(three: PolicyDocument) -> None:
    view: dict[str, Any] = json.loads(render_notice(three, "json"))
    fraud = next(p for p in view["purposes"] if p["id"] == "fraud_screening")
    assert [
        (g["jurisdictions"], g["legal_ground"]["code"], g["legal_ground"]["dpdp_clause"])
        for g in fraud["grounds_by_jurisdiction"]
    ] == [(["IN", "US-CA"], "exemption", "s.17(1)(c)"), (["EU", "UK"], "legitimate_interests", None)]
    account = next(p for p in view["purposes"] if p["id"] == "account")
    assert "grounds_by_jurisdiction" not in account  # the same ground everywhere: nothing per jurisdiction
    rights = {r["kind"]: r for r in view["rights"]}
    assert rights["opt_out_sale_sharing"]["applies_to"] == "If you live in California"
    assert "applies_to" not in rights["access"]
    assert [d["applies_to"] for d in rights["access"]["deadlines_by_jurisdiction"]] == [
        "If you live in India",
        EU_UK,
        "If you live in California",
    ]
    assert [b["jurisdiction"]["code"] for b in view["children"]["bands"]] == ["IN", "EU", "UK", "US-CA"]
    assert [a["applies_to"] for a in view["complaints"]["authorities"]][:2] == [
        "If you live in India",
        "If you live in the European Union",
    ]
    roles = [c["role"]["code"] for c in view["contacts"]]
    assert roles[-2:] == ["representative_eu", "representative_uk"]


def test_one_deadline_for_everyone_is_not_split(three: PolicyDocument) -> None:
    """Deadlines that are the same for every jurisdiction read as one, even when written per jurisdiction."""
    data = three_jurisdictions()
    access = next(r for r in data["rights"] if r["kind"] == "access")
    same = {"respond_within": "30d", "acknowledge_within": "2d"}
    access["deadlines_by_jurisdiction"] = {"EU": same, "UK": same}
    md = md_plain(render_notice(PolicyDocument.model_validate(data), "markdown"))
    section = md[md.index("### Access your data") : md.index("### Correct your data")]
    assert re.findall(r"\*\*How fast\*\*: (.*?)\.", section) == [
        "We commit to acting within 30 days of receiving your request"
    ]


def test_hindi_notice_translates_the_per_jurisdiction_sentences(three: PolicyDocument) -> None:
    md = render_notice(three, "markdown", language="hi")
    assert "यदि आप यूरोपीय संघ या यूनाइटेड किंगडम में रहते हैं" in md
    assert "If you live in" not in md

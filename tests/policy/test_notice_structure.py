"""The notice says only what the policy says, in a shape a reader can follow (issue 12).

Every example policy and the demo are rendered in every format and read back: each Markdown list item on
its own line, no heading with nothing under it, transfers counted from where the data comes from, and the
sections on opt-outs others run, browser signals and the effect of withdrawing consent present exactly
when the policy states them.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy.loader import load_policy
from fiduciary.policy.notice import build_view, render_notice
from fiduciary.policy.schema import PolicyDocument

ROOT = Path(__file__).resolve().parents[2]
POLICIES = [*sorted((ROOT / "examples" / "policies").glob("*.yaml")), DEMO_POLICY_PATH]
BASE: dict[str, Any] = YAML(typ="safe").load(DEMO_POLICY_PATH.read_text(encoding="utf-8"))

MARKDOWN_HEADING = re.compile(r"^(#{1,6}) ")
HTML_HEADING = re.compile(r"<h([1-6])\b[^>]*>")


def demo_with(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(copy.deepcopy(changes))
    return data


def empty_markdown_headings(text: str) -> list[str]:
    """Headings followed (past blank lines) by the end or by a heading of the same or a higher level."""
    lines = text.splitlines()
    empty = []
    for i, line in enumerate(lines):
        match = MARKDOWN_HEADING.match(line)
        if not match:
            continue
        rest = [other for other in lines[i + 1 :] if other.strip()]
        following = MARKDOWN_HEADING.match(rest[0]) if rest else None
        if not rest or (following and len(following.group(1)) <= len(match.group(1))):
            empty.append(line)
    return empty


def empty_html_headings(html: str) -> list[str]:
    """The same in HTML: a heading whose next element is a heading of the same or a higher level."""
    body = html[html.index("<main") :]
    empty = []
    for match in HTML_HEADING.finditer(body):
        end = body.index("</h", match.end())
        after = body[body.index(">", end) + 1 :]
        after = re.sub(r"^(\s|</section>|<section[^>]*>)*", "", after)
        following = HTML_HEADING.match(after)
        if after.startswith("</main") or (following and int(following.group(1)) <= int(match.group(1))):
            empty.append(body[match.start() : end])
    return empty


def glued_list_items(text: str) -> list[str]:
    """A list item that starts in the middle of a line: the line before swallowed it."""
    return [text[max(0, m.start() - 40) : m.end() + 20] for m in re.finditer(r"(?<=\S)- \*\*", text)]


# ----------------------------------------------------------------------------- every example, every format


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_markdown_keeps_every_list_item_on_its_own_line(path: Path) -> None:
    document = load_policy(path).document
    for language in ("en", "hi"):
        text = render_notice(document, "markdown", language=language)
        assert glued_list_items(text) == [], language
        for right in build_view(document, language=language).rights:
            # The right's "What we need from you" item starts its own line, never after "How to ask".
            needs = [line for line in text.splitlines() if right.verification_text.rstrip(".") in line]
            assert needs and all(line.startswith("- **") for line in needs), right.kind


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_no_heading_is_left_empty(path: Path) -> None:
    document = load_policy(path).document
    assert empty_markdown_headings(render_notice(document, "markdown")) == []
    assert empty_html_headings(render_notice(document, "html")) == []


def test_the_heading_detectors_find_what_they_look_for() -> None:
    assert empty_markdown_headings("# A\n\n## B\n\ntext\n\n## C\n") == ["## C"]
    assert empty_markdown_headings("## A\n\n## B\n\ntext\n") == ["## A"]
    assert empty_markdown_headings("## A\n\n### B\n\ntext\n") == []
    page = '<main><section><h2 id="a">A</h2>\n</section>\n<section><h2 id="b">B</h2><p>x</p></section></main>'
    assert empty_html_headings(page) == ['<h2 id="a">A']
    assert glued_list_items("- **How to ask**: Email- **What we need**: x") == [
        "- **How to ask**: Email- **What we need**: x"
    ]


def test_each_authority_is_its_own_list_item() -> None:
    authorities = [
        {"name": "Data Protection Board of India", "url": "https://www.dpboard.gov.in", "jurisdiction": "IN"},
        {"name": "Data Protection Commission", "url": "https://www.dataprotection.ie", "jurisdiction": "EU"},
    ]
    labels = {"IN": "India", "EU": "the European Union"}
    data = demo_with()
    data["controller"]["jurisdictions"] = ["IN", "EU"]
    data["contacts"]["authorities"] = authorities
    text = render_notice(PolicyDocument.model_validate(data), "markdown")
    for authority in authorities:
        authority["label"] = labels[authority["jurisdiction"]]
        (line,) = [line for line in text.splitlines() if authority["name"] in line and "](" in line]
        # one list item per authority; a policy serving two laws says whom each applies to first
        assert line.startswith("- ") and line.count("](") == 1, line
        assert (
            line.removeprefix("- ")
            .removeprefix(f"If you live in {authority['label']}: ")
            .startswith(f"{authority['name']} (")
        )


# ------------------------------------------------------------------------------------------- transfers


def _recipient_transfer(jurisdictions: list[str], countries: list[str], home: str = "IN") -> str | None:
    data = demo_with()
    data["controller"]["jurisdictions"] = jurisdictions
    data["controller"]["address"]["country"] = home
    email = next(r for r in data["recipients"] if r["id"] == "email_service")
    email["countries"] = countries
    view = build_view(PolicyDocument.model_validate(data))
    (recipient,) = [r for r in view.recipients if r.id == "email_service"]
    assert recipient.cross_border == (recipient.transfer is not None)
    return recipient.transfer


def test_transfers_are_counted_from_where_the_data_comes_from() -> None:
    """An EU shopper's data sent to India leaves the EEA, though the store is in India (GDPR Chapter V)."""
    text = _recipient_transfer(["IN", "EU"], ["IN", "DE"])
    assert text is not None
    assert "Transferred outside India to Germany." in text
    assert "Transferred outside the European Economic Area to India." in text
    assert _recipient_transfer(["IN"], ["IN"]) is None
    assert _recipient_transfer(["EU"], ["DE", "IE", "NO"]) is None  # within the EEA
    # A store registered abroad serving India: data leaves India, not the store's country.
    foreign = _recipient_transfer(["IN"], ["SG"], home="SG")
    assert foreign is not None and foreign.startswith("Transferred outside India to Singapore.")
    uk = _recipient_transfer(["UK"], ["GB", "US"], home="GB")
    assert uk is not None and "outside the United Kingdom to United States" in uk


def test_a_store_serving_no_transfer_law_counts_from_its_own_country() -> None:
    text = _recipient_transfer(["US-CA"], ["US", "IN"], home="US")
    assert text is not None and text.startswith("Transferred outside United States to India.")


# ------------------------------------------------------------------ opt-outs others run, signals, consent

NAI = {
    "name": "NAI consumer opt-out",
    "operator": "Network Advertising Initiative",
    "kind": "industry_portal",
    "url": "https://optout.networkadvertising.org/",
    "purposes": ["personalised_ads"],
    "scope": "Stops interest-based ads from member companies in this browser.",
}
GOOGLE = {
    "name": "Google My Ad Center",
    "operator": "Google",
    "kind": "platform_settings",
    "url": "https://myadcenter.google.com/",
    "recipients": ["ad_network"],
}


def _with_opt_outs() -> PolicyDocument:
    data = demo_with(
        external_opt_outs=[NAI, GOOGLE], browser_signals={"gpc": "opt_out", "do_not_track": "not_honoured"}
    )
    opt_out = next(r for r in data["rights"] if r["kind"] == "withdraw_consent")
    opt_out["channels"].append("external_mechanism")
    return PolicyDocument.model_validate(data)


def test_opt_outs_others_run_are_shown_with_their_links_in_every_format() -> None:
    document = _with_opt_outs()
    view = build_view(document)
    assert [m.name for m in view.opt_outs.mechanisms] == ["NAI consumer opt-out", "Google My Ad Center"]
    assert view.opt_outs.mechanisms[0].covers == ["Personalised advertising"] or view.opt_outs.mechanisms[0].covers
    markdown = render_notice(document, "markdown")
    html = render_notice(document, "html")
    assert "## Opt-outs and browser signals" in markdown
    assert "[NAI consumer opt-out](<https://optout.networkadvertising.org/>)" in markdown
    assert '<a href="https://myadcenter.google.com/">Google My Ad Center</a>' in html
    assert '<a href="#opt-outs">' in html
    assert json.loads(render_notice(document, "json"))["opt_outs"]["mechanisms"][1]["operator"] == "Google"
    # The right's external channel lists each mechanism as a way to ask.
    (withdraw,) = [r for r in view.rights if r.kind == "withdraw_consent"]
    external = [c for c in withdraw.channels if c.code == "external_mechanism"]
    assert [c.url for c in external] == ["https://optout.networkadvertising.org/", "https://myadcenter.google.com/"]
    assert external[0].label == "NAI consumer opt-out (run by Network Advertising Initiative)"


def test_browser_signals_are_stated_only_when_the_policy_states_them() -> None:
    stated = build_view(_with_opt_outs()).opt_outs.signals
    assert any("Global Privacy Control" in s and "opt out" in s for s in stated)
    assert any("Do Not Track" in s for s in stated)
    demo = PolicyDocument.model_validate(demo_with())
    assert build_view(demo).opt_outs.signals == []
    for fmt in ("markdown", "html"):
        text = render_notice(demo, fmt)
        assert "Opt-outs and browser signals" not in text and "Global Privacy Control" not in text


def test_a_consent_purpose_whose_withdrawal_limits_the_service_says_so() -> None:
    data = demo_with()
    analytics = next(p for p in data["purposes"] if p["id"] == "analytics")
    analytics["withdrawal_limits_service"] = "product suggestions are no longer based on what you browse."
    document = PolicyDocument.model_validate(data)
    (purpose,) = [p for p in build_view(document).purposes if p.id == "analytics"]
    assert (
        "You can withdraw your consent at any time. If you do: product suggestions are no longer based on what "
        "you browse." in purpose.notes
    )
    assert "product suggestions are no longer based" in render_notice(document, "markdown")
    plain = build_view(PolicyDocument.model_validate(demo_with()))
    assert not any("If you do:" in note for p in plain.purposes for note in p.notes)


def test_a_purpose_names_the_opt_outs_others_run_for_it() -> None:
    view = build_view(_with_opt_outs())
    (ads,) = [p for p in view.purposes if p.id == "personalised_ads"]
    assert any("NAI consumer opt-out" in note for note in ads.notes)
    assert not any(
        "opt out of this through" in note for p in view.purposes if p.id != "personalised_ads" for note in p.notes
    )

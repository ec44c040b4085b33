"""The privacy notice rendered from the demo policy: content, structure, escaping, languages, formats."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy.loader import load_policy
from fiduciary.policy.notice import (
    NoticeVersion,
    build_view,
    markdown_escape,
    negotiate_language,
    notice_versions,
    render_notice,
    resolve_language,
)
from fiduciary.policy.schema import PolicyDocument

ROOT = Path(__file__).resolve().parents[2]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def demo_data() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(DEMO_POLICY_PATH.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def demo() -> PolicyDocument:
    return load_policy(DEMO_POLICY_PATH).document


def pairs(document: PolicyDocument) -> list[tuple[str, str]]:
    return [(c, p.id) for p in document.purposes for c in [*p.categories, *p.optional_categories]]


HISTORY = [
    NoticeVersion(1, datetime(2026, 5, 1, tzinfo=UTC), "sha256:" + "1" * 64),
    NoticeVersion(2, datetime(2026, 6, 1, tzinfo=UTC), "sha256:" + "2" * 64, ["Added purpose analytics"], True),
]


class PageParser(HTMLParser):
    """Collects the structure of a page and every nesting error html.parser lets through."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.headings: list[tuple[int, str]] = []
        self._heading: int | None = None
        self._heading_text: list[str] = []
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)
        if re.fullmatch(r"h[1-6]", tag):
            self._heading, self._heading_text = int(tag[1]), []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.errors.append(f"end tag for void element {tag}")
        elif not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()
        if self._heading is not None and tag == f"h{self._heading}":
            self.headings.append((self._heading, " ".join("".join(self._heading_text).split())))
            self._heading = None

    def handle_data(self, data: str) -> None:
        if "style" not in self.stack:
            self.text.append(data)
        if self._heading is not None:
            self._heading_text.append(data)

    @property
    def plain(self) -> str:
        return " ".join(" ".join(self.text).split())


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    return parser


def md_plain(text: str) -> str:
    """Markdown text with its backslash escapes removed, for content assertions."""
    return re.sub(r"\\(.)", r"\1", text)


# --------------------------------------------------------------------------------------------- content


def test_every_format_states_what_the_law_requires(demo: PolicyDocument) -> None:
    html_text = parse(render_notice(demo, "html", history=HISTORY)).plain
    md_text = md_plain(render_notice(demo, "markdown", history=HISTORY))
    json_text = render_notice(demo, "json", history=HISTORY)
    expected = [
        "Saffron Lane Retail Private Limited",
        "Meera Iyer",
        "Grievance Officer",
        "grievance@saffronlane.example",
        "+91 120 400 0000",
        "Monday to Friday, 10:00 to 18:00 IST",
        "privacy@saffronlane.example",
        "security@saffronlane.example",
        "Data Protection Board of India",
        "https://www.dpboard.gov.in",
        "Deleted 30 days after you close your account.",
        "Deleted 8 years after the order is completed.",
        "The law requires us to keep it for at least 1 year (DPDP Rules 2025 Rule 8(3))",
        "Anonymised 13 months after we collect it",
        # Deadlines are stated as the store's commitments: nothing in Fiduciary tracks requests yet.
        "We commit to acting within 30 days of receiving your request.",
        "We commit to acknowledging it within 2 days.",
        "We commit to acting within 2 days of receiving your request.",
        "We commit to acknowledging a grievance within 48 hours and resolving it within 30 days.",
        "You gave it to us voluntarily for this purpose and have not objected (DPDP Act s.7(a))",
        "Required by law (CGST Act 2017 s.35 and s.36; Income-tax Rules r.114B)",
        "Transferred outside India to United States.",
        "If you are under 18",
        "DPDP Act s.9(3)",
        "Encryption",
        "within 72 hours (DPDP Rule 7(1))",
        "at least 14 days before it takes effect",
        "we ask for your consent again",
        "Added purpose analytics",
        "sha256:" + "2" * 64,
    ]
    expected += [c.name for c in demo.categories]
    expected += [p.name for p in demo.purposes] + [p.service for p in demo.purposes]
    expected += [c.name for c in demo.cookies] + [c.description for c in demo.cookies]
    expected += [r.name for r in demo.recipients]
    for name, text in (("html", html_text), ("markdown", md_text), ("json", json_text)):
        missing = [e for e in expected if e not in text]
        assert not missing, f"{name} lacks {missing}"


def test_item_rows_are_every_category_purpose_pair(demo: PolicyDocument) -> None:
    view = build_view(demo)
    assert [(row.category, row.purpose) for row in view.items] == pairs(demo)
    rows = {(row.category, row.purpose): row for row in view.items}
    assert rows["identity.name", "order_fulfilment"].recipients == ["Payment gateway", "Courier partners"]
    assert rows["identity.name", "account"].recipients == []
    assert rows["government.pan", "tax_compliance"].required is False  # optional for that purpose
    assert rows["identity.name", "account"].required is True
    assert rows["identity.name", "customer_support"].legal_ground.endswith("(DPDP Act s.7(a))")
    orders = " ".join(rows["commerce.orders", "order_fulfilment"].retention)
    assert "8 years after the order is completed" in orders and "DPDP Rules 2025 Rule 8(3)" in orders
    # the name used for delivery is covered by two rules: account closure and the tax records
    delivery_name = " ".join(rows["identity.name", "order_fulfilment"].retention)
    assert "close your account" in delivery_name and "8 years" in delivery_name
    assert not any(r.startswith("No fixed period") for row in view.items for r in row.retention)
    assert "withdraw consent" in rows["contact.email", "marketing.email"].retention[0]
    assert "withdraw consent" not in rows["identity.name", "order_fulfilment"].retention[0]


def test_categories_say_required_optional_and_source(demo: PolicyDocument) -> None:
    categories = {c.id: c for c in build_view(demo).categories}
    assert categories["government.pan"].required_label == "Optional"
    assert categories["contact.email"].required_label == "Required"
    assert categories["financial.payment_token"].obtained == "From others: payment gateway"
    assert categories["financial.payment_token"].sensitivity.code == "financial"
    assert categories["logistics.delivery_status"].third_party_sources == ["courier partners"]
    assert categories["device.identifiers"].sources[0].code == "automatic"
    assert "Tax and accounting records" in categories["government.pan"].purposes


def test_recipients_flag_cross_border_transfers(demo: PolicyDocument) -> None:
    recipients = {r.id: r for r in build_view(demo).recipients}
    assert recipients["payment_gateway"].cross_border is False
    assert recipients["payment_gateway"].transfer is None
    email = recipients["email_service"]
    assert email.cross_border is True
    assert [c.code for c in email.countries] == ["IN", "US"]
    assert email.transfer is not None and "United States" in email.transfer
    assert "not a restricted country under DPDP s.16" in email.transfer
    assert recipients["authorities"].kind.code == "authority"


def test_transfer_without_safeguard_says_so() -> None:
    data = demo_data()
    data["recipients"][0]["countries"] = ["SG"]
    document = PolicyDocument.model_validate(data)
    recipient = build_view(document).recipients[0]
    assert recipient.cross_border is True
    assert recipient.transfer == "Transferred outside India to Singapore. Safeguard: no safeguard is declared."


def test_cookies_are_grouped_by_category_in_catalogue_order(demo: PolicyDocument) -> None:
    groups = build_view(demo).cookies
    assert [g.category.code for g in groups] == ["necessary", "functional", "analytics", "advertising"]
    by_name = {c.name: c for g in groups for c in g.cookies}
    assert set(by_name) == {c.name for c in demo.cookies}
    assert by_name["session_id"].lifetime == "Until you close your browser"
    assert by_name["_sl_stats"].lifetime == "13 months"
    assert by_name["ad_uid"].party.code == "third"
    assert by_name["ad_uid"].consent_required is True
    assert by_name["sl_lang"].consent_required is False  # its purpose (account) is not consent-based
    assert by_name["session_id"].purpose is None


def test_rights_say_how_and_how_fast(demo: PolicyDocument) -> None:
    rights = {r.kind: r for r in build_view(demo, base_url="https://shop.example").rights}
    access = rights["access"]
    assert access.deadline.respond_within == "30 days"
    assert access.deadline.counting.code == "calendar_days"
    assert access.deadline.acknowledge_within == "2 days"
    assert access.identifiers_text == "Your email address or mobile number."
    assert "a one-time code sent to your email" in access.verification_text
    # No privacy center yet: its channel is the privacy contact's address, listed once with the email channel.
    assert [(c.code, c.url) for c in access.channels] == [("privacy_center", "mailto:privacy@saffronlane.example")]
    assert rights["withdraw_consent"].link == "https://shop.example/privacy#right-withdraw_consent"
    assert [c.code for c in rights["nomination"].channels] == ["privacy_center"]
    assert rights["nomination"].channels[0].label == "Email privacy@saffronlane.example"
    assert rights["withdraw_consent"].verification_text == "We do not need to check who you are for this."
    grievance = rights["grievance"]
    assert "mailto:grievance@saffronlane.example" in [c.url for c in grievance.channels]
    assert any("Post to Plot 14, Sector 62, Noida" in c.label for c in grievance.channels)
    assert grievance.deadline.acknowledge_within == "48 hours"
    assert rights["erasure"].limitations == [
        "Records the law requires us to keep are held apart and deleted when the legal period ends."
    ]


def test_business_day_deadlines_are_labelled_and_extensions_shown() -> None:
    data = demo_data()
    data["rights"][0]["deadline"] = {"respond_within": "10 business days", "extendable_by": "2mo"}
    right = build_view(PolicyDocument.model_validate(data)).rights[0]
    assert right.deadline.respond_within == "10 business days"
    assert right.deadline.counting.code == "business_days"
    assert right.deadline.extension == "2 months"
    assert "up to 2 months more" in right.deadline.summary
    assert right.deadline.acknowledge_within is None
    # Only now does the notice explain how business days are counted, with the store's holidays.
    document = PolicyDocument.model_validate(data)
    for fmt in ("html", "markdown"):
        text = render_notice(document, fmt, history=HISTORY)
        assert "How we count days" in text and "Republic Day" in text, fmt


def test_no_day_counting_section_when_no_stated_deadline_is_in_business_days(demo: PolicyDocument) -> None:
    """The demo's holidays serve only a deadline the notice does not state: no section, no filler."""
    assert not build_view(demo).business_days.used
    for fmt in ("html", "markdown"):
        text = render_notice(demo, fmt, history=HISTORY)
        assert "How we count days" not in text and "Republic Day" not in text, fmt


def test_holiday_sentence_only_with_holidays() -> None:
    data = demo_data()
    data["rights"][0]["deadline"] = {"respond_within": "10 business days"}
    data["calendar"]["holidays"] = []
    days = build_view(PolicyDocument.model_validate(data)).business_days
    assert days.used and days.holidays == []
    assert "holiday" not in days.statement
    assert days.statement.startswith("Where a deadline is in business days, Saturday and Sunday do not count")


def test_children_and_marketing_sections(demo: PolicyDocument) -> None:
    view = build_view(demo, base_url="https://shop.example")
    assert view.children.minimum_age == 18
    assert view.children.never_for_children == ["Site analytics", "Personalised advertising"]
    assert "verifiable consent of a parent or lawful guardian" in view.children.statement
    assert [g.code for g in view.children.guardian_verification] == ["existing_adult_account", "virtual_token"]
    assert [m.purpose for m in view.marketing.purposes] == ["marketing.email", "marketing.sms"]
    assert [c.code for c in view.marketing.purposes[1].channels] == ["sms", "whatsapp"]
    assert [w.code for w in view.marketing.opt_out] == ["email_link", "privacy_center"]
    assert view.marketing.opt_out[1].url == "mailto:privacy@saffronlane.example"
    assert view.marketing.opt_out_deadline == "We commit to applying your choice within 2 days."


def test_children_barred_when_no_guardian_consent() -> None:
    data = demo_data()
    data["children"]["guardian_consent"] = False
    view = build_view(PolicyDocument.model_validate(data))
    assert view.children.statement.startswith("Our services are not for anyone under 18")


def test_contacts_include_grievance_officer_privacy_and_security(demo: PolicyDocument) -> None:
    contacts = {c.role.code: c for c in build_view(demo).contacts}
    officer = contacts["grievance_officer"]
    assert (officer.name, officer.designation, officer.email, officer.phone, officer.hours) == (
        "Meera Iyer",
        "Grievance Officer",
        "grievance@saffronlane.example",
        "+91 120 400 0000",
        "Monday to Friday, 10:00 to 18:00 IST",
    )
    assert officer.address == "Plot 14, Sector 62, Noida, Uttar Pradesh, 201309, India"
    assert contacts["privacy_contact"].email == "privacy@saffronlane.example"
    assert contacts["security"].policy_url == "https://saffronlane.example/responsible-disclosure"
    assert "cert_in_point_of_contact" not in contacts  # a CERT-In liaison, not a contact for customers


def test_complaints_cite_only_the_laws_the_store_serves(demo: PolicyDocument) -> None:
    assert "(DPDP Act s.13(3))." in build_view(demo).complaints.statement
    data = demo_data()
    data["controller"]["jurisdictions"] = ["IN", "EU"]
    view = build_view(PolicyDocument.model_validate(data))
    assert "(DPDP Act s.13(3), GDPR Art 77)." in view.complaints.statement
    assert view.complaints.authorities[0].jurisdiction.label == "India"


def test_exemption_and_legitimate_interest_grounds() -> None:
    data = demo_data()
    data["purposes"][3].update({"legal_ground": "exemption", "exemption": "17(1)(a)"})
    data["purposes"][3].pop("legitimate_use")
    data["purposes"][4].update({"legal_ground": "legitimate_interests"})
    data["purposes"][4].pop("legal_basis_reference")
    purposes = build_view(PolicyDocument.model_validate(data)).purposes
    assert purposes[3].legal_ground.dpdp_clause == "s.17(1)(a)"
    assert purposes[3].legal_ground.label.endswith("(DPDP Act s.17(1)(a))")
    assert purposes[4].legal_ground.label == "Our legitimate interests (GDPR Art 6(1)(f))"


def test_changes_and_reconsent(demo: PolicyDocument) -> None:
    changes = build_view(demo).changes
    assert [a.code for a in changes.announce_via] == ["email", "banner"]
    assert changes.advance_notice == "14 days"
    assert changes.reconsent is True
    data = demo_data()
    data["policy_changes"] = {"announce_via": ["in_app"], "material_changes_require_reconsent": False}
    changes = build_view(PolicyDocument.model_validate(data)).changes
    assert changes.statement == (
        "We announce changes to this notice by a notice in our app. "
        "We do not ask for your consent again when this notice changes."
    )


# ---------------------------------------------------------------------------------------------- history


def test_history_marks_current_previous_and_upcoming(demo: PolicyDocument) -> None:
    history = [*HISTORY, NoticeVersion(3, datetime(2027, 1, 1, tzinfo=UTC), "sha256:" + "3" * 64, ["x"], False)]
    view = build_view(demo, history=list(reversed(history)), current=2)
    assert [(v.version, v.status.code) for v in view.history] == [(3, "upcoming"), (2, "current"), (1, "previous")]
    assert view.version.version == 2
    assert view.version.content_hash == "sha256:" + "2" * 64
    assert view.version.statement == "Version 2, in effect from June 1, 2026."
    labels = {v.version: v.material_label for v in view.history}
    assert labels == {3: "Minor change", 2: "Material change", 1: "First version"}
    # without `current`, the newest version is taken as the one being rendered
    assert build_view(demo, history=history).version.version == 3


def test_draft_without_history(demo: PolicyDocument) -> None:
    view = build_view(demo)
    assert view.history == []
    assert view.version.version is None
    assert view.version.statement == "Draft: this notice has not been published."
    assert "Draft: this notice has not been published." in parse(render_notice(demo, "html")).plain


def test_notice_versions_adapts_published_versions() -> None:
    class Change:
        summary = "Purpose analytics added"

    class Published:
        version = 4
        effective_from = datetime(2026, 1, 1, tzinfo=UTC)
        content_hash = "sha256:abc"
        changes = (Change(),)
        material = True

    assert notice_versions([Published()]) == [
        NoticeVersion(4, datetime(2026, 1, 1, tzinfo=UTC), "sha256:abc", ("Purpose analytics added",), True)
    ]


# ------------------------------------------------------------------------------------------------- HTML


def test_html_is_a_well_formed_standalone_accessible_page(demo: PolicyDocument) -> None:
    html = render_notice(demo, "html", history=HISTORY, base_url="https://shop.example")
    page = parse(html)
    assert page.doctype
    assert page.errors == []
    assert page.stack == []  # everything opened was closed
    tags = Counter(tag for tag, _ in page.starts)
    assert tags["html"] == tags["head"] == tags["body"] == tags["main"] == tags["title"] == tags["h1"] == 1
    html_attrs = next(attrs for tag, attrs in page.starts if tag == "html")
    assert html_attrs["lang"] == "en"
    # no scripts, no external assets, no inline event handlers
    assert tags["script"] == tags["link"] == tags["img"] == tags["iframe"] == tags["object"] == 0
    for tag, attrs in page.starts:
        assert "src" not in attrs, tag
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        if tag == "a":
            assert attrs["href"] and not attrs["href"].lower().startswith("javascript:")
    # every header cell says what it heads
    for tag, attrs in page.starts:
        if tag == "th":
            assert attrs.get("scope") in ("col", "row"), attrs
    # unique ids, and every reference points at one
    ids = [attrs["id"] for _, attrs in page.starts if attrs.get("id")]
    assert len(ids) == len(set(ids))
    for _, attrs in page.starts:
        for ref in ("aria-labelledby",):
            if attrs.get(ref):
                assert attrs[ref] in ids
        href = attrs.get("href") or ""
        if href.startswith("#") and href != "#":
            assert href[1:] in ids, href
    # headings: one h1, then h2 sections, never skipping a level
    levels = [level for level, _ in page.headings]
    assert levels[0] == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))
    h2 = [text for level, text in page.headings if level == 2]
    assert h2 == [
        "Contents",
        "Who we are",
        "What we collect and why",
        "The data we collect",
        "Why we use it",
        "Who receives your data",
        "Cookies",
        "Marketing",
        "Your rights",
        "Children",
        "How we protect your data",
        "Contact us",
        "How to complain",
        "Changes to this notice",
        "Version history",
    ]


def test_html_item_table_has_one_row_per_pair(demo: PolicyDocument) -> None:
    page = parse(render_notice(demo, "html"))
    rows = [(a["data-category"], a["data-purpose"]) for t, a in page.starts if t == "tr" and "data-purpose" in a]
    assert rows == pairs(demo)
    cookies = [str(a["data-cookie"]) for t, a in page.starts if t == "tr" and "data-cookie" in a]
    assert sorted(cookies) == sorted(c.name for c in demo.cookies)


def test_html_links_for_withdrawal_rights_and_complaint(demo: PolicyDocument) -> None:
    page = parse(render_notice(demo, "html", base_url="https://shop.example/"))
    hrefs = [a["href"] for t, a in page.starts if t == "a"]
    # Until the privacy center exists the calls to action stay in the page (issue 9): no link to it at all.
    assert not any("privacy-center" in str(h) for h in hrefs)
    assert {"#right-withdraw_consent", "#rights", "#rights-table"} <= set(hrefs)
    assert "https://www.dpboard.gov.in/" in hrefs
    assert "mailto:grievance@saffronlane.example" in hrefs
    # without a base URL the same calls to action point into the notice itself
    page = parse(render_notice(demo, "html"))
    hrefs = [a["href"] for t, a in page.starts if t == "a"]
    assert not any("privacy-center" in str(h) for h in hrefs)
    assert "#rights" in hrefs


HOSTILE = '<script>alert("x")</script>'


def hostile_document() -> PolicyDocument:
    data = demo_data()
    data["name"] = HOSTILE
    data["controller"]["legal_name"] = 'Evil & Sons "Ltd" <b>'
    data["categories"][0]["name"] = '<img src=x onerror="alert(1)">'
    data["purposes"][0]["description"] = "a | b\n\n# heading [link](javascript:alert(1)) *bold* `code`"
    data["cookies"][0]["name"] = "</td></tr><script>x</script>"
    data["contacts"]["grievance_officer"]["name"] = "Meera <svg onload=alert(1)>"
    return PolicyDocument.model_validate(data)


def test_html_escapes_hostile_policy_values() -> None:
    html = render_notice(hostile_document(), "html")
    page = parse(html)
    tags = {tag for tag, _ in page.starts}
    assert not tags & {"script", "img", "svg", "b"}
    assert page.errors == []
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert HOSTILE in page.plain  # shown as text
    assert '<img src=x onerror="alert(1)">' in page.plain
    assert 'Evil & Sons "Ltd" <b>' in page.plain
    for _, attrs in page.starts:
        assert not any(name.startswith("on") for name in attrs)


def test_markdown_escapes_hostile_policy_values() -> None:
    document = hostile_document()
    md = render_notice(document, "markdown")
    without_links = re.sub(r"\]\(<[^<>\s]*>\)", "]()", md)  # our own [text](<url>) links
    assert re.search(r"(?<!\\)<", without_links) is None  # every other angle bracket is escaped
    assert r"\<script\>alert" in md and r"\<img src" in md and r"\<svg onload" in md
    assert "[link](javascript" not in md
    # the description stays inside its list item: no new heading, no table break
    line = next(line for line in md.splitlines() if "heading" in line)
    assert not line.startswith("#")
    assert r"a \| b \# heading \[link\](javascript:alert(1)) \*bold\* \`code\`" in md
    rows = table_rows(md, "What we collect and why")
    assert len(rows) == len(pairs(document)) + 1
    assert {row.count(" | ") - row.count(r" \| ") for row in rows} == {5}


def test_json_keeps_hostile_values_as_data() -> None:
    view = json.loads(render_notice(hostile_document(), "json"))
    assert view["title"] == HOSTILE
    assert view["items"][0]["category_name"] == '<img src=x onerror="alert(1)">'


# --------------------------------------------------------------------------------------------- Markdown


def table_rows(md: str, heading: str) -> list[str]:
    """The rows of the first table in a section, header first, without the delimiter row."""
    return [line for line in section(md, heading).splitlines() if line.startswith("| ") and "| --- |" not in line]


def section(md: str, heading: str) -> str:
    start = md.index(f"## {heading}\n")
    end = md.find("\n## ", start + 1)
    return md[start : end if end != -1 else None]


def test_markdown_item_table_rows_match_pairs(demo: PolicyDocument) -> None:
    md = render_notice(demo, "markdown", history=HISTORY, base_url="https://shop.example")
    rows = table_rows(md, "What we collect and why")
    header, body = rows[0], rows[1:]
    assert header.startswith("| Data | Purpose | Service it enables | Legal ground | Shared with |")
    assert len(body) == len(pairs(demo)) == 26
    names = {c.id: c.name for c in demo.categories}
    purposes = {p.id: p.name for p in demo.purposes}
    for row, (category, purpose) in zip(body, pairs(demo), strict=True):
        cells = [md_plain(cell.strip()) for cell in row.strip("|").split(" | ")]
        assert len(cells) == 6
        assert cells[0].startswith(names[category]) and cells[1] == purposes[purpose]
    assert "[Withdraw consent](<https://shop.example/privacy#right-withdraw_consent>)" in md
    assert "## Version history" in md and "| 2 (Current) |" in md
    cookies = section(md, "Cookies")
    assert all(markdown_escape(c.name) in cookies for c in demo.cookies)


def test_markdown_escape() -> None:
    assert markdown_escape("a_b *c* [d](e) <f> | g # h & i ~ j `k`") == (
        r"a\_b \*c\* \[d\](e) \<f\> \| g \# h \& i \~ j \`k\`"
    )
    assert markdown_escape("1. first") == r"1\. first"
    assert markdown_escape("- item") == r"\- item"
    assert markdown_escape("two\nlines") == "two lines"
    assert markdown_escape(None) == ""
    assert markdown_escape(markdown_escape("*")) == r"\*"  # already escaped text is not escaped twice


# ------------------------------------------------------------------------------------------------ JSON


def test_json_is_the_view_model_with_stable_key_order(demo: PolicyDocument) -> None:
    text = render_notice(demo, "json", history=HISTORY)
    assert text == render_notice(demo, "json", history=list(reversed(HISTORY)))
    view = json.loads(text)
    assert list(view) == [
        "schema",
        "language",
        "title",
        "version",
        "controller",
        "links",
        "items",
        "categories",
        "purposes",
        "recipients",
        "cookies",
        "marketing",
        "rights",
        "business_days",
        "children",
        "security",
        "contacts",
        "complaints",
        "changes",
        "opt_outs",
        "history",
    ]
    assert view["schema"] == "fiduciary-notice/1"
    assert len(view["items"]) == len(pairs(demo))
    assert list(view["items"][0]) == [
        "category",
        "category_name",
        "purpose",
        "purpose_name",
        "service",
        "legal_ground",
        "required",
        "required_label",
        "recipients",
        "retention",
    ]
    assert view["version"]["content_hash"] == "sha256:" + "2" * 64
    assert view["history"][0]["changes"] == ["Added purpose analytics"]
    assert view["links"] == {"notice": None, "rights": None, "withdraw_consent": None,
                             "complain": ["https://www.dpboard.gov.in/"]}  # fmt: skip


def test_unknown_format_is_refused(demo: PolicyDocument) -> None:
    with pytest.raises(ValueError, match="unknown notice format 'pdf'"):
        render_notice(demo, "pdf")  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------------- languages


def test_hindi_headings_and_fixed_text(demo: PolicyDocument) -> None:
    html = render_notice(demo, "html", language="hi", history=HISTORY)
    page = parse(html)
    assert next(a for t, a in page.starts if t == "html")["lang"] == "hi"
    h2 = [text for level, text in page.headings if level == 2]
    for heading in ("हम कौन हैं", "हम क्या एकत्र करते हैं और क्यों", "आपके अधिकार", "बच्चे", "हमसे संपर्क करें",
                    "शिकायत कैसे करें", "इस सूचना में बदलाव", "संस्करण इतिहास", "कुकीज़"):  # fmt: skip
        assert heading in h2
    assert "Your rights" not in page.plain
    assert "शिकायत अधिकारी" in page.plain
    assert "30 दिन" in page.plain  # durations are translated, with plurals
    assert "Meera Iyer" in page.plain  # the store's own words are not translated
    md = render_notice(demo, "markdown", language="hi")
    assert "## आपके अधिकार" in md
    view = json.loads(render_notice(demo, "json", language="hi"))
    assert view["language"] == "hi"
    assert view["items"][0]["required_label"] == "आवश्यक"
    assert view["items"][0]["category_name"] == "Name"


@pytest.mark.parametrize("tag", ["ta", "xx-YY", "<b>", "", "de_DE"])
def test_unknown_language_falls_back_to_english(demo: PolicyDocument, tag: str) -> None:
    page = parse(render_notice(demo, "html", language=tag))
    assert next(a for t, a in page.starts if t == "html")["lang"] == "en"
    assert "Your rights" in [text for level, text in page.headings if level == 2]


def test_language_resolution_and_negotiation() -> None:
    assert resolve_language("hi") == "hi"
    assert resolve_language("hi-IN") == "hi"
    assert resolve_language("HI") == "hi"
    assert resolve_language("en-GB") == "en"
    assert resolve_language("ta") == "en"
    assert negotiate_language("ta-IN, hi;q=0.8, en;q=0.5") == "hi"
    assert negotiate_language("en-US,en;q=0.9,hi;q=0.8") == "en"
    assert negotiate_language("hi-IN") == "hi"
    assert negotiate_language("fr, de") is None
    assert negotiate_language("hi;q=0") is None
    assert negotiate_language("*") is None
    assert negotiate_language(";;,,q=x") is None
    assert negotiate_language("hi;q=abc, en") == "en"
    assert negotiate_language(None) is None


# --------------------------------------------------------------------------------------- example stores


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "policies").glob("*.yaml")), ids=lambda p: p.stem)
def test_example_policies_render(path: Path) -> None:
    document = load_policy(path).document
    page = parse(render_notice(document, "html", language="hi", base_url="https://shop.example"))
    assert page.errors == [] and page.stack == []
    view = json.loads(render_notice(document, "json"))
    assert len(view["items"]) == len(pairs(document))
    md = render_notice(document, "markdown")
    body = table_rows(md, "What we collect and why")[1:]
    assert len(body) == len(pairs(document))

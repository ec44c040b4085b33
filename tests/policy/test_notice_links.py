"""No dead promises in the notice (issue 9, item 7): every link of every rendered notice answers.

For each example policy and the demo policy, a live server publishes the policy and serves its notice in
HTML, Markdown and JSON, in English and Hindi. Every link found is checked:

- `#fragment` and links to this server: fetched, 200, and the fragment names an element of the page;
- `mailto:` and `tel:`: well-formed, and the address is one of the store's contacts in the policy;
- any other URL: one the policy itself gives (the store's website and contact pages, the authorities),
  https, checked for form only (no request leaves this machine).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

import httpx
import pytest

from browser_support import live_app
from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy.loader import load_policy
from fiduciary.policy.schema import PolicyDocument

ROOT = Path(__file__).resolve().parents[2]
POLICIES = [*sorted((ROOT / "examples" / "policies").glob("*.yaml")), DEMO_POLICY_PATH]
VARIANTS = (
    "/privacy",
    "/privacy?lang=hi",
    "/privacy.md",
    "/privacy.md?lang=hi",
    "/privacy.json",
    "/privacy.json?lang=hi",
)
EMAIL = re.compile(r"^mailto:([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})$")
TEL = re.compile(r"^tel:\+?[0-9][0-9 ()-]{5,}$")
MD_LINK = re.compile(r"\]\(<([^>]+)>\)|\]\(([^)\s]+)\)")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        for name in ("href", "src", "action"):
            if a.get(name) is not None:
                self.links.append(str(a[name]))


def html_links(text: str) -> tuple[list[str], set[str]]:
    parser = _Links()
    parser.feed(text)
    return parser.links, parser.ids


LINK_KEYS = frozenset({"url", "link", "notice", "rights", "withdraw_consent", "complain", "website", "policy_url"})


def json_links(value: Any, key: str = "") -> Iterator[str]:
    """Every link in the JSON view model: any URL or address anywhere, and whatever the link fields hold
    (a store's own text, such as an address line "#09-01", is not a link)."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from json_links(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from json_links(item, key)
    elif isinstance(value, str) and (key in LINK_KEYS or re.match(r"^(https?://|mailto:|tel:)", value)):
        yield value


def policy_contacts(document: PolicyDocument) -> tuple[set[str], set[str]]:
    """(email addresses, external URLs) the policy itself gives: the only ones a notice may link to."""
    contacts = document.contacts
    people = [contacts.grievance_officer, contacts.data_protection_officer, contacts.privacy_contact]
    people += [contacts.security, getattr(contacts, "cert_in_point_of_contact", None)]
    emails = {str(p.email) for p in people if p is not None and getattr(p, "email", None)}
    urls = {str(document.controller.website)}
    urls |= {str(a.url) for a in contacts.authorities if a.url}
    urls |= {str(o.url) for o in document.external_opt_outs}  # opt-out pages others run (issue 12)
    # GDPR Art 27 representatives, named in the notice with their contact details
    emails |= {str(r.email) for r in contacts.representatives if r.email}
    urls |= {str(r.url) for r in contacts.representatives if r.url}
    for p in people:
        for name in ("url", "policy_url"):
            if p is not None and getattr(p, name, None):
                urls.add(str(getattr(p, name)))
    return emails, urls


class Crawler:
    def __init__(self, base: str, document: PolicyDocument) -> None:
        self.base = base
        self.client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
        self.emails, self.urls = policy_contacts(document)
        self.pages: dict[str, tuple[int, set[str]]] = {}

    def page(self, path: str) -> tuple[int, set[str]]:
        """Status and element ids of a page of this server, fetched once."""
        if path not in self.pages:
            response = self.client.get(path)
            ids = (
                html_links(response.text)[1]
                if response.headers.get("content-type", "").startswith("text/html")
                else set()
            )
            self.pages[path] = (response.status_code, ids)
        return self.pages[path]

    def problem(self, link: str, page_path: str) -> str | None:
        """What is wrong with a link found on `page_path`, or None."""
        if link.startswith("#"):
            status, ids = self.page(page_path)
            return None if link[1:] in ids else "no element with that id on the page"
        if link.startswith("mailto:"):
            found = EMAIL.match(link)
            if not found:
                return "malformed mailto: link"
            return None if found.group(1) in self.emails else "not a contact address of the policy"
        if link.startswith("tel:"):
            return None if TEL.match(link) else "malformed tel: link"
        url, fragment = urldefrag(link)
        if url.startswith(self.base + "/") or url == self.base:
            path = url[len(self.base) :] or "/"
            status, ids = self.page(path)
            if status != 200:
                return f"answers {status}"
            return None if not fragment or fragment in ids else "no element with that id on the page"
        parts = urlsplit(link)
        if parts.scheme != "https" or not parts.hostname or " " in link:
            return "external link that is not a well-formed https URL"
        return None if link in self.urls else "external link the policy does not give"

    def problems(self) -> list[str]:
        out = []
        for variant in VARIANTS:
            response = self.client.get(variant)
            assert response.status_code == 200, (variant, response.text)
            text = response.text
            if variant.startswith("/privacy.json"):
                links = list(json_links(json.loads(text)))
            elif variant.startswith("/privacy.md"):
                links = [a or b for a, b in MD_LINK.findall(text)]
            else:
                links = html_links(text)[0]
            assert links, variant
            page_path = variant.split("?")[0] if not variant.startswith("/privacy?") else variant
            for link in dict.fromkeys(links):
                why = self.problem(link, page_path)
                if why:
                    out.append(f"{variant}: {link}: {why}")
        return out


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.stem)
def test_every_link_of_every_notice_answers(policy: Path, tmp_path: Path) -> None:
    document = load_policy(policy).document
    assert document is not None
    with live_app(tmp_path, policy_file=policy) as base:
        crawler = Crawler(base, document)
        found = crawler.problems()
        assert not found, "\n".join(found)
        # The checker itself can fail: a page that does not exist, a made-up address is not the store's.
        assert crawler.problem(f"{base}/no-such-page", "/privacy") == "answers 404"
        assert crawler.problem(f"{base}/privacy#no-such-section", "/privacy") == "no element with that id on the page"
        assert crawler.problem("mailto:someone@elsewhere.example", "/privacy") == "not a contact address of the policy"
        assert crawler.problem("https://cdn.example/x.js", "/privacy") == "external link the policy does not give"
        assert crawler.problem("tel:call-us", "/privacy") == "malformed tel: link"
        crawler.client.close()

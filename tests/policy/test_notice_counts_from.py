"""The notice says when an inactivity rule's period counts from a date (DPDP Third Schedule: from the last
contact or the Rules' commencement, whichever is later), in every format and in Hindi, and only then: the
sweep keeps exactly this (`InactivityTerms.due_at`, tests/retention/test_inactivity_commencement.py)."""

from __future__ import annotations

import json

from fiduciary.policy.loader import load_policy_text
from fiduciary.policy.notice import build_view, render_notice
from inactivity_support import inactivity_policy_text

EN = "If your last activity was before May 13, 2027, the period counts from that date."
HI = "यदि आपकी पिछली गतिविधि 13 मई 2027 से पहले की है, तो अवधि उसी तारीख़ से गिनी जाएगी।"


def _email_retention(text: str, language: str = "en") -> list[str]:
    document = load_policy_text(text).document
    found = [i.retention for i in build_view(document, language=language).items if i.category == "contact.email"]
    return [line for lines in found for line in lines]


def test_the_rule_with_counts_from_says_it_in_english_and_hindi() -> None:
    text = inactivity_policy_text("3y", "48h", "30d", counts_from="2027-05-13")
    english = [line for line in _email_retention(text) if "last activity" in line]
    assert english and all(EN in line for line in english)
    assert english[0].index("after your last activity") < english[0].index(EN)  # after the period it qualifies
    hindi = _email_retention(text, "hi")
    assert any(HI in line for line in hindi)
    document = load_policy_text(text).document
    assert EN in render_notice(document, "html") and EN in render_notice(document, "markdown")
    items = json.loads(render_notice(document, "json"))["items"]
    assert any(EN in line for item in items for line in item["retention"])


def test_without_counts_from_the_notice_names_no_date() -> None:
    text = inactivity_policy_text("3y", "48h", "30d")
    assert not any("counts from" in line for line in _email_retention(text))
    assert "counts from" not in render_notice(load_policy_text(text).document, "markdown")

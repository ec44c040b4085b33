"""What a message looks like in the inbox: a heading above its value, a link on a line of its own, and a
Hindi subject that keeps the spaces between its words through RFC 2047 encoding (found by the cases walkthrough,
tests/web/test_cases_walkthrough.py)."""

from __future__ import annotations

from datetime import date
from email import message_from_bytes, policy
from email.header import decode_header, make_header

import pytest
from sqlalchemy.orm import Session

from fiduciary.comms.delivery import deliver
from fiduciary.comms.messages import message_kind, render
from fiduciary.comms.outbox import send
from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.loader import load_policy
from fiduciary.runtime import Runtime
from fiduciary.unit_of_work import unit_of_work
from outbox_support import ADDRESS, new_person

NOTICE = {
    "reference": "cs_" + "a" * 26,
    "what_happened": "An order export was readable without signing in",
    "when": date(2026, 5, 4),
    "consequences": "Phishing messages that use your order details",
    "measures": "The export was closed and its keys rotated",
    "safety_steps": "Do not share one-time codes",
}
HEADINGS = {
    "en": ("What happened:", "When it happened:", "What it may mean for you:", "What you can do to protect yourself:"),
    "hi": ("क्या हुआ:", "यह कब हुआ:", "आपके लिए इसका क्या अर्थ हो सकता है:", "अपनी सुरक्षा के लिए आप क्या कर सकते हैं:"),
}


@pytest.fixture(scope="module")
def demo() -> CompiledPolicy:
    document = load_policy(DEMO_POLICY_PATH).document
    assert document is not None
    return CompiledPolicy.build(document, "sha256:demo")


@pytest.mark.parametrize("language", ["en", "hi"])
def test_each_heading_of_a_breach_notice_stands_above_its_value(demo: CompiledPolicy, language: str) -> None:
    """DPDP Rule 7(1)(a)-(d): what happened, when, what it may mean, what to do; each under its heading."""
    lines = render(message_kind("breach.notice"), demo, NOTICE, language).body.splitlines()
    for heading, value in zip(
        HEADINGS[language], (NOTICE["what_happened"], None, NOTICE["consequences"], NOTICE["safety_steps"]), strict=True
    ):
        assert heading in lines, (heading, lines)  # a line of its own, not run into its value
        after = lines[lines.index(heading) + 1]
        assert after == value if value is not None else after.endswith("2026"), (heading, after)


@pytest.mark.parametrize("language", ["en", "hi"])
def test_the_status_link_of_a_vulnerability_report_is_a_line_of_its_own(demo: CompiledPolicy, language: str) -> None:
    link = "https://privacy.saffronlane.example/security/reports/" + "T" * 32
    params = {"step": "received", "reference": "cs_" + "b" * 26, "link": link}
    lines = render(message_kind("cases.vulnerability.status"), demo, params, language).body.splitlines()
    assert link in lines, lines  # a mail client finds the link only when nothing is glued to it


def test_a_long_hindi_subject_keeps_its_spaces_in_the_mail(session: Session, runtime: Runtime) -> None:
    """RFC 2047 s.6.2: a reader drops the space between two encoded words, so each space must be encoded."""
    person = new_person(session, runtime)
    message = send(
        unit_of_work(runtime, session),
        kind="breach.notice",
        channel="email",
        to=ADDRESS,
        person_id=person,
        params=NOTICE,
        idempotency_key="breach.notice:layout",
        language="hi",
    )
    session.commit()
    subject = message.subject
    assert len(subject) > 60 and not subject.isascii() and " " in subject  # folded over lines when written
    assert deliver(runtime).sent == 1
    raw = (runtime.settings.data_dir / "outbox" / f"{message.id}.eml").read_bytes()
    header = raw.split(b"\n\n", 1)[0].decode("ascii")
    assert all(len(line) <= 78 for line in header.splitlines())  # RFC 5322 s.2.1.1
    folded = header.split("\nSubject:", 1)[1].split("\nDate:", 1)[0]
    assert str(make_header(decode_header(" ".join(folded.split())))) == subject  # as an RFC 2047 reader shows it
    mail = message_from_bytes(raw, policy=policy.default)
    assert str(mail["Subject"]).strip() == subject


@pytest.mark.parametrize("language", ["en", "hi"])
@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("rights.completed", {"reference": "rr_" + "a" * 26}),
        ("rights.erased", {"reference": "rr_" + "a" * 26, "kept": []}),
        (
            "rights.erased",
            {"reference": "rr_" + "a" * 26, "kept": [{"what": "Invoices", "count": 2, "why": "GST", "until": "2030"}]},
        ),
        ("inactivity.notice", {"erase_on": date(2027, 1, 4)}),
    ],
)
def test_paragraphs_are_parted_by_one_blank_line(
    demo: CompiledPolicy, kind: str, params: dict[str, object], language: str
) -> None:
    """`trim_blocks` used to eat the newline after every `{% endtrans %}`, running each paragraph into the
    next one in every mail; a paragraph left out by an `if` leaves no second blank line either."""
    body = render(message_kind(kind), demo, params, language).body
    paragraphs = body.split("\n\n")
    assert len(paragraphs) >= 3, body  # the message, …, the grievance officer's heading and contact
    assert "\n\n\n" not in body and body.endswith("\n") and not body.endswith("\n\n")
    assert paragraphs[-1].strip() == "Meera Iyer, Grievance Officer: grievance@saffronlane.example, +91 120 400 0000"

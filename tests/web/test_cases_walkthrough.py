"""Issue 16's "done when", end to end against a running `fiduciary serve` (and on PostgreSQL a `fiduciary worker`,
which runs the jobs there; on SQLite the server's own job runner does): what a customer, a researcher and the
store's staff see, over HTTP and in the outbox folder the dev server writes each message to.

1. A customer signs in to the privacy center with a code from their mail, files a complaint, is acknowledged
   with its reference; staff find it, reply and close it; the customer gets the reply and a closing message
   naming the authority to complain to next (DPDP s.13(3)); the audit trail holds each step, not the words.
2. A researcher finds the form in security.txt (RFC 9116), reports, follows the status page while staff
   acknowledge, triage with a CVSS 4.0 vector and reply; a wrong token shows nothing.
3. Staff open a breach, see its clocks run from the moment of awareness (CERT-In 6 hours, the Board's
   intimation, the 72-hour report, telling people; DPDP Rule 7, CERT-In Directions 2022), generate the
   regulators' reports and notify everyone holding the category, each once, in their language.
"""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from database_support import truncate_all
from jobs_support import serving_with_worker
from server_support import ServerProcess, customer_on_file

CENTER = "/privacy-center"
CUSTOMER = "walkthrough.complainant@example.org"
CARD = "4111 1111 1111 1111"  # a test card number pasted into a complaint: masked before it is stored
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
_CHALLENGE = re.compile(r'name="challenge_id" value="(vc_[0-9a-f]{32})"')
_CASE = re.compile(r"\b(cs_[0-9a-z]{26})\b")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    """One server per engine for the three walks (each starts in about as long as its walk takes; every walk
    reads only what it made); on PostgreSQL also a `fiduciary worker`, which runs the jobs there."""
    tmp_path = tmp_path_factory.mktemp(f"cases-walkthrough-{request.param}")
    if request.param == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'fiduciary.db'}"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "fiduciary.db")
    else:
        database_url = request.getfixturevalue("postgres_database")
        truncate_all(database_url)
    yield from serving_with_worker(database_url, tmp_path)


def browser(server: ServerProcess) -> httpx.Client:
    """A client keeping cookies as a browser does for http://127.0.0.1, a secure context (Chromium's rule), so
    the privacy center's `Secure` `__Host-` cookies come back to it as they would to the customer's browser."""
    client = httpx.Client(base_url=server.base_url, timeout=30, follow_redirects=True)

    def secure_context(_: httpx.Response) -> None:  # runs once the response's cookies are in the jar
        for cookie in client.cookies.jar:
            cookie.secure = False

    client.event_hooks["response"] = [secure_context]
    return client


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    language: str | None
    body: str


class Outbox:
    """The folder the dev server delivers to: each message read once, in the order asked for."""

    def __init__(self, server: ServerProcess) -> None:
        self.folder = server.data_dir / "outbox"
        self.seen: set[str] = set()

    def _read(self, path: Path) -> Mail:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        part = message.get_body(preferencelist=("plain",))
        body = part.get_content() if part is not None else ""
        subject = str(message["Subject"]).strip()  # the stdlib folds a long one before its first word
        return Mail(str(message["To"]), subject, message["Content-Language"], str(body))

    def wait(self, to: str, pattern: str, timeout: float = 30.0) -> Mail:
        """The first message not read before, to `to`, whose text matches `pattern`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for path in sorted(self.folder.glob("*.eml")) if self.folder.exists() else []:
                if path.name in self.seen:
                    continue
                mail = self._read(path)
                if mail.to == to and re.search(pattern, mail.body):
                    self.seen.add(path.name)
                    return mail
            time.sleep(0.1)
        raise AssertionError(f"no message to {to} matching {pattern!r} reached {self.folder}")

    def mentioning(self, text: str) -> list[Mail]:
        """Every message in the folder, read before or not, whose text holds `text`."""
        mails = [self._read(path) for path in sorted(self.folder.glob("*.eml"))]
        return [mail for mail in mails if text in mail.body]


def _csrf(page: httpx.Response) -> str:
    match = _CSRF.search(page.text)
    assert match is not None, page.text
    return match.group(1)


def sign_in(web: httpx.Client, outbox: Outbox, address: str) -> None:
    """The privacy center's sign-in: the address in a form, the code from the mail it sends, a session cookie."""
    form = web.get(f"{CENTER}/sign-in")
    assert form.status_code == 200
    asked = web.post(f"{CENTER}/sign-in", data={"csrf": _csrf(form), "kind": "email", "identifier": address})
    assert asked.status_code == 200, asked.text
    challenge = _CHALLENGE.search(asked.text)
    assert challenge is not None
    code = re.search(r"^ {4}([0-9]{6})$", outbox.wait(address, r"(?m)^ {4}[0-9]{6}$").body, re.MULTILINE)
    assert code is not None
    entered = web.post(
        f"{CENTER}/sign-in/code",
        data={"csrf": _csrf(asked), "challenge_id": challenge.group(1), "code": code.group(1)},
    )
    assert entered.status_code == 200 and entered.url.path == CENTER, entered.text  # the overview, signed in


def test_a_complaint_from_the_privacy_center_acknowledged_answered_and_closed(
    live: tuple[ServerProcess, dict[str, str]],
) -> None:
    server, admin = live
    outbox = Outbox(server)
    with browser(server) as web:
        person = customer_on_file(web, admin, CUSTOMER)
        sign_in(web, outbox, CUSTOMER)

        # The customer: the complaint form, a complaint with a card number pasted in, the acknowledgement.
        form = web.get(f"{CENTER}/complaint")
        assert form.status_code == 200 and 'name="complaint"' in form.text
        words = f"My order history was shown to another shopper; they even saw my card {CARD}."
        made = web.post(f"{CENTER}/complaint", data={"csrf": _csrf(form), "complaint": words})
        assert made.status_code == 200 and made.url.params.get("done") == "made", made.text
        assert "Your complaint was received" in made.text
        ack = outbox.wait(CUSTOMER, r"We received your complaint\. Its reference is cs_")
        reference = _CASE.search(ack.body)
        assert reference is not None
        case_id = reference.group(1)
        assert ack.subject.startswith("We received your complaint")
        assert "We will resolve it by" in ack.body and "Grievance Officer" in ack.body

        # Staff: the complaint in the grievances and in what is due (acknowledged at once: the resolve clock runs).
        listed = web.get("/v1/grievances", headers=admin).json()["items"]
        assert [g["id"] for g in listed] == [case_id] and listed[0]["person_id"] == person
        assert listed[0]["state"] == "acknowledged" and listed[0]["channel"] == "privacy_center"
        due = web.get("/v1/cases/due", params={"kind": "grievance"}, headers=admin).json()["items"]
        assert [(d["id"], d["clock"], d["overdue"]) for d in due] == [(case_id, "resolve", False)]
        shown = web.get(f"/v1/grievances/{case_id}", headers=admin).json()
        assert shown["text"].startswith("My order history was shown to another shopper")
        assert CARD not in shown["text"] and "[CARD_NUMBER]" in shown["text"] and shown["masked"] == {"card_number": 1}
        assert shown["answerable"] is True

        answer = "We have found the cause: a cached page. It is fixed, and we have checked no one else saw it."
        replied = web.post(f"/v1/grievances/{case_id}/replies", json={"text": answer}, headers=admin)
        assert replied.status_code == 201, replied.text
        told = outbox.wait(CUSTOMER, re.escape(f"About your complaint {case_id}:"))
        assert answer in told.body
        closed = web.post(
            f"/v1/grievances/{case_id}/close",
            json={"reason": "resolved", "text": "Thank you for telling us."},
            headers=admin,
        )
        assert closed.status_code == 200 and closed.json()["state"] == "closed", closed.text
        assert {c["name"]: c["status"] for c in closed.json()["clocks"]} == {"acknowledge": "met", "resolve": "met"}
        last = outbox.wait(CUSTOMER, re.escape(f"We resolved your complaint {case_id}."))
        # DPDP s.13(3): the closing message names where to complain next, the authority the policy lists.
        assert "If you are not satisfied with this answer, you can complain to:" in last.body
        assert "Data Protection Board of India" in last.body and "Thank you for telling us." in last.body
        assert web.get("/v1/cases/due", params={"kind": "grievance"}, headers=admin).json()["items"] == []

        # The audit trail: each step of the case, with the person, never the complaint's words.
        trail = web.get("/v1/audit", params={"person_id": person, "limit": 200}, headers=admin)
        events = [e for e in trail.json()["events"] if e["target"] == case_id]
        assert [e["action"] for e in events] == [
            "case.grievance.opened",
            "case.grievance.acknowledge",
            "case.grievance.replied",
            "case.grievance.replied",  # the closing words are kept with the case as a reply
            "case.grievance.close",
        ]
        assert "order history" not in trail.text and CARD not in trail.text and "cached page" not in trail.text


VECTOR = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N"
RESEARCHER = "researcher@example.net"


def test_a_vulnerability_report_followed_on_its_status_page(live: tuple[ServerProcess, dict[str, str]]) -> None:
    server, admin = live
    outbox = Outbox(server)
    with browser(server) as web:
        # RFC 9116: security.txt names the service's own report form as a contact.
        txt = web.get("/.well-known/security.txt")
        assert txt.status_code == 200 and txt.headers["content-type"].startswith("text/plain")
        assert f"Contact: {server.base_url}/security/report" in txt.text.splitlines()
        form = web.get("/security/report")
        assert form.status_code == 200

        submitted = web.post(
            "/security/report",
            data={
                "csrf": _csrf(form),
                "title": "Order export readable without signing in",
                "description": "GET /orders/export.csv answers 200 to a client without a session.",
                "affected": "https://saffronlane.example/orders/export.csv",
                "contact_email": RESEARCHER,
                "language": "en",
            },
            files={"attachments": ("request.txt", b"GET /orders/export.csv HTTP/1.1\r\n\r\n", "text/plain")},
            follow_redirects=False,
        )
        assert submitted.status_code == 303, submitted.text
        status_path = submitted.headers["location"].split("?")[0]
        token = status_path.rsplit("/", 1)[1]
        page = web.get(submitted.headers["location"])
        assert page.status_code == 200 and 'id="state">received<' in page.text
        assert f"{server.base_url}{status_path}" in page.text  # the one link to keep, shown once
        first = outbox.wait(RESEARCHER, r"Thank you for your security report\. Its reference is cs_")
        assert f"{server.base_url}{status_path}" in first.body
        reference = _CASE.search(first.body)
        assert reference is not None
        case_id = reference.group(1)

        # Staff: acknowledge, triage with a CVSS 4.0 vector (scored, with its severity), reply.
        def step(transition: str, **more: str) -> httpx.Response:
            body = {"transition": transition, **more}
            moved = web.post(f"/v1/vulnerability-reports/{case_id}/steps", json=body, headers=admin)
            assert moved.status_code == 200, moved.text
            return moved

        step("acknowledge")
        outbox.wait(RESEARCHER, re.escape(f"We have read your report {case_id}"))
        triaged = step("triage", cvss_vector=VECTOR).json()
        assert triaged["state"] == "triaged"
        severity = triaged["details"]["severity"]
        assert severity in ("Low", "Medium", "High", "Critical") and triaged["details"]["cvss_vector"] == VECTOR
        outbox.wait(RESEARCHER, re.escape(f"We have confirmed and rated your report {case_id}"))
        answer = "Confirmed: the export now needs a staff session. Thank you for the clear request log."
        replied = web.post(f"/v1/vulnerability-reports/{case_id}/replies", json={"text": answer}, headers=admin)
        assert replied.status_code == 201, replied.text
        assert answer in outbox.wait(RESEARCHER, re.escape(f"About your security report {case_id}:")).body

        # The researcher's status page (and its API) show the new state, the severity and the reply.
        page = web.get(status_path)
        assert page.status_code == 200 and 'id="state">triaged<' in page.text and f"Severity: {severity}" in page.text
        assert answer in page.text and "We have confirmed and rated your report" in page.text
        status = web.get(f"/v1/vulnerability-reports/status/{token}").json()
        assert status["state"] == "triaged" and status["severity"] == severity
        assert [s["step"] for s in status["steps"]] == ["received", "acknowledged", "triaged"]
        assert [r["text"] for r in status["replies"]] == [answer]

        # A wrong token gets the same nothing as a made-up one.
        wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
        for guess in (wrong, "x" * 32):
            missing = web.get(f"/security/reports/{guess}")
            assert missing.status_code == 404 and case_id not in missing.text and answer not in missing.text
            assert web.get(f"/v1/vulnerability-reports/status/{guess}").status_code == 404


AFFECTED = ("asha.breach@example.org", "bilal.breach@example.org", "chitra.breach@example.org")
HINDI = AFFECTED[1]
FACTS = {
    "summary": "An order export was readable without signing in",
    "location": "Saffron Lane's shop servers, Mumbai",
    "incident_type": "Data breach",
    "likely_consequences": "Phishing messages that use your order details",
    "measures_taken": "The export was closed and its keys rotated",
    "safety_measures": "Do not share one-time codes; we never ask for them",
    "circumstances": "A configuration change left the export public",
    "cause": "A deployment error; no outside party is known to have acted",
    "remedial_measures": "Exports now need a staff session, checked in every deployment",
}
CLOCK_HOURS = {"cert_in": 6, "authority_initial": 24, "authority_detailed": 72, "notify_people": 72}  # demo policy


def test_a_breach_with_its_clocks_reports_and_notices(live: tuple[ServerProcess, dict[str, str]]) -> None:
    server, admin = live
    outbox = Outbox(server)
    with browser(server) as web:
        # The store's customers since the faulty release (and one holding no email); anyone on file before it
        # (the other walks' people on this server) is outside the selection.
        released = datetime.now(UTC)
        for address in AFFECTED:
            hindi = address == HINDI  # their consent was given on the Hindi notice: their messages come in Hindi
            customer_on_file(
                web,
                admin,
                address,
                consent_channel="privacy_center" if hindi else None,
                language="hi" if hindi else None,
            )
        web.post("/v1/people", json={"is_child": False}, headers=admin).raise_for_status()

        # Staff open the incident: detected an hour ago; the clocks run from then, in parallel.
        detected = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        opened = web.post(
            "/v1/breaches",
            json={
                **FACTS,
                "detected_at": detected.isoformat(),
                "occurred_at": (detected - timedelta(hours=5)).isoformat(),
                "categories": ["contact.email"],
                "people_affected": 3,
                "records_affected": 3,
                "natures": ["confidentiality"],
                "systems": ["orders-export"],
            },
            headers=admin,
        )
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["id"]
        clocks = {c["name"]: c for c in web.get(f"/v1/breaches/{case_id}", headers=admin).json()["clocks"]}
        assert set(clocks) == set(CLOCK_HOURS)
        for name, hours in CLOCK_HOURS.items():
            assert datetime.fromisoformat(clocks[name]["due_at"]) == detected + timedelta(hours=hours), name
            assert clocks[name]["state"] == "running"
        due = web.get("/v1/cases/due", params={"kind": "breach"}, headers=admin).json()["items"]
        assert [d["clock"] for d in due] == ["cert_in", "authority_initial", "authority_detailed", "notify_people"]

        # The regulators' reports, filled from what staff recorded; CERT-In's first, within its 6 hours.
        cert_in = web.get(f"/v1/breaches/{case_id}/report", params={"kind": "cert_in"}, headers=admin).json()
        assert cert_in["missing"] == [] and cert_in["law"] == "CERT-In Directions 2022, direction (ii)"
        assert {f["name"]: f["value"] for f in cert_in["fields"]}["point_of_contact"].startswith("Arjun Rao")
        web.post(f"/v1/breaches/{case_id}/steps", json={"step": "report_cert_in"}, headers=admin).raise_for_status()
        initial = web.get(f"/v1/breaches/{case_id}/report", params={"kind": "dpdp_initial"}, headers=admin).json()
        assert initial["missing"] == [] and initial["incident"] == case_id
        html = web.get(
            f"/v1/breaches/{case_id}/report", params={"kind": "dpdp_initial", "format": "html"}, headers=admin
        )
        assert html.headers["content-type"].startswith("text/html") and FACTS["summary"] in html.text
        web.post(f"/v1/breaches/{case_id}/steps", json={"step": "inform_authority"}, headers=admin).raise_for_status()
        gdpr = web.get(f"/v1/breaches/{case_id}/report", params={"kind": "gdpr_art33", "format": "md"}, headers=admin)
        assert gdpr.headers["content-type"].startswith("text/markdown") and "GDPR Art 33(3)" in gdpr.text
        assert "_missing_" not in gdpr.text  # every field GDPR Art 33(3) asks for was recorded

        # Notify: everyone holding an email stored in the window, selected in one go; a notice each, sent by the
        # job runner in their language.
        window = {"stored_after": released.isoformat()}  # everyone whose email was stored since the release
        notified = web.post(f"/v1/breaches/{case_id}/notify", json=window, headers=admin)
        assert notified.status_code == 202 and notified.json()["selected"] == len(AFFECTED), notified.text
        notices = {a: outbox.wait(a, re.escape(case_id)) for a in AFFECTED}
        for address, notice in notices.items():
            assert notice.language == ("hi" if address == HINDI else "en"), address
            assert notice.subject.startswith("Important: a security incident") == (address != HINDI)
            assert FACTS["safety_measures"] in notice.body and "Meera Iyer" in notice.body
        assert "हम आपको एक व्यक्तिगत डेटा उल्लंघन के बारे में" in notices[HINDI].body
        assert notices[HINDI].subject.endswith("व्यक्तिगत डेटा को प्रभावित करती है")  # every space kept (RFC 2047)
        assert f"What happened:\n{FACTS['summary']}\n" in notices[AFFECTED[0]].body  # DPDP Rule 7(1)(a)
        assert "We are writing to tell you about a personal data breach" in notices[AFFECTED[0]].body

        def told() -> dict[str, int]:
            view = web.get(f"/v1/breaches/{case_id}", headers=admin).json()
            return dict(view["notified"])

        deadline = time.monotonic() + 30
        while told()["told"] < len(AFFECTED) and time.monotonic() < deadline:
            time.sleep(0.1)  # the batch marks its people told as it queues their messages
        assert told() == {"selected": 3, "told": 3, "without_contact": 0}
        view = web.get(f"/v1/breaches/{case_id}", headers=admin).json()
        states = {c["name"]: c["state"] for c in view["clocks"]}
        assert states == {
            "cert_in": "met",
            "authority_initial": "met",
            "authority_detailed": "running",
            "notify_people": "met",
        }
        detailed = web.get(f"/v1/breaches/{case_id}/report", params={"kind": "dpdp_detailed"}, headers=admin).json()
        intimations = {f["name"]: f["value"] for f in detailed["fields"]}["intimations"]
        assert detailed["missing"] == [] and intimations.startswith("3 of 3 affected people told")
        web.post(
            f"/v1/breaches/{case_id}/steps", json={"step": "send_detailed_report"}, headers=admin
        ).raise_for_status()

        # Each person told once, nobody outside the selection; a second notify queues nothing.
        again = web.post(f"/v1/breaches/{case_id}/notify", json=window, headers=admin)
        assert again.status_code == 202 and again.json() == {"added": 0, "selected": 3, "jobs": 0}
        assert sorted(m.to for m in outbox.mentioning(case_id)) == sorted(AFFECTED)
        steps = [e["step"] for e in web.get(f"/v1/breaches/{case_id}/timeline", headers=admin).json()["events"]]
        for expected in ("opened", "report_cert_in", "inform_authority", "select_affected", "notify_people"):
            assert expected in steps, (expected, steps)

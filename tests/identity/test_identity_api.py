"""The identity endpoints (issue 13 item 2): a code, a customer session, who am I, sign out; the backend's vouch.

The code a test types is read back from the message the outbox holds for the person (opened with the
person's key, as the deliverer does), so the whole path is the real one.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from identity_support import EMAIL, PHONE, STRANGER, T0, person_on_file
from sqlalchemy.orm import Session

from consent_support import api_headers
from fiduciary.comms.models import OutboxMessage
from fiduciary.identity.codes import ANSWER_FLOOR_SECONDS, MAX_ATTEMPTS
from fiduciary.identity.models import CustomerSessionRecord, VerificationCode
from fiduciary.identity.sessions import open_session
from fiduciary.people.service import create_person
from fiduciary.runtime import Runtime
from fiduciary.web.app import create_app
from leak_guard import LeakDetector
from outbox_support import newest_code

CODES, SESSIONS, CURRENT = "/v1/identity/codes", "/v1/identity/sessions", "/v1/identity/sessions/current"


def _ask(client: TestClient, identifier: str = EMAIL, kind: str = "email") -> httpx.Response:
    response: httpx.Response = client.post(CODES, json={"kind": kind, "identifier": identifier})
    return response


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _signed_in(client: TestClient, runtime: Runtime, session: Session, kind: str = "email") -> dict[str, Any]:
    challenge = _ask(client, EMAIL if kind == "email" else PHONE, kind).json()["challenge_id"]
    opened = client.post(SESSIONS, json={"challenge_id": challenge, "code": newest_code(runtime, session)})
    assert opened.status_code == 201, opened.text
    answer: dict[str, Any] = opened.json()
    return answer


def _other(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_code_then_session_then_whoami_then_sign_out(
    client: TestClient, runtime: Runtime, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    person_id = person_on_file(session, runtime)
    asked = _ask(client)
    assert asked.status_code == 202 and set(asked.json()) == {"challenge_id", "expires_at"}
    code = newest_code(runtime, session)
    opened = client.post(
        SESSIONS, json={"challenge_id": asked.json()["challenge_id"], "code": code[:3] + " " + code[3:]}
    )
    assert opened.status_code == 201 and set(opened.json()) == {"token", "session_id", "expires_at"}
    assert opened.headers["cache-control"] == "no-store"
    token = opened.json()["token"]
    me = client.get(CURRENT, headers=_bearer(token))
    assert me.status_code == 200 and me.headers["cache-control"] == "no-store"
    assert me.json() == {
        "session_id": opened.json()["session_id"],
        "person_id": person_id,
        "verified_by": "email_otp",
        "expires_at": opened.json()["expires_at"],
    }
    assert client.delete(CURRENT, headers=_bearer(token)).status_code == 204
    after = client.get(CURRENT, headers=_bearer(token))
    assert after.status_code == 401 and after.headers["www-authenticate"] == "Bearer"
    assert after.json()["code"] == "session_invalid"
    detector = LeakDetector(known=(token, token.split(".")[1], code, EMAIL))
    assert detector.scan(caplog.text, "logs") == []
    actions = session.scalars(sa.text("select action from audit_events order by ledger_position")).all()
    assert actions == ["session.open", "session.revoke"]


def test_a_phone_code_opens_an_sms_otp_session(client: TestClient, runtime: Runtime, session: Session) -> None:
    person_on_file(session, runtime)
    token = _signed_in(client, runtime, session, "phone")["token"]
    assert client.get(CURRENT, headers=_bearer(token)).json()["verified_by"] == "sms_otp"


def test_an_unknown_identifier_gets_the_same_answer_at_the_same_time(
    client: TestClient, runtime: Runtime, session: Session
) -> None:
    person_on_file(session, runtime)
    answers = []
    for identifier in (EMAIL, STRANGER):
        started = time.monotonic()
        answer = _ask(client, identifier)
        answers.append((answer.status_code, sorted(answer.json()), time.monotonic() - started >= ANSWER_FLOOR_SECONDS))
        assert re.fullmatch(r"vc_[0-9a-f]{32}", answer.json()["challenge_id"])
    assert answers[0] == answers[1] == (202, ["challenge_id", "expires_at"], True)
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1  # the stranger got nothing


def test_five_wrong_codes_lock_even_after_a_restart(client: TestClient, runtime: Runtime, session: Session) -> None:
    person_on_file(session, runtime)
    challenge = _ask(client).json()["challenge_id"]
    code = newest_code(runtime, session)
    seen = []
    for _ in range(MAX_ATTEMPTS):
        refused = client.post(SESSIONS, json={"challenge_id": challenge, "code": _other(code)})
        seen.append((refused.status_code, refused.json()["code"], refused.json()["attempts_left"]))
    assert seen == [(401, "code_wrong", n) for n in (4, 3, 2, 1)] + [(403, "code_locked", 0)]
    assert client.post(SESSIONS, json={"challenge_id": challenge, "code": code}).status_code == 403
    restarted = Runtime.start(runtime.settings, migrate=False)
    try:
        with TestClient(create_app(runtime=restarted)) as fresh:
            again = fresh.post(SESSIONS, json={"challenge_id": challenge, "code": code})
    finally:
        restarted.close()
    assert (again.status_code, again.json()["code"], again.json()["verdict"]) == (403, "code_locked", "locked")
    assert session.scalar(sa.select(sa.func.count()).select_from(CustomerSessionRecord)) == 0


def test_a_used_code_and_an_unknown_challenge_are_refused(
    client: TestClient, runtime: Runtime, session: Session
) -> None:
    person_on_file(session, runtime)
    challenge = _ask(client).json()["challenge_id"]
    code = newest_code(runtime, session)
    assert client.post(SESSIONS, json={"challenge_id": challenge, "code": code}).status_code == 201
    used = client.post(SESSIONS, json={"challenge_id": challenge, "code": code})
    assert (used.status_code, used.json()["code"]) == (401, "code_consumed")
    unknown = client.post(SESSIONS, json={"challenge_id": "vc_" + "0" * 32, "code": code})
    assert (unknown.status_code, unknown.json()["code"], unknown.json()["attempts_left"]) == (401, "code_wrong", 0)


def test_an_expired_code_is_refused(client: TestClient, runtime: Runtime, session: Session) -> None:
    person_on_file(session, runtime)
    challenge = _ask(client).json()["challenge_id"]
    code = newest_code(runtime, session)
    session.execute(sa.update(VerificationCode).values(expires_at=T0))  # issued long ago
    session.commit()
    expired = client.post(SESSIONS, json={"challenge_id": challenge, "code": code})
    assert (expired.status_code, expired.json()["code"]) == (401, "code_expired")


def test_an_expired_session_is_refused(client: TestClient, runtime: Runtime, session: Session) -> None:
    person_id = person_on_file(session, runtime)
    opened = open_session(runtime, session, person_id=person_id, verified_by="email_otp", now=T0)
    session.commit()
    answer = client.get(CURRENT, headers=_bearer(opened.token))
    assert answer.status_code == 401 and answer.json()["code"] == "session_invalid"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer cst_nope"},
        {"X-API-Key": "cst_" + "0" * 32 + "." + "A" * 43},
    ],
)
def test_without_a_valid_session_header_whoami_is_401(client: TestClient, headers: dict[str, str]) -> None:
    answer = client.get(CURRENT, headers=headers)
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert client.delete(CURRENT, headers=headers).status_code == 401


def test_the_token_is_read_from_the_header_only(client: TestClient, runtime: Runtime, session: Session) -> None:
    person_id = person_on_file(session, runtime)
    opened = open_session(runtime, session, person_id=person_id, verified_by="email_otp")
    session.commit()
    client.cookies.set("fiduciary_session", opened.token)
    assert client.get(CURRENT).status_code == 401
    client.cookies.clear()
    for name in ("token", "access_token", "session"):  # never from a URL: URLs end up in logs and Referer headers
        assert client.get(CURRENT, params={name: opened.token}).status_code == 401
    altered = opened.token[:-1] + ("A" if opened.token[-1] != "A" else "B")
    assert client.get(CURRENT, headers=_bearer(altered)).status_code == 401
    assert client.get(CURRENT, headers=_bearer(opened.token)).status_code == 200


def test_each_token_answers_for_its_own_person_only(client: TestClient, runtime: Runtime, session: Session) -> None:
    mine = person_on_file(session, runtime)
    theirs = create_person(session, policy=runtime.policy(), is_child=False).id
    session.commit()
    my_token = _signed_in(client, runtime, session)["token"]
    their_token = open_session(runtime, session, person_id=theirs, verified_by="signed_in_session").token
    session.commit()
    assert client.get(CURRENT, headers=_bearer(my_token)).json()["person_id"] == mine
    assert client.get(CURRENT, headers=_bearer(their_token)).json()["person_id"] == theirs
    assert client.delete(CURRENT, headers=_bearer(their_token)).status_code == 204
    assert client.get(CURRENT, headers=_bearer(my_token)).status_code == 200  # signing out one is not the other


def test_the_backend_vouches_for_its_signed_in_customer(client: TestClient, runtime: Runtime, session: Session) -> None:
    person_id = person_on_file(session, runtime)
    vouching = api_headers(session, ["sessions:write"])
    opened = client.post(f"/v1/people/{person_id}/sessions", headers=vouching)
    assert opened.status_code == 201 and opened.headers["cache-control"] == "no-store"
    me = client.get(CURRENT, headers=_bearer(opened.json()["token"])).json()
    assert (me["person_id"], me["verified_by"]) == (person_id, "signed_in_session")
    actor = session.scalar(sa.text("select actor from audit_events where action = 'session.open'"))
    assert actor is not None and vouching["Authorization"].split("_")[1] == actor
    unknown = client.post("/v1/people/per_" + "a" * 26 + "/sessions", headers=vouching)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "person_not_found")
    refused = client.post(f"/v1/people/{person_id}/sessions", headers=api_headers(session, ["people:write"]))
    assert refused.status_code == 403 and "sessions:write" in refused.json()["detail"]
    assert client.post(f"/v1/people/{person_id}/sessions").status_code == 401
    assert session.scalar(sa.select(sa.func.count()).select_from(CustomerSessionRecord)) == 1


def test_an_api_key_is_not_a_customer_session(client: TestClient, runtime: Runtime, session: Session) -> None:
    answer = client.get(CURRENT, headers=api_headers(session, ["people:read"]))
    assert answer.status_code == 401 and answer.json()["code"] == "session_invalid"


def test_too_many_codes_for_one_identifier_is_429(client: TestClient, runtime: Runtime, session: Session) -> None:
    person_on_file(session, runtime)
    statuses = [_ask(client, STRANGER).status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 429]
    limited = _ask(client, STRANGER)
    assert limited.json()["code"] == "too_many_codes" and int(limited.headers["retry-after"]) >= 1


@pytest.fixture
def tight(runtime: Runtime) -> Iterator[TestClient]:
    """A client whose public endpoints allow 3 requests a minute per address."""
    runtime.settings = runtime.settings.model_copy(update={"public_rate_limit_per_minute": 3})
    with TestClient(create_app(runtime=runtime)) as c:
        yield c


def test_the_public_rate_limit_covers_every_identity_endpoint(tight: TestClient) -> None:
    body = {"challenge_id": "vc_" + "0" * 32, "code": "123456"}
    statuses = [tight.post(SESSIONS, json=body).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    for answer in (tight.post(SESSIONS, json=body), tight.get(CURRENT), _ask(tight)):
        assert answer.status_code == 429 and answer.json()["code"] == "rate_limited"
        assert int(answer.headers["retry-after"]) >= 1


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (CODES, {"kind": "fax", "identifier": "x"}, "body.kind"),
        (CODES, {"kind": "email", "identifier": ""}, "body.identifier"),
        (CODES, {"kind": "email", "identifier": "someone", "extra": 1}, "body.extra"),
        (CODES, {"kind": "email", "identifier": EMAIL, "language": "not a language"}, "body.language"),
        (SESSIONS, {"challenge_id": "vc_1", "code": "123456"}, "body.challenge_id"),
        (SESSIONS, {"challenge_id": "vc_" + "0" * 32, "code": "12345"}, "body.code"),
        (SESSIONS, {"challenge_id": "vc_" + "0" * 32, "code": "12345a"}, "body.code"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    client: TestClient, session: Session, path: str, body: dict[str, Any], field: str
) -> None:
    answer = client.post(path, json=body)
    assert answer.status_code == 422 and [e["field"] for e in answer.json()["errors"]] == [field]
    assert session.scalar(sa.select(sa.func.count()).select_from(VerificationCode)) == 0


def test_an_identifier_that_is_not_an_email_is_422_without_echoing_it(client: TestClient, session: Session) -> None:
    answer = _ask(client, "asha at example dot org")
    assert answer.status_code == 422 and [e["field"] for e in answer.json()["errors"]] == ["body.identifier"]
    assert "asha" not in answer.text
    assert session.scalar(sa.select(sa.func.count()).select_from(VerificationCode)) == 0

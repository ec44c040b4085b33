"""One-time codes (issue 13 item 2): right once, wrong ×5 locks (across a restart), expiry, decoys, hashing."""

from __future__ import annotations

import hashlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa
from identity_support import ADDRESS, EMAIL, PHONE, STRANGER, T0, person_on_file
from sqlalchemy.orm import Session

from fiduciary.comms.models import OutboxMessage
from fiduciary.errors import ValidationFailed
from fiduciary.identity.codes import (
    ANSWER_FLOOR_SECONDS,
    MAX_ATTEMPTS,
    VALID_FOR,
    Issued,
    Verdict,
    issue_code,
    pace,
    verify_code,
)
from fiduciary.identity.models import VerificationCode
from fiduciary.runtime import Runtime
from leak_guard import LeakDetector


def _issue(runtime: Runtime, session: Session, identifier: str = EMAIL, kind: str = "email", **kw: object) -> Issued:
    issued = issue_code(runtime, session, kind=kind, identifier=identifier, client_address=ADDRESS, now=T0, **kw)  # type: ignore[arg-type]
    session.commit()
    return issued


def _other(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_right_code_verifies_once_then_is_consumed(runtime: Runtime, session: Session) -> None:
    person_id = person_on_file(session, runtime)
    issued = _issue(runtime, session)
    first = verify_code(runtime, session, issued.challenge_id, issued.code, now=T0 + timedelta(minutes=1))
    assert first.verdict is Verdict.OK and first.person_id == person_id
    again = verify_code(runtime, session, issued.challenge_id, issued.code, now=T0 + timedelta(minutes=2))
    assert again.verdict is Verdict.CONSUMED and again.person_id is None


def test_the_code_goes_to_the_outbox_for_email_and_sms(runtime: Runtime, session: Session) -> None:
    person_id = person_on_file(session, runtime)
    by_mail = _issue(runtime, session)
    by_sms = _issue(runtime, session, PHONE, "phone")
    rows = session.execute(
        sa.select(OutboxMessage.kind, OutboxMessage.channel, OutboxMessage.person_id, OutboxMessage.idempotency_key)
    ).all()
    assert sorted(rows) == sorted(
        [
            ("rights.code", "email", person_id, f"rights.code:{by_mail.challenge_id}"),
            ("rights.code", "sms", person_id, f"rights.code:{by_sms.challenge_id}"),
        ]
    )


def test_five_wrong_codes_lock_and_the_right_one_is_then_refused(runtime: Runtime, session: Session) -> None:
    person_on_file(session, runtime)
    issued = _issue(runtime, session)
    verdicts = [
        verify_code(runtime, session, issued.challenge_id, _other(issued.code), now=T0).verdict for _ in range(5)
    ]
    assert verdicts == [Verdict.WRONG] * (MAX_ATTEMPTS - 1) + [Verdict.LOCKED]
    assert verify_code(runtime, session, issued.challenge_id, issued.code, now=T0).verdict is Verdict.LOCKED


def test_the_lock_survives_a_restart(runtime: Runtime, session: Session) -> None:
    person_on_file(session, runtime)
    issued = _issue(runtime, session)
    for _ in range(MAX_ATTEMPTS):
        verify_code(runtime, session, issued.challenge_id, _other(issued.code), now=T0)
    session.close()
    restarted = Runtime.start(runtime.settings, migrate=False)
    try:
        with restarted.sessions() as fresh:
            result = verify_code(restarted, fresh, issued.challenge_id, issued.code, now=T0)
    finally:
        restarted.close()
    assert result.verdict is Verdict.LOCKED


def test_a_code_expires_at_exactly_ten_minutes(runtime: Runtime, session: Session) -> None:
    person_on_file(session, runtime)
    early, late = _issue(runtime, session), _issue(runtime, session)
    just_before = T0 + VALID_FOR - timedelta(microseconds=1)
    assert verify_code(runtime, session, early.challenge_id, early.code, now=just_before).verdict is Verdict.OK
    assert verify_code(runtime, session, late.challenge_id, late.code, now=T0 + VALID_FOR).verdict is Verdict.EXPIRED
    row = session.get(VerificationCode, late.challenge_id)
    assert row is not None and row.attempts == 0  # an expired challenge charges nothing


def test_an_unknown_identifier_gets_the_same_answer_and_a_challenge_that_never_verifies(
    runtime: Runtime, session: Session
) -> None:
    person_on_file(session, runtime)
    known, unknown = _issue(runtime, session), _issue(runtime, session, STRANGER)
    assert type(unknown) is type(known)
    assert unknown.challenge_id[:3] == known.challenge_id[:3] and len(unknown.challenge_id) == len(known.challenge_id)
    assert len(unknown.code) == 6 and unknown.code.isdigit()
    assert unknown.expires_at == known.expires_at
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1  # the stranger got nothing
    verdicts = [verify_code(runtime, session, unknown.challenge_id, unknown.code, now=T0).verdict for _ in range(5)]
    assert verdicts == [Verdict.WRONG] * (MAX_ATTEMPTS - 1) + [Verdict.LOCKED]  # exactly as a real one


def test_codes_are_stored_only_hashed(runtime: Runtime, session: Session) -> None:
    person_on_file(session, runtime)
    issued = _issue(runtime, session)
    with runtime.engine.connect() as connection:
        row = connection.execute(sa.text("select * from verification_codes")).mappings().one()
    stored = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row.values())
    assert issued.code.encode() not in stored
    assert EMAIL.encode() not in stored and hashlib.sha256(issued.code.encode()).digest() not in stored
    assert len(row["code_hash"]) == 32 and len(row["identifier_index"]) == 16


def test_neither_code_nor_identifier_reaches_logs_or_audit(
    runtime: Runtime, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    person_on_file(session, runtime)
    issued = _issue(runtime, session)
    decoy = _issue(runtime, session, STRANGER)
    for challenge in (issued, decoy):
        verify_code(runtime, session, challenge.challenge_id, _other(challenge.code), now=T0)
        verify_code(runtime, session, challenge.challenge_id, challenge.code, now=T0)
    detector = LeakDetector(known=(EMAIL, STRANGER, issued.code, decoy.code))
    assert detector.scan(caplog.text, "logs") == []
    with runtime.engine.connect() as connection:
        for table in ("audit_events", "ledger_events"):
            rows = connection.execute(sa.text(f"select * from {table}")).all()
            assert detector.scan(repr(rows), table) == []


@pytest.mark.parametrize(
    ("challenge", "code", "field"),
    [
        ("vc_" + "0" * 32, "12345", "code"),
        ("vc_" + "0" * 32, "12345a", "code"),
        ("vc_" + "0" * 32, "1234567", "code"),
        ("not-a-challenge", "123456", "challenge_id"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    runtime: Runtime, session: Session, challenge: str, code: str, field: str
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        verify_code(runtime, session, challenge, code, now=T0)
    assert [p.field for p in raised.value.fields] == [field]


def test_a_bad_identifier_names_the_field(runtime: Runtime, session: Session) -> None:
    with pytest.raises(ValidationFailed) as raised:
        _issue(runtime, session, "not an email")
    assert [p.field for p in raised.value.fields] == ["identifier"]
    assert "not an email" not in str(raised.value)
    assert session.scalar(sa.select(sa.func.count()).select_from(VerificationCode)) == 0


def test_concurrent_wrong_tries_never_get_past_the_limit(runtime: Runtime, session: Session) -> None:
    person_on_file(session, runtime)
    issued = _issue(runtime, session)

    def attempt(_: int) -> Verdict:
        with runtime.sessions() as own:
            return verify_code(runtime, own, issued.challenge_id, _other(issued.code), now=T0).verdict

    with ThreadPoolExecutor(max_workers=8) as pool:
        verdicts = list(pool.map(attempt, range(16)))
    assert verdicts.count(Verdict.WRONG) == MAX_ATTEMPTS - 1
    assert verdicts.count(Verdict.LOCKED) == 16 - (MAX_ATTEMPTS - 1)
    session.expire_all()
    row = session.get(VerificationCode, issued.challenge_id)
    assert row is not None and row.attempts == MAX_ATTEMPTS and row.locked_at is not None
    assert verify_code(runtime, session, issued.challenge_id, issued.code, now=T0).verdict is Verdict.LOCKED


def test_pace_holds_the_answer_to_the_same_floor_for_known_and_unknown(runtime: Runtime, session: Session) -> None:
    person_on_file(session, runtime)
    for identifier in (EMAIL, STRANGER):
        before = time.monotonic()
        issued = _issue(runtime, session, identifier)
        assert before <= issued.answer_at - ANSWER_FLOOR_SECONDS <= time.monotonic()
        pace(issued)
        assert time.monotonic() >= issued.answer_at

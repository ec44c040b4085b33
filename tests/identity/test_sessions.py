"""Customer sessions (issue 13 item 2): open, authenticate, expire, revoke; only a digest stored; audited."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa
from identity_support import T0, person_on_file
from sqlalchemy.orm import Session

from fiduciary.audit.models import AuditEventIndex
from fiduciary.errors import NotFound, Unauthorized, ValidationFailed
from fiduciary.identity.models import CustomerSessionRecord
from fiduciary.identity.sessions import (
    LAST_USED_EVERY,
    LIFETIME,
    CustomerSession,
    OpenedSession,
    authenticate,
    open_session,
    revoke,
    revoke_all_for_person,
)
from fiduciary.people.service import create_person
from fiduciary.personal_data.registry import registry_for
from fiduciary.runtime import Runtime
from leak_guard import LeakDetector


def _open(runtime: Runtime, session: Session, person_id: str, verified_by: str = "email_otp") -> OpenedSession:
    opened = open_session(runtime, session, person_id=person_id, verified_by=verified_by, now=T0)
    session.commit()
    return opened


def _refused(runtime: Runtime, session: Session, token: str, minutes: float = 1) -> str:
    with pytest.raises(Unauthorized) as raised:
        authenticate(runtime, session, token, now=T0 + timedelta(minutes=minutes))
    assert raised.value.status == 401
    return raised.value.code


def test_open_then_authenticate(runtime: Runtime, session: Session) -> None:
    person_id = person_on_file(session, runtime)
    opened = _open(runtime, session, person_id)
    assert opened.token.startswith("cst_") and opened.session_id.startswith("cs_")
    assert opened.session_id[3:] in opened.token and opened.expires_at == T0 + LIFETIME
    found = authenticate(runtime, session, opened.token, now=T0 + timedelta(minutes=5))
    assert found == CustomerSession(opened.session_id, person_id, "email_otp", T0 + LIFETIME)
    assert opened.token not in repr(opened)


def test_a_session_expires_at_exactly_thirty_minutes_however_it_is_used(runtime: Runtime, session: Session) -> None:
    person_id = person_on_file(session, runtime)
    opened = _open(runtime, session, person_id)
    for minute in range(0, 30, 5):  # use does not extend it
        authenticate(runtime, session, opened.token, now=T0 + timedelta(minutes=minute))
    authenticate(runtime, session, opened.token, now=T0 + LIFETIME - timedelta(microseconds=1))
    assert _refused(runtime, session, opened.token, minutes=30) == "session_invalid"


def test_a_revoked_session_authenticates_nobody(runtime: Runtime, session: Session) -> None:
    person_id = person_on_file(session, runtime)
    opened = _open(runtime, session, person_id)
    assert revoke(runtime, session, opened.session_id, now=T0) is True
    session.commit()
    _refused(runtime, session, opened.token)
    assert revoke(runtime, session, opened.session_id) is False  # already revoked: nothing written


def test_revoke_all_for_person_leaves_other_people_alone(runtime: Runtime, session: Session) -> None:
    person_id = person_on_file(session, runtime)
    other = create_person(session, policy=runtime.policy(), is_child=False).id
    session.commit()
    mine = [_open(runtime, session, person_id), _open(runtime, session, person_id, "sms_otp")]
    theirs = _open(runtime, session, other, "signed_in_session")
    assert revoke_all_for_person(session, person_id, now=T0) == 2
    session.commit()
    for opened in mine:
        _refused(runtime, session, opened.token)
    assert authenticate(runtime, session, theirs.token, now=T0).person_id == other
    assert revoke_all_for_person(session, person_id) == 0


def _altered(token: str, at: int) -> str:
    swap = "0" if token[at] != "0" else "1"
    return token[:at] + swap + token[at + 1 :]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: "",
        lambda t: "cst_",
        lambda t: t[:-1],  # one character short
        lambda t: t + "A",  # one character long
        lambda t: _altered(t, len(t) - 1),  # the secret's last character altered
        lambda t: _altered(t, 4),  # the id's first character altered
        lambda t: t.replace(".", "_"),
        lambda t: t.upper(),
        lambda t: "cst_" + "0" * 32 + "." + t.split(".")[1],  # the right secret under an unknown id
        lambda t: t + "x" * 500,
        lambda t: "Bearer " + t,
    ],
)
def test_malformed_unknown_and_altered_tokens_are_refused_alike(
    runtime: Runtime, session: Session, mangle: object
) -> None:
    person_id = person_on_file(session, runtime)
    opened = _open(runtime, session, person_id)
    assert callable(mangle)
    assert _refused(runtime, session, mangle(opened.token)) == "session_invalid"


def test_another_persons_secret_does_not_open_my_session(runtime: Runtime, session: Session) -> None:
    person_id = person_on_file(session, runtime)
    other = create_person(session, policy=runtime.policy(), is_child=False).id
    session.commit()
    mine, theirs = _open(runtime, session, person_id), _open(runtime, session, other)
    spliced = mine.token.split(".")[0] + "." + theirs.token.split(".")[1]
    _refused(runtime, session, spliced)
    assert authenticate(runtime, session, theirs.token, now=T0).person_id == other


def test_only_the_secrets_digest_is_stored(runtime: Runtime, session: Session) -> None:
    person_id = person_on_file(session, runtime)
    opened = _open(runtime, session, person_id)
    secret = opened.token.split(".")[1]
    with runtime.engine.connect() as connection:
        row = connection.execute(sa.text("select * from customer_sessions")).mappings().one()
    stored = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row.values())
    assert secret.encode() not in stored and opened.token.encode() not in stored
    assert row["token_hash"] == hashlib.sha256(secret.encode()).digest()


def test_last_used_is_written_at_most_once_a_minute(runtime: Runtime, session: Session) -> None:
    person_id = person_on_file(session, runtime)
    opened = _open(runtime, session, person_id)

    def last_used() -> object:
        session.commit()
        return session.scalar(sa.select(CustomerSessionRecord.last_used_at))

    authenticate(runtime, session, opened.token, now=T0)
    assert last_used() == T0
    authenticate(runtime, session, opened.token, now=T0 + LAST_USED_EVERY / 2)
    assert last_used() == T0
    authenticate(runtime, session, opened.token, now=T0 + LAST_USED_EVERY)
    assert last_used() == T0 + LAST_USED_EVERY


def test_opening_and_revoking_are_audited_without_the_token(
    runtime: Runtime, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    person_id = person_on_file(session, runtime)
    opened = _open(runtime, session, person_id, "sms_otp")
    revoke(runtime, session, opened.session_id, actor="staff-7")
    session.commit()
    rows = session.execute(
        sa.select(AuditEventIndex.action, AuditEventIndex.actor, AuditEventIndex.person_id).order_by(
            AuditEventIndex.ledger_position
        )
    ).all()
    assert [tuple(r) for r in rows] == [
        ("session.open", person_id, person_id),
        ("session.revoke", "staff-7", person_id),
    ]
    detector = LeakDetector(known=(opened.token, opened.token.split(".")[1]))
    assert detector.scan(caplog.text, "logs") == []
    with runtime.engine.connect() as connection:
        for table in ("audit_events", "ledger_events"):
            found = connection.execute(sa.text(f"select * from {table}")).all()
            assert detector.scan(repr(found), table) == []
            if table == "ledger_events":  # the events name the session by id: the scan read their payloads
                assert opened.session_id in repr(found)


def test_bad_input_names_the_field_and_writes_nothing(runtime: Runtime, session: Session) -> None:
    person_id = person_on_file(session, runtime)
    with pytest.raises(ValidationFailed) as raised:
        open_session(runtime, session, person_id=person_id, verified_by="a_hunch")
    assert [p.field for p in raised.value.fields] == ["verified_by"]
    with pytest.raises(ValidationFailed) as raised:
        open_session(runtime, session, person_id="someone", verified_by="email_otp")
    assert [p.field for p in raised.value.fields] == ["person_id"]
    with pytest.raises(NotFound):
        open_session(runtime, session, person_id="per_" + "a" * 26, verified_by="email_otp")
    with pytest.raises(ValidationFailed) as raised:
        revoke(runtime, session, "cs_nope")
    assert [p.field for p in raised.value.fields] == ["session_id"]
    with pytest.raises(NotFound):
        revoke(runtime, session, "cs_" + "0" * 32)
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(CustomerSessionRecord)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEventIndex)) == 0


def test_export_lists_sessions_without_digests_and_erasure_deletes_them(runtime: Runtime, session: Session) -> None:
    person_id = person_on_file(session, runtime)
    opened = _open(runtime, session, person_id)
    registry = registry_for(runtime)
    exported = registry.export_person(session, person_id)["domains"]["identity"]["customer_sessions"]
    assert [s["id"] for s in exported] == [opened.session_id]
    assert set(exported[0]) == {"id", "verified_by", "created_at", "expires_at", "last_used_at", "revoked_at"}
    assert registry.covered_tables()["customer_sessions"] == "identity"
    report = next(r for r in registry.erase_person(session, person_id).reports if r.domain == "identity")
    assert report.changed == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(CustomerSessionRecord)) == 0

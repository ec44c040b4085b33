"""`auth.flows`: creating and revoking an API key records the same audit events from the CLI, over HTTP and
in process, on both databases; the key row and its event commit or roll back together."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from audit_support import audit_rows
from fiduciary.audit.service import AuditEvent, AuditRecord, AuditTrail
from fiduciary.auth.flows import create_key_audited, revoke_key_audited
from fiduciary.auth.models import ApiKey
from fiduciary.auth.service import ID_LENGTH, KEY_PREFIX, create_api_key
from fiduciary.cli.main import app
from fiduciary.errors import Forbidden, ValidationFailed
from fiduciary.runtime import Runtime
from fiduciary.storage import session_scope

ENTRY_POINTS = ["cli", "http", "process"]
PROCESS_CALLER = "svc:embedded"


def manager(session: Session) -> tuple[ApiKey, dict[str, str]]:
    """A managing key holding `decisions`, made without the flow so it leaves no audit event."""
    row, plaintext = create_api_key(session, "manager", ["apikeys:manage", "decisions"])
    session.commit()
    return row, {"Authorization": f"Bearer {plaintext}"}


def create(entry: str, runtime: Runtime, client: TestClient, headers: dict[str, str], grantor: ApiKey) -> str:
    """Create a `decisions` key through one entry point; its id."""
    if entry == "cli":
        result = CliRunner().invoke(app, ["apikey", "create", "--name", "backend", "--scopes", "decisions"])
        assert result.exit_code == 0, result.output
        return result.stdout.strip()[len(KEY_PREFIX) : len(KEY_PREFIX) + ID_LENGTH]
    if entry == "http":
        r = client.post("/v1/apikeys", json={"name": "backend", "scopes": ["decisions"]}, headers=headers)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])
    with session_scope(runtime.sessions) as s:
        row, _ = create_key_audited(
            runtime,
            s,
            caller=PROCESS_CALLER,
            name="backend",
            scopes=["decisions"],
            grantor=s.get(ApiKey, grantor.id),
        )
        return row.id


def revoke(
    entry: str, runtime: Runtime, client: TestClient, headers: dict[str, str], grantor: ApiKey, key_id: str
) -> None:
    if entry == "cli":
        result = CliRunner().invoke(app, ["apikey", "revoke", key_id])
        assert result.exit_code == 0, result.output
    elif entry == "http":
        assert client.delete(f"/v1/apikeys/{key_id}", headers=headers).status_code == 204
    else:
        with session_scope(runtime.sessions) as s:
            revoke_key_audited(
                runtime,
                s,
                caller=PROCESS_CALLER,
                key_id=key_id,
                grantor=s.get(ApiKey, grantor.id),
            )


def events(session: Session) -> list[dict[str, Any]]:
    out = []
    for row in audit_rows(session):
        payload: dict[str, Any] = json.loads(row["payload"])
        assert (row["actor"], row["outcome"]) == (payload["actor"], payload["outcome"])
        out.append({"action": row["action"], **payload})
    return out


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_create_and_revoke_record_the_same_events(
    cli_env: None, runtime: Runtime, session: Session, client: TestClient, entry: str
) -> None:
    grantor, headers = manager(session)
    actor = {"cli": "cli", "http": grantor.id, "process": PROCESS_CALLER}[entry]

    key_id = create(entry, runtime, client, headers, grantor)
    revoke(entry, runtime, client, headers, grantor, key_id)
    revoke(entry, runtime, client, headers, grantor, key_id)  # idempotent, and audited each time

    recorded = events(session)
    request_ids = [e.pop("request", None) for e in recorded]
    assert all((r is not None) == (entry == "http") for r in request_ids)  # only HTTP has a request id
    assert recorded == [
        {"action": "apikey.create", "actor": actor, "outcome": "allowed", "target": key_id},
        {"action": "apikey.revoke", "actor": actor, "outcome": "allowed", "target": key_id},
        {"action": "apikey.revoke", "actor": actor, "outcome": "allowed", "target": key_id},
    ]
    session.expire_all()
    row = session.get(ApiKey, key_id)
    assert row is not None and row.revoked_at is not None and row.scopes == ["decisions"]


class FailsAfterRecording(AuditTrail):
    """A real audit trail that appends its event, then fails: the flow's last step going wrong."""

    def record_checked(
        self, session: Session, prepared: Sequence[tuple[AuditEvent, dict[str, Any]]]
    ) -> list[AuditRecord]:
        # record_many and the unit of work (at commit) both write through here
        super().record_checked(session, prepared)
        session.flush()
        raise RuntimeError("failed after the audit event was recorded")


def _keys(session: Session) -> list[tuple[str, bool]]:
    session.expire_all()
    return [(k.id, k.revoked_at is None) for k in session.scalars(sa.select(ApiKey).order_by(ApiKey.id))]


def test_a_failure_after_the_audit_event_leaves_neither(runtime: Runtime, session: Session) -> None:
    """Create and revoke run in the caller's transaction: the key change and its appended event roll back."""
    grantor, _ = manager(session)
    runtime.extras["audit.trail"] = FailsAfterRecording(runtime)  # the trail the unit of work writes through
    before = _keys(session)

    with pytest.raises(RuntimeError, match="after the audit event"), session_scope(runtime.sessions) as s:
        create_key_audited(runtime, s, caller=PROCESS_CALLER, name="backend", scopes=["decisions"])
    assert _keys(session) == before
    assert audit_rows(session) == []

    with pytest.raises(RuntimeError, match="after the audit event"), session_scope(runtime.sessions) as s:
        revoke_key_audited(runtime, s, caller=PROCESS_CALLER, key_id=grantor.id)
    assert _keys(session) == before  # still active
    assert audit_rows(session) == []


@pytest.mark.parametrize(
    ("name", "scopes", "error"),
    [
        ("", ["decisions"], ValidationFailed),
        ("backend", ["telepathy"], ValidationFailed),
        ("backend", ["admin"], Forbidden),  # the grantor cannot mint a key stronger than itself
    ],
)
def test_refused_create_stores_and_records_nothing(
    runtime: Runtime, session: Session, name: str, scopes: list[str], error: type[Exception]
) -> None:
    grantor, _ = manager(session)
    before = _keys(session)
    with pytest.raises(error), session_scope(runtime.sessions) as s:
        create_key_audited(
            runtime,
            s,
            caller=grantor.id,
            name=name,
            scopes=scopes,
            grantor=s.get(ApiKey, grantor.id),
        )
    assert _keys(session) == before
    assert audit_rows(session) == []


def test_revoking_a_stronger_key_is_forbidden(runtime: Runtime, session: Session) -> None:
    grantor, _ = manager(session)
    admin, _ = create_api_key(session, "admin", ["admin"])
    session.commit()
    with pytest.raises(Forbidden), session_scope(runtime.sessions) as s:
        revoke_key_audited(
            runtime,
            s,
            caller=grantor.id,
            key_id=admin.id,
            grantor=s.get(ApiKey, grantor.id),
        )
    assert (admin.id, True) in _keys(session)
    assert audit_rows(session) == []

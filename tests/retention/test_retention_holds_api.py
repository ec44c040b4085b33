"""`POST/GET/DELETE /v1/holds` (issue 15 item 2): scopes, bad input as problem+json naming the field, audit."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.audit.models import AuditEventIndex
from fiduciary.auth.scopes import Scope
from fiduciary.auth.service import create_api_key
from fiduciary.retention.models import RetentionHold


def _key(session: Session, *scopes: Scope) -> dict[str, str]:
    key = create_api_key(session, "holds-test", list(scopes))[1]
    session.commit()
    return {"Authorization": f"Bearer {key}"}


def test_place_list_and_release_a_hold(client: TestClient, session: Session) -> None:
    admin = _key(session, Scope.ADMIN)
    person = client.post("/v1/people", json={"is_child": False}, headers=admin).json()["id"]
    write, read = _key(session, Scope.HOLDS_WRITE), _key(session, Scope.HOLDS_READ)
    body = {"person_id": person, "reason": "authority_order", "until": "2030-01-31", "note": "order no. 12/2026"}
    placed = client.post("/v1/holds", json=body, headers=write)
    assert placed.status_code == 201, placed.text
    hold = placed.json()
    assert client.post("/v1/holds", json=body, headers=read).status_code == 403
    listed = client.get(f"/v1/holds?person_id={person}", headers=read).json()["holds"]
    assert [h["id"] for h in listed] == [hold["id"]] and listed[0]["until"] == "2030-01-31"
    released = client.delete(f"/v1/holds/{hold['id']}", headers=write)
    assert released.status_code == 200 and released.json()["released_at"] is not None
    again = client.delete(f"/v1/holds/{hold['id']}", headers=write)
    assert again.status_code == 409
    actions = set(session.scalars(sa.select(AuditEventIndex.action).where(AuditEventIndex.person_id == person)))
    assert {"retention.hold", "retention.release"} <= actions


def test_bad_holds_are_problems_naming_the_field_and_change_nothing(client: TestClient, session: Session) -> None:
    write = _key(session, Scope.HOLDS_WRITE)
    unknown = {"person_id": "per_" + "a" * 26, "reason": "dispute", "until": "2001-01-01", "category": "no.such"}
    response = client.post("/v1/holds", json=unknown, headers=write)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"person_id", "category", "until"} <= fields
    bad_reason = client.post("/v1/holds", json={**unknown, "reason": "whim"}, headers=write)
    assert bad_reason.status_code == 422
    missing = client.delete("/v1/holds/hold_" + "b" * 26, headers=write)
    assert missing.status_code == 404
    assert session.scalar(sa.select(sa.func.count()).select_from(RetentionHold)) == 0

"""The breach register over HTTP (both engines): open, bad input, steps, notify, reports, timeline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from breach_support import NOTICE_TEXTS, incident
from fiduciary.auth.scopes import Scope
from fiduciary.auth.service import create_api_key
from fiduciary.storage.base import utcnow

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def api(client: TestClient, session: Session) -> Iterator[TestClient]:
    _, secret = create_api_key(session, "breach-staff", [Scope.BREACHES_MANAGE])
    session.commit()
    client.headers["Authorization"] = f"Bearer {secret}"
    yield client


def test_open_a_breach_and_see_its_four_clocks(api: TestClient) -> None:
    response = api.post("/v1/breaches", json=incident())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"].startswith("cs_") and body["state"] == "open"
    assert {c["name"] for c in body["clocks"]} == {
        "cert_in",
        "authority_initial",
        "authority_detailed",
        "notify_people",
    }
    assert api.get(f"/v1/breaches/{body['id']}").json()["clocks"] == body["clocks"]


def test_a_detection_time_in_the_future_is_a_422_naming_the_field(api: TestClient) -> None:
    response = api.post("/v1/breaches", json=incident(detected_at=(utcnow() + timedelta(hours=3)).isoformat()))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "detected_at" in response.text
    assert "readable without signing in" not in response.text  # the incident's text is never echoed


def test_unknown_category_and_missing_scope(api: TestClient, client: TestClient, session: Session) -> None:
    response = api.post("/v1/breaches", json=incident(categories=["contact.fax"]))
    assert response.status_code == 422 and "categories" in response.text
    _, other = create_api_key(session, "rights-only", [Scope.RIGHTS_MANAGE])
    session.commit()
    refused = client.post("/v1/breaches", json=incident(), headers={"Authorization": f"Bearer {other}"})
    assert refused.status_code == 403


def test_steps_notify_reports_and_timeline(api: TestClient) -> None:
    case_id = api.post("/v1/breaches", json=incident(summary=f"Export {SCRIPT}")).json()["id"]
    step = api.post(f"/v1/breaches/{case_id}/steps", json={"step": "report_cert_in"})
    assert step.status_code == 200
    assert {c["name"]: c["state"] for c in step.json()["clocks"]}["cert_in"] == "met"
    future = api.post(
        f"/v1/breaches/{case_id}/steps",
        json={"step": "inform_authority", "at": (utcnow() + timedelta(hours=1)).isoformat()},
    )
    assert future.status_code == 422 and "at" in future.text
    assert api.post(f"/v1/breaches/{case_id}/notify", json={}).status_code == 422  # the notice is not complete
    assert api.patch(f"/v1/breaches/{case_id}", json=NOTICE_TEXTS).status_code == 200
    notified = api.post(f"/v1/breaches/{case_id}/notify", json={})
    assert notified.status_code == 202 and notified.json() == {"added": 0, "selected": 0, "jobs": 0}
    html = api.get(f"/v1/breaches/{case_id}/report", params={"kind": "dpdp_detailed", "format": "html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert SCRIPT not in html.text and "&lt;script&gt;" in html.text
    md = api.get(f"/v1/breaches/{case_id}/report", params={"kind": "gdpr_art33", "format": "md"})
    assert md.headers["content-type"].startswith("text/markdown") and "_missing_" in md.text
    report = api.get(f"/v1/breaches/{case_id}/report", params={"kind": "cert_in"}).json()
    assert "incident_type" in report["missing"]
    steps = [e["step"] for e in api.get(f"/v1/breaches/{case_id}/timeline").json()["events"]]
    assert steps == ["opened", "report_cert_in", "update", "select_affected"]
    closed = api.post(f"/v1/breaches/{case_id}/close", json={"reason": "resolved"})
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    again = api.post(f"/v1/breaches/{case_id}/steps", json={"step": "inform_authority"})
    assert again.status_code == 409


def test_an_unknown_breach_is_404_and_a_malformed_id_422(api: TestClient) -> None:
    assert api.get("/v1/breaches/cs_" + "a" * 26).status_code == 404
    assert api.get("/v1/breaches/nope").status_code == 422

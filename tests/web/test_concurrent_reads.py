"""Every read (GET) endpoint under 8 concurrent clients against a live server, on both engines: no 5xx.

Issue 8 saw `GET /v1/people/{id}/export` answer 500 for 30 of 65 requests from 8 clients on SQLite. Some
reads write (an export, an audit query and an API key's last-used time append or update rows), so readers
compete for SQLite's single writer; a read must wait its turn, never fail. The list of paths is checked
against the OpenAPI document, so a new GET endpoint cannot be left out of this test.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fiduciary.rights.packages.builder import build_package
from fiduciary.rights.packages.links import issue_link
from fiduciary.runtime import Runtime
from server_support import STORE_ORIGIN, ServerProcess, running_server

pytestmark = pytest.mark.slow

CLIENTS = 8
ROUNDS = 3  # each client asks every endpoint this many times, in its own random order


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    yield from running_server(database_url, tmp_path)


def _package_link(proc: ServerProcess, person: str) -> str:
    """A link to the person's access package, built with the server's settings (its keys and secret); enough
    downloads for every client's every round."""
    runtime = Runtime.start(proc.settings(), migrate=False)
    try:
        with runtime.sessions() as session:
            built = build_package(runtime, session, person_id=person, actor="cli")
            link = issue_link(runtime, session, built.package_id, max_downloads=CLIENTS * ROUNDS)
            session.commit()
    finally:
        runtime.close()
    return link.url_path


def _fixtures(client: httpx.Client, proc: ServerProcess) -> dict[str, str]:
    """Real ids for every path parameter: a person with fields, consent and a restriction, a receipt, a token,
    a package link."""
    person = client.post("/v1/people", json={"is_child": False}).json()["id"]
    client.put(
        f"/v1/people/{person}/fields",
        json={
            "purpose_of_collection": "account",
            "source": "provided",
            "fields": {"identity.name": "Asha Rao", "contact.email": "asha@example.com"},
        },
    ).raise_for_status()
    granted = client.post(
        "/v1/consents",
        json={
            "subject_id": person,
            "channel": "checkout",
            "actions": [{"purpose": "marketing.email", "action": "grant"}],
        },
    )
    granted.raise_for_status()
    client.post(f"/v1/people/{person}/restrictions", json={"purpose": "analytics", "kind": "objection"})
    headers = client.post("/v1/comms/unsubscribe-headers", json={"subject_id": person, "purpose": "marketing.email"})
    headers.raise_for_status()
    opened = client.post(f"/v1/people/{person}/sessions")  # a customer session, vouched by the backend
    opened.raise_for_status()
    asked = client.post("/v1/requests", json={"kind": "access", "person_id": person})  # waits for a code
    asked.raise_for_status()
    reported = client.post(  # a researcher's report with one attachment, for its staff and status reads
        "/v1/vulnerability-reports",
        data={"title": "Open redirect", "description": "The login page redirects anywhere."},
        files=[("attachments", ("poc.txt", b"GET /login?next=//evil.example\n", "text/plain"))],
    )
    reported.raise_for_status()
    breach = client.post(
        "/v1/breaches",
        json={
            "summary": "Export left open",
            "detected_at": "2026-01-05T10:00:00+05:30",
            "categories": ["contact.email"],
        },
    )
    breach.raise_for_status()
    complaint = client.post("/v1/grievances", json={"text": "My order arrived open.", "person_id": person})
    complaint.raise_for_status()
    return {
        "breach": breach.json()["id"],
        "report": reported.json()["id"],
        "status_token": reported.json()["status_token"],
        "request": asked.json()["id"],
        "grievance": complaint.json()["id"],
        "person": person,
        "position": str(granted.json()["results"][0]["ledger_position"]),
        "token": headers.json()["url"].rsplit("/", 1)[1],
        "customer": opened.json()["token"],
        "package": _package_link(proc, person),
    }


def _headers(ids: dict[str, str]) -> dict[str, dict[str, str]]:
    """OpenAPI path template → the headers it needs instead of the API key (a customer session's bearer)."""
    customer = {"Authorization": f"Bearer {ids['customer']}"}
    return {
        "/v1/identity/sessions/current": customer,
        "/v1/me/requests": customer,
        "/v1/me/requests/{request_id}": customer,
    }


def _paths(ids: dict[str, str]) -> dict[str, str]:
    """OpenAPI path template → a URL that reads something real through it."""
    person = ids["person"]
    report = f"/v1/vulnerability-reports/{ids['report']}"
    return {
        "/healthz": "/healthz",
        "/v1/policy": "/v1/policy",
        "/v1/policy/versions": "/v1/policy/versions",
        "/v1/policy/versions/{version}": "/v1/policy/versions/1",
        "/v1/policy/diff": "/v1/policy/diff?from=1&to=1",
        "/v1/policy/export": "/v1/policy/export?format=dpv",
        "/privacy": "/privacy?lang=hi",
        "/privacy.md": "/privacy.md",
        "/privacy.json": "/privacy.json",
        "/v1/apikeys/self": "/v1/apikeys/self",
        "/v1/apikeys": "/v1/apikeys",
        "/.well-known/fiduciary-keys.json": "/.well-known/fiduciary-keys.json",
        "/.well-known/gpc.json": "/.well-known/gpc.json",
        "/.well-known/security.txt": "/.well-known/security.txt",
        "/banner.js": "/banner.js",
        "/banner.css": "/banner.css",
        "/v1/banner/config": "/v1/banner/config",
        "/v1/consents/receipts/{position}": f"/v1/consents/receipts/{ids['position']}",
        "/v1/consents/{subject_id}": f"/v1/consents/{person}",
        "/v1/people/{person_id}": f"/v1/people/{person}",
        "/v1/people/{person_id}/restrictions": f"/v1/people/{person}/restrictions",
        "/u/{token}": f"/u/{ids['token']}",
        "/v1/audit": f"/v1/audit?person_id={person}&limit=5",
        "/v1/jobs/failed": "/v1/jobs/failed",
        "/v1/people/{person_id}/export": f"/v1/people/{person}/export",
        "/v1/packages/{token}": ids["package"],
        "/metrics": "/metrics",
        "/v1/identity/sessions/current": "/v1/identity/sessions/current",
        "/v1/requests": "/v1/requests?limit=5",
        "/v1/requests/{request_id}": f"/v1/requests/{ids['request']}",
        "/v1/me/requests": "/v1/me/requests",
        "/v1/me/requests/{request_id}": f"/v1/me/requests/{ids['request']}",
        "/v1/vulnerability-reports/status/{status_token}": f"/v1/vulnerability-reports/status/{ids['status_token']}",
        "/v1/vulnerability-reports/thanks": "/v1/vulnerability-reports/thanks",
        "/v1/vulnerability-reports/{case_id}": report,
        "/v1/vulnerability-reports/{case_id}/attachments/{number}": f"{report}/attachments/1",
        "/v1/breaches/{breach_id}": f"/v1/breaches/{ids['breach']}",
        "/v1/breaches/{breach_id}/timeline": f"/v1/breaches/{ids['breach']}/timeline",
        "/v1/breaches/{breach_id}/report": f"/v1/breaches/{ids['breach']}/report?kind=dpdp_detailed&format=html",
        "/v1/cases/due": "/v1/cases/due?within=90d&limit=5",
        "/v1/grievances": "/v1/grievances?limit=5",
        "/v1/grievances/{case_id}": f"/v1/grievances/{ids['grievance']}",
        "/v1/holds": f"/v1/holds?person_id={person}",
        "/v1/recipients": "/v1/recipients",
        "/v1/disclosures": f"/v1/disclosures?person_id={person}",
        "/v1/propagations": "/v1/propagations?state=unacknowledged",
        "/v1/requests/{request_id}/propagation": f"/v1/requests/{ids['request']}/propagation",
        "/v1/records-of-processing": "/v1/records-of-processing?format=csv",
    }


def test_every_get_endpoint_under_eight_concurrent_clients(live: tuple[ServerProcess, dict[str, str]]) -> None:
    proc, headers = live
    with httpx.Client(base_url=proc.base_url, headers=headers, timeout=120) as client:
        ids = _fixtures(client, proc)
        spec = client.get("/openapi.json").json()
    documented = {path for path, operations in spec["paths"].items() if "get" in operations}
    urls = _paths(ids)
    own_headers = _headers(ids)
    assert set(urls) == documented, f"add the new GET endpoints here: {sorted(documented ^ set(urls))}"

    answers: Counter[tuple[str, int]] = Counter()
    failures: list[str] = []
    lock = threading.Lock()

    def reader(seed: int) -> None:
        order = [template for template in urls for _ in range(ROUNDS)]
        random.Random(seed).shuffle(order)
        with httpx.Client(base_url=proc.base_url, headers=headers, timeout=120) as own:
            for template in order:
                answer = own.get(urls[template], headers={"Origin": STORE_ORIGIN, **own_headers.get(template, {})})
                with lock:
                    answers[(template, answer.status_code)] += 1
                    if answer.status_code >= 500:
                        failures.append(f"{template}: {answer.status_code} {answer.text[:200]}")

    threads = [threading.Thread(target=reader, args=(seed,)) for seed in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    # Every read answered what it answers alone (so the test exercised the endpoint, not a 4xx path).
    assert {template for template, status in answers if status != 200} == set(), answers
    assert sum(answers.values()) == CLIENTS * ROUNDS * len(urls)

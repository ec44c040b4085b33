"""The staff API of rights requests, end to end through HTTP: who may call it, the listing's order and paging,
each staff transition and its refusals, the bulk close that closes all or none, the person's code, and two
staff members acting on one request at once."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from consent_support import api_headers
from fiduciary.config import Settings
from fiduciary.rights import request_flows as flows
from fiduciary.rights.requests import MadeBy, NewRequest, get_request
from fiduciary.rights.states import State
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from requests_support import last_code, person_with_email, policy_with_rights

MISSING = "rr_" + "a" * 26


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Erasure waits for staff approval, may be extended by 30 days, and has one manual step."""
    policy = policy_with_rights(
        tmp_path,
        {
            "erasure": {
                "deadline": {"respond_within": "30d", "acknowledge_within": "2d", "extendable_by": "30d"},
                "staff_approval": True,
                "manual_steps": [{"system": "Order database", "action": "Delete the customer"}],
            }
        },
    )
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=policy)


@pytest.fixture
def headers(session: Session) -> dict[str, str]:
    return api_headers(session, ["rights:manage"])


def erasure_body(person: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "erasure", "person_id": person, **extra}


def waiting(client: TestClient, headers: dict[str, str], person: str) -> dict[str, Any]:
    """An erasure the store vouches for (signed in): it waits for staff approval."""
    made = client.post("/v1/requests", json=erasure_body(person, verified_by="signed_in_session"), headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["state"] == "awaiting_approval"
    return dict(made.json())


def fields(answer: httpx.Response) -> list[str]:
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    return [e["field"] for e in answer.json().get("errors", [])]


def test_a_request_is_made_with_rights_manage_and_never_with_people_write(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    person = person_with_email(session, runtime)
    writer = api_headers(session, ["people:write"])
    refused = client.post("/v1/requests", json=erasure_body(person), headers=writer)
    # Issue 13 item 9: a checkout backend's people:write creates people but cannot erase them.
    assert refused.status_code == 403 and refused.json()["code"] == "missing_scope"
    assert "rights:manage" in refused.json()["detail"]
    assert client.get("/v1/requests", headers=writer).status_code == 403
    made = client.post("/v1/requests", json=erasure_body(person), headers=headers)
    assert made.status_code == 201
    body = made.json()
    assert body["id"].startswith("rr_") and body["state"] == "identity_check"
    assert (body["kind"], body["person_id"], body["made_by"], body["channel"]) == ("erasure", person, "store", "email")
    assert body["deadline_status"] == "on_track" and body["extended"] is False
    assert [s["system"] for s in body["steps"]] == ["Order database"] and [h["action"] for h in body["history"]] == [
        "received",
        "ask_identity",
    ]
    assert "meera" not in made.text  # the address on file, where the code went, is never in an answer


def test_an_unknown_kind_is_a_problem_naming_kind(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    person = person_with_email(session, runtime)
    answer = client.post("/v1/requests", json={"kind": "teleport", "person_id": person}, headers=headers)
    assert answer.status_code == 422 and fields(answer) == ["kind"]
    assert "erasure" in answer.json()["errors"][0]["message"] and "teleport" not in answer.text
    listed = client.get("/v1/requests", params={"person_id": person}, headers=headers).json()
    assert listed == {"items": [], "next_cursor": None}


def test_the_listing_is_by_due_date_one_page_at_a_time(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    now = utcnow()
    ids = []
    for i, days_ago in enumerate((3, 40, 10, 0, 20)):  # received on five days: five due dates, one overdue
        person = person_with_email(session, runtime, f"listing{i}@example.org")
        new = NewRequest(
            kind="erasure",
            person_id=person,
            made_by=MadeBy.STORE,
            channel="email",
            verified_by="signed_in_session",
        )
        ids.append(flows.submit(runtime, session, new, actor="key_backend", now=now - timedelta(days=days_ago)).id)
        session.commit()
    seen: list[dict[str, Any]] = []
    pages = 0
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = client.get("/v1/requests", params=params, headers=headers)
        assert page.status_code == 200, page.text
        pages += 1
        seen.extend(page.json()["items"])
        if page.json()["next_cursor"] is None:
            break
        params["after"] = page.json()["next_cursor"]
    assert pages == 3 and len(seen) == 5
    expected = [ids[1], ids[4], ids[2], ids[0], ids[3]]  # oldest receipt, soonest deadline
    assert [item["id"] for item in seen] == expected
    assert [item["due_on"] for item in seen] == sorted(item["due_on"] for item in seen)
    assert all(item["steps"] is None and item["history"] is None for item in seen)  # only in a single answer
    overdue = client.get("/v1/requests", params={"status": "overdue"}, headers=headers).json()
    assert [(i["id"], i["deadline_status"]) for i in overdue["items"]] == [(ids[1], "overdue")]
    on_track = client.get("/v1/requests", params={"status": "on_track"}, headers=headers).json()["items"]
    assert ids[1] not in {i["id"] for i in on_track} and ids[3] in {i["id"] for i in on_track}
    closed = client.get("/v1/requests", params={"state": ["completed", "rejected"]}, headers=headers).json()
    assert closed["items"] == []
    flows.cancel(runtime, session, ids[4], actor="staff_1")  # closed: gone from the default listing of open ones
    session.commit()
    still_open = client.get("/v1/requests", headers=headers).json()["items"]
    assert [item["id"] for item in still_open] == [ids[1], ids[2], ids[0], ids[3]]
    cancelled = client.get("/v1/requests", params={"state": "cancelled"}, headers=headers).json()["items"]
    assert [item["id"] for item in cancelled] == [ids[4]]
    bad = client.get("/v1/requests", params={"after": "not-a-cursor"}, headers=headers)
    assert bad.status_code == 422 and fields(bad) == ["after"]
    assert client.get("/v1/requests", params={"state": "lost"}, headers=headers).status_code == 422


def test_one_request_with_its_steps_and_history(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    request = waiting(client, headers, person_with_email(session, runtime))
    url = f"/v1/requests/{request['id']}"
    approved = client.post(f"{url}/approve", headers=headers)
    assert approved.status_code == 200 and approved.json()["state"] == "in_progress"
    read = client.get(url, headers=headers).json()
    assert [(s["position"], s["system"], s["confirmed_by"]) for s in read["steps"]] == [(0, "Order database", None)]
    assert client.post(f"{url}/steps/confirm", json={"position": 1}, headers=headers).status_code == 422
    confirmed = client.post(f"{url}/steps/confirm", json={"position": 0}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    done = confirmed.json()
    assert done["state"] == "completed" and done["deadline_status"] is None and done["closed_at"]
    assert done["steps"][0]["confirmed_by"] and done["steps"][0]["confirmed_at"]
    assert [(h["action"], h["from_state"], h["to_state"]) for h in done["history"]] == [
        ("received", None, "received"),
        ("verify", "received", "awaiting_approval"),
        ("approve", "awaiting_approval", "in_progress"),
        ("confirm_step", "in_progress", "in_progress"),
        ("complete", "in_progress", "completed"),
    ]
    assert client.post(f"{url}/steps/confirm", json={"position": 0}, headers=headers).status_code == 409


def test_reject_with_a_reason_and_a_note(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    request = waiting(client, headers, person_with_email(session, runtime))
    url = f"/v1/requests/{request['id']}/reject"
    bad = client.post(url, json={"reason": "Not A Code", "note": "x"}, headers=headers)
    assert bad.status_code == 422 and fields(bad) == ["body.reason"]
    assert client.post(url, json={"reason": "unfounded"}, headers=headers).status_code == 422  # the note is owed
    rejected = client.post(url, json={"reason": "unfounded", "note": "We hold no account for you."}, headers=headers)
    assert rejected.status_code == 200
    body = rejected.json()
    assert (body["state"], body["outcome_reason"], body["outcome_note"]) == (
        "rejected",
        "unfounded",
        "We hold no account for you.",
    )
    again = client.post(url, json={"reason": "unfounded", "note": "again"}, headers=headers)
    assert again.status_code == 409


def test_extend_once_within_the_policy(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    request = waiting(client, headers, person_with_email(session, runtime))
    url = f"/v1/requests/{request['id']}/extend"
    due = date.fromisoformat(request["due_on"])
    beyond = client.post(url, json={"until": str(due + timedelta(days=45)), "reason": "Many systems."}, headers=headers)
    assert beyond.status_code == 422 and fields(beyond) == ["until"]
    assert get_request(session, request["id"]).extended_at is None
    until = due + timedelta(days=20)
    extended = client.post(url, json={"until": str(until), "reason": "Many systems to search."}, headers=headers)
    assert extended.status_code == 200, extended.text
    body = extended.json()
    assert body["due_on"] == str(until) and body["extended"] is True
    assert body["extension_reason"] == "Many systems to search."
    twice = client.post(url, json={"until": str(until + timedelta(days=1)), "reason": "More."}, headers=headers)
    assert twice.status_code == 422 and client.get(f"/v1/requests/{request['id']}", headers=headers).json()[
        "due_on"
    ] == str(until)


def test_cancel_then_refusals(client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]) -> None:
    request = waiting(client, headers, person_with_email(session, runtime))
    url = f"/v1/requests/{request['id']}"
    completed = client.post(f"{url}/complete", headers=headers)
    # An erasure is run by Fiduciary: staff cannot mark it done.
    assert completed.status_code == 409 and completed.json()["code"] == "request_completes_itself"
    cancelled = client.post(f"{url}/cancel", json={"note": "The person wrote to withdraw it."}, headers=headers)
    assert cancelled.status_code == 200
    assert (cancelled.json()["state"], cancelled.json()["outcome_reason"]) == ("cancelled", "withdrawn_by_person")
    assert client.post(f"{url}/cancel", headers=headers).status_code == 409
    assert client.post(f"{url}/approve", headers=headers).status_code == 409
    assert client.post(f"/v1/requests/{MISSING}/cancel", headers=headers).status_code == 404


def test_bulk_close_closes_all_or_none(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    first = waiting(client, headers, person_with_email(session, runtime, "close1@example.org"))["id"]
    second = waiting(client, headers, person_with_email(session, runtime, "close2@example.org"))["id"]
    items = [{"request_id": first, "reason": "duplicate"}, {"request_id": second, "reason": "bored"}]
    refused = client.post("/v1/requests/close", json={"items": items}, headers=headers)
    assert refused.status_code == 422 and fields(refused) == ["body.items.1.reason"]  # the schema lists the reasons
    session.expire_all()
    assert get_request(session, first).state == State.AWAITING_APPROVAL
    items[1]["reason"] = "unfounded"
    items[1]["note"] = "No order was ever placed."
    closed = client.post("/v1/requests/close", json={"items": items}, headers=headers)
    assert closed.status_code == 200 and closed.json() == {"closed": [first, second]}
    session.expire_all()
    assert (get_request(session, first).state, get_request(session, second).state) == (
        State.CANCELLED,
        State.REJECTED,
    )
    again = client.post("/v1/requests/close", json={"items": items[:1]}, headers=headers)
    assert again.status_code == 409


def test_the_persons_code_locks_after_five_wrong_ones(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    made = client.post("/v1/requests", json=erasure_body(person_with_email(session, runtime)), headers=headers)
    url = f"/v1/requests/{made.json()['id']}/code"
    right = last_code(session, runtime)
    wrong = "000000" if right != "000000" else "111111"
    first = client.post(url, json={"code": wrong})  # public: no key
    assert first.status_code == 401 and first.json()["code"] == "code_wrong"
    assert "Attempts left: 4" in first.json()["detail"] and wrong not in first.text
    answers = [client.post(url, json={"code": wrong}) for _ in range(4)]
    assert [a.status_code for a in answers] == [401, 401, 401, 403]
    assert answers[-1].json()["code"] == "code_locked"
    still = client.post(url, json={"code": right})
    assert still.status_code == 403 and still.json()["code"] == "code_locked"
    assert client.get(f"/v1/requests/{made.json()['id']}", headers=headers).json()["state"] == "identity_check"


def test_the_right_code_moves_the_request_on(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    made = client.post("/v1/requests", json=erasure_body(person_with_email(session, runtime)), headers=headers)
    url = f"/v1/requests/{made.json()['id']}/code"
    answer = client.post(url, json={"code": last_code(session, runtime)})
    assert answer.status_code == 200 and answer.json()["state"] == "awaiting_approval"
    assert client.post(url, json={"code": "123456"}).status_code == 409  # no code is awaited any more


def test_malformed_ids_in_the_path(client: TestClient, headers: dict[str, str]) -> None:
    for method, path in [("GET", "/v1/requests/rr_123"), ("POST", "/v1/requests/RR_x/approve")]:
        answer = client.request(method, path, headers=headers)
        assert answer.status_code == 422 and fields(answer) == ["path.request_id"]
    assert client.post("/v1/requests/rr_1/code", json={"code": "123456"}).status_code == 422
    assert client.get(f"/v1/requests/{MISSING}", headers=headers).status_code == 404


def test_two_staff_approving_at_once_one_wins(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    request = waiting(client, headers, person_with_email(session, runtime))
    url = f"/v1/requests/{request['id']}/approve"
    statuses: list[int] = []
    start = threading.Barrier(2)
    lock = threading.Lock()

    def approve() -> None:
        start.wait()
        answer = client.post(url, headers=headers)
        with lock:
            statuses.append(answer.status_code)

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    history = client.get(f"/v1/requests/{request['id']}", headers=headers).json()["history"]
    assert [h["action"] for h in history].count("approve") == 1

"""A withdrawal is seen by the very next decision over HTTP (issue 17: no correctness traded for speed).

`POST /v1/consents` and `POST /v1/decisions` run inline under the database gate on SQLite
(`web.deps.run_request_work`) and in the thread pool on PostgreSQL; either way the withdrawal is committed
before its 201, so a decision asked after the answer must deny. Several rounds, alternating, on one person.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from consent_support import api_headers, new_person
from fiduciary.runtime import Runtime


def test_each_withdrawal_and_grant_is_seen_by_the_next_decision(client: TestClient, runtime: Runtime) -> None:
    with runtime.sessions() as session:
        headers = api_headers(session, ["consent:write", "decisions"])
        person = new_person(session, runtime, is_child=False)
    ask = {"subject_id": person, "purpose": "marketing.email"}
    for _ in range(5):
        for action, allowed, reason in (("grant", True, "consent_given"), ("withdraw", False, "withdrawn")):
            change = {
                "subject_id": person,
                "channel": "checkout",
                "actions": [{"purpose": "marketing.email", "action": action}],
            }
            assert client.post("/v1/consents", json=change, headers=headers).status_code == 201
            answer = client.post("/v1/decisions", json=ask, headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["allow"] is allowed
            assert reason in answer.json()["reasons"]

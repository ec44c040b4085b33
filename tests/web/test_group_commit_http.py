"""Group commit over real HTTP (storage/group_commit.py): concurrent writes to a real `fiduciary serve` on
SQLite share COMMITs, and still every acknowledged write is durable, one failing request leaves the others
committed and nothing of its own, and a withdrawal is seen by the very next decision.

SQLite only: PostgreSQL has no database gate and keeps one COMMIT per request. The server is a child
process killed with SIGKILL (no shutdown handler, no teardown); the checks after the restart read the
database through the API and the ledger verifiers. tests/storage/test_group_commit.py makes the groups
deterministic in process; here many clients at once make them happen as they do in production.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from fiduciary.audit.models import AuditEventIndex
from fiduciary.audit.service import AuditTrail
from fiduciary.consent.service import ConsentService
from fiduciary.ledger.models import LedgerEvent
from fiduciary.runtime import Runtime
from server_support import STORE_ORIGIN, ServerProcess, running_server

pytestmark = pytest.mark.slow

CLIENTS = 12


@pytest.fixture
def server(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    path = tmp_path / "fiduciary.db"
    shutil.copyfile(sqlite_template, path)
    yield from running_server(f"sqlite:///{path}", tmp_path)


def _client(proc: ServerProcess, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=proc.base_url, headers=headers, timeout=60)


def _people(proc: ServerProcess, headers: dict[str, str], count: int) -> list[str]:
    with _client(proc, headers) as client:
        made = [client.post("/v1/people", json={"is_child": False}) for _ in range(count)]
    assert all(answer.status_code == 201 for answer in made)
    return [answer.json()["id"] for answer in made]


def _at_once(count: int, work: Callable[[int], None]) -> None:
    """`work(0) … work(count - 1)` in threads released together, so their requests queue at the gate."""
    start = threading.Barrier(count)

    def run(index: int) -> None:
        start.wait()
        work(index)

    with ThreadPoolExecutor(count) as pool:
        for future in [pool.submit(run, i) for i in range(count)]:
            future.result()


def _grant(subject: str, purpose: str = "marketing.email") -> dict[str, object]:
    return {"subject_id": subject, "channel": "checkout", "actions": [{"purpose": purpose, "action": "grant"}]}


def _audit_counts(proc: ServerProcess) -> dict[str | None, int]:
    """Audit events per person (creating and closing a person is audited too)."""
    runtime = Runtime.start(proc.settings(), migrate=False)
    try:
        with runtime.sessions() as session:
            rows = session.execute(
                sa.select(AuditEventIndex.person_id, sa.func.count()).group_by(AuditEventIndex.person_id)
            )
            return {person: int(count) for person, count in rows}
    finally:
        runtime.close()


def _verify(proc: ServerProcess) -> Runtime:
    runtime = Runtime.start(proc.settings(), migrate=False)
    with runtime.sessions() as session:
        assert ConsentService.for_runtime(runtime).ledger.verify(session).ok
        assert AuditTrail.for_runtime(runtime).ledger.verify(session).ok
    return runtime


def test_every_acknowledged_concurrent_write_survives_sigkill(server: tuple[ServerProcess, dict[str, str]]) -> None:
    proc, headers = server
    people = _people(proc, headers, CLIENTS * 4)
    acknowledged: list[tuple[str, str]] = []  # (subject, purpose) of each 201, API grants and banner choices
    stop = threading.Event()
    enough = threading.Event()
    lock = threading.Lock()

    def client_loop(index: int) -> None:
        with _client(proc, headers) as client:
            for turn in range(1_000):
                if stop.is_set():
                    return
                try:
                    if index % 3 == 0:  # a banner visitor's choice
                        body = {"actions": [{"purpose": "analytics", "action": "grant"}]}
                        answer = client.post("/v1/banner/consents", json=body, headers={"Origin": STORE_ORIGIN})
                        subject = answer.json()["visitor_id"] if answer.status_code == 201 else ""
                        acked = (subject, "analytics")
                    else:
                        subject = people[(index * 4 + turn) % len(people)]
                        purpose = ("marketing.email", "marketing.sms", "analytics")[turn % 3]
                        answer = client.post("/v1/consents", json=_grant(subject, purpose))
                        acked = (subject, purpose)
                except httpx.HTTPError:
                    return  # the server was killed under this request: it was never acknowledged
                assert answer.status_code == 201, answer.text
                with lock:
                    acknowledged.append(acked)
                    if len(acknowledged) >= 150:
                        enough.set()

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    assert enough.wait(timeout=240), "the clients did not get 150 answers"
    proc.kill()  # SIGKILL while the other requests are in flight, right after these answers arrived
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    with lock:
        survivors = list(acknowledged)
    assert len(survivors) >= 150

    proc.start()
    with _client(proc, headers) as client:
        for subject, purpose in survivors:
            answer = client.get(f"/v1/consents/{subject}")
            assert answer.status_code == 200, answer.text
            statuses = {p["purpose"]: p["status"] for p in answer.json()["purposes"]}
            assert statuses.get(purpose) == "granted", f"an acknowledged grant was lost: {subject} {purpose}"
    _verify(proc).close()


def test_a_failing_request_in_a_group_leaves_nothing_and_the_others_commit(
    server: tuple[ServerProcess, dict[str, str]],
) -> None:
    proc, headers = server
    people = _people(proc, headers, CLIENTS)
    refused = people[3::4]  # every fourth person's account is closed: their grant is refused (409)
    with _client(proc, headers) as client:
        for person in refused:
            assert client.post(f"/v1/people/{person}/close").status_code == 200
    audit_before = _audit_counts(proc)
    answers: dict[int, httpx.Response] = {}

    def post(index: int) -> None:
        with _client(proc, headers) as client:
            if index % 6 == 5:  # and a malformed one now and then (422)
                answers[index] = client.post("/v1/consents", json=_grant(people[index], "no.such.purpose"))
            else:
                answers[index] = client.post("/v1/consents", json=_grant(people[index]))

    for _ in range(3):  # three rounds; each round's requests arrive together
        answers.clear()
        _at_once(CLIENTS, post)
        for index, answer in answers.items():
            expected = 422 if index % 6 == 5 else 409 if people[index] in refused else 201
            assert answer.status_code == expected, (index, answer.text)

    accepted = {p for i, p in enumerate(people) if p not in refused and i % 6 != 5}
    malformed = [p for i, p in enumerate(people) if i % 6 == 5]
    runtime = _verify(proc)
    try:
        with runtime.sessions() as session:
            consent_events = list(
                session.scalars(sa.select(LedgerEvent.payload).where(LedgerEvent.stream == "consent"))
            )
            subjects_in_ledger = {p for p in people if any(p in payload for payload in consent_events)}
    finally:
        runtime.close()
    assert subjects_in_ledger == accepted  # every accepted grant, and no ledger append of a failed one
    audit_after = _audit_counts(proc)
    assert [audit_after.get(p) for p in malformed] == [audit_before.get(p) for p in malformed]
    with _client(proc, headers) as client:
        for person in accepted:
            purposes = {p["purpose"]: p["status"] for p in client.get(f"/v1/consents/{person}").json()["purposes"]}
            assert purposes["marketing.email"] == "granted"


def test_an_acknowledged_withdrawal_is_seen_by_the_next_decision_under_concurrency(
    server: tuple[ServerProcess, dict[str, str]],
) -> None:
    proc, headers = server
    people = _people(proc, headers, CLIENTS)

    def rounds(index: int) -> None:
        person = people[index]
        ask = {"subject_id": person, "purpose": "marketing.email"}
        with _client(proc, headers) as client:
            for _ in range(4):
                for action, allowed in (("grant", True), ("withdraw", False)):
                    change = {
                        "subject_id": person,
                        "channel": "checkout",
                        "actions": [{"purpose": "marketing.email", "action": action}],
                    }
                    assert client.post("/v1/consents", json=change).status_code == 201
                    answer = client.post("/v1/decisions", json=ask)
                    assert answer.status_code == 200, answer.text
                    assert answer.json()["allow"] is allowed, (person, action)

    _at_once(CLIENTS, rounds)

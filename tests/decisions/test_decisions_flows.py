"""`decisions.flows`: one decide-and-audit however it is asked — CLI, HTTP or in process — on both databases.

The same question must give the same answer and the same audit event (action, purpose, outcome, reasons,
categories, on_behalf_of); only the actor (and the HTTP request id) says which door it came through. The
flow runs in the caller's transaction, so a failure after its audit event was appended leaves nothing.
"""

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
from fiduciary.auth.service import create_api_key
from fiduciary.cli.main import app
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.decisions.flows import audience_audited, decide_audited, decide_many_audited
from fiduciary.decisions.service import DecisionRequest
from fiduciary.errors import NotFound
from fiduciary.people.models import Person
from fiduciary.people.service import create_person, new_person_id
from fiduciary.runtime import Runtime
from fiduciary.storage import session_scope

ENTRY_POINTS = ["cli", "http", "process"]
PROCESS_CALLER = "svc:embedded"
STAFF = "staff:7"
CATEGORIES = ["contact.email", "contact.phone"]


def people(session: Session, runtime: Runtime) -> tuple[str, str]:
    """Two adults; only the first has granted marketing.email."""
    granted = create_person(session, policy=runtime.policy(), is_child=False).id
    other = create_person(session, policy=runtime.policy(), is_child=False).id
    session.commit()
    ConsentService.for_runtime(runtime).record(
        session, ConsentInput(granted, "marketing.email", "grant", ConsentChannel.API)
    )
    session.commit()
    return granted, other


def api_key(session: Session) -> tuple[str, dict[str, str]]:
    row, plaintext = create_api_key(session, "flows-tests", ["decisions"])
    session.commit()
    return row.id, {"Authorization": f"Bearer {plaintext}"}


def ask(
    entry: str, runtime: Runtime, client: TestClient, headers: dict[str, str], subject_id: str, purpose: str
) -> dict[str, Any]:
    """Ask one question through one entry point; the answer in a common shape (or the refusal's code)."""
    if entry == "cli":
        args = ["decisions", "decide", subject_id, purpose, "--actor", STAFF, "--json"]
        for category in CATEGORIES:
            args += ["--category", category]
        result = CliRunner().invoke(app, args)
        if result.exit_code == 2:
            assert "No person has this id" in result.stderr, result.output
            return {"refused": "person_not_found"}
        assert result.exit_code in (0, 1), result.output
        body = json.loads(result.stdout)
        assert result.exit_code == (0 if body["allow"] else 1)
    elif entry == "http":
        r = client.post(
            "/v1/decisions",
            json={"subject_id": subject_id, "purpose": purpose, "categories": CATEGORIES, "actor": STAFF},
            headers=headers,
        )
        if r.status_code == 404:
            return {"refused": r.json()["code"]}
        assert r.status_code == 200, r.text
        body = r.json()
    else:
        try:
            with session_scope(runtime.sessions) as session:
                decision = decide_audited(
                    runtime,
                    session,
                    caller=PROCESS_CALLER,
                    subject_id=subject_id,
                    purpose=purpose,
                    categories=CATEGORIES,
                    actor=STAFF,
                )
        except NotFound as exc:
            return {"refused": exc.code}
        body = {
            "allow": decision.allow,
            "reasons": [str(r) for r in decision.reasons],
            "allowed_categories": sorted(decision.allowed_categories),
            "denied_categories": sorted(decision.denied_categories),
        }
    return {k: body[k] for k in ("allow", "reasons", "allowed_categories", "denied_categories")}


def only_event(session: Session) -> dict[str, Any]:
    rows = audit_rows(session)
    assert len(rows) == 1, rows
    payload: dict[str, Any] = json.loads(rows[0]["payload"])
    assert (rows[0]["actor"], rows[0]["action"], rows[0]["outcome"]) == (
        payload["actor"],
        "decision",
        payload["outcome"],
    )
    return payload


def expected_actor(entry: str, key_id: str) -> str:
    return {"cli": "cli", "http": key_id, "process": PROCESS_CALLER}[entry]


QUESTIONS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # name: (answer, audit event without actor, person and request id)
    "allow": (
        {
            "allow": True,
            "reasons": ["category_not_in_purpose", "consent_given"],
            "allowed_categories": ["contact.email"],
            "denied_categories": ["contact.phone"],
        },
        {
            "outcome": "allowed",
            "purpose": "marketing.email",
            "categories": CATEGORIES,
            "reasons": ["category_not_in_purpose", "consent_given"],
            "on_behalf_of": STAFF,
        },
    ),
    "deny": (
        {
            "allow": False,
            "reasons": ["category_not_in_purpose", "no_consent"],
            "allowed_categories": [],
            "denied_categories": CATEGORIES,
        },
        {
            "outcome": "denied",
            "purpose": "marketing.email",
            "categories": CATEGORIES,
            "reasons": ["category_not_in_purpose", "no_consent"],
            "on_behalf_of": STAFF,
        },
    ),
    "unknown_person": (
        {"refused": "person_not_found"},
        {
            "outcome": "denied",
            "purpose": "account",
            "categories": CATEGORIES,
            "reasons": ["unknown_subject"],
            "on_behalf_of": STAFF,
        },
    ),
}


@pytest.mark.parametrize("question", list(QUESTIONS))
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_same_question_same_answer_same_audit_event(
    cli_env: None, runtime: Runtime, session: Session, client: TestClient, entry: str, question: str
) -> None:
    granted, other = people(session, runtime)
    key_id, headers = api_key(session)
    subject, purpose = {
        "allow": (granted, "marketing.email"),
        "deny": (other, "marketing.email"),
        "unknown_person": (new_person_id(), "account"),
    }[question]
    answer, event = QUESTIONS[question]
    assert audit_rows(session) == []

    assert ask(entry, runtime, client, headers, subject, purpose) == answer

    payload = only_event(session)
    assert payload.pop("actor") == expected_actor(entry, key_id)
    assert payload.pop("person") == subject
    request_id = payload.pop("request", None)
    assert (request_id is not None) == (entry == "http")  # only HTTP has a request id to correlate
    assert payload == event


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_audience_is_audited_the_same_way(
    cli_env: None, runtime: Runtime, session: Session, client: TestClient, entry: str
) -> None:
    granted, _ = people(session, runtime)
    key_id, headers = api_key(session)
    if entry == "cli":
        result = CliRunner().invoke(app, ["decisions", "audience", "marketing.email", "--channel", "email"])
        assert (result.exit_code, result.stdout) == (0, f"{granted}\n"), result.output
    elif entry == "http":
        r = client.post("/v1/audiences", json={"purpose": "marketing.email", "channel": "email"}, headers=headers)
        assert (r.status_code, r.text) == (200, f'{{"subject_id":"{granted}"}}\n')
    else:
        with session_scope(runtime.sessions) as s:
            audience_audited(runtime, s, caller=PROCESS_CALLER, purpose="marketing.email", channel="email")
    rows = audit_rows(session)
    assert len(rows) == 1, rows
    payload = json.loads(rows[0]["payload"])
    payload.pop("request", None)
    assert payload == {
        "actor": expected_actor(entry, key_id),
        "outcome": "allowed",
        "purpose": "marketing.email",
        "target": "email",
    }
    assert rows[0]["action"] == "audience"


class FailsAfterRecording(AuditTrail):
    """A real audit trail that appends its events, then fails: the flow's last step going wrong."""

    appended = 0

    def record_checked(
        self, session: Session, prepared: Sequence[tuple[AuditEvent, dict[str, Any]]]
    ) -> list[AuditRecord]:
        # record_many and the unit of work (at commit) both write through here
        records = super().record_checked(session, prepared)
        session.flush()
        FailsAfterRecording.appended += len(records)
        raise RuntimeError("failed after the audit event was recorded")


@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
def test_a_failure_after_the_audit_event_leaves_neither(
    runtime: Runtime, session: Session, batch: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flow runs in the caller's transaction: the caller's own change (a new person) and the decision's
    audit event, already appended when the failure comes, roll back together."""
    granted, _ = people(session, runtime)
    monkeypatch.setitem(runtime.extras, "audit.trail", FailsAfterRecording(runtime))
    monkeypatch.setattr(FailsAfterRecording, "appended", 0)
    people_before = session.scalar(sa.select(sa.func.count()).select_from(Person))

    with pytest.raises(RuntimeError, match="after the audit event"), session_scope(runtime.sessions) as s:
        create_person(s, policy=runtime.policy(), is_child=False)  # the caller's change
        if batch:
            decide_many_audited(
                runtime,
                s,
                caller=PROCESS_CALLER,
                requests=[DecisionRequest(granted, "marketing.email"), DecisionRequest(granted, "account")],
            )
        else:
            decide_audited(runtime, s, caller=PROCESS_CALLER, subject_id=granted, purpose="marketing.email")

    assert FailsAfterRecording.appended == (2 if batch else 1)  # the events were written before the failure
    assert audit_rows(session) == []
    assert session.scalar(sa.select(sa.func.count()).select_from(Person)) == people_before


def test_batch_in_process_records_one_event_per_decision(runtime: Runtime, session: Session) -> None:
    granted, other = people(session, runtime)
    with session_scope(runtime.sessions) as s:
        made = decide_many_audited(
            runtime,
            s,
            caller=PROCESS_CALLER,
            requests=[DecisionRequest(granted, "marketing.email"), DecisionRequest(other, "marketing.email")],
            actor=STAFF,
        )
    assert [d.allow for d in made] == [True, False]
    events = [json.loads(r["payload"]) for r in audit_rows(session)]
    assert [(e["person"], e["outcome"], e["on_behalf_of"]) for e in events] == [
        (granted, "allowed", STAFF),
        (other, "denied", STAFF),
    ]

"""Decisions that take the person's jurisdiction into account (issue 12 item 1), on both databases.

The policy serves India, the EU, the UK and California (tests/jurisdictions_support.py). `recommendations`
rests on consent in India and on legitimate interests in the EU and UK; `fraud_screening` is a DPDP
s.17(1)(c) exemption in India and legitimate interests in the EU and UK. The same person and purpose
get a different answer by jurisdiction; without one, the purpose's own ground decides, as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from audit_support import audit_rows
from cli_support import init_data_folder
from fiduciary.auth.service import create_api_key
from fiduciary.cli.decisions import app
from fiduciary.config import get_settings
from fiduciary.decisions.flows import decide_audited
from fiduciary.decisions.service import DecisionRequest, DecisionService
from fiduciary.errors import ValidationFailed
from fiduciary.people.service import create_person
from fiduciary.policy import versions
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.schema import Jurisdiction, LegalGround
from fiduciary.runtime import Runtime
from fiduciary.sdk import FiduciaryClient
from fiduciary.sdk.client import DecisionQuery
from jurisdictions_support import three_jurisdictions_document

RECS, FRAUD = "recommendations", "fraud_screening"


@pytest.fixture
def three(runtime: Runtime, session: Session) -> Runtime:
    """The three-jurisdiction policy published over the demo."""
    versions.publish(session, three_jurisdictions_document(), "# three jurisdictions (test)\n")
    session.commit()
    assert runtime.policy().document.controller.jurisdictions == list(Jurisdiction)
    return runtime


def adult(session: Session, runtime: Runtime) -> str:
    pid = create_person(session, policy=runtime.policy(), is_child=False).id
    session.commit()
    return pid


@pytest.fixture
def headers(session: Session) -> dict[str, str]:
    _, plaintext = create_api_key(session, "jurisdiction-tests", ["decisions"])
    session.commit()
    return {"Authorization": f"Bearer {plaintext}"}


# ------------------------------------------------------------------------------------- compiled policy


def test_compiled_policy_gives_the_ground_per_jurisdiction() -> None:
    policy = CompiledPolicy.build(three_jurisdictions_document(), "sha256:three")
    assert policy.ground(RECS) is LegalGround.CONSENT
    assert policy.ground(RECS, Jurisdiction.IN) is LegalGround.CONSENT
    assert policy.ground(RECS, Jurisdiction.US_CA) is LegalGround.CONSENT  # no entry: the purpose's own
    assert policy.ground(RECS, Jurisdiction.EU) is LegalGround.LEGITIMATE_INTERESTS
    assert policy.ground(FRAUD, Jurisdiction.IN) is LegalGround.EXEMPTION
    assert policy.ground(FRAUD, Jurisdiction.UK) is LegalGround.LEGITIMATE_INTERESTS
    assert policy.ground("undeclared") is None
    eu, india = policy.purpose(FRAUD, Jurisdiction.EU), policy.purpose(FRAUD, Jurisdiction.IN)
    assert eu is not None and india is not None
    assert (eu.objectable, eu.child_exempt) == (True, False)  # GDPR Art 21 objection stops it
    assert (india.objectable, india.child_exempt) == (False, True)  # DPDP s.17(1) does not yield
    # A jurisdiction with no ground of its own shares the default mapping: nothing compiled twice.
    assert policy.purposes_for(Jurisdiction.US_CA) is policy.compiled_purposes
    assert RECS in policy.consent_purposes


def test_single_law_policy_compiles_as_before(runtime: Runtime) -> None:
    policy = runtime.policy()
    assert policy.by_jurisdiction == {Jurisdiction.IN: policy.compiled_purposes}
    assert policy.purposes_for(None) is policy.compiled_purposes


# ----------------------------------------------------------------------------------------- in process


def test_in_process_answer_differs_by_jurisdiction(three: Runtime, session: Session) -> None:
    pid = adult(session, three)
    ctx = DecisionService(three).prepare(session, [pid])
    assert ctx.decide(pid, RECS).reasons == ("no_consent",)  # as before: the purpose's own ground
    assert ctx.decide(pid, RECS, jurisdiction=Jurisdiction.IN).reasons == ("no_consent",)
    assert ctx.decide(pid, RECS, jurisdiction=Jurisdiction.US_CA).reasons == ("no_consent",)
    eu = ctx.decide(pid, RECS, jurisdiction=Jurisdiction.EU)
    assert (eu.allow, eu.reasons) == (True, ("legal_ground",))

    # A child: a DPDP s.17(1) exemption runs without a guardian (s.17 disapplies Chapter II, s.9 with it);
    # legitimate interests in the UK needs the guardian's consent as any other purpose does for a child.
    child = create_person(session, policy=three.policy(), is_child=True).id
    session.commit()
    ctx = DecisionService(three).prepare(session, [child])
    assert ctx.decide(child, FRAUD, jurisdiction=Jurisdiction.IN).allow
    uk = ctx.decide(child, FRAUD, jurisdiction=Jurisdiction.UK)
    assert (uk.allow, uk.reasons) == (False, ("guardian_consent_required",))


def test_flow_decides_by_jurisdiction_and_audits(three: Runtime, session: Session) -> None:
    pid = adult(session, three)
    before = len(audit_rows(session))
    d = decide_audited(three, session, caller="test", subject_id=pid, purpose=RECS, jurisdiction="EU")
    session.commit()
    assert d.allow
    assert len(audit_rows(session)) == before + 1


@pytest.mark.parametrize(("value", "message"), [("FR", "must be one of IN, EU, UK, US-CA"), ("eu", "must be one")])
def test_unknown_jurisdiction_is_refused_and_records_nothing(
    three: Runtime, session: Session, value: str, message: str
) -> None:
    pid = adult(session, three)
    before = len(audit_rows(session))
    with pytest.raises(ValidationFailed) as raised:
        decide_audited(three, session, caller="test", subject_id=pid, purpose=RECS, jurisdiction=value)
    assert [f.field for f in raised.value.fields] == ["jurisdiction"]
    assert message in raised.value.fields[0].message
    session.rollback()
    assert len(audit_rows(session)) == before


def test_undeclared_jurisdiction_is_refused(runtime: Runtime, session: Session) -> None:
    """The demo policy serves India only: deciding for an EU resident would be a guess."""
    pid = adult(session, runtime)
    with pytest.raises(ValidationFailed) as raised:
        DecisionService(runtime).decide_many(
            session, "test", [DecisionRequest(pid, "account"), DecisionRequest(pid, "account", (), "EU")]
        )
    assert [(f.field, f.message) for f in raised.value.fields] == [
        ("requests[1].jurisdiction", "must be a jurisdiction the policy declares: IN")
    ]
    assert DecisionService(runtime).decide(session, "test", pid, "account", jurisdiction="IN").allow


# --------------------------------------------------------------------------------------------- HTTP


def test_http_single_and_batch_differ_by_jurisdiction(
    three: Runtime, session: Session, client: TestClient, headers: dict[str, str]
) -> None:
    pid = adult(session, three)
    r = client.post("/v1/decisions", json={"subject_id": pid, "purpose": RECS}, headers=headers)
    assert (r.status_code, r.json()["reasons"]) == (200, ["no_consent"])
    assert "jurisdiction" not in r.json()
    r = client.post("/v1/decisions", json={"subject_id": pid, "purpose": RECS, "jurisdiction": "EU"}, headers=headers)
    assert r.status_code == 200, r.text
    assert (r.json()["allow"], r.json()["reasons"], r.json()["jurisdiction"]) == (True, ["legal_ground"], "EU")

    r = client.post(
        "/v1/decisions",
        json={
            "jurisdiction": "UK",
            "requests": [
                {"subject_id": pid, "purpose": RECS},
                {"subject_id": pid, "purpose": RECS, "jurisdiction": "IN"},
                {"subject_id": pid, "purpose": RECS, "jurisdiction": "US-CA"},
            ],
        },
        headers=headers,
    )
    assert r.status_code == 200, r.text
    got = [(d["jurisdiction"], d["allow"], d["reasons"]) for d in r.json()["decisions"]]
    assert got == [("UK", True, ["legal_ground"]), ("IN", False, ["no_consent"]), ("US-CA", False, ["no_consent"])]


def test_http_bad_jurisdiction_is_a_422_naming_the_field(
    three: Runtime, runtime: Runtime, session: Session, client: TestClient, headers: dict[str, str]
) -> None:
    pid = adult(session, three)
    before = len(audit_rows(session))
    r = client.post("/v1/decisions", json={"subject_id": pid, "purpose": RECS, "jurisdiction": "FR"}, headers=headers)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["body.jurisdiction"]
    r = client.post(
        "/v1/decisions",
        json={
            "requests": [{"subject_id": pid, "purpose": RECS}, {"subject_id": pid, "purpose": RECS, "jurisdiction": 7}]
        },
        headers=headers,
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["body.requests.1.jurisdiction"]
    assert len(audit_rows(session)) == before


def test_http_undeclared_jurisdiction_is_a_422(
    runtime: Runtime, session: Session, client: TestClient, headers: dict[str, str]
) -> None:
    pid = adult(session, runtime)
    r = client.post(
        "/v1/decisions", json={"subject_id": pid, "purpose": "account", "jurisdiction": "US-CA"}, headers=headers
    )
    assert r.status_code == 422
    assert [(e["field"], e["message"]) for e in r.json()["errors"]] == [
        ("body.jurisdiction", "must be a jurisdiction the policy declares: IN")
    ]
    r = client.post(
        "/v1/decisions",
        json={
            "jurisdiction": "EU",
            "requests": [
                {"subject_id": pid, "purpose": "account", "jurisdiction": "IN"},
                {"subject_id": pid, "purpose": "account"},
            ],
        },
        headers=headers,
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["body.requests.1.jurisdiction"]


def test_sdk_passes_the_jurisdiction(
    three: Runtime, session: Session, client: TestClient, headers: dict[str, str]
) -> None:
    pid = adult(session, three)
    sdk = FiduciaryClient.from_httpx(client, headers["Authorization"].removeprefix("Bearer "))
    assert not sdk.decide(pid, RECS)
    assert sdk.decide(pid, RECS, jurisdiction="EU").reasons == ("legal_ground",)
    results = sdk.decide_many([DecisionQuery(pid, RECS, jurisdiction="IN"), (pid, RECS)], jurisdiction="UK")
    assert [r.allow for r in results] == [False, True]


# ---------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", database_url)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(tmp_path / "cli-data"))
    init_data_folder()
    yield
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_decide_with_jurisdiction(cli_env: None, three: Runtime, session: Session) -> None:
    pid = adult(session, three)
    code, out, _ = run("decide", pid, RECS, "--json")
    assert (code, json.loads(out)["reasons"]) == (1, ["no_consent"])
    code, out, _ = run("decide", pid, RECS, "--jurisdiction", "EU", "--json")
    assert code == 0, out
    assert json.loads(out)["jurisdiction"] == "EU" and json.loads(out)["reasons"] == ["legal_ground"]
    code, _, err = run("decide", pid, RECS, "--jurisdiction", "FR")
    assert code == 2 and "jurisdiction: must be one of IN, EU, UK, US-CA" in err

"""Virtual-token verification of a guardian's age (DPDP Rule 10(1)(b)): the pluggable verifier and its double.

The test issuer signs small JSON claims with Ed25519; the service loads the verifier from
`FIDUCIARY_AGE_TOKEN_VERIFIER=tests.test_age_tokens:verifier_factory` exactly as a store would plug in a
real provider, and a person verified by a token can then consent for a child.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from consent_support import api_headers, snapshot
from fiduciary.config import Settings
from fiduciary.runtime import Runtime
from fiduciary.vault.age_tokens import AgeTokenInvalid, AgeTokenVerifier, Ed25519AgeTokenVerifier, load_age_verifier

ISSUER = "digilocker.test"
KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()
NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)


def verifier_factory(_settings: Settings) -> AgeTokenVerifier:
    """What FIDUCIARY_AGE_TOKEN_VERIFIER names: the test issuer is the only trusted one."""
    return Ed25519AgeTokenVerifier({ISSUER: KEY.public_key()})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(subject: str, *, key: Ed25519PrivateKey = KEY, **overrides: Any) -> str:
    claim = {"sub": subject, "age_over_18": True, "iss": ISSUER, "exp": int((NOW + timedelta(days=1)).timestamp())}
    claim.update(overrides)
    body = json.dumps(claim).encode()
    return _b64(body) + "." + _b64(key.sign(body))


VERIFIER = Ed25519AgeTokenVerifier({ISSUER: KEY.public_key()})


def test_a_valid_token_verifies() -> None:
    claim = VERIFIER.verify(token("per_a"), subject="per_a", now=NOW)
    assert (claim.subject, claim.age_over_18, claim.issuer) == ("per_a", True, ISSUER)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (token("per_a", key=OTHER_KEY), "signature does not verify"),
        (token("per_a", iss="someone.else"), "issuer not trusted"),
        (token("per_a", exp=int(NOW.timestamp())), "expired"),
        (token("per_b"), "issued for another person"),
        (token("per_a", age_over_18="yes"), "malformed claim"),
        ("not-a-token", "malformed"),
        ("a.b.c", "malformed"),
        (token("per_a")[:-4] + "AAAA", "signature does not verify"),
    ],
)
def test_bad_tokens_are_refused_with_a_reason(bad: str, reason: str) -> None:
    with pytest.raises(AgeTokenInvalid) as raised:
        VERIFIER.verify(bad, subject="per_a", now=NOW)
    problem = raised.value.fields[0]
    assert problem.field == "body.token" and problem.message.startswith(reason)
    assert bad not in str(raised.value.fields)


def test_the_verifier_is_loaded_from_module_factory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, age_token_verifier="test_age_tokens:verifier_factory")
    assert isinstance(load_age_verifier(settings), Ed25519AgeTokenVerifier)
    assert load_age_verifier(Settings(data_dir=tmp_path)) is None
    with pytest.raises(ValueError, match=r"package\.module:factory"):
        load_age_verifier(Settings(data_dir=tmp_path, age_token_verifier="no_colon"))


@pytest.fixture
def token_client(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Runtime]]:
    from fiduciary.web.app import create_app

    settings = Settings(
        database_url=database_url, data_dir=tmp_path / "data", age_token_verifier="test_age_tokens:verifier_factory"
    )
    rt = Runtime.start(settings, migrate=False)
    try:
        with TestClient(create_app(runtime=rt)) as client:
            yield client, rt
    finally:
        rt.close()


def test_a_token_verified_guardian_consents_for_a_child(token_client: tuple[TestClient, Runtime]) -> None:
    client, rt = token_client
    with rt.sessions() as session:
        headers = api_headers(session)
    kid = client.post("/v1/people", json={"is_child": True}, headers=headers).json()["id"]
    parent = client.post("/v1/people", json={}, headers=headers).json()["id"]  # age unknown: not yet a guardian
    refused = client.post(f"/v1/people/{kid}/guardian-consent", json={"guardian_id": parent}, headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (409, "child_protection")
    # a token for someone else, then a valid one (real clock: expiry a day from now)
    later = int((datetime.now(UTC) + timedelta(days=1)).timestamp())
    with rt.sessions() as session:
        before = snapshot(session)
    wrong = client.post(f"/v1/people/{parent}/age-token", json={"token": token(kid, exp=later)}, headers=headers)
    assert (wrong.status_code, wrong.json()["code"]) == (422, "age_token_invalid")
    assert wrong.json()["errors"][0]["field"] == "body.token"
    with rt.sessions() as session:
        assert snapshot(session) == before
    ok = client.post(f"/v1/people/{parent}/age-token", json={"token": token(parent, exp=later)}, headers=headers)
    assert (ok.status_code, ok.json()["age_status"]) == (200, "adult"), ok.text
    granted = client.post(f"/v1/people/{kid}/guardian-consent", json={"guardian_id": parent}, headers=headers)
    assert granted.status_code == 201, granted.text


def test_no_verifier_configured(client: TestClient, runtime: Runtime) -> None:
    with runtime.sessions() as session:
        headers = api_headers(session)
    pid = client.post("/v1/people", json={}, headers=headers).json()["id"]
    answer = client.post(f"/v1/people/{pid}/age-token", json={"token": token(pid)}, headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (409, "age_tokens_not_configured")

"""The public policy API: the version in force with its ETag, the history, one version, and diffs."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from fiduciary.config import DEMO_POLICY_PATH, Settings
from fiduciary.policy.loader import load_policy
from fiduciary.policy.schema import PolicyDocument
from fiduciary.policy.versions import content_hash, publish, version_count
from fiduciary.runtime import Runtime

DEMO = load_policy(DEMO_POLICY_PATH).document


def publish_edit(runtime: Runtime, effective_from: datetime | None = None, **top: object) -> PolicyDocument:
    data = copy.deepcopy(DEMO.model_dump(mode="json"))
    data.update(top)
    data["retention"][0]["keep_for"] = "400d"  # longer than any demo value: material
    document = PolicyDocument.model_validate(data)
    with runtime.sessions() as session:
        publish(session, document, "edited", effective_from)
        session.commit()
    return document


def test_current_policy_with_verifiable_hash(client: TestClient) -> None:
    response = client.get("/v1/policy")  # no API key: public
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 1 and body["name"] == DEMO.name
    assert body["content_hash"] == content_hash(DEMO)
    assert response.headers["etag"] == f'"{body["content_hash"]}"'
    canonical = json.dumps(body["document"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest() == body["content_hash"]
    assert datetime.fromisoformat(body["effective_from"]).tzinfo is not None


@pytest.mark.parametrize("form", ["{etag}", "W/{etag}", '"sha256:other", {etag}', "*"])
def test_if_none_match_gives_304(client: TestClient, form: str) -> None:
    etag = client.get("/v1/policy").headers["etag"]
    response = client.get("/v1/policy", headers={"If-None-Match": form.format(etag=etag)})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag


def test_a_new_version_changes_the_etag(client: TestClient, runtime: Runtime) -> None:
    old_etag = client.get("/v1/policy").headers["etag"]
    publish_edit(runtime, name="Version two")
    response = client.get("/v1/policy", headers={"If-None-Match": old_etag})
    assert response.status_code == 200
    assert response.json()["version"] == 2 and response.headers["etag"] != old_etag


def test_a_scheduled_version_is_listed_but_not_yet_served(client: TestClient, runtime: Runtime) -> None:
    publish_edit(runtime, datetime.now(UTC) + timedelta(days=20), name="Next month")
    assert client.get("/v1/policy").json()["version"] == 1
    listing = client.get("/v1/policy/versions").json()
    assert listing["current_version"] == 1
    assert [(v["version"], v["in_force"], v["material"]) for v in listing["versions"]] == [
        (1, True, False),
        (2, False, True),
    ]
    assert listing["versions"][1]["change_count"] == 2
    assert client.get("/v1/policy/versions/2").json()["in_force"] is False


def test_one_version_with_its_changes(client: TestClient, runtime: Runtime) -> None:
    publish_edit(runtime, name="Version two")
    first = client.get("/v1/policy/versions/1")
    assert first.status_code == 200 and first.json()["changes"] == []
    second = client.get("/v1/policy/versions/2")
    body = second.json()
    assert body["document"]["name"] == "Version two" and body["material"] is True
    assert {c["path"]: c["material"] for c in body["changes"]} == {
        "name": False,
        f"retention[{DEMO.retention[0].id}].keep_for": True,
    }
    assert "immutable" in second.headers["cache-control"]
    again = client.get("/v1/policy/versions/2", headers={"If-None-Match": second.headers["etag"]})
    assert again.status_code == 304


def test_diff_between_versions(client: TestClient, runtime: Runtime) -> None:
    publish_edit(runtime, name="Version two")
    body = client.get("/v1/policy/diff", params={"from": 1, "to": 2}).json()
    assert (body["from_version"], body["to_version"], body["material"]) == (1, 2, True)
    assert len(body["changes"]) == 2
    assert body["reconsent_purposes"]
    assert set(body["reconsent_purposes"]) <= {p.id for p in DEMO.purposes}
    defaulted = client.get("/v1/policy/diff", params={"from": 1}).json()
    assert defaulted["to_version"] == 2 and defaulted["changes"] == body["changes"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/policy/versions/abc", "path.version"),
        ("/v1/policy/versions/0", "path.version"),
        ("/v1/policy/versions/1.5", "path.version"),
        ("/v1/policy/diff?from=abc&to=1", "query.from"),
        ("/v1/policy/diff?to=1", "query.from"),
        ("/v1/policy/diff?from=1&to=-2", "query.to"),
    ],
)
def test_bad_input_is_a_422_problem_naming_the_field(client: TestClient, url: str, field: str) -> None:
    response = client.get(url)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == [field]


@pytest.mark.parametrize("url", ["/v1/policy/versions/99", "/v1/policy/diff?from=1&to=99", "/v1/policy/diff?from=99"])
def test_unknown_version_is_a_404_problem(client: TestClient, runtime: Runtime, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "policy_version_not_found"
    with runtime.sessions() as session:
        assert version_count(session) == 1


@pytest.fixture
def empty_client(settings: Settings) -> Iterator[TestClient]:
    from fiduciary.web.app import create_app

    rt = Runtime.start(settings, migrate=False, bootstrap=False)
    try:
        with TestClient(create_app(runtime=rt)) as c:
            yield c
    finally:
        rt.close()


def test_nothing_published_is_a_503_problem(empty_client: TestClient) -> None:
    response = empty_client.get("/v1/policy")
    assert response.status_code == 503 and response.json()["code"] == "no_policy_in_force"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert empty_client.get("/v1/policy/versions").json() == {"current_version": None, "versions": []}
    assert empty_client.get("/v1/policy/versions/1").status_code == 404
    assert empty_client.get("/v1/policy/diff?from=1").status_code == 503


def test_openapi_documents_the_policy_models(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for name in ("PolicyOut", "PolicyVersionList", "PolicyVersionOut", "PolicyDiffOut", "PolicyChangeOut"):
        assert name in schemas
    assert "document" in schemas["PolicyOut"]["properties"]
    params = {p["name"] for p in spec["paths"]["/v1/policy/diff"]["get"]["parameters"]}
    assert params == {"from", "to"}
    assert "security" not in spec["paths"]["/v1/policy"]["get"]

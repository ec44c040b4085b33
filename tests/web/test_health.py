from fastapi.testclient import TestClient


def test_healthz_reports_ok_on_each_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_unknown_path_is_problem_json(client: TestClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404


def test_healthz_answer_carries_the_service_headers(client: TestClient) -> None:
    """GET /healthz is answered before FastAPI's routing (web/routes/health.py `HealthzShortcut`), inside the
    request-id and header middleware: the same headers as every other answer."""
    response = client.get("/healthz", headers={"X-Request-ID": "probe-1"})
    assert response.status_code == 200
    assert response.content == b'{"status":"ok"}'
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"] == "probe-1"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_healthz_other_methods_take_the_route(client: TestClient) -> None:
    """Only GET takes the shortcut; other methods get the routes' 405 with Allow, as before it."""
    for method in ("HEAD", "POST", "DELETE"):
        refused = client.request(method, "/healthz")
        assert refused.status_code == 405, method
        assert refused.headers["allow"] == "GET, OPTIONS"

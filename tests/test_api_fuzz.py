"""Schemathesis against the published OpenAPI: generated requests never crash the service.

Every operation gets generated input with an admin key. The service must never answer 5xx, every response
must match its documented schema and content type, and every error is problem+json. It runs on one SQLite
database built when the module is collected (schemathesis' fixture-based loader does not work with this
pytest); engine-specific behaviour is covered by the domain tests, this looks for unhandled input.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from fiduciary.auth.service import create_api_key
from fiduciary.config import Settings
from fiduciary.runtime import Runtime
from fiduciary.web.app import create_app

_workdir = Path(tempfile.mkdtemp(prefix="fiduciary-fuzz-"))
_runtime = Runtime.start(
    Settings(
        database_url=f"sqlite:///{_workdir / 'fiduciary.db'}",
        data_dir=_workdir / "data",
        public_rate_limit_per_minute=1_000_000,
    )
)
with _runtime.sessions() as _session:
    _ADMIN_KEY = create_api_key(_session, "fuzz", ["admin"])[1]
    _session.commit()


@atexit.register
def _cleanup() -> None:
    _runtime.close()
    shutil.rmtree(_workdir, ignore_errors=True)


schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(runtime=_runtime))


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_never_break_the_service(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": f"Bearer {_ADMIN_KEY}"})
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance])
    if response.status_code >= 400 and not case.path.startswith("/u/"):  # /u/ pages answer people in HTML
        assert response.headers["content-type"][0].startswith("application/problem+json"), (
            f"{case.method} {case.path} answered {response.status_code} without problem+json"
        )

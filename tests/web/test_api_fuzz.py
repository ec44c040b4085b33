"""Schemathesis against the published OpenAPI, with every check it has: the schema is the contract.

Every operation gets generated input, valid and invalid (schemathesis' positive and negative modes), with an
admin key. Every built-in check runs: no 5xx; responses, status codes, headers and content types as
documented; every request the schema allows is accepted (`positive_data_acceptance`) and every request it
forbids is refused (`negative_data_rejection`); authentication is enforced (`ignored_auth`); unknown
methods are a 405 with `Allow`, and `OPTIONS` answers `Allow` listing exactly the documented methods. Every
error is problem+json (the `/u/` pages answer people in HTML).

A schema cannot say which purpose ids the policy in force declares or which unsubscribe tokens we signed,
so `SEMANTIC` lists, per operation, the one extra status a schema-valid request may get and why; nothing
else is relaxed. It runs on one SQLite database built when the module is collected (schemathesis'
fixture-based loader does not work with this pytest), with the rate limits raised: the fuzzer sends
hundreds of requests, some without a key, from one address.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, is_check_class, load_all_checks
from schemathesis.config import PositiveDataAcceptanceConfig

from fiduciary.auth.service import create_api_key
from fiduciary.config import Settings
from fiduciary.runtime import Runtime
from fiduciary.web import security
from fiduciary.web.app import create_app

load_all_checks()
ALL_CHECKS = [check for check in CHECKS.get_all() if not is_check_class(check)]

# operation -> (status a schema-valid request may also get, why no schema can rule it out)
SEMANTIC: dict[str, tuple[str, str]] = {
    "POST /v1/consents": ("422", "the purpose must be declared by the policy in force"),
    "POST /v1/consents/batch": ("422", "the purposes must be declared by the policy in force"),
    "POST /v1/banner/consents": ("422", "the purposes must be declared by the policy in force"),
    "POST /v1/audiences": ("422", "the purpose, and its channel, must be declared by the policy in force"),
    "POST /v1/comms/unsubscribe-headers": ("422", "the purpose must be declared by the policy in force"),
    "PUT /v1/people/{person_id}/fields": ("422", "the purpose and categories must be declared by the policy"),
    "POST /v1/people/{person_id}/fields/read": ("422", "the purpose and categories must be declared by the policy"),
    "POST /v1/people/{person_id}/restrictions": ("422", "the purpose must be declared by the policy in force"),
    "POST /v1/people/lookup": ("422", "the value must be a valid identifier of its kind (an email address, ...)"),
    "POST /v1/identity/codes": ("422", "the identifier must be a valid email address or phone number of its kind"),
    "POST /v1/apikeys": ("422", "a key name must not hold control or formatting characters (Unicode categories)"),
    "POST /v1/people": ("422", "a date of birth must lie within the last 130 years and not after today"),
    "POST /v1/people/{person_id}/age": ("422", "a date of birth must lie within the last 130 years, not after today"),
    "GET /v1/audit": ("422", "`until` must not be before `since`: a relation between two parameters"),
    "POST /v1/decisions": ("422", "a jurisdiction must be one the policy in force declares (issue 12)"),
    "POST /v1/disclosures": ("422", "the recipient, purpose and categories must be declared by the policy in force"),
    "PUT /v1/recipients/{recipient_id}/endpoint": ("422", "the URL must be https (http for localhost only)"),
    "POST /v1/people/{person_id}/retention-events": (
        "422",
        "the event must be declared by the policy and the person must exist (issue 12: an unknown one is a 422)",
    ),
    "POST /v1/people/{person_id}/contacts": ("422", "a contact must have happened: not later than now (plus skew)"),
    "PUT /v1/people/{person_id}/balances": ("422", "the balance must have been read: not later than now (plus skew)"),
    "POST /v1/requests": (
        "422",
        "the kind, channel and verification must be ones the policy offers the person (and a handler runs)",
    ),
    "GET /v1/requests": ("422", "`after` must be a next_cursor Fiduciary gave: an opaque keyset position"),
    "POST /v1/requests/close": (
        "422",
        "each request listed once, each note not blank",
    ),
    "POST /v1/requests/{request_id}/reject": ("422", "the note, sent to the person, must hold more than white space"),
    "POST /v1/requests/{request_id}/cancel": ("422", "the note, sent to the person, must hold more than white space"),
    "POST /v1/requests/{request_id}/complete": ("422", "the note, sent to the person, must hold more than white space"),
    "GET /v1/cases/due": ("422", "`after` must be a next_cursor Fiduciary gave: an opaque keyset position"),
    "POST /v1/grievances": ("422", "a person id or a contact email is needed, and the text must hold more than spaces"),
    "GET /v1/grievances": ("422", "the state must be one of the grievance kind's, `after` a cursor Fiduciary gave"),
    "POST /v1/grievances/{case_id}/notes": ("422", "the text must hold more than white space"),
    "POST /v1/grievances/{case_id}/replies": ("422", "the text must hold more than white space"),
    "POST /v1/grievances/{case_id}/close": ("422", "the reason must be one of the grievance kind's outcome codes"),
    "POST /u/{token}": ("400", "a token is valid only with our HMAC signature"),
    "GET /u/{token}": ("400", "a token is valid only with our HMAC signature"),
    "GET /v1/packages/{token}": ("404", "a package link is valid only with our HMAC signature"),
    "POST /v1/breaches": ("422", "the moments must not be in the future and the categories must be the policy's"),
    "PATCH /v1/breaches/{breach_id}": ("422", "at least one fact must be given (an empty object changes nothing)"),
    "POST /v1/me/requests": ("422", "the kind must be one the policy offers the person, with its parameters valid"),
    "POST /v1/holds": ("422", "the person must exist, the category be declared and the date today or later"),
    "DELETE /v1/holds/{hold_id}": ("404", "the hold must exist: an id Fiduciary gave"),
    "POST /v1/vulnerability-reports": (
        "422",
        "attachments are checked by their content (magic bytes), the contact by email_validator",
    ),
    "POST /v1/vulnerability-reports/{case_id}/notes": ("422", "the text must hold more than white space"),
    "POST /v1/vulnerability-reports/{case_id}/replies": ("422", "the text must hold more than white space"),
    "POST /v1/vulnerability-reports/{case_id}/steps": (
        "422",
        "the step must be one of the kind's, with what it needs: a CVSS 4.0 vector, a reason code, a policy rule",
    ),
}

_workdir = Path(tempfile.mkdtemp(prefix="fiduciary-fuzz-"))
_runtime = Runtime.start(
    Settings(
        database_url=f"sqlite:///{_workdir / 'fiduciary.db'}",
        data_dir=_workdir / "data",
        public_rate_limit_per_minute=1_000_000,
        vulnerability_report_rate_limit_per_hour=1_000_000,
    )
)
with _runtime.sessions() as _session:
    _ADMIN_KEY = create_api_key(_session, "fuzz", ["admin"])[1]
    _session.commit()


@atexit.register
def _cleanup() -> None:
    _runtime.close()
    shutil.rmtree(_workdir, ignore_errors=True)


_app = create_app(runtime=_runtime)


# `ignored_auth` sends every operation without a key and with a wrong one: far beyond what one address may
# fail. The failed-authentication guard is tested in its own files; here every one of its budgets is a
# million a minute.
UNLIMITED = 1_000_000
setattr(
    _app.state,
    security.AUTH_LIMITER_STATE,
    security.AuthFailureGuard(
        per_key_address=UNLIMITED, per_key=UNLIMITED, per_address=UNLIMITED, malformed_per_address=UNLIMITED
    ),
)

schema = schemathesis.openapi.from_asgi("/openapi.json", _app)
_DEFAULT_POSITIVE = PositiveDataAcceptanceConfig().expected_statuses


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_service_keeps_its_published_contract(case: schemathesis.Case) -> None:
    semantic = SEMANTIC.get(f"{case.method.upper()} {case.path}")
    config = case.operation.schema.config.checks_config_for(operation=case.operation)
    config.positive_data_acceptance.expected_statuses = _DEFAULT_POSITIVE + ([semantic[0]] if semantic else [])
    response = case.call_and_validate(headers={"Authorization": f"Bearer {_ADMIN_KEY}"}, checks=ALL_CHECKS)
    if response.status_code >= 400 and not case.path.startswith("/u/"):  # /u/ pages answer people in HTML
        assert response.headers["content-type"][0].startswith("application/problem+json"), (
            f"{case.method} {case.path} answered {response.status_code} without problem+json"
        )

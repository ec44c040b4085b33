"""SDK methods for disclosures (`/v1/disclosures`, `/v1/recipients`, `/v1/propagations`,
`/v1/records-of-processing`): share data with a recipient the policy names and get the minimised package
back, read the log and the notices to recipients, configure a recipient's endpoint, and fetch the records of
processing.

`FiduciaryDisclosuresClient` is `FiduciaryClient` with these methods; `DisclosureMethods` is the mixin, for
a client class of your own. `disclose` needs `disclosures:write`, the reads `disclosures:read`,
`record_acknowledgement` `disclosures:write`, `set_recipient_endpoint` `admin`, and `request_propagation`
`rights:manage`. A refusal raises
`FiduciaryAPIError` with the problem's fields (e.g. `body.categories[1]` for a category the recipient may
not receive). The package `disclose` returns holds personal values: the SDK logs nothing.

In-process (the service's own Python, no HTTP): `fiduciary.disclosures.flows.disclose`, which the endpoint
calls too.

`RecipientClient` is for the other side, a recipient: once it has acted on a notice it received (erased,
corrected, stopped), it acknowledges it, signed with the webhook secret it was given (Standard Webhooks, no
API key): `RecipientClient(base_url, secret).acknowledge(notice_id)`. A 2xx to the notice alone leaves it
"delivered, not acknowledged" (docs/disclosures.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx

from fiduciary.sdk.client import FiduciaryAPIError, FiduciaryClient, Requester, _segment

ACKNOWLEDGEMENTS_PATH = "/v1/propagations/acknowledgements"


class DisclosureMethods:
    """Mixin over a client with `_request` (FiduciaryClient)."""

    def disclose(
        self: Requester,
        recipient: str,
        purpose: str,
        categories: Iterable[str],
        *,
        people: Iterable[str] | None = None,
        audience: bool = False,
        order_reference: str | None = None,
        include_values: bool = True,
    ) -> dict[str, Any]:
        """Share `categories` of `people` (or the purpose's whole audience) with `recipient` for `purpose`:
        `{id, shared: [{person_id, recipient_ref, fields}], excluded: [{person_id, reasons}], …}`. A recipient
        of kind authority needs the `order_reference` it answers."""
        body: dict[str, Any] = {"recipient": recipient, "purpose": purpose, "categories": list(categories)}
        if people is not None:
            body["people"] = list(people)
        if audience:
            body["audience"] = True
        if order_reference is not None:
            body["order_reference"] = order_reference
        if not include_values:
            body["include_values"] = False
        result: dict[str, Any] = self._request("POST", "/v1/disclosures", json_body=body)
        return result

    def list_disclosures(
        self: Requester, *, person_id: str | None = None, recipient: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """The log, newest first (never values)."""
        params: dict[str, Any] = {"limit": limit}
        params.update({k: v for k, v in (("person_id", person_id), ("recipient", recipient)) if v is not None})
        items: list[dict[str, Any]] = self._request("GET", "/v1/disclosures", params=params)["items"]
        return items

    def list_propagations(
        self: Requester, *, state: str | None = "unacknowledged", person_id: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Notices to recipients; by default the ones no recipient has acknowledged yet."""
        params: dict[str, Any] = {"limit": limit}
        params.update({k: v for k, v in (("state", state), ("person_id", person_id)) if v is not None})
        items: list[dict[str, Any]] = self._request("GET", "/v1/propagations", params=params)["items"]
        return items

    def record_acknowledgement(self: Requester, notice_id: str, outcome: str = "done") -> dict[str, Any]:
        """Record an acknowledgement a recipient sent another way (a letter, an email): `outcome` is `done` or
        `not_held`. The first one stands: a repeat answers `first: False` and records nothing."""
        result: dict[str, Any] = self._request(
            "POST", f"/v1/propagations/{_segment(notice_id)}/acknowledgement", json_body={"outcome": outcome}
        )
        return result

    def request_propagation(self: Requester, request_id: str) -> dict[str, Any]:
        """How far a rights request's change reached: `{summary: "propagated to 3 of 4 recipients", …}`."""
        result: dict[str, Any] = self._request("GET", f"/v1/requests/{_segment(request_id)}/propagation")
        return result

    def recipients(self: Requester) -> list[dict[str, Any]]:
        """The policy's recipients and their endpoints (never a secret)."""
        items: list[dict[str, Any]] = self._request("GET", "/v1/recipients")["items"]
        return items

    def set_recipient_endpoint(
        self: Requester, recipient_id: str, url: str, *, secret: str | None = None
    ) -> dict[str, Any]:
        """Set where a recipient's notices go; without `secret` one is generated and returned this once
        (as `secret`): hand it to the recipient, it is never shown again."""
        body: dict[str, Any] = {"url": url} if secret is None else {"url": url, "secret": secret}
        result: dict[str, Any] = self._request(
            "PUT", f"/v1/recipients/{_segment(recipient_id)}/endpoint", json_body=body
        )
        return result

    def records_of_processing(self: Requester) -> dict[str, Any]:
        """The records of processing (GDPR Art 30) as JSON; CSV and HTML are `?format=csv|html` on the API."""
        result: dict[str, Any] = self._request("GET", "/v1/records-of-processing", params={"format": "json"})
        return result


class FiduciaryDisclosuresClient(DisclosureMethods, FiduciaryClient):
    """`FiduciaryClient` plus disclosures, for a store backend that shares data with recipients."""

    @classmethod
    def from_httpx(cls, client: httpx.Client, api_key: str) -> FiduciaryDisclosuresClient:
        made = super().from_httpx(client, api_key)
        assert isinstance(made, FiduciaryDisclosuresClient)
        return made


def sign_acknowledgement(
    secret: str, notice_id: str, outcome: str = "done", *, at: datetime | None = None
) -> tuple[dict[str, str], bytes]:
    """The headers and body of a signed acknowledgement (Standard Webhooks: HMAC-SHA256 of
    `id.timestamp.body` under the secret's bytes, `whsec_` + base64)."""
    body = json.dumps({"notice_id": notice_id, "outcome": outcome}, separators=(",", ":")).encode()
    timestamp = str(int((at or datetime.now(UTC)).timestamp()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{notice_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    headers = {
        "webhook-id": notice_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode("ascii"),
        "content-type": "application/json",
    }
    return headers, body


class RecipientClient:
    """A recipient's side: `RecipientClient("https://privacy.example", "whsec_…").acknowledge("whd_…")`.
    `from_httpx` wraps an existing `httpx.Client` (FastAPI's TestClient in tests)."""

    def __init__(
        self, base_url: str, secret: str, *, timeout: float = 10, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)
        self._secret = secret
        self._owned = True

    @classmethod
    def from_httpx(cls, client: httpx.Client, secret: str) -> RecipientClient:
        self = cls.__new__(cls)
        self._http, self._secret, self._owned = client, secret, False
        return self

    def acknowledge(self, notice_id: str, outcome: str = "done") -> dict[str, Any]:
        """Confirm the notice was acted on (`done`) or that nothing of it was held (`not_held`):
        `{notice_id, recipient, state: "acknowledged", outcome, acknowledged_at}`; a repeat answers the same."""
        headers, body = sign_acknowledgement(self._secret, notice_id, outcome)
        response = self._http.post(ACKNOWLEDGEMENTS_PATH, content=body, headers=headers)
        if response.status_code >= 400:
            raise FiduciaryAPIError.from_response(response)
        result: dict[str, Any] = response.json()
        return result

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def __enter__(self) -> RecipientClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

"""SDK methods for personal fields (purpose-bound), lookup, export, erasure and the audit trail.

`FiduciaryVaultClient` is `FiduciaryClient` with these methods; `VaultMethods` is the mixin, for a client
class of your own. Every method is one HTTP request (`audit_events` pages through several). Values travel
only in request and response bodies, never in URLs, and the SDK logs nothing.

In-process (same Python process as the service, no HTTP): use `fiduciary.vault.access.VaultAccess` and
`fiduciary.rights.flows`, exactly what these endpoints call; each is audited by the session's unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from fiduciary.sdk.client import FiduciaryAPIError, FiduciaryClient, Requester, _segment

REQUEST_ID_HEADER = "X-Request-ID"


@dataclass(frozen=True)
class FieldsResult:
    """A purpose-bound read: the values you may use (masked ones as their mask) and what was withheld."""

    person_id: str
    purpose: str
    role: str
    fields: dict[str, str]
    masked: frozenset[str]
    denied: dict[str, tuple[str, ...]]
    absent: frozenset[str]
    reasons: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FieldsResult:
        return cls(
            person_id=data["person_id"],
            purpose=data["purpose"],
            role=data["role"],
            fields=dict(data["fields"]),
            masked=frozenset(data["masked"]),
            denied={k: tuple(v) for k, v in data["denied"].items()},
            absent=frozenset(data["absent"]),
            reasons=tuple(data["reasons"]),
        )


@dataclass(frozen=True)
class AuditPage:
    events: list[dict[str, Any]]
    next_cursor: int | None


def _headers(request_id: str | None) -> dict[str, str] | None:
    return {REQUEST_ID_HEADER: request_id} if request_id is not None else None


class VaultMethods:
    """Mixin over a client with `_request` (FiduciaryClient)."""

    def put_fields(
        self: Requester,
        person_id: str,
        fields: Mapping[str, str],
        *,
        purpose_of_collection: str,
        source: str = "provided",
        identifiers: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Collect or correct fields under a purpose of collection (and identifiers for `lookup`)."""
        body: dict[str, Any] = {
            "purpose_of_collection": purpose_of_collection,
            "source": source,
            "fields": dict(fields),
        }
        if identifiers:
            body["identifiers"] = dict(identifiers)
        result: dict[str, Any] = self._request(
            "PUT", f"/v1/people/{_segment(person_id)}/fields", json_body=body, headers=_headers(request_id)
        )
        return result

    def read_fields(
        self: Requester,
        person_id: str,
        purpose: str,
        categories: Iterable[str] = (),
        *,
        role: str | None = None,
        request_id: str | None = None,
    ) -> FieldsResult:
        """Read for a purpose: only allowed categories come back, masked unless the role may see full values."""
        body: dict[str, Any] = {"purpose": purpose, "categories": list(categories)}
        if role is not None:
            body["role"] = role
        data = self._request(
            "POST", f"/v1/people/{_segment(person_id)}/fields/read", json_body=body, headers=_headers(request_id)
        )
        return FieldsResult.from_json(data)

    def lookup(
        self: Requester, kind: str, value: str, *, purpose: str | None = None, request_id: str | None = None
    ) -> str | None:
        """The person id with exactly this identifier (email, phone, customer_id), or None."""
        body: dict[str, Any] = {"kind": kind, "value": value}
        if purpose is not None:
            body["purpose"] = purpose
        try:
            data = self._request("POST", "/v1/people/lookup", json_body=body, headers=_headers(request_id))
        except FiduciaryAPIError as exc:
            if exc.status == 404 and exc.code == "person_not_found":
                return None
            raise
        person_id: str = data["person_id"]
        return person_id

    def export_person(self: Requester, person_id: str, *, request_id: str | None = None) -> dict[str, Any]:
        """Everything every domain holds about the person (for an access or portability request)."""
        result: dict[str, Any] = self._request(
            "GET", f"/v1/people/{_segment(person_id)}/export", headers=_headers(request_id)
        )
        return result

    def erase_person(
        self: Requester, person_id: str, *, reason: str = "erasure_request", request_id: str | None = None
    ) -> dict[str, Any]:
        """Erase the person everywhere (the vault crypto-shreds their key); idempotent."""
        result: dict[str, Any] = self._request(
            "POST",
            f"/v1/people/{_segment(person_id)}/erase",
            json_body={"reason": reason},
            headers=_headers(request_id),
        )
        return result

    def audit(
        self: Requester,
        *,
        actor: str | None = None,
        person_id: str | None = None,
        action: str | None = None,
        purpose: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: int | None = None,
        limit: int = 100,
        order: str = "asc",
    ) -> AuditPage:
        """One page of audit events (needs the audit:read scope); pass `next_cursor` back as `cursor`."""
        params: dict[str, Any] = {"limit": limit, "order": order}
        for name, value in (
            ("actor", actor),
            ("person_id", person_id),
            ("action", action),
            ("purpose", purpose),
            ("outcome", outcome),
            ("cursor", cursor),
        ):
            if value is not None:
                params[name] = value
        for name, moment in (("since", since), ("until", until)):
            if moment is not None:
                params[name] = moment.isoformat()
        data = self._request("GET", "/v1/audit", params=params)
        return AuditPage(events=list(data["events"]), next_cursor=data["next_cursor"])

    def audit_events(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every matching audit event, oldest first, page by page."""
        cursor: int | None = filters.pop("cursor", None)
        while True:
            page = VaultMethods.audit(self, cursor=cursor, **filters)  # type: ignore[arg-type]
            yield from page.events
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


class FiduciaryVaultClient(VaultMethods, FiduciaryClient):
    """`FiduciaryClient` plus personal fields, lookup, export, erasure and the audit trail."""

    @classmethod
    def from_httpx(cls, client: httpx.Client, api_key: str) -> FiduciaryVaultClient:
        made = super().from_httpx(client, api_key)
        assert isinstance(made, FiduciaryVaultClient)
        return made

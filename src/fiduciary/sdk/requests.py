"""SDK methods for rights requests (`/v1/requests`): receive one the person made through the store, list and
read them, and take each staff step (verify, approve, reject, cancel, extend, complete, confirm a manual
step, close in bulk), plus the person's code.

`FiduciaryRequestsClient` is `FiduciaryClient` with these methods; `RequestMethods` is the mixin, for a
client class of your own. The key needs `rights:manage` (the code endpoints are public). Every method is one
HTTP request (`list_requests` pages through several); a refusal raises `FiduciaryAPIError` with the
problem's fields, e.g. `items[1].reason` for a bulk close. What the person wrote (corrections, a nominee,
a proof reference) travels only in request bodies, is never returned, and the SDK logs nothing.

In-process (the service's own Python, no HTTP): `fiduciary.rights.request_flows`, which these endpoints and
the `fiduciary requests` CLI call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from fiduciary.sdk.client import FiduciaryClient, Requester, _segment


@dataclass(frozen=True)
class RequestPage:
    """One page of the listing; pass `next_cursor` back as `after` (None on the last page)."""

    items: list[dict[str, Any]]
    next_cursor: str | None


@dataclass(frozen=True)
class CloseItem:
    """One request of a bulk close: duplicate, never_verified or withdrawn_by_person cancel it; unfounded
    or excessive reject it (the note is sent to the person, except for never_verified)."""

    request_id: str
    reason: str
    note: str | None = None


def _url(request_id: str, action: str = "") -> str:
    return f"/v1/requests/{_segment(request_id)}{action}"


def _listing_params(
    state: str | Sequence[str] | None,
    kind: str | None,
    person_id: str | None,
    status: str | None,
    limit: int,
    after: str | None,
) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if state is not None:
        params["state"] = [state] if isinstance(state, str) else list(state)
    for name, value in (("kind", kind), ("person_id", person_id), ("status", status), ("after", after)):
        if value is not None:
            params[name] = value
    return params


class RequestMethods:
    """Mixin over a client with `_request` (FiduciaryClient)."""

    def create_request(
        self: Requester,
        kind: str,
        person_id: str,
        *,
        made_by: str = "store",
        channel: str = "email",
        verified_by: str | None = None,
        purposes: Iterable[str] | None = None,
        corrections: Mapping[str, str] | None = None,
        nominee: Mapping[str, str] | None = None,
        proof_reference: str | None = None,
        language: str | None = None,
    ) -> dict[str, Any]:
        """Receive a request the person made through the store (an email to support, a form).

        `verified_by="signed_in_session"` when the person is signed in to their account now (and the policy
        accepts it); otherwise the person is sent a code, or staff check a document (`verify_request`).
        `corrections` maps a data category to its corrected value; an agent or nominee gives
        `proof_reference`. Refused with 422 naming `kind` when the policy does not offer it to the person.
        """
        body: dict[str, Any] = {"kind": kind, "person_id": person_id, "made_by": made_by, "channel": channel}
        optional: dict[str, Any] = {
            "verified_by": verified_by,
            "purposes": list(purposes) if purposes is not None else None,
            "corrections": [{"category": c, "value": v} for c, v in corrections.items()] if corrections else None,
            "nominee": dict(nominee) if nominee is not None else None,
            "proof_reference": proof_reference,
            "language": language,
        }
        body.update({name: value for name, value in optional.items() if value is not None})
        result: dict[str, Any] = self._request("POST", "/v1/requests", json_body=body)
        return result

    def requests_page(
        self: Requester,
        *,
        state: str | Sequence[str] | None = None,
        kind: str | None = None,
        person_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> RequestPage:
        """One page, soonest deadline first; open requests unless `state` names others. `status` is
        on_track, due_soon or overdue."""
        params = _listing_params(state, kind, person_id, status, limit, after)
        data = self._request("GET", "/v1/requests", params=params)
        return RequestPage(items=list(data["items"]), next_cursor=data["next_cursor"])

    def list_requests(
        self,
        *,
        state: str | Sequence[str] | None = None,
        kind: str | None = None,
        person_id: str | None = None,
        status: str | None = None,
        page_size: int = 50,
    ) -> Iterator[dict[str, Any]]:
        """Every matching request, soonest deadline first, page by page."""
        after: str | None = None
        while True:
            page = RequestMethods.requests_page(
                self,  # type: ignore[arg-type]
                state=state,
                kind=kind,
                person_id=person_id,
                status=status,
                limit=page_size,
                after=after,
            )
            yield from page.items
            if page.next_cursor is None:
                return
            after = page.next_cursor

    def get_request(self: Requester, request_id: str) -> dict[str, Any]:
        """One request with its manual steps and its history of transitions."""
        result: dict[str, Any] = self._request("GET", _url(request_id))
        return result

    def verify_request(self: Requester, request_id: str, method: str) -> dict[str, Any]:
        """Staff checked the requester: document, two_data_points or three_data_points_and_declaration
        (an agent's or nominee's proof is a document)."""
        result: dict[str, Any] = self._request("POST", _url(request_id, "/verify"), json_body={"method": method})
        return result

    def approve_request(self: Requester, request_id: str) -> dict[str, Any]:
        """Approve a request waiting for staff; it starts at once. 409 if someone else moved it first."""
        result: dict[str, Any] = self._request("POST", _url(request_id, "/approve"))
        return result

    def reject_request(self: Requester, request_id: str, reason: str, note: str) -> dict[str, Any]:
        """Refuse with a reason code and a note the person is sent (GDPR Art 12(4); DPDP Rule 14)."""
        body = {"reason": reason, "note": note}
        result: dict[str, Any] = self._request("POST", _url(request_id, "/reject"), json_body=body)
        return result

    def cancel_request(
        self: Requester, request_id: str, *, reason: str = "withdrawn_by_person", note: str | None = None
    ) -> dict[str, Any]:
        """Cancel an open request (an erasure until its waiting period ends)."""
        body: dict[str, Any] = {"reason": reason}
        if note is not None:
            body["note"] = note
        result: dict[str, Any] = self._request("POST", _url(request_id, "/cancel"), json_body=body)
        return result

    def extend_request(self: Requester, request_id: str, until: date, reason: str) -> dict[str, Any]:
        """Extend the deadline once, to `until` (within the policy's extendable_by); the reason is sent to the
        person."""
        body = {"until": until.isoformat(), "reason": reason}
        result: dict[str, Any] = self._request("POST", _url(request_id, "/extend"), json_body=body)
        return result

    def complete_request(self: Requester, request_id: str, *, note: str | None = None) -> dict[str, Any]:
        """Complete a request only staff can finish (a grievance); others complete by themselves (409)."""
        body = {"note": note} if note is not None else None
        result: dict[str, Any] = self._request("POST", _url(request_id, "/complete"), json_body=body)
        return result

    def confirm_request_step(self: Requester, request_id: str, position: int) -> dict[str, Any]:
        """Confirm a manual step was done outside Fiduciary; the last one completes the request."""
        result: dict[str, Any] = self._request(
            "POST", _url(request_id, "/steps/confirm"), json_body={"position": int(position)}
        )
        return result

    def close_requests(self: Requester, items: Iterable[CloseItem | tuple[str, str]]) -> list[str]:
        """Close duplicates and never-verified requests in bulk, all or none; the ids closed."""
        body: list[dict[str, Any]] = []
        for item in items:
            found = item if isinstance(item, CloseItem) else CloseItem(item[0], item[1])
            entry: dict[str, Any] = {"request_id": found.request_id, "reason": found.reason}
            if found.note is not None:
                entry["note"] = found.note
            body.append(entry)
        data = self._request("POST", "/v1/requests/close", json_body={"items": body})
        closed: list[str] = data["closed"]
        return closed

    def enter_request_code(self: Requester, request_id: str, code: str) -> dict[str, Any]:
        """The code the person was sent (for a page of the store's own that relays it): `{state,
        attempts_left}`. A wrong code raises 401 (`code_wrong`), the fifth 403 (`code_locked`)."""
        result: dict[str, Any] = self._request("POST", _url(request_id, "/code"), json_body={"code": code})
        return result

    def resend_request_code(self: Requester, request_id: str) -> None:
        """Send the person a new code for a request waiting for it."""
        self._request("POST", _url(request_id, "/code/resend"))


class FiduciaryRequestsClient(RequestMethods, FiduciaryClient):
    """`FiduciaryClient` plus rights requests, for privacy-operations tooling with a `rights:manage` key."""

    @classmethod
    def from_httpx(cls, client: httpx.Client, api_key: str) -> FiduciaryRequestsClient:
        made = super().from_httpx(client, api_key)
        assert isinstance(made, FiduciaryRequestsClient)
        return made

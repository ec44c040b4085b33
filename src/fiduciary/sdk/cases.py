"""SDK methods for cases: what is due across every case and rights request (`/v1/cases/due`), and
grievances (`/v1/grievances`): receive one, list and read them, acknowledge, assign, note, reply, close.

`FiduciaryCasesClient` is `FiduciaryClient` with these methods; `CaseMethods` is the mixin, for a client
class of your own. Reading needs `cases:read`, acting `cases:manage`. A refusal raises `FiduciaryAPIError`
with the problem's fields (`reason` for a closure without a valid reason code; 409 `wrong_state` or
`case_changed` when the grievance is closed or someone else changed it first). The complaint's text travels
in request bodies and comes back redacted; the SDK logs nothing.

In-process (the service's own Python, no HTTP): `fiduciary.cases.grievances` and `fiduciary.cases.due`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from fiduciary.sdk.client import FiduciaryClient, Requester, _segment


@dataclass(frozen=True)
class CasePage:
    """One page of a listing; pass `next_cursor` back as `after` (None on the last page)."""

    items: list[dict[str, Any]]
    next_cursor: str | None


def _url(case_id: str, action: str = "") -> str:
    return f"/v1/grievances/{_segment(case_id)}{action}"


def _params(limit: int, **optional: str | None) -> dict[str, Any]:
    return {"limit": limit, **{name: value for name, value in optional.items() if value is not None}}


class CaseMethods:
    """Mixin over a client with `_request` (FiduciaryClient)."""

    def due_page(
        self: Requester,
        *,
        within: str | None = None,
        kind: str | None = None,
        assigned_to: str | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> CasePage:
        """One page of what is due, soonest first: open case clocks and open rights requests (`kind`
        `request`). `within` is a horizon such as `48h`, `90m` or `7d`."""
        params = _params(limit, within=within, kind=kind, assigned_to=assigned_to, after=after)
        data = self._request("GET", "/v1/cases/due", params=params)
        return CasePage(items=list(data["items"]), next_cursor=data["next_cursor"])

    def list_due(
        self, *, within: str | None = None, kind: str | None = None, page_size: int = 50
    ) -> Iterator[dict[str, Any]]:
        """Everything due (within the horizon), page by page."""
        after: str | None = None
        while True:
            page = CaseMethods.due_page(self, within=within, kind=kind, limit=page_size, after=after)  # type: ignore[arg-type]
            yield from page.items
            if page.next_cursor is None:
                return
            after = page.next_cursor

    def create_grievance(
        self: Requester,
        text: str,
        *,
        person_id: str | None = None,
        contact_email: str | None = None,
        language: str | None = None,
        channel: str = "api",
    ) -> dict[str, Any]:
        """Receive a grievance for a person on file, or with a contact email for someone who is not; it is
        acknowledged through the outbox at once. `channel="email"` for the store's grievance mailbox."""
        body: dict[str, Any] = {"text": text, "channel": channel}
        for name, value in (("person_id", person_id), ("contact_email", contact_email), ("language", language)):
            if value is not None:
                body[name] = value
        result: dict[str, Any] = self._request("POST", "/v1/grievances", json_body=body)
        return result

    def grievances_page(
        self: Requester,
        *,
        state: str | None = None,
        assigned_to: str | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> CasePage:
        """One page of grievances, newest first (without their text)."""
        data = self._request(
            "GET", "/v1/grievances", params=_params(limit, state=state, assigned_to=assigned_to, after=after)
        )
        return CasePage(items=list(data["items"]), next_cursor=data["next_cursor"])

    def get_grievance(self: Requester, case_id: str) -> dict[str, Any]:
        """One grievance: its redacted text, clocks, notes and history."""
        result: dict[str, Any] = self._request("GET", _url(case_id))
        return result

    def acknowledge_grievance(self: Requester, case_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("POST", _url(case_id, "/acknowledge"))
        return result

    def assign_grievance(self: Requester, case_id: str, assigned_to: str | None) -> dict[str, Any]:
        """Give the grievance to a staff id (None: to nobody)."""
        body = {"assigned_to": assigned_to}
        result: dict[str, Any] = self._request("POST", _url(case_id, "/assign"), json_body=body)
        return result

    def note_grievance(self: Requester, case_id: str, text: str) -> dict[str, Any]:
        """An internal note, for staff only."""
        result: dict[str, Any] = self._request("POST", _url(case_id, "/notes"), json_body={"text": text})
        return result

    def reply_to_grievance(self: Requester, case_id: str, text: str) -> dict[str, Any]:
        """A reply sent to the person through the outbox (409 `no_contact` when there is nobody to write to)."""
        result: dict[str, Any] = self._request("POST", _url(case_id, "/replies"), json_body={"text": text})
        return result

    def close_grievance(self: Requester, case_id: str, reason: str, *, text: str | None = None) -> dict[str, Any]:
        """Close with a reason code (resolved, not_upheld, duplicate, withdrawn, no_response, out_of_scope);
        the person is told, with the authority they may complain to."""
        body: dict[str, Any] = {"reason": reason}
        if text is not None:
            body["text"] = text
        result: dict[str, Any] = self._request("POST", _url(case_id, "/close"), json_body=body)
        return result


class FiduciaryCasesClient(CaseMethods, FiduciaryClient):
    """`FiduciaryClient` plus cases, for privacy-operations tooling with a `cases:read,cases:manage` key."""

    @classmethod
    def from_httpx(cls, client: httpx.Client, api_key: str) -> FiduciaryCasesClient:
        made = super().from_httpx(client, api_key)
        assert isinstance(made, FiduciaryCasesClient)
        return made

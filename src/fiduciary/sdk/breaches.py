"""SDK methods for the breach register (`/v1/breaches`): record an incident, fill in its facts, record the
steps that meet its clocks, notify the people affected, read its timeline and the regulators' reports.

`FiduciaryBreachClient` is `FiduciaryClient` with these methods; `BreachMethods` is the mixin, for a client
class of your own. The key needs `breaches:manage`. A refusal raises `FiduciaryAPIError` with the problem's
fields (`detected_at` for a detection time in the future). The reports come as JSON here; the HTML and
Markdown forms are `GET /v1/breaches/{id}/report?format=html|md` and `fiduciary cases breach report`.

In-process: `fiduciary.cases.breach.flows`, which these endpoints and the `fiduciary cases breach` CLI call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from fiduciary.sdk.client import FiduciaryClient, Requester, _segment


def _url(breach_id: str, action: str = "") -> str:
    return f"/v1/breaches/{_segment(breach_id)}{action}"


class BreachMethods:
    """Mixin over a client with `_request` (FiduciaryClient)."""

    def open_breach(
        self: Requester,
        *,
        summary: str,
        detected_at: datetime,
        categories: Sequence[str],
        aware_at: datetime | None = None,
        people_affected: int | None = None,
        facts: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record a breach; its clocks start at `aware_at` (default `detected_at`). `facts`: any other field of
        `POST /v1/breaches` (occurred_at, records_affected, systems, location, natures, cert_in_reportable, …)."""
        body: dict[str, Any] = {
            "summary": summary,
            "detected_at": detected_at.isoformat(),
            "categories": list(categories),
            **(facts or {}),
        }
        if aware_at is not None:
            body["aware_at"] = aware_at.isoformat()
        if people_affected is not None:
            body["people_affected"] = people_affected
        result: dict[str, Any] = self._request("POST", "/v1/breaches", json_body=body)
        return result

    def get_breach(self: Requester, breach_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", _url(breach_id))
        return result

    def update_breach(self: Requester, breach_id: str, **facts: str) -> dict[str, Any]:
        """Fill in facts: likely_consequences, measures_taken, safety_measures, location, cause, …"""
        result: dict[str, Any] = self._request("PATCH", _url(breach_id), json_body=facts)
        return result

    def record_breach_step(self: Requester, breach_id: str, step: str, *, at: datetime | None = None) -> dict[str, Any]:
        """report_cert_in, cert_in_not_needed, inform_authority, send_detailed_report or notify_people."""
        body: dict[str, Any] = {"step": step} | ({"at": at.isoformat()} if at is not None else {})
        result: dict[str, Any] = self._request("POST", _url(breach_id, "/steps"), json_body=body)
        return result

    def notify_breach(
        self: Requester,
        breach_id: str,
        *,
        categories: Sequence[str] | None = None,
        stored_before: datetime | None = None,
        stored_after: datetime | None = None,
    ) -> dict[str, Any]:
        """Select the affected people and queue their notices: {added, selected, jobs}."""
        body: dict[str, Any] = {}
        if categories is not None:
            body["categories"] = list(categories)
        if stored_before is not None:
            body["stored_before"] = stored_before.isoformat()
        if stored_after is not None:
            body["stored_after"] = stored_after.isoformat()
        result: dict[str, Any] = self._request("POST", _url(breach_id, "/notify"), json_body=body)
        return result

    def close_breach(self: Requester, breach_id: str, reason: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("POST", _url(breach_id, "/close"), json_body={"reason": reason})
        return result

    def breach_timeline(self: Requester, breach_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", _url(breach_id, "/timeline"))
        return result

    def breach_report(self: Requester, breach_id: str, kind: str) -> dict[str, Any]:
        """dpdp_initial, dpdp_detailed, cert_in or gdpr_art33, as JSON (`missing` names what is not filled)."""
        params = {"kind": kind, "format": "json"}
        result: dict[str, Any] = self._request("GET", _url(breach_id, "/report"), params=params)
        return result


class FiduciaryBreachClient(BreachMethods, FiduciaryClient):
    """`FiduciaryClient` plus the breach register, for security and privacy staff with a `breaches:manage` key."""

    @classmethod
    def from_httpx(cls, client: httpx.Client, api_key: str) -> FiduciaryBreachClient:
        made = super().from_httpx(client, api_key)
        assert isinstance(made, FiduciaryBreachClient)
        return made

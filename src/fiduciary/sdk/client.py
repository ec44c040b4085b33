"""A small synchronous client over httpx for the calls a store backend makes.

It adds nothing the API does not do: every method is one HTTP request (the audience streams), errors come
back as `FiduciaryAPIError` carrying the RFC 9457 problem fields, so a caller can show `errors[].field`
to its own developers. The SDK never logs request bodies, which may name people.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol

import httpx

from fiduciary import __version__

USER_AGENT = f"fiduciary-sdk-python/{__version__}"


class FiduciaryAPIError(Exception):
    """A non-2xx answer; the fields are the problem+json members (RFC 9457) when the server sent them."""

    def __init__(
        self,
        status: int,
        *,
        title: str = "",
        detail: str = "",
        code: str = "",
        type: str = "about:blank",
        instance: str | None = None,
        errors: Sequence[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.code = code
        self.type = type
        self.instance = instance
        self.errors = [dict(e) for e in errors]
        self.headers = dict(headers or {})
        super().__init__(f"{status} {code or title}: {detail}".strip())

    @property
    def fields(self) -> list[str]:
        """The request fields the server named as invalid, e.g. `body.subject_id`."""
        return [str(e.get("field")) for e in self.errors if e.get("field")]

    @classmethod
    def from_response(cls, response: httpx.Response) -> FiduciaryAPIError:
        body: Any = None
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return cls(response.status_code, title=response.reason_phrase, headers=response.headers)
        return cls(
            response.status_code,
            title=str(body.get("title", response.reason_phrase)),
            detail=str(body.get("detail", "")),
            code=str(body.get("code", "")),
            type=str(body.get("type", "about:blank")),
            instance=body.get("instance"),
            errors=[e for e in body.get("errors", []) if isinstance(e, dict)],
            headers=response.headers,
        )


@dataclass(frozen=True)
class DecisionResult:
    """One decision as the API answered it; `allowed_categories` is the field mask to apply."""

    subject_id: str
    purpose: str
    allow: bool
    reasons: tuple[str, ...]
    allowed_categories: frozenset[str]
    denied_categories: frozenset[str]
    actor: str | None = None
    policy_version: int | None = None

    def __bool__(self) -> bool:
        return self.allow

    @classmethod
    def from_json(cls, data: Mapping[str, Any], actor: str | None, policy_version: int | None) -> DecisionResult:
        return cls(
            subject_id=data["subject_id"],
            purpose=data["purpose"],
            allow=bool(data["allow"]),
            reasons=tuple(data["reasons"]),
            allowed_categories=frozenset(data["allowed_categories"]),
            denied_categories=frozenset(data["denied_categories"]),
            actor=actor,
            policy_version=policy_version,
        )


@dataclass(frozen=True)
class DecisionQuery:
    """One question in `decide_many`; plain tuples (subject_id, purpose[, categories]) work as well."""

    subject_id: str
    purpose: str
    categories: Sequence[str] = field(default_factory=tuple)
    jurisdiction: str | None = None  # where the person lives, if not the batch's


class Requester(Protocol):
    """What the mixins of the other SDK modules (`sdk.vault`, `sdk.requests`) need of the client they join:
    its `_request`, which sends one call and raises `FiduciaryAPIError` for a problem."""

    def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any: ...


class FiduciaryClient:
    """`FiduciaryClient("https://privacy.example", "fid_…")`; use as a context manager or call `close()`.

    `transport` is passed to httpx (tests hand in the app's transport); `from_httpx` wraps an existing
    `httpx.Client`, such as FastAPI's TestClient.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers=self._headers(api_key),
        )
        self._owned = True

    @classmethod
    def from_httpx(cls, client: httpx.Client, api_key: str) -> FiduciaryClient:
        self = cls.__new__(cls)
        self._http = client
        self._http.headers.update(cls._headers(api_key))
        self._owned = False
        return self

    @staticmethod
    def _headers(api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT, "Accept": "application/json"}

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def __enter__(self) -> FiduciaryClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ plumbing

    def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        response = self._http.request(method, path, json=json_body, params=params, headers=headers)
        if response.status_code >= 400:
            raise FiduciaryAPIError.from_response(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # -------------------------------------------------------------------------------------------- policy

    def policy(self) -> dict[str, Any]:
        """The policy in force: version, content hash and the document."""
        result: dict[str, Any] = self._request("GET", "/v1/policy")
        return result

    # -------------------------------------------------------------------------------------------- people

    def create_person(
        self, *, date_of_birth: date | None = None, is_child: bool | None = None, jurisdiction: str | None = None
    ) -> dict[str, Any]:
        """A new pseudonymous person; the date of birth is used to set the age status and then dropped.
        `jurisdiction` (IN, EU, UK, US-CA) is where they live, if known: decisions then apply its ground and ages."""
        body: dict[str, Any] = {}
        if date_of_birth is not None:
            body["date_of_birth"] = date_of_birth.isoformat()
        if is_child is not None:
            body["is_child"] = is_child
        if jurisdiction is not None:
            body["jurisdiction"] = jurisdiction
        result: dict[str, Any] = self._request("POST", "/v1/people", json_body=body)
        return result

    def record_residence(self, person_id: str, jurisdiction: str | None) -> dict[str, Any]:
        """Record (or clear, with None) where the person lives."""
        result: dict[str, Any] = self._request(
            "PUT", f"/v1/people/{_segment(person_id)}/jurisdiction", json_body={"jurisdiction": jurisdiction}
        )
        return result

    def person(self, person_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", f"/v1/people/{_segment(person_id)}")
        return result

    def close_person(self, person_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("POST", f"/v1/people/{_segment(person_id)}/close")
        return result

    def link_visitor(self, person_id: str, visitor_id: str) -> dict[str, Any]:
        """At sign-in: the banner visitor's choices carry over to the person."""
        result: dict[str, Any] = self._request(
            "POST", f"/v1/people/{_segment(person_id)}/link-visitor", json_body={"visitor_id": visitor_id}
        )
        return result

    def guardian_consent(self, person_id: str, guardian_id: str, *, action: str = "grant") -> dict[str, Any]:
        """A guardian's consent (or withdrawal) for every purpose of a child's account (DPDP s.9(1))."""
        result: dict[str, Any] = self._request(
            "POST",
            f"/v1/people/{_segment(person_id)}/guardian-consent",
            json_body={"guardian_id": guardian_id, "action": action},
        )
        return result

    def verify_age_token(self, person_id: str, token: str) -> dict[str, Any]:
        """Record the person as an adult on a virtual age token (DPDP Rule 10(1)(b)); the token goes in the body."""
        result: dict[str, Any] = self._request(
            "POST", f"/v1/people/{_segment(person_id)}/age-token", json_body={"token": token}
        )
        return result

    def report_retention_event(self, person_id: str, event: str, occurred_at: datetime) -> dict[str, Any]:
        """The store's backend reports an event the policy declares (e.g. `warranty_ended`) for a person; the
        retention rules counting from it start their clocks. A repeat of the same report answers `created`
        false and writes nothing. `occurred_at` must carry a time zone."""
        result: dict[str, Any] = self._request(
            "POST",
            f"/v1/people/{_segment(person_id)}/retention-events",
            json_body={"event": event, "occurred_at": occurred_at.isoformat()},
        )
        return result

    def report_contact(
        self, person_id: str, occurred_at: datetime, *, channel: str = "other", language: str | None = None
    ) -> dict[str, Any]:
        """The person approached the store (a phone order, a letter, a visit): restarts their inactivity clock
        and cancels an announced inactivity erasure (DPDP s.8(8), Rule 8(2); docs/inactivity.md)."""
        body: dict[str, Any] = {"occurred_at": occurred_at.isoformat(), "channel": channel}
        if language is not None:
            body["language"] = language
        result: dict[str, Any] = self._request("POST", f"/v1/people/{_segment(person_id)}/contacts", json_body=body)
        return result

    def set_balance(
        self, person_id: str, instrument: str, currency: str, amount_minor: int, reported_at: datetime
    ) -> dict[str, Any]:
        """A stored-value balance the store holds for the person (`wallet`, `gift_card.<id>`), in minor units:
        what an inactivity erasure keeps (Third Schedule). Replaces the instrument's previous balance."""
        body = {
            "instrument": instrument,
            "currency": currency,
            "amount_minor": amount_minor,
            "reported_at": reported_at.isoformat(),
        }
        result: dict[str, Any] = self._request("PUT", f"/v1/people/{_segment(person_id)}/balances", json_body=body)
        return result

    # ------------------------------------------------------------------------------------------- consent

    def record_consent(
        self,
        subject_id: str,
        purpose: str,
        action: str,
        channel: str,
        *,
        language: str | None = None,
        guardian_id: str | None = None,
        user_agent: str | None = None,
        ip_address: str | None = None,
        gpc: bool = False,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Record one explicit choice (grant, withdraw or deny) and return its result with the signed receipt.

        Pass the person's browser `user_agent` and `ip_address` as the backend saw them; the service
        keeps only a hash and a truncated prefix. `gpc=True` when the browser sent `Sec-GPC: 1`.
        """
        response = self.record_consents(
            subject_id,
            {purpose: action},
            channel,
            language=language,
            guardian_id=guardian_id,
            user_agent=user_agent,
            ip_address=ip_address,
            gpc=gpc,
            idempotency_key=idempotency_key,
        )
        result: dict[str, Any] = {"subject_id": response["subject_id"], **response["results"][0]}
        return result

    def record_consents(
        self,
        subject_id: str,
        actions: Mapping[str, str],
        channel: str,
        *,
        language: str | None = None,
        guardian_id: str | None = None,
        user_agent: str | None = None,
        ip_address: str | None = None,
        gpc: bool = False,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Several purposes in one call (all or nothing): `{"marketing.email": "grant", "analytics": "deny"}`.

        `gpc=True` when the person's browser sent `Sec-GPC: 1`: the service records the Global Privacy Control
        opt-out for this subject first, exactly as if the browser had called it.
        """
        body = consent_item(
            subject_id,
            actions,
            channel,
            language=language,
            guardian_id=guardian_id,
            user_agent=user_agent,
            ip_address=ip_address,
            gpc=gpc,
        )
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else None
        result: dict[str, Any] = self._request("POST", "/v1/consents", json_body=body, headers=headers)
        return result

    def record_consent_batch(
        self, items: Sequence[Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> list[dict[str, Any]]:
        """Many subjects in one all-or-nothing call (`POST /v1/consents/batch`), e.g. a queue of checkout
        choices; build each item with `consent_item(...)`. Returns one `{subject_id, results}` per item."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else None
        result = self._request("POST", "/v1/consents/batch", json_body={"items": list(items)}, headers=headers)
        items_out: list[dict[str, Any]] = result["items"]
        return items_out

    def consents(self, subject_id: str) -> dict[str, Any]:
        """The subject's current state for every consent purpose."""
        result: dict[str, Any] = self._request("GET", f"/v1/consents/{_segment(subject_id)}")
        return result

    def receipt(self, position: int) -> dict[str, Any]:
        """The signed consent receipt of the event at a ledger position."""
        result: dict[str, Any] = self._request("GET", f"/v1/consents/receipts/{int(position)}")
        return result

    # ----------------------------------------------------------------------------------------- decisions

    def decide(
        self,
        subject_id: str,
        purpose: str,
        categories: Iterable[str] = (),
        actor: str | None = None,
        *,
        strict: bool = False,
        jurisdiction: str | None = None,
    ) -> DecisionResult:
        """Ask before using data: apply `allowed_categories` as the field mask when `allow` is true.

        `jurisdiction` (IN, EU, UK, US-CA) is where the person lives, when known: the purpose is decided on
        the ground the policy states for it there."""
        body: dict[str, Any] = {"subject_id": subject_id, "purpose": purpose, "categories": list(categories)}
        if actor is not None:
            body["actor"] = actor
        if jurisdiction is not None:
            body["jurisdiction"] = jurisdiction
        if strict:
            body["strict"] = True
        data = self._request("POST", "/v1/decisions", json_body=body)
        return DecisionResult.from_json(data, data.get("actor"), data.get("policy_version"))

    def decide_many(
        self,
        queries: Iterable[DecisionQuery | tuple[str, str] | tuple[str, str, Sequence[str]]],
        actor: str | None = None,
        *,
        strict: bool = False,
        jurisdiction: str | None = None,
    ) -> list[DecisionResult]:
        """Up to 1,000 decisions in one request, answered in order; `jurisdiction` is the default for
        queries that name none (a `DecisionQuery` may)."""
        requests: list[dict[str, Any]] = []
        for q in queries:
            where = None
            if isinstance(q, DecisionQuery):
                subject_id, purpose, categories, where = q.subject_id, q.purpose, q.categories, q.jurisdiction
            else:
                subject_id, purpose = q[0], q[1]
                categories = q[2] if len(q) > 2 else ()
            item: dict[str, Any] = {"subject_id": subject_id, "purpose": purpose, "categories": list(categories)}
            if where is not None:
                item["jurisdiction"] = where
            requests.append(item)
        body: dict[str, Any] = {"requests": requests}
        if jurisdiction is not None:
            body["jurisdiction"] = jurisdiction
        if actor is not None:
            body["actor"] = actor
        if strict:
            body["strict"] = True
        data = self._request("POST", "/v1/decisions", json_body=body)
        return [DecisionResult.from_json(d, data.get("actor"), data.get("policy_version")) for d in data["decisions"]]

    def audience(
        self, purpose: str, subject_ids: Iterable[str] | None = None, *, channel: str | None = None
    ) -> Iterator[str]:
        """The person ids a purpose may reach now, in id order, read line by line as the server streams."""
        body: dict[str, Any] = {"purpose": purpose}
        if subject_ids is not None:
            body["subject_ids"] = list(subject_ids)
        if channel is not None:
            body["channel"] = channel
        with self._http.stream(
            "POST", "/v1/audiences", json=body, headers={"Accept": "application/x-ndjson"}
        ) as response:
            if response.status_code >= 400:
                response.read()
                raise FiduciaryAPIError.from_response(response)
            for line in response.iter_lines():
                if line:
                    yield json.loads(line)["subject_id"]

    # ------------------------------------------------------------------------------------------- comms

    def unsubscribe_headers(
        self, subject_id: str, purpose: str, *, mailto: str | None = None, valid_days: int | None = None
    ) -> dict[str, str]:
        """`List-Unsubscribe` (+ `List-Unsubscribe-Post` on https) for one message; DKIM must sign both."""
        body: dict[str, Any] = {"subject_id": subject_id, "purpose": purpose}
        if mailto is not None:
            body["mailto"] = mailto
        if valid_days is not None:
            body["valid_days"] = valid_days
        data = self._request("POST", "/v1/comms/unsubscribe-headers", json_body=body)
        headers: dict[str, str] = data["headers"]
        return headers


def _segment(value: str) -> str:
    """Refuse a path segment that could change the URL; the server checks the id's shape itself."""
    if not value or any(c in value for c in "/?#%\\") or value in (".", ".."):
        raise ValueError("not a valid id")
    return value


def consent_item(
    subject_id: str,
    actions: Mapping[str, str],
    channel: str,
    *,
    language: str | None = None,
    guardian_id: str | None = None,
    user_agent: str | None = None,
    ip_address: str | None = None,
    gpc: bool = False,
) -> dict[str, Any]:
    """One subject's choices as the consent endpoints take them (`record_consents`, `record_consent_batch`)."""
    body: dict[str, Any] = {
        "subject_id": subject_id,
        "channel": channel,
        "actions": [{"purpose": p, "action": a} for p, a in actions.items()],
    }
    if language is not None:
        body["language"] = language
    if guardian_id is not None:
        body["guardian_id"] = guardian_id
    if user_agent is not None or ip_address is not None or gpc:
        body["evidence"] = {"user_agent": user_agent, "ip_address": ip_address, "gpc": gpc}
    return body

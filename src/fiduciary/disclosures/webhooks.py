"""Sending the notices: the job `disclosures.deliver` signs each queued delivery (Standard Webhooks:
`webhook-id`, `webhook-timestamp`, `webhook-signature`, HMAC-SHA256 under the recipient's secret) and POSTs
it to the recipient's endpoint. A 2xx answer means the notice was received (`delivered`), not yet that the
recipient acted: it acknowledges that later by a signed call of its own (`disclosures.acknowledgements`,
decision 0037). Anything else (a timeout, a 500, a refusal of the signature) is retried after a doubling
wait, from `FIRST_RETRY` up to `MAX_WAIT`, until `GIVE_UP_AFTER` (5 days) has passed since the change: then
the delivery is `failed`, listed to staff as never acknowledged (GDPR Art 19: the store tells each recipient
"unless this proves impossible or involves disproportionate effort", and must be able to show it tried).

Like the outbox (`comms.delivery`), a deliverer claims a batch with one conditional UPDATE (`pending` →
`sending`, committed before anything is sent), so two deliverers never send the same notice twice at
once; the batch is sent by a small thread pool over one keep-alive HTTP client, and every attempt is
recorded (`webhook_attempts`: status or error class, duration). A deliverer killed mid-batch leaves rows
`sending`; a later run puts them back after `STALE_AFTER`, and the recipient recognises the copy by its
`webhook-id`. Logs name the delivery, the recipient and the status only: never the secret or a value.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from fiduciary.context import RuntimeContext
from fiduciary.disclosures.endpoints import endpoint_secret
from fiduciary.disclosures.models import ATTEMPTS_TABLE, RecipientEndpoint, WebhookDelivery
from fiduciary.disclosures.propagation import (
    ACKNOWLEDGED,
    ACTIONS,
    DELIVER_JOB,
    DELIVERED,
    FAILED,
    PENDING,
    SENDING,
    backlog,
)
from fiduciary.jobs import JobCall, register_job
from fiduciary.personal_data.changes import ChangeKind
from fiduciary.storage.base import utcnow
from fiduciary.vault.records import bulk_insert

log = logging.getLogger(__name__)

GIVE_UP_AFTER: Final = timedelta(days=5)
FIRST_RETRY: Final = timedelta(seconds=30)
MAX_WAIT: Final = timedelta(hours=6)
STALE_AFTER: Final = timedelta(minutes=10)
TIMEOUT_SECONDS: Final = 10.0
BATCH: Final = 500
WORKERS: Final = 16
NOT_CONFIGURED: Final = "endpoint_not_configured"


@dataclass
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    reclaimed: int = 0
    backlog: int = 0

    def counts(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Outcome:
    status: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def notice_body(row: WebhookDelivery) -> str:
    """The notice: what changed, the recipient's reference for the person, the categories, what to do."""
    kind = ChangeKind(row.event)
    data = {
        "notice_id": row.id,
        "event": kind.value,
        "action": ACTIONS[kind],
        "person_ref": row.recipient_ref,
        "categories": list(row.categories),
        "purposes": row.purposes,
        "changed_at": row.created_at.isoformat(),
    }
    body = {"type": f"person.{kind.value}", "timestamp": row.created_at.isoformat(), "data": data}
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def signed_headers(secret: str, delivery_id: str, body: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for one send."""
    signature = Webhook(secret).sign(delivery_id, at, body)
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": "fiduciary-webhooks/1",
    }


def wait_after(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: 30 s, doubling, at most 6 hours."""
    factor: int = 2 ** min(max(attempts - 1, 0), 20)
    return min(FIRST_RETRY * factor, MAX_WAIT)


def _post(client: httpx.Client, url: str, headers: Mapping[str, str], body: str) -> Outcome:
    started = time.perf_counter()
    try:
        answer = client.post(url, content=body.encode("utf-8"), headers=dict(headers))
        status, error = answer.status_code, None if answer.is_success else f"http_{answer.status_code}"
    except httpx.TimeoutException:
        status, error = None, "timeout"
    except httpx.HTTPError as exc:
        status, error = None, type(exc).__name__
    return Outcome(status, error, int((time.perf_counter() - started) * 1000))


def _reclaim_stale(session: Session, now: datetime) -> int:
    stale = (WebhookDelivery.state == SENDING, WebhookDelivery.claimed_at < now - STALE_AFTER)
    if session.scalar(select(WebhookDelivery.id).where(*stale).limit(1)) is None:
        session.rollback()
        return 0
    result = session.execute(update(WebhookDelivery).where(*stale).values(state=PENDING, next_attempt_at=now))
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def _claim(session: Session, now: datetime, limit: int) -> list[WebhookDelivery]:
    """Take up to `limit` due deliveries (committed as `sending` before anything is sent)."""
    due = session.scalars(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.state == PENDING, WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    ).all()
    if not due:
        session.rollback()
        return []
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(due), WebhookDelivery.state == PENDING)
        .values(state=SENDING, attempts=WebhookDelivery.attempts + 1, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    rows = session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.id.in_(due), WebhookDelivery.state == SENDING, WebhookDelivery.claimed_at == now
        )
    ).all()
    session.expunge_all()
    session.rollback()
    return list(rows)


def _endpoints(runtime: RuntimeContext, session: Session, recipients: set[str]) -> dict[str, tuple[str, str]]:
    """recipient -> (url, secret) for the recipients that have an endpoint."""
    rows = session.scalars(select(RecipientEndpoint).where(RecipientEndpoint.recipient_id.in_(sorted(recipients))))
    out = {row.recipient_id: (row.url, endpoint_secret(runtime, row)) for row in rows}
    session.rollback()
    return out


def _send_all(
    rows: Sequence[WebhookDelivery], endpoints: Mapping[str, tuple[str, str]], timeout: float, workers: int
) -> list[Outcome]:
    def send(row: WebhookDelivery) -> Outcome:
        found = endpoints.get(row.recipient_id)
        if found is None:
            return Outcome(None, NOT_CONFIGURED, 0)
        url, secret = found
        body = notice_body(row)
        return _post(client, url, signed_headers(secret, row.id, body, utcnow()), body)

    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    with httpx.Client(timeout=timeout, limits=limits, follow_redirects=False) as client:
        if len(rows) == 1 or workers <= 1:
            return [send(row) for row in rows]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhooks") as pool:
            return list(pool.map(send, rows))


def _record(
    session: Session, rows: Sequence[WebhookDelivery], outcomes: Sequence[Outcome], now: datetime
) -> DeliveryReport:
    """Write every attempt and each delivery's new state in one transaction."""
    report = DeliveryReport()
    attempts: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for row, outcome in zip(rows, outcomes, strict=True):
        attempts.append(
            {
                "delivery_id": row.id,
                "at": now,
                "status": outcome.status,
                "error": outcome.error,
                "duration_ms": outcome.duration_ms,
            }
        )
        change: dict[str, Any] = {
            "id": row.id,
            "last_status": outcome.status,
            "last_error": outcome.error,
            "claimed_at": None,
        }
        if outcome.delivered:
            change.update(state=DELIVERED, delivered_at=now, next_attempt_at=row.next_attempt_at)
            report.delivered += 1
        elif now - row.created_at >= GIVE_UP_AFTER:
            change.update(state=FAILED, next_attempt_at=row.next_attempt_at)
            report.failed += 1
        else:
            change.update(state=PENDING, next_attempt_at=now + wait_after(row.attempts))
            report.retried += 1
        if not outcome.delivered:
            log.warning(
                "webhook %s to %s attempt %d: %s (%s)",
                row.id,
                row.recipient_id,
                row.attempts,
                outcome.error,
                change["state"],
            )
        changes.append(change)
    bulk_insert(session, ATTEMPTS_TABLE, attempts)
    session.execute(update(WebhookDelivery), changes)
    # A recipient may acknowledge while its notice is being sent (it acted on an earlier copy, or answered
    # after our timeout): the acknowledgement stands over whatever this batch recorded.
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_([row.id for row in rows]), WebhookDelivery.acknowledged_at.is_not(None))
        .values(state=ACKNOWLEDGED)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return report


def deliver(
    runtime: RuntimeContext,
    *,
    now: datetime | None = None,
    limit: int = BATCH,
    timeout: float = TIMEOUT_SECONDS,
    workers: int = WORKERS,
    stop: threading.Event | None = None,
    rounds: int = 1_000,
) -> DeliveryReport:
    """Send what is due, batch after batch, until nothing is due (or `stop`); report the counts."""
    total = DeliveryReport()
    with runtime.sessions() as session:
        moment = now or utcnow()
        total.reclaimed = _reclaim_stale(session, moment)
        for _ in range(rounds):
            if stop is not None and stop.is_set():
                break
            moment = now or utcnow()
            rows = _claim(session, moment, limit)
            if not rows:
                break
            endpoints = _endpoints(runtime, session, {row.recipient_id for row in rows})
            outcomes = _send_all(rows, endpoints, timeout, workers)
            report = _record(session, rows, outcomes, now or utcnow())
            total.delivered += report.delivered
            total.retried += report.retried
            total.failed += report.failed
        total.backlog = backlog(session)
    return total


def deliver_job(runtime: RuntimeContext, call: JobCall) -> dict[str, int]:
    """The job `disclosures.deliver`: queued with each change, and a periodic sweep for the retries."""
    return deliver(runtime, stop=call.stop).counts()


def _sweep_seconds(settings: Any) -> float:
    seconds: float = settings.outbox_sweep_seconds
    return seconds


DELIVER: Final = register_job(DELIVER_JOB, deliver_job, retries=0, every=_sweep_seconds)

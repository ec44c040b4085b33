"""Rights requests over HTTP (issue 13 benchmarks), each beside `GET /healthz` in the same run and server:

- listing: the first page (50) of 10,000 open requests sorted by due date, `GET /v1/requests` (target: under
  50 ms);
- erasure: `POST /v1/requests` for an erasure the store vouches for (signed-in session), which verifies, runs
  every eraser and completes in that one call, for people holding 1,000 / 10,000 / 100,000 vault records
  (target: under 100 ms, flat in the number of records).

Requests are sequential (one client): the figures are latencies, p50 and p99 in ms.

Run: `.venv/bin/python bench/rights_requests.py [--engine both] [--open 10000] [--records 1000,10000,100000]`
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta

import httpx
import sqlalchemy as sa
from _support import Engine, database, engines, server

from fiduciary.auth.service import create_api_key
from fiduciary.config import Settings
from fiduciary.people.service import create_person, new_id
from fiduciary.rights.models import REQUESTS_TABLE
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from fiduciary.vault.service import VaultService

BATCH = 5_000
PER_SIZE = 5  # people erased per size: each erasure is measured once


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def seed_open_requests(runtime: Runtime, count: int) -> None:
    """`count` open requests of 100 people, due over the next 90 days (rows written directly: the listing is
    measured, not the intake)."""
    now = utcnow()
    with runtime.sessions() as session:
        people = [create_person(session, policy=runtime.policy(), is_child=False).id for _ in range(100)]
        session.commit()
        rows = []
        for i in range(count):
            due = now + timedelta(minutes=13 * i % (90 * 24 * 60))
            rows.append(
                {
                    "id": new_id("rr"), "kind": "access", "person_id": people[i % 100], "state": "in_progress",
                    "made_by": "store", "channel": "email", "actor": "bench", "details": {}, "received_at": now,
                    "due_at": due, "due_on": due.date(), "respond_by": due, "version": 1, "updated_at": now,
                }
            )  # fmt: skip
        for start in range(0, count, BATCH):
            session.execute(sa.insert(REQUESTS_TABLE), rows[start : start + BATCH])
        session.commit()


def person_with_records(runtime: Runtime, records: int) -> str:
    vault = VaultService(runtime)
    with runtime.sessions() as session:
        person = create_person(session, policy=runtime.policy(), is_child=False).id
        vault.add_identifiers(session, person, {"email": f"bench.{person[-8:]}@example.com"})
        for start in range(0, records, BATCH):
            values = [f"Support message {n}" for n in range(start, min(records, start + BATCH))]
            vault.append_records(
                session, person, "support.messages", values, purpose="customer_support", source="provided"
            )
            session.commit()
        return person


def timed(client: httpx.Client, method: str, url: str, **kw: object) -> float:
    t0 = time.perf_counter()
    answer = client.request(method, url, **kw)  # type: ignore[arg-type]
    elapsed = (time.perf_counter() - t0) * 1000
    if answer.status_code >= 400:
        raise RuntimeError(f"{method} {url}: {answer.status_code} {answer.text[:300]}")
    return elapsed


def report(label: str, values: list[float], reference: list[float]) -> None:
    print(
        f"  {label:<44} p50 {statistics.median(values):7.1f} ms  p99 {pct(values, 0.99):7.1f} ms"
        f"   | /healthz p50 {statistics.median(reference):5.1f} ms  p99 {pct(reference, 0.99):5.1f} ms"
    )


def run(engine_name: Engine, open_requests: int, records: list[int], rounds: int) -> None:
    with database(engine_name) as (url, tmp):
        settings = Settings(database_url=url, data_dir=tmp / "data")
        runtime = Runtime.start(settings)
        with runtime.sessions() as session:
            _, key = create_api_key(session, "bench", ["rights:manage"])
            session.commit()
        seed_open_requests(runtime, open_requests)
        warm = person_with_records(runtime, 10)
        people = {n: [person_with_records(runtime, n) for _ in range(PER_SIZE)] for n in records}
        runtime.close()
        print(f"[{engine_name}] {open_requests:,} open requests")
        headers = {"Authorization": f"Bearer {key}"}
        with (
            server(settings.resolved_database_url, settings.data_dir) as base,
            httpx.Client(base_url=base, headers=headers, timeout=60) as client,
        ):
            for _ in range(20):  # warm up both paths
                timed(client, "GET", "/v1/requests?limit=50")
                timed(client, "GET", "/healthz")
            listing, reference = [], []
            for _ in range(rounds):
                listing.append(timed(client, "GET", "/v1/requests?limit=50"))
                reference.append(timed(client, "GET", "/healthz"))
            report("GET /v1/requests first page of 50", listing, reference)
            timed(
                client,
                "POST",
                "/v1/requests",
                json={"kind": "erasure", "person_id": warm, "verified_by": "signed_in_session"},
            )
            for n, persons in people.items():
                erasures, reference = [], []
                for person in persons:
                    body = {"kind": "erasure", "person_id": person, "verified_by": "signed_in_session"}
                    erasures.append(timed(client, "POST", "/v1/requests", json=body))
                    reference.append(timed(client, "GET", "/healthz"))
                report(f"POST /v1/requests erasure, {n:,} records", erasures, reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--open", type=int, default=10_000, help="open requests in the listing")
    parser.add_argument("--records", default="1000,10000,100000", help="vault records per erased person")
    parser.add_argument("--rounds", type=int, default=200, help="listing requests measured")
    args = parser.parse_args()
    records = [int(n) for n in args.records.split(",") if n]
    for name in engines(args.engine):
        run(name, args.open, records, args.rounds)


if __name__ == "__main__":
    main()

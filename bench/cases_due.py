"""The staff listing of what is due across everything (issue 16 benchmark): the first page (50) of
`GET /v1/cases/due` over 100,000 open cases of mixed kinds (grievances with 2 clocks, vulnerability reports
with 2, breaches with 4: about 250,000 open clocks, some met) and 10,000 open rights requests, beside
`GET /healthz` in the same run and server (target: under 50 ms). Also the same page with a horizon
(`within=48h`) and one kind, and `list_due` in process (the SQL alone).

Requests are sequential (one client): the figures are latencies, p50 and p99 in ms.

Run: `.venv/bin/python bench/cases_due.py [--engine both] [--cases 100000] [--requests 10000] [--rounds 200]`
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
from fiduciary.cases.due import DueFilter, list_due
from fiduciary.cases.models import CASES_TABLE, CLOCKS_TABLE
from fiduciary.config import Settings
from fiduciary.people.service import create_person, new_id
from fiduciary.rights.models import REQUESTS_TABLE
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow

BATCH = 5_000
KINDS = (("grievance", ("acknowledge", "resolve")), ("vulnerability", ("acknowledge", "triage")))
BREACH = ("breach", ("cert_in", "authority_initial", "authority_detailed", "notify_people"))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def _case_rows(count: int) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Cases spread over the next 90 days (a tenth already overdue), every fifth clock met."""
    now = utcnow()
    cases, clocks = [], []
    for i in range(count):
        kind, names = BREACH if i % 10 == 0 else KINDS[i % 2]
        case_id = new_id("cs")
        opened = now - timedelta(minutes=(7 * i) % (9 * 24 * 60))
        cases.append(
            {
                "id": case_id, "kind": kind, "state": "open", "version": 1, "channel": "api", "actor": "bench",
                "opened_at": opened, "details": {}, "updated_at": opened,
                "assigned_to": f"ops.{i % 7}" if i % 3 == 0 else None,
            }
        )  # fmt: skip
        for n, name in enumerate(names):
            due = opened + timedelta(hours=6 * (n + 1) + (13 * i) % (90 * 24))
            clocks.append(
                {
                    "case_id": case_id, "kind": kind, "name": name, "started_at": opened, "due_at": due,
                    "due_on": due.date(), "escalate_at": due - timedelta(hours=2),
                    "met_at": opened if (i + n) % 5 == 0 else None,
                }
            )  # fmt: skip
    return cases, clocks


def seed(runtime: Runtime, cases: int, requests: int) -> None:
    """Rows written directly: the listing is measured, not the intake."""
    now = utcnow()
    case_rows, clock_rows = _case_rows(cases)
    with runtime.sessions() as session:
        for table, rows in ((CASES_TABLE, case_rows), (CLOCKS_TABLE, clock_rows)):
            for start in range(0, len(rows), BATCH):
                session.execute(sa.insert(table), rows[start : start + BATCH])
            session.commit()
        people = [create_person(session, policy=runtime.policy(), is_child=False).id for _ in range(100)]
        rows = []
        for i in range(requests):
            due = now + timedelta(minutes=(17 * i) % (60 * 24 * 60) - 24 * 60)
            rows.append(
                {
                    "id": new_id("rr"), "kind": "access", "person_id": people[i % 100], "state": "in_progress",
                    "made_by": "store", "channel": "email", "actor": "bench", "details": {}, "received_at": now,
                    "due_at": due, "due_on": due.date(), "respond_by": due, "version": 1, "updated_at": now,
                }
            )  # fmt: skip
        for start in range(0, requests, BATCH):
            session.execute(sa.insert(REQUESTS_TABLE), rows[start : start + BATCH])
        session.commit()
        if session.get_bind().dialect.name == "postgresql":
            session.execute(sa.text("ANALYZE"))
            session.commit()


def timed(client: httpx.Client, url: str) -> float:
    t0 = time.perf_counter()
    answer = client.get(url)
    elapsed = (time.perf_counter() - t0) * 1000
    if answer.status_code >= 400:
        raise RuntimeError(f"GET {url}: {answer.status_code} {answer.text[:300]}")
    return elapsed


def report(label: str, values: list[float], reference: list[float] | None = None) -> None:
    line = f"  {label:<52} p50 {statistics.median(values):7.1f} ms  p99 {pct(values, 0.99):7.1f} ms"
    if reference:
        line += f"   | /healthz p50 {statistics.median(reference):5.1f} ms  p99 {pct(reference, 0.99):5.1f} ms"
    print(line)


def in_process(runtime: Runtime, rounds: int) -> list[float]:
    times = []
    with runtime.sessions() as session:
        for _ in range(rounds):
            t0 = time.perf_counter()
            page = list_due(session, DueFilter(limit=50), now=utcnow())
            times.append((time.perf_counter() - t0) * 1000)
            assert len(page.items) == 50
            session.rollback()
    return times


def run(engine_name: Engine, cases: int, requests: int, rounds: int) -> None:
    with database(engine_name) as (url, tmp):
        settings = Settings(database_url=url, data_dir=tmp / "data")
        runtime = Runtime.start(settings)
        with runtime.sessions() as session:
            _, key = create_api_key(session, "bench", ["cases:read"])
            session.commit()
        t0 = time.perf_counter()
        seed(runtime, cases, requests)
        seeded = time.perf_counter() - t0
        print(f"[{engine_name}] {cases:,} open cases, {requests:,} open requests (seeded in {seeded:.0f} s)")
        report("list_due in process, first page of 50", in_process(runtime, rounds))
        runtime.close()
        headers = {"Authorization": f"Bearer {key}"}
        with (
            server(settings.resolved_database_url, settings.data_dir) as base,
            httpx.Client(base_url=base, headers=headers, timeout=60) as client,
        ):
            for label, path in (
                ("GET /v1/cases/due first page of 50", "/v1/cases/due?limit=50"),
                ("GET /v1/cases/due?within=48h&kind=breach", "/v1/cases/due?within=48h&kind=breach&limit=50"),
            ):
                for _ in range(20):  # warm up both paths
                    timed(client, path)
                    timed(client, "/healthz")
                listing, reference = [], []
                for _ in range(rounds):
                    listing.append(timed(client, path))
                    reference.append(timed(client, "/healthz"))
                report(label, listing, reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--cases", type=int, default=100_000, help="open cases")
    parser.add_argument("--requests", type=int, default=10_000, help="open rights requests")
    parser.add_argument("--rounds", type=int, default=200, help="listing requests measured")
    args = parser.parse_args()
    for name in engines(args.engine):
        run(name, args.cases, args.requests, args.rounds)


if __name__ == "__main__":
    main()

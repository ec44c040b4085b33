"""Inactivity erasure (issue 15 item 3, docs/inactivity.md): what the sweep and the contact clock cost.

- plan: `inactivity_sweep.plan` over `--people` clocks of which 5% are due for the 48-hour notice (the rest
  contacted the store within the last two years): seconds per plan (the indexed range scan plus the exact due
  date of each candidate on the policy's calendar);
- notices: `inactivity_sweep.run` over `--notify` people all due for notice, each with an email on file:
  notices enqueued per second (the address read from the vault, the message rendered and sealed, the clock
  marked, one audit event per batch of 500);
- contact: `inactivity_clock.touch`, the UPSERT every sign-in, request, consent change and reported contact
  runs, each call moving a different person's clock: microseconds per call, 10,000 calls in one
  transaction, and per call with its own commit;
- backfill (`--backfill N`): `inactivity_backfill.backfill_clocks` over N people created before the clock,
  none with a clock: seconds for the one INSERT … SELECT, then for a second run that starts none.

Rows for the plan are written directly (people and clocks; the plan is measured, not the seeding).

Run: `PYTHONPATH=src .venv/bin/python bench/inactivity.py [--engine both] [--people 1000000] [--notify 2000]`
or `… bench/inactivity.py --backfill 1000000`
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from _support import Engine, database, engines

from fiduciary.config import DEMO_POLICY_PATH, Settings
from fiduciary.people.models import Person
from fiduciary.people.service import create_person, new_id
from fiduciary.retention.inactivity_backfill import backfill_clocks
from fiduciary.retention.inactivity_clock import touch
from fiduciary.retention.inactivity_models import CLOCKS
from fiduciary.retention.inactivity_sweep import plan, run
from fiduciary.runtime import Runtime
from fiduciary.vault.service import VaultService

BATCH = 20_000
NOW = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
DUE_CONTACT = NOW - timedelta(days=3 * 365 + 1) + timedelta(hours=24)  # 3 years end within 48 hours of NOW
RULE = """  - id: inactive_accounts
    categories: [contact.email]
    trigger: last_activity
    keep_for: 3y
    action: delete
    advance_notice: 48h
"""


def policy_file(work: Path) -> Path:
    path = work / "inactivity-policy.yaml"
    text = DEMO_POLICY_PATH.read_text(encoding="utf-8")
    path.write_text(text.replace("\nretention:\n", "\nretention:\n" + RULE, 1), encoding="utf-8")
    return path


def seed(runtime: Runtime, people: int) -> int:
    """`people` people and clocks; every 20th is due for notice at NOW. Returns how many are due."""
    people_table = Person.__table__
    due = 0
    with runtime.engine.begin() as conn:
        for start in range(0, people, BATCH):
            ids = [new_id("per") for _ in range(min(BATCH, people - start))]
            conn.execute(
                sa.insert(people_table),
                [{"id": i, "status": "active", "age_status": "adult", "created_at": NOW} for i in ids],
            )
            clocks = []
            for n, person in enumerate(ids, start):
                if n % 20 == 0:
                    due += 1
                    last = DUE_CONTACT + timedelta(seconds=n % 3600)
                else:
                    last = NOW - timedelta(minutes=n % (2 * 365 * 24 * 60))
                clocks.append({"person_id": person, "last_contact_at": last})
            conn.execute(sa.insert(CLOCKS), clocks)
    return due


def measure_plan(runtime: Runtime, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        with runtime.sessions() as session:
            t0 = time.perf_counter()
            report = plan(runtime, session, now=NOW)
            times.append(time.perf_counter() - t0)
    print(f"  plan: notify {report.notified}, waiting {report.waiting}, erase {report.erased}")
    return times


def measure_notices(runtime: Runtime, count: int) -> tuple[int, float]:
    vault = VaultService(runtime)
    with runtime.sessions() as session:
        for n in range(count):
            person = create_person(session, policy=runtime.policy(), is_child=False).id
            vault.add_identifiers(session, person, {"email": f"bench.{n}@example.com"})
            touch(session, person, DUE_CONTACT)
        session.commit()
    t0 = time.perf_counter()
    report = run(runtime, now=NOW)
    return report.notified, time.perf_counter() - t0


def measure_touch(runtime: Runtime, calls: int) -> tuple[float, float]:
    """Each call a different person's clock moving forward (a sign-in touches one person once): `calls` in
    one transaction, then 2,000 more each with its own commit."""
    committed_calls = min(calls, 2_000)
    people = [new_id("per") for _ in range(calls + committed_calls)]
    with runtime.engine.begin() as conn:
        conn.execute(
            sa.insert(Person.__table__),
            [{"id": i, "status": "active", "age_status": "adult", "created_at": NOW} for i in people],
        )
        conn.execute(sa.insert(CLOCKS), [{"person_id": i, "last_contact_at": NOW} for i in people])
    with runtime.sessions() as session:
        t0 = time.perf_counter()
        for person in people[:calls]:
            touch(session, person, NOW + timedelta(seconds=1))
        in_one = (time.perf_counter() - t0) / calls
        session.commit()
        t0 = time.perf_counter()
        for person in people[calls:]:
            touch(session, person, NOW + timedelta(seconds=1))
            session.commit()
        each_committed = (time.perf_counter() - t0) / committed_calls
    return in_one, each_committed


def bench(engine: Engine, people: int, notify: int) -> None:
    with database(engine) as (url, work), database(engine) as (url2, work2):
        runtime = Runtime.start(Settings(database_url=url, data_dir=work / "data", policy_file=policy_file(work)))
        try:
            t0 = time.perf_counter()
            due = seed(runtime, people)
            print(f"{engine}: seeded {people:,} clocks ({due:,} due for notice) in {time.perf_counter() - t0:.1f} s")
            times = measure_plan(runtime, 3)
            print(f"  plan over {people:,}: best {min(times):.2f} s, worst {max(times):.2f} s")
            in_one, committed = measure_touch(runtime, 10_000)
            print(f"  contact UPSERT: {in_one * 1e6:.0f} µs a call in one transaction", end="")
            print(f", {committed * 1e3:.2f} ms a call with its own commit")
        finally:
            runtime.close()
        small = Runtime.start(Settings(database_url=url2, data_dir=work2 / "data", policy_file=policy_file(work2)))
        try:
            sent, seconds = measure_notices(small, notify)
            print(f"  notices: {sent:,} enqueued in {seconds:.1f} s = {sent / seconds:,.0f} a second")
        finally:
            small.close()


def contact_only(engine: Engine) -> None:
    with database(engine) as (url, work):
        runtime = Runtime.start(Settings(database_url=url, data_dir=work / "data", policy_file=policy_file(work)))
        try:
            in_one, committed = measure_touch(runtime, 10_000)
            print(f"{engine}: contact UPSERT {in_one * 1e6:.0f} µs a call in one transaction", end="")
            print(f", {committed * 1e3:.2f} ms a call with its own commit")
        finally:
            runtime.close()


def backfill_only(engine: Engine, people: int) -> None:
    with database(engine) as (url, work):
        runtime = Runtime.start(Settings(database_url=url, data_dir=work / "data", policy_file=policy_file(work)))
        try:
            with runtime.engine.begin() as conn:
                for start in range(0, people, BATCH):
                    rows = [
                        {"id": new_id("per"), "status": "active", "age_status": "adult",
                         "created_at": NOW - timedelta(minutes=n * 7 % (6 * 365 * 24 * 60))}
                        for n in range(start, min(start + BATCH, people))
                    ]  # fmt: skip
                    conn.execute(sa.insert(Person.__table__), rows)
            for label in ("first run", "second run"):
                with runtime.sessions() as session:
                    t0 = time.perf_counter()
                    started = backfill_clocks(runtime, session)
                    took = time.perf_counter() - t0
                print(f"{engine}: backfill {label} over {people:,} people: {started:,} clocks in {took:.2f} s")
        finally:
            runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--people", type=int, default=1_000_000, help="clocks in the plan's database")
    parser.add_argument("--notify", type=int, default=2_000, help="people due for notice in the run's database")
    parser.add_argument("--contact-only", action="store_true", help="measure only the contact UPSERT")
    parser.add_argument("--backfill", type=int, default=0, help="measure only the backfill over this many people")
    args = parser.parse_args()
    for engine in engines(args.engine):
        if args.backfill:
            backfill_only(engine, args.backfill)
        elif args.contact_only:
            contact_only(engine)
        else:
            bench(engine, args.people, args.notify)


if __name__ == "__main__":
    main()

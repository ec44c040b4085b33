"""Benchmark: purpose-bound reads and lookups by email through the access layer, SQLite and PostgreSQL.

    .venv/bin/python bench/audit.py [--engine sqlite|postgresql|both] [--people 2000] [--ops 2000]

Each operation is what one API request does in process (no HTTP): `VaultAccess.read_fields` = decision
(policy + facts from people, consent, restrictions) + key unwrap (cached) + decrypt + mask + audit event on
the ledger and its index; `VaultAccess.lookup` = normalise + blind index + one indexed select + audit event.

- "commit each": every operation in its own transaction, as a request commits (the audit append takes the
  ledger head lock and SQLite's single write lock, so this is the realistic, serialised figure).
- "100 per transaction": the same operations, committed every 100, to show the commit's share.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable

from _support import Engine, database, engines
from sqlalchemy.orm import Session

from fiduciary.config import Settings
from fiduciary.runtime import Runtime
from fiduciary.vault.access import VaultAccess
from fiduciary.vault.service import NewPerson, VaultService

ACTOR = "benchKey0001"


def populate(runtime: Runtime, n: int) -> list[tuple[str, str]]:
    """n people with name, email, phone and address, and their email as a lookup identifier."""
    vault = VaultService(runtime)
    people: list[NewPerson] = []
    emails = []
    for i in range(n):
        email = f"shopper{i}@example.in"
        emails.append(email)
        people.append(
            NewPerson(
                fields={
                    "identity.name": f"Shopper Number {i}",
                    "contact.email": email,
                    "contact.phone": f"+9198{i:08d}",
                    "contact.address": f"{i} MG Road\nBengaluru 560001",
                },
                identifiers={"email": email},
            )
        )
    ids: list[str] = []
    with runtime.sessions() as session:
        for start in range(0, n, 500):
            ids += vault.create_people(
                session, people[start : start + 500], purpose=["account", "order_fulfilment"], source="provided"
            )
        session.commit()
    return list(zip(ids, emails, strict=True))


def measure(runtime: Runtime, ops: int, per_tx: int, op: Callable[[Session, int], object]) -> tuple[float, float]:
    """(operations per second, p50 ms) over `ops` operations, committing every `per_tx`."""
    latencies: list[float] = []
    started = time.perf_counter()
    done = 0
    while done < ops:
        with runtime.sessions() as session:
            for _ in range(min(per_tx, ops - done)):
                t0 = time.perf_counter()
                op(session, done)
                if per_tx == 1:
                    session.commit()
                latencies.append(time.perf_counter() - t0)
                done += 1
            session.commit()
    elapsed = time.perf_counter() - started
    return ops / elapsed, statistics.median(latencies) * 1000


def run(engine_name: Engine, people: int, ops: int) -> dict[str, tuple[float, float]]:
    with database(engine_name) as (url, tmp):
        settings = Settings(database_url=url, data_dir=tmp / "data")
        runtime = Runtime.start(settings)
        try:
            access = VaultAccess.for_runtime(runtime)
            population = populate(runtime, people)
            rng = random.Random(5)
            picks = [rng.choice(population) for _ in range(ops)]

            def read_full(session: Session, i: int) -> object:
                return access.read_fields(session, ACTOR, None, picks[i][0], "order_fulfilment", ())

            def read_masked(session: Session, i: int) -> object:
                return access.read_fields(
                    session, ACTOR, "support", picks[i][0], "order_fulfilment", ("contact.phone", "identity.name")
                )

            def read_denied(session: Session, i: int) -> object:
                return access.read_fields(session, ACTOR, None, picks[i][0], "marketing.email", ())

            def lookup(session: Session, i: int) -> object:
                found = access.lookup(session, ACTOR, "email", picks[i][1].upper())
                assert found == picks[i][0]
                return found

            def lookup_miss(session: Session, i: int) -> object:
                return access.lookup(session, ACTOR, "email", f"nobody{i}@example.in")

            results: dict[str, tuple[float, float]] = {}
            for label, op in (
                ("read, full values (service)", read_full),
                ("read, masked (support)", read_masked),
                ("read, denied (no consent)", read_denied),
                ("lookup by email, hit", lookup),
                ("lookup by email, miss", lookup_miss),
            ):
                measure(runtime, min(200, ops), 1, op)  # warm the key cache and the statement caches
                results[f"{label}, commit each"] = measure(runtime, ops, 1, op)
                results[f"{label}, 100 per transaction"] = measure(runtime, ops, 100, op)
            return results
        finally:
            runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--ops", type=int, default=2000)
    args = parser.parse_args()
    for engine_name in engines(args.engine):
        results = run(engine_name, args.people, args.ops)
        print(f"\n{engine_name}: {args.people} people, {args.ops} operations per measure")
        for label, (rate, p50) in results.items():
            print(f"  {label:<50} {rate:>9,.0f}/s   p50 {p50:6.2f} ms")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

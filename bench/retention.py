"""Benchmark: the retention plan and run over 1,000,000 people with 10% due (issue 15: plan under 5 s, run at
least 20,000 people a second).

    PYTHONPATH=src .venv/bin/python bench/retention.py [--engine sqlite|postgresql|both] [--people 1000000]
                                                      [--due 0.1] [--batch 20000] [--seed-cache DIR]

Seeding, set-wise and not through the API: `people` rows and two `personal_fields` rows each (name and
email, the demo policy's `account_data` categories, under a placeholder ciphertext: the sweep deletes them
without reading them) by executemany (COPY on PostgreSQL, `vault.records.bulk_insert`). One person in
`1/--due` has an account closed 60 days ago, so `account_data` (30 days after closing) makes their two values
due; everyone else's account is open, which keeps their data. The demo policy is in force, so every rule of it
is planned (the categories' other rules, `transaction_records` and `marketing_contacts`, are evaluated for
every candidate row).

Figures: the wall time of `retention.planner.plan` (the dry run), and of `retention.sweep.run_sweep` to the
end (windows of `--batch` people, one transaction and one audit event each, SQLite's secure_delete on), and
the due people per second of the run; beside each wall time, the CPU time of this process ("CPU here": on
SQLite nearly all the work; on PostgreSQL the server's share is not in it), which a shared machine's load
disturbs less than the wall time. The run is checked: exactly the due values are gone.

`--seed-cache DIR` keeps the seeded database (SQLite: a file under DIR; PostgreSQL: a database
`fiduciary_retseed_<people>_<every>`, its data directory under DIR) and measures on a copy of it (a file copy;
`CREATE DATABASE ... TEMPLATE`), so repeated runs at 1,000,000 people seed once. Seed time is then 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from _support import PG_ADMIN_URL, Engine, database, engines
from sqlalchemy.engine import make_url

from fiduciary.config import Settings
from fiduciary.people.models import Person
from fiduciary.retention.planner import plan
from fiduciary.retention.sweep import run_sweep
from fiduciary.runtime import Runtime
from fiduciary.storage import create_engine_for_url
from fiduciary.vault.records import PERSONAL_FIELDS, bulk_insert
from fiduciary.vault.service import _FIELD_COLUMNS as FIELD_COLUMNS  # the vault's own bulk order

ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
CHUNK = 50_000
PEOPLE = Person.__table__
PEOPLE_COLUMNS = ("id", "status", "age_status", "created_at", "closed_at")


def person_id(number: int) -> str:
    digits = []
    for _ in range(26):
        number, rest = divmod(number, 32)
        digits.append(ALPHABET[rest])
    return "per_" + "".join(reversed(digits))


def seed(runtime: Runtime, people: int, every: int) -> int:
    """Insert the people and their fields in chunks; returns how many are due."""
    now = datetime.now(UTC)
    created = now - timedelta(days=400)
    closed = now - timedelta(days=60)
    blob = os.urandom(60)
    due = 0
    with runtime.sessions() as session:
        for start in range(0, people, CHUNK):
            numbers = range(start, min(start + CHUNK, people))
            rows = []
            fields = []
            for n in numbers:
                pid = person_id(n)
                is_due = n % every == 0
                due += is_due
                rows.append((pid, "closed" if is_due else "active", "unknown", created, closed if is_due else None))
                for category, kind in (("identity.name", "text"), ("contact.email", "email")):
                    fields.append((pid, category, "", kind, 1, blob, "account", "provided", created, created))
            bulk_insert(session, PEOPLE, rows, columns=PEOPLE_COLUMNS)
            bulk_insert(session, PERSONAL_FIELDS, fields, columns=FIELD_COLUMNS)
            session.commit()
    return due


def _pg_url(name: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _pg_admin(statement: str) -> None:
    admin = create_engine_for_url(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(statement))
    finally:
        admin.dispose()


def _seed_into(engine: Engine, url: str, data_dir: Path, people: int, every: int) -> tuple[int, float]:
    runtime = Runtime.start(Settings(database_url=url, data_dir=data_dir))
    try:
        t0 = time.perf_counter()
        due = seed(runtime, people, every)
        seeded = time.perf_counter() - t0
        if engine == "postgresql":
            with runtime.engine.connect() as conn:
                conn.execute(sa.text("ANALYZE"))
                conn.commit()
    finally:
        runtime.close()
    return due, seeded


@contextmanager
def seeded(engine: Engine, people: int, every: int, cache: Path | None) -> Iterator[tuple[str, Path, int, float]]:
    """(database URL, data directory, due people, seed seconds) of a freshly seeded database, or of a copy of
    the one kept in `cache` (seeded there first if it is not yet)."""
    if cache is None:
        with database(engine) as (url, work):
            due, took = _seed_into(engine, url, work / "data", people, every)
            yield url, work / "data", due, took
        return
    kept = cache / f"retention-{engine}-{people}-{every}"
    template = f"fiduciary_retseed_{people}_{every}"
    if not (kept / "seeded").exists():
        shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir(parents=True)
        if engine == "sqlite":
            url = f"sqlite:///{kept / 'bench.db'}"
        else:
            _pg_admin(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
            _pg_admin(f'CREATE DATABASE "{template}"')
            url = _pg_url(template)
        due, _ = _seed_into(engine, url, kept / "data", people, every)
        (kept / "seeded").write_text(str(due))
    due = int((kept / "seeded").read_text())
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch) / "work"
        shutil.copytree(kept, work)
        if engine == "sqlite":
            yield f"sqlite:///{work / 'bench.db'}", work / "data", due, 0.0
            return
        name = f"fiduciary_bench_{uuid.uuid4().hex[:10]}"
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        try:
            yield _pg_url(name), work / "data", due, 0.0
        finally:
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(engine: Engine, people: int, fraction: float, batch: int, cache: Path | None) -> dict[str, float]:
    with seeded(engine, people, round(1 / fraction), cache) as (url, data_dir, due, seeded_s):
        runtime = Runtime.start(Settings(database_url=url, data_dir=data_dir))
        try:
            with runtime.sessions() as session:
                t0, c0 = time.perf_counter(), time.process_time()
                result = plan(session, runtime.policy())
                planned, planned_cpu = time.perf_counter() - t0, time.process_time() - c0
                session.rollback()
            account = next(r for r in result.rules if r.rule == "account_data")
            assert (account.people, account.fields) == (due, 2 * due), account
            t0, c0 = time.perf_counter(), time.process_time()
            report = run_sweep(runtime, actor="bench", batch_size=batch)
            ran, ran_cpu = time.perf_counter() - t0, time.process_time() - c0
            with runtime.sessions() as session:
                left = session.scalar(sa.select(sa.func.count()).select_from(PERSONAL_FIELDS))
            assert left == 2 * (people - due), left
            batches = len({b["seq"] for b in report.batches})
        finally:
            runtime.close()
    return {
        "seed_s": seeded_s,
        "plan_s": planned,
        "plan_cpu_s": planned_cpu,
        "run_cpu_s": ran_cpu,
        "run_s": ran,
        "due_people": due,
        "people_per_s": due / ran,
        "batches": batches,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="sqlite", choices=["sqlite", "postgresql", "both"])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--due", type=float, default=0.1)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--seed-cache", type=Path, default=None, help="keep the seeded database here and reuse it")
    args = parser.parse_args()
    for engine in engines(args.engine):
        figures = measure(engine, args.people, args.due, args.batch, args.seed_cache)
        print(
            f"{engine}: {args.people:,} people, {figures['due_people']:,.0f} due; seed {figures['seed_s']:.1f} s; "
            f"plan {figures['plan_s']:.2f} s (CPU here {figures['plan_cpu_s']:.2f} s); run {figures['run_s']:.2f} s "
            f"(CPU here {figures['run_cpu_s']:.2f} s) in {figures['batches']:.0f} batches "
            f"({figures['people_per_s']:,.0f} due people a second, "
            f"{args.people / figures['run_s']:,.0f} people swept a second)"
        )
    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()

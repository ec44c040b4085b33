"""Benchmark: the personal-data vault on SQLite and PostgreSQL.

    .venv/bin/python bench/vault.py [--engine sqlite|postgresql|both] [--people 20000] [--records 10,1000,100000]

Figures per engine:
- people created per second with 8 validated, encrypted fields and 2 blind-indexed identifiers each
  (`VaultService.create_people`, batches of 1,000, one transaction each); also without validation, to show
  what the validators cost against encryption + inserts;
- field reads per second (`get_fields`, all 8 fields of a random person; warm key cache and with the cache
  disabled, i.e. one KEK unwrap per read);
- lookups by email per second (`find_by_identifier`: normalise, HMAC, one indexed query);
- erasure time for a person with 10, 1,000 and 100,000 records (`erase_person` + commit, which includes
  the fsynced journal line): median and worst of several people per size.
PostgreSQL comes from FIDUCIARY_TEST_POSTGRES_URL; a scratch database is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from fiduciary.config import Settings
from fiduciary.runtime import Runtime
from fiduciary.storage import create_engine_for_url
from fiduciary.vault.erasure import checkpoint_sqlite
from fiduciary.vault.keys.startup import check_vault_keys, close_vault_keys
from fiduciary.vault.service import NewPerson, VaultService

PG_ADMIN_URL = os.environ.get("FIDUCIARY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PURPOSES = ["account", "order_fulfilment", "security", "customer_support"]
BATCH = 1000


@contextmanager
def database(engine_name: str) -> Iterator[tuple[str, Path]]:
    with tempfile.TemporaryDirectory() as tmp:
        if engine_name == "sqlite":
            yield f"sqlite:///{Path(tmp) / 'bench.db'}", Path(tmp) / "data"
            return
        admin = create_engine_for_url(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = f"fiduciary_bench_vault_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False), Path(tmp) / "data"
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def person(i: int) -> NewPerson:
    email = f"customer.{i}@example.com"
    phone = f"9{i % 10}{i:08d}"[-10:]
    return NewPerson(
        fields={
            "identity.name": f"Customer Number {i}",
            "contact.email": email,
            "contact.phone": phone,
            "identity.date_of_birth": f"19{70 + i % 30}-0{1 + i % 9}-1{i % 9}",
            "contact.address": '{"lines": ["' + str(i % 500 + 1) + ' MG Road", "Indiranagar"], "city": "Bengaluru", '
            '"postal_code": "560038", "country": "IN"}',
            "financial.payment_token": f"tok_{uuid.UUID(int=i).hex}",
            "commerce.orders": '{"orders": [{"id": "ORD-' + str(i) + '", "total": 1499.0}]}',
            "device.identifiers": f"ua=Mozilla/5.0; device=dev-{i}",
        },
        identifiers={"email": email, "phone": phone},
    )


def order(n: int) -> str:
    return '{"order": ' + str(n) + ', "total": 99.5}'


class Passthrough:
    """Normalises nothing and validates nothing: isolates encryption + inserts from the validators' cost."""

    class _Value:
        def __init__(self, value: str) -> None:
            self.value = value
            self.masked = "******"

    def normalise_identifier(self, kind: str, value: str, default_country: str) -> str:
        return value

    def validate_field(self, field_type: str, value: str, *, default_country: str) -> Any:
        return self._Value(value)


@dataclass
class Creation:
    """People created per second: overall (wall clock over every batch), the best 1,000-person batch (the
    machine is shared: the closest figure to an idle machine's), and by this process's CPU time (the
    process's own work, whatever else runs: overall and best batch)."""

    overall: float
    best: float
    cpu_overall: float
    cpu_best: float
    ids: list[str]


def timed_create(vault: VaultService, runtime: Runtime, start: int, count: int) -> Creation:
    ids: list[str] = []
    best = cpu_best = 0.0
    wall = cpu = 0.0
    for offset in range(start, start + count, BATCH):
        batch = [person(i) for i in range(offset, min(offset + BATCH, start + count))]
        batch_began, cpu_began = time.perf_counter(), time.process_time()
        with runtime.sessions() as session:
            ids += vault.create_people(session, batch, purpose=PURPOSES, source="provided")
            session.commit()
        batch_wall, batch_cpu = time.perf_counter() - batch_began, time.process_time() - cpu_began
        wall, cpu = wall + batch_wall, cpu + batch_cpu
        best, cpu_best = max(best, len(batch) / batch_wall), max(cpu_best, len(batch) / batch_cpu)
    return Creation(count / wall, best, count / cpu, cpu_best, ids)


def run(engine_name: str, people: int, record_sizes: list[int]) -> None:
    with database(engine_name) as (url, data_dir):
        settings = Settings(database_url=url, data_dir=data_dir)
        runtime = Runtime.start(settings)
        check_vault_keys(runtime)
        vault = VaultService(runtime)

        created = timed_create(vault, runtime, 0, people)
        ids = created.ids
        raw = timed_create(VaultService(runtime, validator=Passthrough()), runtime, people, people // 2)

        rng = random.Random(7)
        reads = 5000
        with runtime.sessions() as session:
            sample = [rng.choice(ids) for _ in range(reads)]
            began = time.perf_counter()
            for person_id in sample:
                assert len(vault.get_fields(session, person_id)) == 8
            warm = reads / (time.perf_counter() - began)
            keys = check_vault_keys(runtime)
            size, keys.cache.size = keys.cache.size, 0
            keys.cache.clear()
            began = time.perf_counter()
            for person_id in sample[:2000]:
                vault.get_fields(session, person_id)
            cold = 2000 / (time.perf_counter() - began)
            keys.cache.size = size
            emails = [f"Customer.{rng.randrange(people)}@Example.com" for _ in range(reads)]
            began = time.perf_counter()
            for email in emails:
                assert vault.find_by_identifier(session, "email", email) is not None
            lookups = reads / (time.perf_counter() - began)

        erasures: dict[int, list[tuple[float, float]]] = {}  # (wall ms, CPU ms) per erasure
        for size in record_sizes:
            repeats = 3 if size >= 100_000 else 7
            times: list[tuple[float, float]] = []
            for _ in range(repeats):
                with runtime.sessions() as session:
                    (person_id,) = vault.create_people(
                        session, [person(10**7 + rng.randrange(10**6))], purpose=PURPOSES, source="provided"
                    )
                    session.commit()
                    for offset in range(0, size, 10_000):
                        vault.append_records(
                            session,
                            person_id,
                            "commerce.orders",
                            [
                                '{"order": ' + str(n) + ', "total": 99.5}'
                                for n in range(offset, min(size, offset + 10_000))
                            ],
                            purpose="order_fulfilment",
                            source="automatic",
                        )
                        session.commit()
                # Fold the bulk insert's WAL into the file first, so SQLite's auto-checkpoint (which the next
                # commit after 1,000 WAL pages triggers) is not billed to the erasure.
                checkpoint_sqlite(runtime.engine)
                with runtime.sessions() as session:
                    began, cpu_began = time.perf_counter(), time.process_time()
                    vault.erase_person(session, person_id, "rights_request")
                    session.commit()
                    times.append(((time.perf_counter() - began) * 1000, (time.process_time() - cpu_began) * 1000))
            erasures[size] = times
        close_vault_keys(runtime)
        runtime.close()

    print(f"\n[{engine_name}] {people:,} people, 8 fields + 2 identifiers each")
    for label, result in (("validated", created), ("no validation", raw)):
        print(
            f"  create ({label}):{' ' * (17 - len(label))}{result.overall:,.0f} people/s overall, "
            f"best batch {result.best:,.0f}/s; by CPU time {result.cpu_overall:,.0f}/s overall, "
            f"best batch {result.cpu_best:,.0f}/s"
        )
    print(f"  get_fields, warm cache:    {warm:,.0f} reads/s ({1e6 / warm:.0f} µs)")
    print(f"  get_fields, unwrap each:   {cold:,.0f} reads/s ({1e6 / cold:.0f} µs)")
    print(f"  find_by_identifier(email): {lookups:,.0f} lookups/s ({1e6 / lookups:.0f} µs)")
    for size, measured in erasures.items():
        walls = [wall for wall, _ in measured]
        print(
            f"  erase_person, {size:>7,} records: median {statistics.median(walls):.2f} ms, "
            f"best {min(walls):.2f} ms, max {max(walls):.2f} ms, "
            f"CPU median {statistics.median(cpu for _, cpu in measured):.2f} ms (n={len(measured)})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--records", default="10,1000,100000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.records.split(",")]
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    for engine in engines:
        run(engine, args.people, sizes)


if __name__ == "__main__":
    main()

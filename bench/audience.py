"""Benchmark: the audience query for one purpose over 1,000,000 people (target under 2 s), SQLite and PostgreSQL.

    .venv/bin/python bench/audience.py [--people 1000000] [--engine sqlite|postgresql|both]

A population with a mix of states is bulk-loaded (executemany on SQLite, COPY on PostgreSQL; loading is
not timed): 3% closed accounts, 4% children (half with a guardian's grant), 1% with an active objection or
restriction, and for each of marketing.email, marketing.sms and analytics about 60% with a consent row
(70% granted, 20% withdrawn, 10% refused), 10% of the grants under a version older than the re-consent
floor. Then each audience is streamed to the end through `eligible_people` (the code behind
POST /v1/audiences) and timed from the query to the last id; the best of three runs is reported. A list
audience (100,000 given ids) is timed too.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa
from _support import Engine, database, engines, server

from fiduciary.auth.service import create_api_key
from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.decisions.audiences import eligible_people
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.loader import load_policy
from fiduciary.policy.schema import PolicyDocument
from fiduciary.storage import create_engine_for_url, make_session_factory, upgrade_to_head

TODAY = date(2027, 6, 1)
CONSENT_PURPOSES = ("marketing.email", "marketing.sms", "analytics")
NOTICE = "sha256:" + "0" * 64


BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def person_id(i: int) -> str:
    """A well-formed person id (`per_` + 26 base32 characters) numbered i, so ids sort like i."""
    digits = []
    for _ in range(26):
        i, r = divmod(i, 32)
        digits.append(BASE32[r])
    return "per_" + "".join(reversed(digits))


def population(
    n: int, seed: int = 7
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]:
    rng = random.Random(seed)
    now = datetime(2027, 1, 1, tzinfo=UTC)
    people: list[tuple[object, ...]] = []
    consents: list[tuple[object, ...]] = []
    restrictions: list[tuple[object, ...]] = []
    for i in range(n):
        pid = person_id(i)
        roll = rng.random()
        if roll < 0.04:
            age_status, adult_on = "child", date(2029, 1, 1) if roll < 0.03 else date(2026, 1, 1)
        elif roll < 0.05:
            age_status, adult_on = "unknown", None
        else:
            age_status, adult_on = "adult", None
        status = "closed" if rng.random() < 0.03 else "active"
        people.append((pid, status, age_status, adult_on, now, now if status == "closed" else None))
        for purpose in CONSENT_PURPOSES:
            if rng.random() < 0.6:
                s = rng.random()
                state = "granted" if s < 0.7 else "withdrawn" if s < 0.9 else "denied"
                version = 1 if rng.random() < 0.1 else 2
                guardian = person_id(n + i) if age_status == "child" and rng.random() < 0.5 else None
                consents.append((pid, purpose, state, version, NOTICE, "checkout", "en", guardian, now, i))
        if rng.random() < 0.01:
            restricted = rng.choice([None, "marketing.email", "customer_support"])
            kind = rng.choice(["objection", "restriction"])
            restrictions.append((pid, restricted, kind, now, None))
    return people, consents, restrictions


def load(engine: sa.Engine, n: int) -> None:
    people, consents, restrictions = population(n)
    floors = [(p, 2, datetime(2027, 1, 1, tzinfo=UTC)) for p in CONSENT_PURPOSES]
    with engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            iso = [(p[0], p[1], p[2], p[3].isoformat() if p[3] else None, p[4].isoformat(), None) for p in people]  # type: ignore[attr-defined]
            cur.executemany(
                "INSERT INTO people (id, status, age_status, adult_on, created_at, closed_at) VALUES (?,?,?,?,?,?)", iso
            )
            cur.executemany(
                "INSERT INTO consent_state (subject_id, purpose, status, policy_version, notice_hash, channel,"
                " language, guardian_id, updated_at, ledger_position) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(*c[:8], c[8].isoformat(), c[9]) for c in consents],  # type: ignore[attr-defined]
            )
            cur.executemany(
                "INSERT INTO processing_restrictions (person_id, purpose, kind, created_at, lifted_at)"
                " VALUES (?,?,?,?,?)",
                [(r[0], r[1], r[2], r[3].isoformat(), None) for r in restrictions],  # type: ignore[attr-defined]
            )
            cur.executemany(
                "INSERT INTO reconsent_floors VALUES (?,?,?)", [(f[0], f[1], f[2].isoformat()) for f in floors]
            )
            cur.execute("ANALYZE")
        else:
            with cur.copy("COPY people (id, status, age_status, adult_on, created_at, closed_at) FROM STDIN") as copy:
                for row in people:
                    copy.write_row(row)
            with cur.copy(
                "COPY consent_state (subject_id, purpose, status, policy_version, notice_hash, channel, language,"
                " guardian_id, updated_at, ledger_position) FROM STDIN"
            ) as copy:
                for row in consents:
                    copy.write_row(row)
            with cur.copy(
                "COPY processing_restrictions (person_id, purpose, kind, created_at, lifted_at) FROM STDIN"
            ) as copy:
                for row in restrictions:
                    copy.write_row(row)
            cur.executemany("INSERT INTO reconsent_floors VALUES (%s,%s,%s)", floors)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def time_audience(
    sessions: sa.orm.sessionmaker[sa.orm.Session], policy: CompiledPolicy, purpose: str, ids: list[str] | None = None
) -> tuple[float, int]:
    best, count = float("inf"), 0
    for _ in range(3):
        with sessions() as session:
            started = time.perf_counter()
            count = sum(
                len(chunk)
                for chunk in eligible_people(
                    session, policy.compiled_purposes[purpose], today=TODAY, policy=policy, subject_ids=ids
                )
            )
            best = min(best, time.perf_counter() - started)
    return best, count


PROPOSED_INDEXES = {
    # covering: the audience reads policy_version and guardian_id without touching the table rows
    "sqlite": [
        "CREATE INDEX ix_bench_consent_cover ON consent_state"
        " (purpose, status, subject_id, policy_version, guardian_id)",
        "CREATE INDEX ix_bench_people_cover ON people (id, status, age_status, adult_on)",
    ],
    "postgresql": [
        "CREATE INDEX ix_bench_consent_cover ON consent_state (purpose, status, subject_id)"
        " INCLUDE (policy_version, guardian_id)",
    ],
}


def run(engine_name: Engine, n: int, proposed_indexes: bool = False, http: bool = False) -> None:
    policy = CompiledPolicy.build(load_policy(DEMO_POLICY_PATH).document, "sha256:bench", 2)
    with database(engine_name) as (url, workdir):
        engine = create_engine_for_url(url)
        upgrade_to_head(engine)
        started = time.perf_counter()
        load(engine, n)
        print(f"[{engine_name}] loaded {n:,} people in {time.perf_counter() - started:.1f} s (not counted)")
        if proposed_indexes:
            with engine.begin() as conn:
                for ddl in PROPOSED_INDEXES[engine_name]:
                    conn.exec_driver_sql(ddl)
                conn.exec_driver_sql("ANALYZE")
            print(f"[{engine_name}] with the proposed covering indexes")
        sessions = make_session_factory(engine)
        for purpose in ("marketing.email", "analytics", "customer_support", "tax_compliance"):
            seconds, count = time_audience(sessions, policy, purpose)
            verdict = "OK" if seconds < 2 else "SLOW"
            print(f"[{engine_name}] audience {purpose:<17} {count:>9,} eligible in {seconds:.2f} s  {verdict}")
        rng = random.Random(3)
        ids = [person_id(i) for i in rng.sample(range(n), min(100_000, n))]
        seconds, count = time_audience(sessions, policy, "marketing.email", ids)
        print(
            f"[{engine_name}] audience marketing.email, list of {len(ids):,} ids: {count:,} eligible in {seconds:.2f} s"
        )
        time_residences(engine, sessions, engine_name)
        if http:
            time_http(sessions, url, workdir / "data")
        engine.dispose()


def four_jurisdictions() -> CompiledPolicy:
    """The demo policy serving India, the EU, the UK and California, with an age band each and customer
    support on legitimate interests in the EU and UK (DPDP s.7(a) in India): every audience then runs one
    query per group of residences (issue 12, decision 0027)."""
    data = load_policy(DEMO_POLICY_PATH).document.model_dump(mode="json")
    data["controller"]["jurisdictions"] = ["IN", "EU", "UK", "US-CA"]
    data["children"]["by_jurisdiction"] = {
        "IN": {"minimum_age": 18},
        "EU": {"minimum_age": 16},
        "UK": {"minimum_age": 13},
        "US-CA": {"minimum_age": 13, "sale_opt_in_age": 16, "sale_parent_age": 13},
    }
    for purpose in data["purposes"]:
        if purpose["id"] == "customer_support":
            li = {"legal_ground": "legitimate_interests"}
            purpose["grounds_by_jurisdiction"] = {"EU": li, "UK": li}
    return CompiledPolicy.build(PolicyDocument.model_validate(data), "sha256:bench-four", 2)


def time_residences(engine: sa.Engine, sessions: sa.orm.sessionmaker[sa.orm.Session], engine_name: str) -> None:
    """The same population living in four jurisdictions (and 20% unknown): audiences under a policy whose
    ages and grounds differ by residence."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE people SET jurisdiction = CASE substr(id, length(id), 1) "
            "WHEN 'a' THEN 'EU' WHEN 'b' THEN 'EU' WHEN 'c' THEN 'UK' WHEN 'd' THEN 'US-CA' WHEN 'e' THEN NULL "
            "WHEN 'f' THEN NULL ELSE 'IN' END"
        )
    if engine.dialect.name == "postgresql":  # the UPDATE left a dead version of every row behind
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE people")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    policy = four_jurisdictions()
    for purpose in ("marketing.email", "customer_support"):
        seconds, count = time_audience(sessions, policy, purpose)
        print(f"[{engine_name}] by residence: audience {purpose:<17} {count:>9,} eligible in {seconds:.2f} s")


def time_http(sessions: sa.orm.sessionmaker[sa.orm.Session], url: str, data_dir: Path) -> None:
    """The whole path: request, query, NDJSON encoding, transfer over loopback, client reading every byte."""
    with sessions() as session:
        _, key = create_api_key(session, "bench", ["decisions"])
        session.commit()
    with server(url, data_dir) as base:
        best, lines, size = float("inf"), 0, 0
        for _ in range(2):
            started = time.perf_counter()
            lines, size = 0, 0
            with httpx.stream(
                "POST",
                base + "/v1/audiences",
                json={"purpose": "marketing.email"},
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            ) as response:
                assert response.status_code == 200, response.read()
                for chunk in response.iter_bytes():
                    lines += chunk.count(b"\n")
                    size += len(chunk)
            best = min(best, time.perf_counter() - started)
        print(
            f"  HTTP POST /v1/audiences marketing.email: {lines:,} NDJSON lines ({size / 1e6:.1f} MB) in {best:.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--proposed-indexes", action="store_true", help="add the covering indexes first")
    parser.add_argument("--http", action="store_true", help="also time the whole HTTP stream through uvicorn")
    args = parser.parse_args()
    for name in engines(args.engine):
        run(name, args.people, args.proposed_indexes, args.http)


if __name__ == "__main__":
    main()

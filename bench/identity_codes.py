"""One-time code verification with the lock-out check (issue 13 item 2), and issuing for a known identifier
against an unknown one (whose answer and timing must not tell them apart).

- verify: `verify_code` (one UPDATE that charges the attempt and checks expiry, lock and consumption, the
  HMAC, the constant-time compare, a commit), verifications per second, for a right code, a wrong code and a
  challenge already locked; wall clock and the process's CPU.
- issue: `issue_code` + commit for a person's email (outbox message) and for an email nobody holds (decoy),
  p50/p99 in ms, interleaved so load affects both alike.

Run: `.venv/bin/python bench/identity_codes.py [--engine both] [--count 300]`
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from _support import Engine, database, engines

from fiduciary.config import Settings
from fiduciary.identity.codes import CodeLimits, Issued, Limit, issue_code, pace, verify_code
from fiduciary.people.service import create_person
from fiduciary.runtime import Runtime
from fiduciary.storage.ratelimit import DatabaseBuckets
from fiduciary.vault.service import VaultService

EMAIL = "bench.person@example.com"
STRANGER = "nobody.bench@example.com"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def issue(rt: Runtime, limits: CodeLimits, identifier: str, n: int, paced: bool = False) -> tuple[Issued, float]:
    with rt.sessions() as session:
        t0 = time.perf_counter()
        issued = issue_code(
            rt, session, kind="email", identifier=identifier, client_address=f"10.0.{n // 250}.{n % 250}", limits=limits
        )
        session.commit()
        if paced:
            pace(issued)
        return issued, (time.perf_counter() - t0) * 1000


def rate(rt: Runtime, challenges: list[Issued], code_of: Callable[[Issued], str]) -> tuple[float, float]:
    """Verifications per second (wall, CPU) of one verify per challenge, one session each."""
    wall, cpu = time.perf_counter(), time.process_time()
    for issued in challenges:
        with rt.sessions() as session:
            verify_code(rt, session, issued.challenge_id, code_of(issued))
    return len(challenges) / (time.perf_counter() - wall), len(challenges) / (time.process_time() - cpu)


def wrong(issued: Issued) -> str:
    return f"{(int(issued.code) + 1) % 1_000_000:06d}"


def run(engine: Engine, count: int) -> None:
    with database(engine) as (url, work):
        rt = Runtime.start(Settings(database_url=url, data_dir=work / "data"))
        try:
            with rt.sessions() as session:
                person = create_person(session, policy=rt.policy(), is_child=False).id
                VaultService(rt).add_identifiers(session, person, {"email": EMAIL})
                session.commit()
            roomy = Limit("bench.codes", burst=10 * count, every_seconds=0.001)
            limits = CodeLimits(DatabaseBuckets(rt.engine), per_identifier=roomy, per_address=roomy)
            known: list[float] = []
            unknown: list[float] = []
            challenges: list[Issued] = []
            for n in range(count):
                issued, ms = issue(rt, limits, EMAIL, n)
                challenges.append(issued)
                known.append(ms)
                unknown.append(issue(rt, limits, STRANGER, n)[1])
            paced_known = [issue(rt, limits, EMAIL, n, paced=True)[1] for n in range(20)]
            paced_unknown = [issue(rt, limits, STRANGER, n, paced=True)[1] for n in range(20)]
            third = count // 3
            right, bad, locked = challenges[:third], challenges[third : 2 * third], challenges[2 * third :]
            for issued in locked:  # lock these first: 5 wrong tries each
                for _ in range(5):
                    with rt.sessions() as session:
                        verify_code(rt, session, issued.challenge_id, wrong(issued))
            ok_rate = rate(rt, right, lambda i: i.code)
            wrong_rate = rate(rt, bad, wrong)
            locked_rate = rate(rt, locked, lambda i: i.code)
        finally:
            rt.close()
    print(f"[{engine}] issue p50/p99 ms: known {pct(known, 0.5):.2f}/{pct(known, 0.99):.2f}, ", end="")
    print(f"unknown (decoy) {pct(unknown, 0.5):.2f}/{pct(unknown, 0.99):.2f}")
    print(
        f"[{engine}] with pace(), 20 each, p50/max ms: known {pct(paced_known, 0.5):.2f}/{max(paced_known):.2f}, ",
        end="",
    )
    print(f"unknown {pct(paced_unknown, 0.5):.2f}/{max(paced_unknown):.2f}")
    for name, (wall, cpu) in (("right", ok_rate), ("wrong", wrong_rate), ("locked", locked_rate)):
        print(f"[{engine}] verify {name}: {wall:.0f}/s wall, {cpu:.0f}/s CPU")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="both")
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    for engine in engines(args.engine):
        run(engine, args.count)


if __name__ == "__main__":
    main()

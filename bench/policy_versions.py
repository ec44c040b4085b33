"""Benchmark: hashing, diffing and publishing a large policy, and serving the policy in force.

    .venv/bin/python bench/policy_versions.py [--categories 500] [--purposes 200] [--engine sqlite|postgresql|both]

A policy with 500 categories, 200 purposes (5 categories each), 100 recipients and 200 retention rules is
generated from the demo policy; a second version makes 60 changes (new purposes and categories, longer
retention, new countries, reworded descriptions). Timed, best of 5: `content_hash`, `diff_policies`,
`materially_changed_purposes`, `publish` of the second version over the first (reads and validates the
previous document, diffs, inserts; the document cache is cleared first so the read is real) and
`Runtime.policy()` cold (query + compile) and warm (cached). Targets: diff under 50 ms, publish under
300 ms, warm `policy()` under 5 µs.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from _support import Engine, database, engines

from fiduciary.config import DEMO_POLICY_PATH, Settings
from fiduciary.policy import versions
from fiduciary.policy.diff import diff_policies, materially_changed_purposes
from fiduciary.policy.loader import load_policy
from fiduciary.policy.schema import PolicyDocument
from fiduciary.runtime import Runtime


def big_policy(n_categories: int, n_purposes: int) -> dict[str, Any]:
    data = load_policy(DEMO_POLICY_PATH).document.model_dump(mode="json")
    data["categories"] = [
        {
            "id": f"cat.c{i}",
            "name": f"Category {i}",
            "description": f"Data item number {i}.",
            "sources": ["provided"],
            "required": i % 2 == 0,
            "fideslang": "user.content",
        }
        for i in range(n_categories)
    ]
    data["purposes"] = [
        {
            "id": f"pur.p{j}",
            "name": f"Purpose {j}",
            "description": f"What purpose {j} does.",
            "service": f"Service {j}",
            "legal_ground": "consent" if j % 3 == 0 else "contract",
            "categories": [f"cat.c{(j * 5 + k) % n_categories}" for k in range(5)],
        }
        for j in range(n_purposes)
    ]
    data["recipients"] = [
        {
            "id": f"rec.r{r}",
            "name": f"Recipient {r}",
            "kind": "processor",
            "countries": ["IN"],
            "purposes": [f"pur.p{(r * 2 + k) % n_purposes}" for k in range(2)],
            "categories": [f"cat.c{((r * 2) * 5 + k) % n_categories}" for k in range(10)],
        }
        for r in range(100)
    ]
    data["retention"] = [
        {
            "id": f"ret.r{r}",
            "categories": [f"cat.c{(r * 3 + k) % n_categories}" for k in range(3)],
            "trigger": "collected",
            "keep_for": f"{30 + r}d",
            "action": "delete",
        }
        for r in range(200)
    ]
    data["cookies"] = [c for c in data["cookies"] if c.get("purpose") in (None,)]
    return data


def second_version(data: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(data)
    for i in range(10):
        new["categories"].append({**new["categories"][i], "id": f"cat.new{i}", "name": f"New {i}"})
        new["purposes"].append({**new["purposes"][i], "id": f"pur.new{i}", "name": f"New purpose {i}"})
    for r in range(10):
        new["retention"][r]["keep_for"] = "5y"
        new["recipients"][r]["countries"] = ["IN", "SG"]
    for j in range(20):
        new["purposes"][j]["description"] = f"Reworded purpose {j}."
    return new


def best(fn: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bench_database(engine_name: Engine, old: PolicyDocument, new: PolicyDocument) -> None:
    past = datetime(2020, 1, 1, tzinfo=UTC)
    publish_times, cold, warm = [], [], []
    with database(engine_name) as (url, workdir):
        runtime = Runtime.start(Settings(database_url=url, data_dir=workdir / "data"), bootstrap=False)
        try:
            for run in range(5):
                # every run publishes the pair anew under distinct names, so each publish is a real one
                a = old.model_copy(update={"name": f"Run {run} A"})
                b = new.model_copy(update={"name": f"Run {run} B"})
                with runtime.sessions() as s:
                    versions.publish(s, a, "a", past + timedelta(days=2 * run), now=past)
                    s.commit()
                versions._documents.clear()
                with runtime.sessions() as s:
                    t = time.perf_counter()
                    versions.publish(s, b, "b", past + timedelta(days=2 * run + 1), now=past)
                    s.commit()
                    publish_times.append(time.perf_counter() - t)
                runtime._policy = versions.PolicyInForce(runtime.sessions)
                t = time.perf_counter()
                runtime.policy()
                cold.append(time.perf_counter() - t)
                n = 100_000
                t = time.perf_counter()
                for _ in range(n):
                    runtime.policy()
                warm.append((time.perf_counter() - t) / n)
        finally:
            runtime.close()
    print(
        f"[{engine_name}] publish (validate previous + diff + insert): best {min(publish_times) * 1e3:.1f} ms, "
        f"median {statistics.median(publish_times) * 1e3:.1f} ms"
    )
    print(f"[{engine_name}] Runtime.policy() cold (query + compile): best {min(cold) * 1e3:.1f} ms")
    print(f"[{engine_name}] Runtime.policy() warm: {min(warm) * 1e6:.2f} µs per call")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--categories", type=int, default=500)
    parser.add_argument("--purposes", type=int, default=200)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    old = PolicyDocument.model_validate(big_policy(args.categories, args.purposes))
    new = PolicyDocument.model_validate(second_version(old.model_dump(mode="json")))
    changes = diff_policies(old, new)
    print(
        f"policy: {len(old.categories)} categories, {len(old.purposes)} purposes, {len(old.recipients)} "
        f"recipients, {len(old.retention)} retention rules; {len(changes)} changes "
        f"({sum(c.material for c in changes)} material)"
    )
    print(f"content_hash: best {best(lambda: versions.content_hash(old)) * 1e3:.1f} ms")
    print(f"diff_policies: best {best(lambda: diff_policies(old, new)) * 1e3:.1f} ms")
    print(f"materially_changed_purposes: best {best(lambda: materially_changed_purposes(old, new)) * 1e3:.1f} ms")
    for engine_name in engines(args.engine):
        bench_database(engine_name, old, new)


if __name__ == "__main__":
    main()

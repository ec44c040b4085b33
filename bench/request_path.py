"""Benchmark: the CPU of our request path per request, in process, without sockets (issue 17 item 1, issue 14).

    PYTHONPATH=src .venv/bin/python bench/request_path.py [--requests 2000] [--concurrency 8] [--rounds 3]
                                                          [--target all|bare|healthz|read|decision|consent|banner]
                                                          [--profile FILE] [--engine sqlite|postgresql]

Builds the app as `fiduciary serve --workers 1` does (create_app, its lifespan, the JSON access log behind its
queue), on a fresh database (SQLite `synchronous=NORMAL` by default, so the disk stays out of the figure)
with the data of bench/serving.py, and calls it as an ASGI application directly: `--concurrency` tasks in one
uvloop event loop, each sending its requests one after another, with the scope, body and header list a
server would hand over. The bare FastAPI app of bench/serving.py (bench/_bare_app.py) is driven the same way
in the same run as the reference. It prints the process's CPU time (user + system, every thread: the thread
pool, the log listener) per request, min and median over `--rounds` rounds, and the ratio to the bare app.

What it leaves out is the server (uvicorn's HTTP parsing and writing) and the kernel's side of the socket,
which bench/serving.py measures with wrk: this one isolates the part of a request our code decides, so a
change to the request path shows as a change of this figure, free of the machine's other load.

`--profile FILE` runs one round of one target under cProfile (every thread) and writes the merged stats to
FILE for `python -m pstats`.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging.config
import os
import pstats
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop
from _support import database
from serving import BANNER_ORIGIN, in_process_settings, populate

from fiduciary.config import Settings
from fiduciary.web.access_log import serve_log_config, start_log_queue
from fiduciary.web.app import create_app

BENCH = Path(__file__).resolve().parent
Request = tuple[str, str, list[tuple[bytes, bytes]], bytes]  # method, path, headers, body
ASGI = Callable[[dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Callable[[Any], Awaitable[None]]], Any]


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """The scope uvicorn (httptools) hands the app for one request on a keep-alive connection."""
    raw, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": raw,
        "raw_path": raw.encode("ascii"),
        "query_string": query.encode("ascii"),
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "state": {},
    }


async def call(app: ASGI, request: Request) -> int:
    """One request through `app`; its status (raises on a 5xx, so a broken run is not a figure)."""
    method, path, headers, body = request
    sent = False
    status = 0
    disconnected = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(method, path, headers), receive, send)
    if status >= 500 or status == 0:
        raise RuntimeError(f"{method} {path}: {status}")
    return status


async def drive(app: ASGI, requests: Callable[[int], Request], count: int, concurrency: int) -> tuple[float, int]:
    """(CPU seconds of the process, answers not 2xx) for `count` requests from `concurrency` tasks."""
    errors = 0
    per_task = count // concurrency

    async def client(n: int) -> None:
        nonlocal errors
        for i in range(per_task):
            status = await call(app, requests(n * per_task + i))
            errors += status >= 300

    started = time.process_time()
    await asyncio.gather(*(client(n) for n in range(concurrency)))
    return time.process_time() - started, errors


def _json(body: object) -> bytes:
    return json.dumps(body).encode()


def targets(key: str, people: list[str], policy_version: int) -> dict[str, Callable[[int], Request]]:
    auth = [(b"authorization", f"Bearer {key}".encode()), (b"content-type", b"application/json")]
    banner_headers = [(b"content-type", b"application/json"), (b"origin", BANNER_ORIGIN.encode())]
    decision = _json({"subject_id": people[0], "purpose": "marketing.email"})
    banner = _json(
        {
            "policy_version": policy_version,
            "actions": [
                {"purpose": "analytics", "action": "grant"},
                {"purpose": "personalised_ads", "action": "deny"},
            ],
        }
    )

    def consent(i: int) -> Request:
        body = {"subject_id": people[i % len(people)], "channel": "checkout"}
        body["actions"] = [{"purpose": "marketing.email", "action": "grant"}]  # type: ignore[assignment]
        return ("POST", "/v1/consents", auth, _json(body))

    return {
        "bare": lambda i: ("GET", "/", [], b""),
        "healthz": lambda i: ("GET", "/healthz", [], b""),
        "read": lambda i: ("GET", f"/v1/consents/{people[i % 200]}", auth[:1], b""),
        "decision": lambda i: ("POST", "/v1/decisions", auth, decision),
        "consent": consent,
        "banner": lambda i: ("POST", "/v1/banner/consents", banner_headers, banner),
    }


PROFILES: list[cProfile.Profile] = []
PROFILING = threading.Event()


def _profile_new_thread(*_: object) -> None:
    if PROFILING.is_set():  # a pool thread started while profiling gets its own profiler
        profile = cProfile.Profile()
        PROFILES.append(profile)
        profile.enable()


async def measure(args: argparse.Namespace, settings: Settings, people: list[str], key: str) -> None:
    sys.path.insert(0, str(BENCH))
    from _bare_app import app as bare

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        version = app.state.runtime.policy().version
        every = targets(key, people, version)
        chosen = [t for t in every if t != "bare"] if args.target == "all" else [args.target]
        names = ["bare", *[t for t in chosen if t != "bare"]]
        if args.profile:
            await _profile(app if names[-1] != "bare" else bare, every[names[-1]], args)
            return
        for name in names:  # warm up: caches, pool connections, first-use imports
            await drive(app if name != "bare" else bare, every[name], 200, args.concurrency)
        figures: dict[str, list[float]] = {name: [] for name in names}
        errors: dict[str, int] = dict.fromkeys(names, 0)
        for _ in range(args.rounds):  # rounds alternate the targets, so a change of load hits them alike
            for name in names:
                cpu, failed = await drive(app if name != "bare" else bare, every[name], args.requests, args.concurrency)
                figures[name].append(cpu * 1000.0 / args.requests)
                errors[name] += failed
    load = ", ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(
        f"[{args.engine}, in process, {args.requests} requests x {args.rounds} rounds, {args.concurrency} at once]"
        f" load average after: {load}"
    )
    print("| target | CPU/request min | median | × bare (min) | not 2xx |")
    print("|---|---|---|---|---|")
    bare_min = min(figures["bare"])
    for name in names:
        low, mid = min(figures[name]), statistics.median(figures[name])
        print(f"| {name} | {low:.3f} ms | {mid:.3f} ms | {low / bare_min:.1f} | {errors[name]} |")


async def _profile(app: ASGI, requests: Callable[[int], Request], args: argparse.Namespace) -> None:
    await drive(app, requests, 200, args.concurrency)
    main = cProfile.Profile()
    threading.setprofile(_profile_new_thread)
    PROFILING.set()
    main.enable()
    cpu, _ = await drive(app, requests, args.requests, args.concurrency)
    main.disable()
    PROFILING.clear()
    stats = pstats.Stats(main)
    for profile in PROFILES:
        profile.disable()
        stats.add(profile)
    stats.dump_stats(args.profile)
    print(f"{args.requests} requests, {cpu * 1000.0 / args.requests:.3f} ms CPU each under cProfile -> {args.profile}")
    stats.sort_stats("tottime").print_stats(args.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--target", choices=["all", "bare", "healthz", "read", "decision", "consent", "banner"], default="all"
    )
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--sqlite-synchronous", choices=["NORMAL", "FULL"], default="NORMAL")
    parser.add_argument("--profile", default=None, help="profile one round of one target; write the stats here")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    if args.profile and args.target == "all":
        parser.error("--profile needs one --target")
    os.environ["FIDUCIARY_SQLITE_SYNCHRONOUS"] = args.sqlite_synchronous
    with database(args.engine) as (url, work):
        settings = in_process_settings(url, work)
        people, key = populate(settings)
        logging.config.dictConfig(serve_log_config("json"))  # as `fiduciary serve`: JSON access log ...
        listeners = start_log_queue()  # ... written by a listener thread
        devnull = open(os.devnull, "w")  # noqa: SIM115 (closed below)
        for handler in logging.getLogger("fiduciary").handlers + [h for q in listeners for h in q.handlers]:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(devnull)  # formatted and written, to nowhere
        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # as `serve` runs it
                runner.run(measure(args, settings, people, key))
        finally:
            for listener in listeners:
                listener.stop()
            devnull.close()


if __name__ == "__main__":
    main()

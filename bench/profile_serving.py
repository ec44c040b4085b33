"""Profile the HTTP request path under load, without py-spy (issue 17, item 1: where the time goes).

    .venv/bin/python bench/profile_serving.py [--seconds 6] [--top 25]
                                              [--target healthz|read|decisions|consents|banner]

Serves the app in this process, as `fiduciary serve --workers 1` does (uvicorn, httptools + uvloop when
installed, the same settings and data as bench/serving.py), drives one target at a time with
`wrk -t1 -c8`, and meanwhile samples every thread's Python stack from a thread of its own
(`sys._current_frames()`, every millisecond, with the interpreter's switch interval lowered so the sampler
gets the GIL that often). It prints, per target, the share of busy samples (a thread that is not parked
waiting for work) in which each function is on the stack ("incl") and at its top ("self"). Threads
parked in the thread pool's queue or the event loop's selector are idle and not counted.

A statistical profile, and one taken with the sampler's own cost on the same cores: read the shares, not
the absolute times (bench/serving.py measures those).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn
import uvloop
from _support import database, free_port
from serving import in_process_settings, populate, write_banner_script, write_wrk_scripts

from fiduciary.web.app import create_app

PROFILING = threading.Event()
PROFILES: list[cProfile.Profile] = []


def _start_in_thread(*_: object) -> None:
    """`threading.setprofile` hook: a thread started while the target runs (the thread pool's workers start
    on first use) gets a profiler of its own once profiling is on (cProfile profiles only the thread that
    enables it)."""
    if PROFILING.is_set():
        profile = cProfile.Profile()
        PROFILES.append(profile)
        profile.enable()  # replaces this hook for this thread


def drive(
    server: uvicorn.Server,
    loop_profile: cProfile.Profile,
    command: list[str],
    name: str,
    top: int,
    sort: str,
    prepare: Callable[[], None] | None = None,
    dump: str | None = None,
) -> None:
    while not server.started:
        time.sleep(0.05)
    try:
        if prepare is not None:
            prepare()
        loop = asyncio_loop[0]
        PROFILING.set()
        loop.call_soon_threadsafe(loop_profile.enable)
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        done = threading.Event()

        def stop() -> None:
            loop_profile.disable()
            done.set()

        loop.call_soon_threadsafe(stop)
        done.wait(5)
        PROFILING.clear()
        requests = int(next(line for line in out.splitlines() if "requests in" in line).split()[0])
        rate = next(line for line in out.splitlines() if "Requests/sec" in line).split()[-1]
        stats = pstats.Stats(loop_profile)
        for profile in PROFILES:
            stats.add(profile)
        total = sum(t[2] for t in stats.stats.values())  # type: ignore[attr-defined]
        print(f"\n## {name}: {requests} requests, {rate} requests/s under cProfile")
        print(f"profiled CPU {total * 1000 / requests:.3f} ms per request (own time of every function, all threads)")
        stats.sort_stats(sort).print_stats(top)
        if dump is not None:
            stats.dump_stats(dump)  # for `python -m pstats` (callers, cumulative views)
    finally:
        server.should_exit = True


asyncio_loop: list[asyncio.AbstractEventLoop] = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--target", choices=["healthz", "read", "decisions", "consents", "banner"], default="healthz")
    parser.add_argument("--sqlite-synchronous", choices=["NORMAL", "FULL"], default="FULL")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumulative)")
    parser.add_argument("--dump", default=None, help="also write the merged profile to this file (pstats)")
    args = parser.parse_args()
    with database("sqlite") as (url, work), tempfile.TemporaryDirectory() as scripts_dir:
        os.environ["FIDUCIARY_SQLITE_SYNCHRONOUS"] = args.sqlite_synchronous
        settings = in_process_settings(url, work)
        people, key = populate(settings)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        scripts = Path(scripts_dir)
        write_wrk_scripts(scripts, key, people)
        wrk = ["wrk", "-t1", "-c8", f"-d{args.seconds}s", "--latency"]
        every = {
            "healthz": ("GET /healthz", [*wrk, base + "/healthz"]),
            "decisions": ("POST /v1/decisions", [*wrk, "-s", str(scripts / "decisions.lua"), base + "/v1/decisions"]),
            "consents": ("POST /v1/consents", [*wrk, "-s", str(scripts / "consents.lua"), base + "/v1/consents"]),
            "read": ("GET /v1/consents/{id}", [*wrk, "-s", str(scripts / "read.lua"), base + "/v1/consents/"]),
            "banner": (
                "POST /v1/banner/consents",
                [*wrk, "-s", str(scripts / "banner.lua"), base + "/v1/banner/consents"],
            ),
        }

        def prepare_banner() -> None:  # the banner must send the policy version in force
            write_banner_script(scripts, httpx.get(base + "/v1/banner/config").json()["version"])

        app = create_app(settings, bound_base_url=base)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, access_log=False, log_level="warning", http="httptools"
        )
        server = uvicorn.Server(config)
        loop_profile = cProfile.Profile()
        threading.setprofile(_start_in_thread)
        name, command = every[args.target]

        async def serve() -> None:
            asyncio_loop.append(asyncio.get_running_loop())
            await server.serve()

        driver = threading.Thread(
            target=drive,
            args=(server, loop_profile, command, name, args.top, args.sort),
            kwargs={"prepare": prepare_banner if args.target == "banner" else None, "dump": args.dump},
            daemon=True,
        )
        driver.start()
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # as `serve` runs it
            runner.run(serve())
        driver.join(timeout=5)


if __name__ == "__main__":
    main()

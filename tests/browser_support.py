"""Helpers shared by the browser tests (imported, not collected: no test_ prefix).

A live uvicorn server on an embedded SQLite database, and Debian's Chromium through Playwright. Both are
set up the same way wherever a test needs what only a real server and a real browser show (CSP, CORS).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from fiduciary.config import Settings
from fiduciary.runtime import Runtime

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_app(tmp_path: Path, **settings: Any) -> Iterator[str]:
    """The app on a fresh SQLite database under `tmp_path`, served by uvicorn on a free loopback port.

    Yields the base URL; `settings` are passed on to `Settings` (e.g. a rate limit). The server and the
    runtime are stopped however the test ends.
    """
    from fiduciary.web.app import create_app

    port = free_port()
    runtime = Runtime.start(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'fiduciary.db'}",
            data_dir=tmp_path / "data",
            public_base_url=f"http://127.0.0.1:{port}",
            **settings,
        )
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime=runtime), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        runtime.close()


@contextmanager
def live_app_and_runtime(tmp_path: Path, **settings: Any) -> Iterator[tuple[str, Runtime]]:
    """`live_app`, and a second runtime on its database for the test (to put a person on file, read the outbox)."""
    with live_app(tmp_path, **settings) as base_url:
        runtime = Runtime.start(
            Settings(database_url=f"sqlite:///{tmp_path / 'fiduciary.db'}", data_dir=tmp_path / "data"),
            migrate=False,
        )
        try:
            yield base_url, runtime
        finally:
            runtime.close()


@contextmanager
def chromium_browser(*extra_args: str) -> Iterator[Any]:
    """A headless Chromium (a Playwright `Browser`), closed afterwards.

    Skips where Chromium is not installed, but fails under CI, where a skipped browser test would hide
    that the CSP and CORS checks never ran.
    """
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is required under CI (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


PAGE_SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


def scan_and_shoot(page: Any, shots: Path, stem: str, found: list[str]) -> None:
    """An axe-core scan of the page (WCAG 2.2 AA; through the DevTools protocol, so the page's CSP stays
    strict), its serious or critical violations added to `found`, and full-page screenshots at phone and
    desktop widths as `<stem>-phone.png` and `<stem>-desktop.png` under `shots`."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    found.extend(f"{stem}: {v['id']} ({v['impact']})" for v in violations if v["impact"] in ("serious", "critical"))
    shots.mkdir(parents=True, exist_ok=True)
    for size, viewport in PAGE_SIZES.items():
        page.set_viewport_size(viewport)
        page.screenshot(path=str(shots / f"{stem}-{size}.png"), full_page=True)
    page.set_viewport_size(PAGE_SIZES["desktop"])

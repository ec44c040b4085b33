"""The `fiduciary` command line. Commands only translate: they start a runtime, call a domain service, print."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from fiduciary.errors import FiduciaryError
from fiduciary.runtime import Runtime


@contextmanager
def command_runtime(console: Console) -> Iterator[Runtime]:
    """The runtime of one command: a domain error (a wrong key-encryption key at start-up included) prints its
    detail and exits 1; the runtime (and with it the vault's keys) is closed however the command ends."""
    try:
        runtime = Runtime.start()
    except FiduciaryError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from None
    try:
        yield runtime
    except FiduciaryError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from None
    finally:
        runtime.close()

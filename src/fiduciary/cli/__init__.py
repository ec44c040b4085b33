"""The `fiduciary` command line. Commands only translate: they start a runtime, call a domain service, print.

Every command that touches data opens it through `start_runtime` / `command_runtime`, which resolve the data
folder by the one rule of `fiduciary.config`, refuse to run on a folder `fiduciary init` has not created (so
a command run in the wrong folder never makes a second database or new keys), and with `fiduciary -v` name
the database and key files on stderr. This module is imported for `fiduciary --help`, so everything heavy
(SQLAlchemy, the runtime, the domain services) is imported inside the functions that need it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

    from fiduciary.config import Settings
    from fiduciary.runtime import Runtime

CLI_ACTOR = "cli"  # the audit events' actor for an operator at the command line
EXIT_CONFIG = 2
EXIT_NO_DATA = 3
NO_DATA_FOLDER = "no Fiduciary data folder here; run `fiduciary init` or set FIDUCIARY_DATA_DIR"


class _Options:
    """Options of the root command, for the sub-commands (`fiduciary -v ...`)."""

    verbose = False


options = _Options()


def fail(message: str, code: int) -> typer.Exit:
    """Print one line to stderr; the caller raises the returned Exit."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def load_settings() -> Settings:
    """The settings, or one clear line and exit 2 for a bad variable or project config file."""
    from pydantic import ValidationError

    from fiduciary.config import ConfigError, get_settings

    try:
        return get_settings()
    except ConfigError as exc:
        raise fail(str(exc), EXIT_CONFIG) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "FIDUCIARY_" + "_".join(str(part) for part in first["loc"]).upper()
        message = str(first["msg"]).removeprefix("Value error, ")
        raise fail(f"{name} {message}", EXIT_CONFIG) from None


def require_data_folder(settings: Settings) -> None:
    """Refuse (exit 3) unless `fiduciary init` (or `serve`) has created the data folder this command uses."""
    from fiduciary.datafolder import missing_parts

    missing = missing_parts(settings)
    if missing is None:
        raise fail(f"{NO_DATA_FOLDER} (looked for {settings.data_dir.resolve()})", EXIT_NO_DATA)
    if missing:
        raise fail(
            f"the data folder {settings.data_dir.resolve()} is incomplete (missing {', '.join(missing)}); "
            "run `fiduciary init` to complete it",
            EXIT_NO_DATA,
        )


def report_data(settings: Settings) -> None:
    """With `fiduciary -v`: which data folder, database and key files this command uses (stderr)."""
    if not options.verbose:
        return
    from fiduciary.datafolder import describe

    for label, value in describe(settings):
        typer.echo(f"{label}: {value}", err=True)


def start_runtime(*, migrate: bool = True, bootstrap: bool = True) -> Runtime:
    """The runtime of a command on an existing data folder (see the module docstring)."""
    from fiduciary.runtime import Runtime

    settings = load_settings()
    require_data_folder(settings)
    report_data(settings)
    return Runtime.start(settings, migrate=migrate, bootstrap=bootstrap)


@contextmanager
def read_connection() -> Iterator[Connection]:
    """A read-only Core connection on the data folder's database, without a runtime or the ORM: for listing
    commands that need neither the policy nor the vault's keys, so they skip importing and checking both."""
    from fiduciary.storage.engine import create_engine_for_url
    from fiduciary.storage.migrate import upgrade_to_head

    settings = load_settings()
    require_data_folder(settings)
    report_data(settings)
    engine = create_engine_for_url(settings.resolved_database_url)
    try:
        upgrade_to_head(engine)
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


@contextmanager
def command_runtime(console: Console) -> Iterator[Runtime]:
    """The runtime of one command: a domain error (a wrong key-encryption key at start-up included) prints its
    detail and exits 1; the runtime (and with it the vault's keys) is closed however the command ends."""
    from fiduciary.errors import FiduciaryError

    try:
        runtime = start_runtime()
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


@contextmanager
def domain_session(console: Console) -> Iterator[tuple[Runtime, Session]]:
    """The runtime and one session of a staff command; a domain refusal rolls back, prints its detail and each
    field it names (never a value the person sent), and exits 1."""
    from rich.markup import escape

    from fiduciary.errors import FiduciaryError

    with command_runtime(console) as runtime, runtime.sessions() as session:
        try:
            yield runtime, session
        except FiduciaryError as exc:
            session.rollback()
            console.print(f"[red]error: {escape(exc.detail)}[/red]")
            for problem in exc.fields:
                console.print(f"  {escape(problem.field)}: {escape(problem.message)}")
            raise typer.Exit(1) from None

"""`fiduciary apikey ...`: create (shown once), list, revoke.

Exit codes: 0 done, 1 no such key, 2 bad input (nothing stored). Create and revoke are `auth.flows`, shared
with the API, so both record the same audit events (actor `cli`, DPDP Rule 6(1)(c)).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from fiduciary.auth.scopes import SCOPE_DESCRIPTIONS, Scope
from fiduciary.cli import CLI_ACTOR, read_connection, start_runtime
from fiduciary.errors import NotFound, ValidationFailed

# The audit trail, key service and SQLAlchemy are imported by the commands that run, not for --help.
if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from fiduciary.runtime import Runtime

app = typer.Typer(help="Manage API keys for store backends.", no_args_is_help=True)

EXIT_NOT_FOUND = 1
EXIT_BAD_INPUT = 2


def _out() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 120  # piped output: no terminal to fit, so do not fold rows at Rich's default 80
    return console


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


@contextmanager
def _session() -> Iterator[tuple[Runtime, Session]]:
    """One committed transaction: the key change and its audit event (the flow's unit of work) commit together."""
    from fiduciary.storage import session_scope

    runtime = start_runtime()
    try:
        with session_scope(runtime.sessions) as session:
            yield runtime, session
    finally:
        runtime.close()


def _fail_validation(exc: ValidationFailed) -> typer.Exit:
    err = _err()
    err.print(f"[red]error:[/red] {escape(exc.detail)}")
    for problem in exc.fields:
        hint = f" ({escape(problem.hint)})" if problem.hint and problem.hint.lower() not in exc.detail.lower() else ""
        err.print(f"  {escape(problem.field)}: {escape(problem.message)}{hint}")
    return typer.Exit(EXIT_BAD_INPUT)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


SCOPES_HELP = "Scopes: " + "; ".join(f"{s.value} = {d}" for s, d in SCOPE_DESCRIPTIONS.items())


@app.command()
def create(
    name: str = typer.Option(..., "--name", help="A label for the key, e.g. the backend that will hold it."),
    scopes: str | None = typer.Option(None, "--scopes", help="Comma-separated scopes. " + SCOPES_HELP),
    scope: list[str] | None = typer.Option(None, "--scope", help="One scope; repeat for several."),
) -> None:
    """Create a key and print it once; only its SHA-256 digest is stored, so it cannot be shown again."""
    # Imported here, not at the top, so `fiduciary --help` stays fast (tests/cli/test_cli_imports.py).
    from fiduciary.auth.flows import create_key_audited

    requested = [s for s in (scopes or "").split(",") if s.strip()] + list(scope or [])
    unknown = [s for s in requested if s.strip() not in {x.value for x in Scope}]
    for value in unknown:
        _err().print(f"[red]error:[/red] unknown scope {escape(value.strip())!r}")
    try:
        with _session() as (runtime, session):
            row, plaintext = create_key_audited(runtime, session, caller=CLI_ACTOR, name=name, scopes=requested)
    except ValidationFailed as exc:
        raise _fail_validation(exc) from None
    err = _err()
    err.print(
        f"Created API key [bold]{escape(row.id)}[/bold] ({escape(row.name)}) with scopes {', '.join(row.scopes)}."
    )
    err.print("[yellow]Store this key now in your secret store: it cannot be shown again.[/yellow]")
    # The key alone on stdout, so `fiduciary apikey create ... > file` or `$(...)` captures just the key.
    typer.echo(plaintext)


@app.command("list")
def list_keys() -> None:
    """List keys: id, name, scopes and dates. Secrets and their digests are never shown."""
    from rich.table import Table

    from fiduciary.auth.listing import ID_LENGTH, list_api_keys

    with read_connection() as connection:
        rows = list_api_keys(connection)
    if not rows:
        _err().print("No API keys. Create one with `fiduciary apikey create --name NAME --scopes ...`.")
        return
    table = Table()
    table.add_column("id", no_wrap=True, min_width=ID_LENGTH)
    table.add_column("name", overflow="fold")
    table.add_column("scopes", overflow="fold", min_width=max(len(s.value) for s in Scope))
    for heading in ("created (UTC)", "last used", "revoked"):
        table.add_column(heading, no_wrap=True)
    for row in rows:
        table.add_row(
            escape(row.id),
            escape(row.name),
            escape("\n".join(row.scopes)),
            _when(row.created_at),
            _when(row.last_used_at),
            _when(row.revoked_at),
        )
    _out().print(table)


@app.command()
def revoke(key_id: str = typer.Argument(..., metavar="ID", help="The key id shown by `apikey list`.")) -> None:
    """Revoke a key; it stops working on the next request. Revoking a revoked key changes nothing."""
    # Imported here, not at the top, so `fiduciary --help` stays fast (tests/cli/test_cli_imports.py).
    from fiduciary.auth.flows import revoke_key_audited

    try:
        with _session() as (runtime, session):
            row = revoke_key_audited(runtime, session, caller=CLI_ACTOR, key_id=key_id)
    except NotFound as exc:
        _err().print(f"[red]error:[/red] {escape(exc.detail)}")
        raise typer.Exit(EXIT_NOT_FOUND) from None
    typer.echo(f"Revoked {row.id} at {_when(row.revoked_at)} UTC.")

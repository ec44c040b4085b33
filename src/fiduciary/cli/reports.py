"""`fiduciary reports …`: security triage of vulnerability reports from the server's shell.

Every command calls the very step the API calls (`fiduciary.cases.vulnerability_reports`), as actor `cli`, in
one transaction: a refusal changes nothing, prints the problem and the fields it names and exits 1. What a
researcher wrote is printed as text, never as Rich markup, and was redacted when it was received. Imports of
the domain happen when a command runs (tests/cli/test_cli_imports.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.text import Text

from fiduciary.cli import CLI_ACTOR, command_runtime

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from fiduciary.runtime import Runtime

console = Console(highlight=False, soft_wrap=True)
app = typer.Typer(help="Vulnerability reports: show, step (acknowledge, triage, fix, disclose, close), thanks.",
                  no_args_is_help=True)  # fmt: skip
ID_HELP = "A case id cs_…"


@contextmanager
def _session() -> Iterator[tuple[Runtime, Session]]:
    """The runtime and one session; a domain refusal prints its detail and each field it names, exit 1."""
    from fiduciary.errors import FiduciaryError  # lazy: keeps `fiduciary --help` light

    with command_runtime(console) as runtime, runtime.sessions() as session:
        try:
            yield runtime, session
        except FiduciaryError as exc:
            session.rollback()
            console.print(f"[red]error: {exc.detail}[/red]")
            for problem in exc.fields:
                console.print(f"  {problem.field}: {problem.message}")
            raise typer.Exit(1) from None


@app.command("show")
def show_command(case_id: str = typer.Argument(..., help=ID_HELP)) -> None:
    """A report: state, severity, its redacted text and its attachments (types and sizes)."""
    from fiduciary.cases import vulnerability_reports as reports  # lazy: as above
    from fiduciary.cases.vulnerability_kind import KIND  # lazy: as above
    from fiduciary.cases.workflow import case_values, get_case  # lazy: as above
    from fiduciary.unit_of_work import unit_of_work  # lazy: as above

    with _session() as (runtime, session):
        case = get_case(session, case_id, kind=KIND)
        values = case_values(unit_of_work(runtime, session), case)
        files = reports.attachments_of(session, case.id)
    console.print(f"{case.id}  state {case.state}  opened {case.opened_at:%Y-%m-%d %H:%M} UTC")
    for name in ("severity", "cvss_score", "cvss_vector", "broken_rule"):
        if name in case.details:
            console.print(Text(f"{name}: {case.details[name]}"))
    for name in ("title", "affected", "description"):
        if name in values:
            console.print(Text(f"{name}: {values[name]}"))
    for row in files:
        console.print(f"attachment {row.position}: {row.media_type}, {row.size} bytes")


@app.command("step")
def step_command(
    case_id: str = typer.Argument(..., help=ID_HELP),
    transition: str = typer.Argument(..., help="acknowledge, triage, fix, disclose or close"),
    cvss: str | None = typer.Option(None, "--cvss", help="A CVSS 4.0 vector, to triage."),
    reason: str | None = typer.Option(None, help="To close: out_of_scope, duplicate, not_reproducible, …"),
    rule: str | None = typer.Option(None, help="To close out of scope: out_of_scope.N or researcher_rules.N."),
) -> None:
    """Move a report on; the researcher is told through the outbox."""
    from fiduciary.cases import vulnerability_reports as reports  # lazy: as above
    from fiduciary.unit_of_work import unit_of_work  # lazy: as above

    with _session() as (runtime, session):
        step = reports.Step(transition, cvss_vector=cvss, reason=reason, rule=rule)
        moved = reports.take_step(unit_of_work(runtime, session), case_id, step, actor=CLI_ACTOR)
        session.commit()
        severity = moved.details.get("severity")
    console.print(f"{case_id}: {moved.state}" + (f" (severity {severity})" if severity else ""))


@app.command("thanks")
def thanks_command() -> None:
    """The hall of thanks: researchers who opted in, once their reports were fixed or disclosed."""
    from fiduciary.cases import vulnerability_reports as reports  # lazy: as above

    with _session() as (_runtime, session):
        names = reports.hall_of_thanks(session)
    for name in names:
        console.print(Text(name))
    if not names:
        console.print("nobody yet")

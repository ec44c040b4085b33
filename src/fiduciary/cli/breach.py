"""`fiduciary cases breach …`: the breach register from the server's shell (docs/breaches.md).

Every command calls the very step the API calls (`fiduciary.cases.breach`), as actor `cli`, in one
transaction: a refusal (a detection time in the future, an unknown category) changes nothing, prints the
problem and the fields it names and exits 1. Free text is printed as text, never as Rich markup. Imports of
the domain happen when a command runs (tests/cli/test_cli_imports.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

from fiduciary.cli import CLI_ACTOR, command_runtime

if TYPE_CHECKING:
    from fiduciary.unit_of_work import UnitOfWork

console = Console(highlight=False, soft_wrap=True)
app = typer.Typer(help="Personal-data breaches: open, steps, notify, reports, timeline.", no_args_is_help=True)
ID_HELP = "An incident's case id cs_…"
CLOCK_STYLE = {"overdue": "red", "running": "yellow", "met": "green", "met_late": "red", "stopped": "dim"}


@contextmanager
def _uow() -> Iterator[UnitOfWork]:
    """A unit of work committed at the end; a domain refusal prints its detail and each field it names, exit 1."""
    from fiduciary.errors import FiduciaryError  # lazy: keeps `fiduciary --help` light
    from fiduciary.unit_of_work import unit_of_work  # lazy: as above

    with command_runtime(console) as runtime, runtime.sessions() as session:
        try:
            yield unit_of_work(runtime, session)
            session.commit()
        except FiduciaryError as exc:
            session.rollback()
            console.print(f"[red]error: {escape(exc.detail)}[/red]")
            for problem in exc.fields:
                console.print(f"  {escape(problem.field)}: {escape(problem.message)}")
            raise typer.Exit(1) from None


def _show(view: dict[str, Any]) -> None:
    console.print(f"{view['id']}  state {view['state']}  aware {view['aware_at']}")
    for clock in view["clocks"]:
        style = CLOCK_STYLE.get(clock["state"], "white")
        met = f"  met {clock['met_at']}" if clock["met_at"] else ""
        console.print(f"  [{style}]{clock['name']:<20} due {clock['due_at']}  {clock['state']}[/]{met}")
    notified = view["notified"]
    console.print(
        f"  notified: {notified['told']} of {notified['selected']} ({notified['without_contact']} no contact)"
    )


@app.command("open")
def open_command(
    summary: str = typer.Option(..., help="What happened."),
    detected_at: str = typer.Option(..., "--detected-at", help="ISO 8601 with offset; not in the future."),
    category: list[str] = typer.Option(..., "--category", help="A policy category id (repeat)."),
    aware_at: str | None = typer.Option(None, "--aware-at", help="When it was known to be a personal-data breach."),
    people: int | None = typer.Option(None, "--people", help="Approximate number of people affected."),
    records: int | None = typer.Option(None, "--records", help="Approximate number of records affected."),
    system: list[str] = typer.Option([], "--system", help="An affected system (repeat)."),
    location: str | None = typer.Option(None, help="Where it happened."),
    not_cert_in: bool = typer.Option(False, "--not-cert-in", help="Not a CERT-In listed incident type."),
) -> None:
    """Record a breach and start its clocks at the moment of awareness."""
    from fiduciary.cases.breach.flows import open_breach  # lazy: keeps `fiduciary --help` light
    from fiduciary.cases.breach.reads import breach_view  # lazy: as above

    values: dict[str, Any] = {
        "summary": summary,
        "detected_at": detected_at,
        "aware_at": aware_at,
        "categories": category,
        "people_affected": people,
        "records_affected": records,
        "systems": system,
        "location": location,
        "cert_in_reportable": not not_cert_in,
    }
    with _uow() as uow:
        case = open_breach(uow, {k: v for k, v in values.items() if v is not None}, actor=CLI_ACTOR, channel="cli")
        _show(breach_view(uow, case.id, actor=CLI_ACTOR))


@app.command("show")
def show_command(breach_id: str = typer.Argument(..., help=ID_HELP)) -> None:
    """An incident with its clocks and the intimations so far."""
    from fiduciary.cases.breach.reads import breach_view  # lazy: keeps `fiduciary --help` light

    with _uow() as uow:
        _show(breach_view(uow, breach_id, actor=CLI_ACTOR))


@app.command("update")
def update_command(
    breach_id: str = typer.Argument(..., help=ID_HELP),
    fact: list[str] = typer.Option(..., "--set", help="name=text, e.g. measures_taken='Keys rotated' (repeat)."),
) -> None:
    """Fill in the incident's facts (likely_consequences, measures_taken, safety_measures, …)."""
    from fiduciary.cases.breach.flows import update_facts  # lazy: keeps `fiduciary --help` light

    values = {name: text for name, _, text in (item.partition("=") for item in fact)}
    with _uow() as uow:
        update_facts(uow, breach_id, values, actor=CLI_ACTOR)
    console.print("updated")


@app.command("step")
def step_command(
    breach_id: str = typer.Argument(..., help=ID_HELP),
    step: str = typer.Argument(..., help="report_cert_in, cert_in_not_needed, inform_authority, …"),
    at: str | None = typer.Option(None, help="When it was done (ISO 8601 with offset); default now."),
) -> None:
    """Record a report sent or people told: it meets its clocks."""
    from fiduciary.cases.breach.flows import record_step  # lazy: keeps `fiduciary --help` light
    from fiduciary.cases.breach.reads import breach_view  # lazy: as above

    with _uow() as uow:
        record_step(uow, breach_id, step, actor=CLI_ACTOR, at=at)
        _show(breach_view(uow, breach_id, actor=CLI_ACTOR))


@app.command("notify")
def notify_command(
    breach_id: str = typer.Argument(..., help=ID_HELP),
    category: list[str] = typer.Option([], "--category", help="Default: the incident's categories (repeat)."),
    stored_before: str | None = typer.Option(None, "--stored-before", help="Fields stored before this moment."),
    stored_after: str | None = typer.Option(None, "--stored-after", help="Fields stored at or after this moment."),
) -> None:
    """Select the affected people in SQL and queue their notices, one job per batch."""
    from fiduciary.cases.breach.flows import notify_affected  # lazy: keeps `fiduciary --help` light

    values = {"categories": category or None, "stored_before": stored_before, "stored_after": stored_after}
    with _uow() as uow:
        result = notify_affected(uow, breach_id, {k: v for k, v in values.items() if v}, actor=CLI_ACTOR)
    console.print(f"selected {result.selected} ({result.added} new); {result.jobs} batches queued")


@app.command("close")
def close_command(
    breach_id: str = typer.Argument(..., help=ID_HELP),
    reason: str = typer.Option(..., help="resolved, not_a_breach or duplicate."),
) -> None:
    """Close the incident; its open clocks stop."""
    from fiduciary.cases.breach.flows import close_breach  # lazy: keeps `fiduciary --help` light

    with _uow() as uow:
        close_breach(uow, breach_id, reason, actor=CLI_ACTOR)
    console.print("closed")


@app.command("timeline")
def timeline_command(breach_id: str = typer.Argument(..., help=ID_HELP)) -> None:
    """Every step with its time and actor, from the case history."""
    from fiduciary.cases.breach.reads import timeline  # lazy: keeps `fiduciary --help` light

    with _uow() as uow:
        found = timeline(uow, breach_id)
    for event in found["events"]:
        reason = f" ({event['reason']})" if event["reason"] else ""
        console.print(f"{event['at']}  {event['step']:<22} {escape(event['actor'])}{reason}")


@app.command("report")
def report_command(
    breach_id: str = typer.Argument(..., help=ID_HELP),
    kind: str = typer.Option(..., help="dpdp_initial, dpdp_detailed, cert_in or gdpr_art33."),
    fmt: str = typer.Option("md", "--format", help="json, html or md."),
    out: Path | None = typer.Option(None, "--out", help="Write to this file instead of the terminal."),
) -> None:
    """A regulator's report; a field not filled yet is shown as missing."""
    from fiduciary.cases.breach.reads import report  # lazy: keeps `fiduciary --help` light

    with _uow() as uow:
        text, _ = report(uow, breach_id, kind, fmt, actor=CLI_ACTOR)
    if out is not None:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")
    else:
        console.print(text, markup=False)

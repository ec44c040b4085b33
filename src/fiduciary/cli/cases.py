"""`fiduciary cases …`: what is due across every case and rights request, and staff's work on grievances.

Every command calls the very step the API calls (`fiduciary.cases.grievances`), as actor `cli`, in one
transaction: a refusal changes nothing, prints the problem and the fields it names and exits 1. Free text
(a complaint, a note) is printed as text, never as Rich markup, and was redacted when it was written.
Imports of the domain happen when a command runs (tests/cli/test_cli_imports.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from fiduciary.cli import CLI_ACTOR, domain_session

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from fiduciary.runtime import Runtime

console = Console(highlight=False, soft_wrap=True)
app = typer.Typer(help="Cases: what is due across everything, and grievances.", no_args_is_help=True)
grievance_app = typer.Typer(help="Grievances: list, show, file, assign, note, reply, close.", no_args_is_help=True)
app.add_typer(grievance_app, name="grievance")
ID_HELP = "A case id cs_…"
CLOCK_STYLE = {"overdue": "red", "due_soon": "yellow", "on_track": "green", "met": "dim", "stopped": "dim"}


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "-"


@app.command("due")
def due_command(
    within: str | None = typer.Option(None, help="Only what ends within this, e.g. 48h, 90m, 7d."),
    kind: str | None = typer.Option(None, help="A kind of case (grievance, …) or `request`."),
    assigned_to: str | None = typer.Option(None, "--assigned-to", help="Only cases assigned to this staff id."),
    limit: int = typer.Option(50, min=1, max=1000, help="At most this many, soonest first."),
    after: str | None = typer.Option(None, help="The cursor printed under the previous page."),
) -> None:
    """What is due across every case and rights request, soonest first: overdue in red."""
    from rich.table import Table  # lazy: keeps `fiduciary --help` light

    from fiduciary.cases.due import DueFilter, list_due, parse_within  # lazy: as above
    from fiduciary.storage.base import utcnow  # lazy: as above

    with domain_session(console) as (_runtime, session):
        filters = DueFilter(
            within=parse_within(within, "--within") if within is not None else None,
            kind=kind,
            assigned_to=assigned_to,
            limit=limit,
            after=after,
        )
        page = list_due(session, filters, now=utcnow())
    if not page.items:
        console.print("nothing due")
        return
    table = Table(title="due", title_justify="left")
    for column in ("due", "kind", "id", "clock", "state", "assigned to"):
        table.add_column(column)
    for item in page.items:
        style = "red" if item.overdue else "white"
        kind_cell = f"{item.kind} {item.subkind}" if item.subkind else item.kind
        table.add_row(
            f"[{style}]{_when(item.due_at)}{' overdue' if item.overdue else ''}[/]",
            kind_cell,
            item.id,
            item.clock,
            item.state,
            item.assigned_to or "-",
        )
    console.print(table)
    if page.next_cursor is not None:
        console.print(f"more: --after {page.next_cursor}")


@grievance_app.command("list")
def list_command(
    state: str | None = typer.Option(None, help="received, acknowledged or closed."),
    assigned_to: str | None = typer.Option(None, "--assigned-to", help="Only those assigned to this staff id."),
    limit: int = typer.Option(50, min=1, max=1000, help="At most this many, newest first."),
    after: str | None = typer.Option(None, help="The cursor printed under the previous page."),
) -> None:
    """Grievances, newest first (no text: `show` one to read it)."""
    from rich.table import Table  # lazy: keeps `fiduciary --help` light

    from fiduciary.cases.grievance_kind import KIND  # lazy: as above
    from fiduciary.cases.views import list_cases  # lazy: as above

    with domain_session(console) as (_runtime, session):
        page = list_cases(session, KIND, state=state, assigned_to=assigned_to, limit=limit, after=after)
        rows = [
            (c.id, c.state, c.channel, c.person_id or "-", c.assigned_to or "-", _when(c.opened_at)) for c in page.rows
        ]
    if not rows:
        console.print("no grievances")
        return
    table = Table(title="grievances", title_justify="left")
    for column in ("id", "state", "channel", "person", "assigned to", "opened"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if page.next_cursor is not None:
        console.print(f"more: --after {page.next_cursor}")


def _print_grievance(runtime: Runtime, session: Session, case_id: str) -> None:
    from rich.table import Table  # lazy: keeps `fiduciary --help` light
    from rich.text import Text  # lazy: as above

    from fiduciary.cases.grievance_kind import KIND  # lazy: as above
    from fiduciary.cases.views import case_view  # lazy: as above
    from fiduciary.cases.workflow import get_case  # lazy: as above
    from fiduciary.storage.base import utcnow  # lazy: as above
    from fiduciary.unit_of_work import unit_of_work  # lazy: as above

    view = case_view(unit_of_work(runtime, session), get_case(session, case_id, kind=KIND), now=utcnow())
    case = view.case
    for label, value in (
        ("id", case.id),
        ("state", case.state),
        ("person", case.person_id or "-"),
        ("channel", case.channel),
        ("assigned to", case.assigned_to or "-"),
        ("opened", _when(case.opened_at)),
        ("closed", _when(case.closed_at)),
        ("outcome", case.outcome_reason or "-"),
    ):
        console.print(Text(f"{label}: {value}"))
    text = view.values.get("text")
    console.print(Text("complaint: " + (text if isinstance(text, str) else "(erased)")))
    clocks = Table(title="clocks", title_justify="left")
    for column in ("clock", "due", "status"):
        clocks.add_column(column)
    for clock in view.clocks:
        clocks.add_row(clock.name, _when(clock.due_at), f"[{CLOCK_STYLE.get(clock.status, 'white')}]{clock.status}[/]")
    console.print(clocks)
    for note in view.notes:
        console.print(Text(f"{_when(note.at)} {note.kind} by {note.author}: {note.text or '(erased)'}"))
    for event in view.history:
        console.print(Text(f"{_when(event.at)} {event.action} → {event.to_state} by {event.actor}"))


@grievance_app.command("show")
def show_command(case_id: str = typer.Argument(..., help=ID_HELP)) -> None:
    """One grievance: its complaint (redacted), clocks, notes and history."""
    with domain_session(console) as (runtime, session):
        _print_grievance(runtime, session, case_id)


@grievance_app.command("file")
def file_command(
    text: str = typer.Option(..., help="The complaint, as received (card and identity numbers are masked)."),
    person: str | None = typer.Option(None, help="The person on file (per_…)."),
    email: str | None = typer.Option(None, help="Where to answer someone not on file."),
    channel: str = typer.Option("email", help="api, email or privacy_center: how it reached the store."),
    language: str | None = typer.Option(None, help="en or hi: the language of the answers."),
) -> None:
    """Receive a grievance (e.g. one that came to the grievance mailbox); it is acknowledged at once."""
    from fiduciary.cases.grievances import GrievanceIntake, file_grievance  # lazy: keeps `fiduciary --help` light

    with domain_session(console) as (runtime, session):
        intake = GrievanceIntake(text=text, channel=channel, person_id=person, contact_email=email, language=language)
        case = file_grievance(runtime, session, intake, actor=CLI_ACTOR)
        session.commit()
        console.print(f"filed {case.id} ({case.state})")


@grievance_app.command("acknowledge")
def acknowledge_command(case_id: str = typer.Argument(..., help=ID_HELP)) -> None:
    """Acknowledge a grievance that came with nobody to write to."""
    from fiduciary.cases.grievances import acknowledge  # lazy: keeps `fiduciary --help` light

    with domain_session(console) as (runtime, session):
        case = acknowledge(runtime, session, case_id, actor=CLI_ACTOR)
        session.commit()
        console.print(f"{case.id}: {case.state}")


@grievance_app.command("assign")
def assign_command(
    case_id: str = typer.Argument(..., help=ID_HELP),
    staff: str | None = typer.Argument(None, help="A staff id; leave out to unassign."),
) -> None:
    """Assign a grievance to a staff id (or to nobody)."""
    from fiduciary.cases.grievances import assign_grievance  # lazy: keeps `fiduciary --help` light

    with domain_session(console) as (runtime, session):
        case = assign_grievance(runtime, session, case_id, staff, actor=CLI_ACTOR)
        session.commit()
        console.print(f"{case.id}: assigned to {case.assigned_to or 'nobody'}")


@grievance_app.command("note")
def note_command(
    case_id: str = typer.Argument(..., help=ID_HELP), text: str = typer.Option(..., help="For staff only.")
) -> None:
    """Add an internal note (never sent to the person)."""
    from fiduciary.cases.grievances import add_internal_note  # lazy: keeps `fiduciary --help` light

    with domain_session(console) as (runtime, session):
        add_internal_note(runtime, session, case_id, text, actor=CLI_ACTOR)
        session.commit()
        console.print(f"{case_id}: note added")


@grievance_app.command("reply")
def reply_command(
    case_id: str = typer.Argument(..., help=ID_HELP), text: str = typer.Option(..., help="Sent to the person.")
) -> None:
    """Reply to the person through the outbox."""
    from fiduciary.cases.grievances import reply  # lazy: keeps `fiduciary --help` light

    with domain_session(console) as (runtime, session):
        reply(runtime, session, case_id, text, actor=CLI_ACTOR)
        session.commit()
        console.print(f"{case_id}: reply queued")


@grievance_app.command("close")
def close_command(
    case_id: str = typer.Argument(..., help=ID_HELP),
    reason: str = typer.Option(..., help="resolved, not_upheld, duplicate, withdrawn, no_response or out_of_scope."),
    text: str | None = typer.Option(None, help="Words for the person, sent with the closing message."),
) -> None:
    """Close with a reason; the person is told, with the authority they may complain to (DPDP s.13(3))."""
    from fiduciary.cases.grievances import close  # lazy: keeps `fiduciary --help` light

    with domain_session(console) as (runtime, session):
        case = close(runtime, session, case_id, reason=reason, text=text, actor=CLI_ACTOR)
        session.commit()
        console.print(f"{case.id}: closed ({case.outcome_reason})")

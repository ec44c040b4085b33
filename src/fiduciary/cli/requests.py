"""`fiduciary requests ...`: privacy staff list, read and act on rights requests from the server's shell.

Every command calls the very step the API calls (`fiduciary.rights.request_flows`), as actor `cli`, in one
transaction: a refusal changes nothing, prints the problem and the fields it names (never a value the
person sent) and exits 1. Imports of the domain happen when a command runs (tests/cli/test_cli_imports.py).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from fiduciary.cli import CLI_ACTOR, command_session

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from fiduciary.rights.models import RightsRequest
    from fiduciary.runtime import Runtime

console = Console(highlight=False, soft_wrap=True)
app = typer.Typer(help="Rights requests: list, read, approve, reject, extend, close.", no_args_is_help=True)
STATUS_STYLE = {"overdue": "red", "due_soon": "yellow", "on_track": "green"}
ID_HELP = "A request id rr_…"


def _session() -> AbstractContextManager[tuple[Runtime, Session]]:
    return command_session(console)


def _status_cell(value: str | None) -> str:
    if value is None:
        return "-"
    return f"[{STATUS_STYLE.get(value, 'white')}]{value}[/]"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "-"


def _status_of(runtime: Runtime, row: RightsRequest) -> str | None:
    from fiduciary.rights.listing import deadline_status  # lazy: keeps `fiduciary --help` light
    from fiduciary.rights.running import calendar_for  # lazy: as above
    from fiduciary.storage.base import utcnow  # lazy: as above

    found = deadline_status(row, utcnow(), calendar_for(runtime))
    return found.value if found is not None else None


@app.command("list")
def list_command(
    state: list[str] = typer.Option([], "--state", help="A state (repeatable); default: every open state."),
    kind: str | None = typer.Option(None, help="Only this kind (erasure, access, …)."),
    person: str | None = typer.Option(None, help="Only this person's requests (per_…)."),
    status: str | None = typer.Option(None, help="on_track, due_soon or overdue."),
    limit: int = typer.Option(50, min=1, max=200, help="At most this many, soonest deadline first."),
    after: str | None = typer.Option(None, help="The cursor printed under the previous page."),
) -> None:
    """Requests, soonest deadline first: overdue in red, due soon in yellow."""
    from rich.table import Table  # lazy: keeps `fiduciary --help` light

    from fiduciary.errors import FieldProblem, ValidationFailed  # lazy: as above
    from fiduciary.rights.listing import RequestFilter, list_requests  # lazy: as above
    from fiduciary.rights.running import calendar_for  # lazy: as above
    from fiduciary.storage.base import utcnow  # lazy: as above
    from fiduciary.workflow.deadlines import DeadlineStatus  # lazy: as above

    with _session() as (runtime, session):
        try:
            wanted = DeadlineStatus(status) if status is not None else None
        except ValueError:
            raise ValidationFailed(
                "Bad listing.", [FieldProblem("--status", "on_track, due_soon or overdue")]
            ) from None
        filters = RequestFilter(
            kind=kind,
            person_id=person,
            status=wanted,
            limit=limit,
            after=after,
            **({"states": tuple(state)} if state else {}),
        )
        page = list_requests(session, filters, now=utcnow(), working=calendar_for(runtime))
        table = Table(title="rights requests", title_justify="left")
        for column in ("id", "kind", "state", "person", "received", "due on", "deadline"):
            table.add_column(column)
        for row in page.rows:
            table.add_row(
                row.id,
                row.kind,
                row.state,
                row.person_id,
                _when(row.received_at),
                str(row.due_on),
                _status_cell(_status_of(runtime, row)),
            )
    if not page.rows:
        console.print("no requests")
        return
    console.print(table)
    if page.next_cursor is not None:
        console.print(f"more: --after {page.next_cursor}")


@app.command("show")
def show_command(request_id: str = typer.Argument(..., help=ID_HELP)) -> None:
    """One request: its details, manual steps and history."""
    from fiduciary.rights.requests import get_request  # lazy: keeps `fiduciary --help` light

    with _session() as (runtime, session):
        _print_request(runtime, session, get_request(session, request_id))


def _print_request(runtime: Runtime, session: Session, row: RightsRequest) -> None:
    from rich.table import Table  # lazy: keeps `fiduciary --help` light

    from fiduciary.rights.requests import history_of, steps_of  # lazy: as above

    lines = [
        ("id", row.id),
        ("kind", row.kind),
        ("state", row.state),
        ("person", row.person_id),
        ("made by", f"{row.made_by} via {row.channel}"),
        ("verified by", row.verified_by or "-"),
        ("received", _when(row.received_at)),
        ("due on", f"{row.due_on} ({_status_cell(_status_of(runtime, row))})"),
        ("extended", f"yes: {row.extension_reason}" if row.extended_at else "no"),
        ("waits until", _when(row.run_after)),
        ("closed", _when(row.closed_at)),
        ("outcome", " — ".join(v for v in (row.outcome_reason, row.outcome_note) if v) or "-"),
    ]
    for label, value in lines:
        console.print(f"[bold]{label}:[/bold] {value}")
    steps = steps_of(session, row.id)
    if steps:
        table = Table(title="manual steps", title_justify="left")
        for column in ("#", "system", "action", "confirmed by", "confirmed at"):
            table.add_column(column)
        for s in steps:
            table.add_row(str(s.position), s.system, s.action or "", s.confirmed_by or "-", _when(s.confirmed_at))
        console.print(table)
    history = Table(title="history", title_justify="left")
    for column in ("at", "action", "from", "to", "actor", "reason"):
        history.add_column(column)
    for e in history_of(session, row.id):
        history.add_row(_when(e.at), e.action, e.from_state or "-", e.to_state, e.actor, e.reason or "")
    console.print(history)


def _act(request_id: str, step: Callable[[Runtime, Session], RightsRequest], done: str) -> None:
    """Run one step, commit, print what it did and where the request now stands."""
    with _session() as (runtime, session):
        row = step(runtime, session)
        session.commit()
        console.print(f"{request_id} {done}: state {row.state}, due on {row.due_on}")


@app.command("approve")
def approve_command(request_id: str = typer.Argument(..., help=ID_HELP)) -> None:
    """Approve a request waiting for staff; it starts at once."""
    from fiduciary.rights import request_flows as flows  # lazy: keeps `fiduciary --help` light

    _act(request_id, lambda rt, s: flows.approve(rt, s, request_id, actor=CLI_ACTOR), "approved")


@app.command("reject")
def reject_command(
    request_id: str = typer.Argument(..., help=ID_HELP),
    reason: str = typer.Option(..., help="A reason code (unfounded, excessive, …)."),
    note: str = typer.Option(..., help="The reason in words; sent to the person."),
) -> None:
    """Refuse a request, telling the person why (GDPR Art 12(4); DPDP Rule 14)."""
    from fiduciary.rights import request_flows as flows  # lazy: keeps `fiduciary --help` light

    _act(
        request_id,
        lambda rt, s: flows.reject(rt, s, request_id, actor=CLI_ACTOR, reason=reason, note=note),
        "rejected",
    )


@app.command("cancel")
def cancel_command(
    request_id: str = typer.Argument(..., help=ID_HELP),
    reason: str = typer.Option("withdrawn_by_person", help="A reason code."),
    note: str | None = typer.Option(None, help="A note kept on the request."),
) -> None:
    """Cancel an open request (an erasure until its waiting period ends)."""
    from fiduciary.rights import request_flows as flows  # lazy: keeps `fiduciary --help` light

    _act(
        request_id,
        lambda rt, s: flows.cancel(rt, s, request_id, actor=CLI_ACTOR, reason=reason, note=note),
        "cancelled",
    )


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("a date YYYY-MM-DD") from None


@app.command("extend")
def extend_command(
    request_id: str = typer.Argument(..., help=ID_HELP),
    until: str = typer.Option(..., help="The new last day, YYYY-MM-DD, within the policy's extendable_by."),
    reason: str = typer.Option(..., help="Why; sent to the person."),
) -> None:
    """Extend the deadline once (GDPR Art 12(3); CCPA §1798.130(a)(2)(A))."""
    from fiduciary.rights import request_flows as flows  # lazy: keeps `fiduciary --help` light

    day = _day(until)
    _act(
        request_id,
        lambda rt, s: flows.extend_request(rt, s, request_id, actor=CLI_ACTOR, until=day, reason=reason),
        "extended",
    )


@app.command("complete")
def complete_command(
    request_id: str = typer.Argument(..., help=ID_HELP),
    note: str | None = typer.Option(None, help="What was done; sent to the person."),
) -> None:
    """Complete a request only staff can finish (a grievance)."""
    from fiduciary.rights import request_flows as flows  # lazy: keeps `fiduciary --help` light

    _act(request_id, lambda rt, s: flows.complete_by_staff(rt, s, request_id, actor=CLI_ACTOR, note=note), "completed")


@app.command("confirm-step")
def confirm_step_command(
    request_id: str = typer.Argument(..., help=ID_HELP),
    position: int = typer.Argument(..., min=0, max=100, help="The step's number (see `show`)."),
) -> None:
    """Confirm a manual step was done outside Fiduciary; the last one completes the request."""
    from fiduciary.rights import request_flows as flows  # lazy: keeps `fiduciary --help` light

    _act(
        request_id,
        lambda rt, s: flows.confirm_step(rt, s, request_id, position, actor=CLI_ACTOR),
        f"step {position} confirmed",
    )


@app.command("verify")
def verify_command(
    request_id: str = typer.Argument(..., help=ID_HELP),
    method: str = typer.Option(..., help="document, two_data_points or three_data_points_and_declaration."),
) -> None:
    """Record that staff checked the requester's identity, or an agent's or nominee's proof."""
    from fiduciary.rights import request_flows as flows  # lazy: keeps `fiduciary --help` light

    _act(request_id, lambda rt, s: flows.staff_verify(rt, s, request_id, actor=CLI_ACTOR, method=method), "verified")


def _close_items(items: list[str]) -> list[Any]:
    """`ID:REASON` or `ID:REASON:NOTE` (the note may hold colons) → close items, in order."""
    from fiduciary.rights.request_flows import CloseItem  # lazy: keeps `fiduciary --help` light

    out = []
    for i, raw in enumerate(items):
        parts = raw.split(":", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise typer.BadParameter(f"item {i + 1}: give ID:REASON or ID:REASON:NOTE", param_hint="--item")
        out.append(CloseItem(parts[0].strip(), parts[1].strip(), parts[2] if len(parts) == 3 else None))
    return out


@app.command("close")
def close_command(
    item: list[str] = typer.Option(
        ...,
        "--item",
        help="ID:REASON or ID:REASON:NOTE (repeatable). duplicate, never_verified, withdrawn_by_person cancel; "
        "unfounded, excessive reject.",
    ),
) -> None:
    """Close requests in bulk, all or none: one bad item refuses the whole list, naming it."""
    from fiduciary.rights import request_flows as flows  # lazy: keeps `fiduciary --help` light

    items = _close_items(item)
    with _session() as (runtime, session):
        closed = flows.close_many(runtime, session, items, actor=CLI_ACTOR)
        session.commit()
        for row in closed:
            console.print(f"{row.id} {row.state} ({row.outcome_reason})")
    console.print(f"closed {len(closed)} request(s)")


@app.command("sweep")
def sweep_command() -> None:
    """Flag overdue requests and remind people who have not passed their identity check, once (the worker
    does this every few minutes)."""
    from fiduciary.rights.request_jobs import flag_overdue, remind_unverified  # lazy: keeps `--help` light

    with _session() as (runtime, session):
        overdue = flag_overdue(runtime, session)
        reminded = remind_unverified(runtime, session)
        session.commit()
    console.print(f"flagged {overdue} overdue request(s); reminded {reminded} person(s)")

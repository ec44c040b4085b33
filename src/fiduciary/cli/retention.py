"""`fiduciary retention ...`: the retention plan (a dry run), its approval, the sweep, and staff holds.

`plan` changes nothing (unless `--save`, which keeps the plan for an admin to approve); `run` deletes or
anonymises what is due in batches with a progress bar and writes a proof report (JSON and text) of what went,
per rule, with the ledger position of each batch's audit event. Imports of the domain happen when a command
runs (tests/cli/test_cli_imports.py).
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from fiduciary.cli import CLI_ACTOR, command_session

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from fiduciary.retention.planner import Plan
    from fiduciary.retention.sweep import RunReport
    from fiduciary.runtime import Runtime

console = Console(highlight=False, soft_wrap=True)
app = typer.Typer(help="Retention: plan (dry run), approve, run the sweep, and staff holds.", no_args_is_help=True)
hold_app = typer.Typer(help="Staff holds on a person or a record: place, list, release.", no_args_is_help=True)
app.add_typer(hold_app, name="hold")


def _session() -> AbstractContextManager[tuple[Runtime, Session]]:
    return command_session(console)


def _print_plan(result: Plan, plan_id: str | None) -> None:
    from rich.table import Table

    title = f"retention plan {plan_id}" if plan_id else "retention plan (dry run: nothing changed)"
    table = Table(title=title, title_justify="left")
    for column in ("rule", "action", "fields", "people", "earliest due", "latest due", "note"):
        table.add_column(column, justify="right" if column in ("fields", "people") else "left")
    for r in result.rules:
        note = r.reason or ""
        if r.approval_required:
            note = ("needs approval; " + note).strip("; ")
        if r.status == "skipped":
            table.add_row(r.rule, r.action, "-", "-", "-", "-", f"skipped: {note}")
            continue
        table.add_row(
            r.rule, r.action, f"{r.fields:,}", f"{r.people:,}", r.earliest_due or "-", r.latest_due or "-", note
        )
    console.print(table)
    console.print(f"legal-hold records past their purge date: {result.legal_hold_records_due:,}")


@app.command("plan")
def plan_command(
    save: bool = typer.Option(False, "--save", help="Keep the plan so an admin can approve it (prints its id)."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
) -> None:
    """What the sweep would delete or anonymise now, per rule, with the earliest and latest due dates.

    Without --save this is a dry run: it reads and changes nothing."""
    from fiduciary.retention.planner import plan
    from fiduciary.retention.sweep import save_plan

    with _session() as (runtime, session):
        plan_id: str | None = None
        if save:
            plan_id, result = save_plan(runtime, session, actor=CLI_ACTOR)
            session.commit()
        else:
            result = plan(session, runtime.policy())
            session.rollback()
    if as_json:
        typer.echo(json.dumps({"plan_id": plan_id, **result.to_dict()}, indent=2))
    else:
        _print_plan(result, plan_id)


@app.command("approve")
def approve_command(plan_id: str = typer.Argument(..., help="A saved plan's id rplan_…")) -> None:
    """Approve a saved plan: its rules that need approval then run (`fiduciary retention run --plan`)."""
    from fiduciary.retention.sweep import approve_plan

    with _session() as (runtime, session):
        approve_plan(runtime, session, actor=CLI_ACTOR, plan_id=plan_id)
        session.commit()
    console.print(f"approved {plan_id}")


def proof_text(report: RunReport) -> str:
    """The proof report in words: per rule, what went and the ledger position of each batch."""
    data = report.to_dict()
    lines = [f"Retention run {report.run_id}" + (f" of approved plan {report.plan_id}" if report.plan_id else "")]
    lines.append(f"Due dates measured at {data['now']}.")
    for rule, entry in sorted(data["rules"].items()):
        positions = ", ".join(str(b["ledger_position"]) for b in entry["batches"])
        lines.append(
            f"- {rule} ({entry['action']}): {entry['fields']:,} values of {entry['people']:,} people, in "
            f"{len(entry['batches'])} batches audited at ledger positions {positions}"
        )
    for a in data["anonymised"]:
        lines.append(
            f"- {a['rule']}: {a['people_kept']:,} people kept in {a['groups']} anonymised groups, "
            f"{a['people_suppressed']:,} suppressed (groups smaller than k)"
        )
    lines.append(f"Legal-hold records purged on their date: {data['legal_hold_records_purged']:,}")
    if data["waiting_for_approval"]:
        lines.append("Waiting for an approved plan: " + ", ".join(data["waiting_for_approval"]))
    return "\n".join(lines) + "\n"


@app.command("run")
def run_command(
    plan_id: str | None = typer.Option(None, "--plan", help="Run this approved plan (rules needing approval)."),
    batch: int = typer.Option(10_000, "--batch", min=1, max=100_000, help="People per batch (one transaction)."),
    report: Path | None = typer.Option(None, "--report", help="Write the proof report here (.json and .txt)."),
) -> None:
    """Delete or anonymise what is due, in batches; resumes an unfinished run; writes a proof report."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fiduciary.people.models import Person
    from fiduciary.retention.sweep import run_sweep

    with _session() as (runtime, session):
        import sqlalchemy as sa

        total = session.scalar(sa.select(sa.func.count()).select_from(Person)) or 0
        session.rollback()
        columns = (TextColumn("sweeping"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("people", total=total)
            result = run_sweep(
                runtime,
                actor=CLI_ACTOR,
                plan_id=plan_id,
                batch_size=batch,
                progress=lambda n: bar.advance(task, n),
            )
    text = proof_text(result)
    console.print(text, end="")
    if report is not None:
        report.with_suffix(".json").write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
        report.with_suffix(".txt").write_text(text, encoding="utf-8")
        console.print(f"proof report: {report.with_suffix('.json')} and {report.with_suffix('.txt')}")


@hold_app.command("place")
def hold_place(
    person_id: str = typer.Option(..., "--person", help="The person's id per_…"),
    reason: str = typer.Option(..., "--reason", help="dispute, authority_order, litigation, …"),
    until: str = typer.Option(..., "--until", help="The last day the hold keeps the data, YYYY-MM-DD."),
    category: str | None = typer.Option(None, "--category", help="Hold only this category (default: the person)."),
    note: str | None = typer.Option(None, "--note", help="For staff (identifiers in it are redacted)."),
) -> None:
    """Place a hold: the sweep and erasure keep what it covers until the date."""
    from fiduciary.errors import FieldProblem, ValidationFailed
    from fiduciary.retention.holds import place_hold

    with _session() as (runtime, session):
        try:
            day = date.fromisoformat(until)
        except ValueError:
            raise ValidationFailed(
                "The hold cannot be placed.", [FieldProblem("--until", "must be YYYY-MM-DD")]
            ) from None
        hold = place_hold(
            runtime,
            session,
            actor=CLI_ACTOR,
            person_id=person_id,
            reason=reason,
            until=day,
            category=category,
            note=note,
        )
        session.commit()
    console.print(f"placed {hold.id} until {hold.until.isoformat()}")


@hold_app.command("list")
def hold_list(
    person_id: str | None = typer.Option(None, "--person", help="Only this person's holds."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Holds, newest first (at most 1,000)."""
    from fiduciary.retention.holds import holds_of

    with _session() as (_runtime, session):
        holds = [h.to_dict() for h in holds_of(session, person_id)]
    if as_json:
        typer.echo(json.dumps(holds, indent=2))
        return
    _print_holds(holds)


def _print_holds(holds: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="holds", title_justify="left")
    for column in ("id", "person", "category", "reason", "until", "placed by", "released"):
        table.add_column(column)
    for h in holds:
        table.add_row(
            h["id"], h["person_id"], h["category"] or "(person)", h["reason"], h["until"], h["placed_by"],
            h["released_at"] or "-",
        )  # fmt: skip
    console.print(table)


@hold_app.command("release")
def hold_release(hold_id: str = typer.Argument(..., help="A hold's id hold_…")) -> None:
    """Release a hold now."""
    from fiduciary.retention.holds import release_hold

    with _session() as (runtime, session):
        release_hold(runtime, session, actor=CLI_ACTOR, hold_id=hold_id)
        session.commit()
    console.print(f"released {hold_id}")

"""`fiduciary disclosures ...` and `fiduciary ropa`: recipients' endpoints, the disclosure log, the notices to
recipients (the ones never acknowledged first), an acknowledgement a recipient sent by other means, a delivery
run, and the records of processing.

Every command calls the step the API calls (`fiduciary.disclosures`) as actor `cli`, in one transaction; a
refusal prints the problem and the fields it names and exits 1. A generated webhook secret is printed once,
to the terminal, and never again. Imports of the domain happen when a command runs
(tests/cli/test_cli_imports.py).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from fiduciary.cli import CLI_ACTOR, command_runtime, command_session

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from fiduciary.runtime import Runtime

console = Console(highlight=False, soft_wrap=True)
app = typer.Typer(help="Disclosures: recipients' endpoints, the log, notices to recipients.", no_args_is_help=True)


def _session() -> AbstractContextManager[tuple[Runtime, Session]]:
    return command_session(console)


@app.command("endpoint")
def endpoint_command(
    recipient: str = typer.Argument(help="The policy's recipient id, e.g. couriers."),
    url: str | None = typer.Option(
        None, "--url", help="Where notices go: https (http for localhost only); default: the policy's webhook_url."
    ),
    keep_secret: bool = typer.Option(False, "--keep-secret", help="Keep the current secret (change the URL only)."),
) -> None:
    """Set a recipient's endpoint; a new signing secret is generated and printed once."""
    from fiduciary.disclosures.endpoints import configure_endpoint, current_secret  # lazy: see module docstring

    with _session() as (runtime, session):
        secret = current_secret(runtime, session, recipient) if keep_secret else None
        endpoint, generated = configure_endpoint(runtime, session, recipient, url, actor=CLI_ACTOR, secret=secret)
        session.commit()
    console.print(f"{endpoint.recipient_id}: notices go to {endpoint.url}")
    if generated is not None:
        console.print("Signing secret (shown once; give it to the recipient over a safe channel):")
        console.print(generated, markup=False)


@app.command("recipients")
def recipients_command() -> None:
    """The policy's recipients and their endpoints (never a secret)."""
    from fiduciary.disclosures.endpoints import list_endpoints  # lazy: see module docstring

    with _session() as (runtime, session):
        endpoints = {e.recipient_id: e for e in list_endpoints(session)}
        table = Table("recipient", "kind", "countries", "categories", "endpoint")
        for r in runtime.policy().document.recipients:
            found = endpoints.get(r.id)
            table.add_row(
                r.id, r.kind.value, ",".join(r.countries), ", ".join(r.categories), found.url if found else "-"
            )
    console.print(table)


@app.command("list")
def list_command(
    person: str | None = typer.Option(None, "--person", help="Only disclosures of this person (per_…)."),
    recipient: str | None = typer.Option(None, "--recipient", help="Only this recipient."),
    limit: int = typer.Option(50, min=1, max=1000),
) -> None:
    """The disclosure log, newest first: who disclosed which categories to whom, when (never values)."""
    from fiduciary.disclosures.log import list_disclosures  # lazy: see module docstring

    with _session() as (_runtime, session):
        entries = list_disclosures(session, person_id=person, recipient_id=recipient, limit=limit)
    table = Table("id", "when", "recipient", "purpose", "categories", "people", "by", "order")
    for e in entries:
        table.add_row(
            e.id,
            e.disclosed_at.strftime("%Y-%m-%d %H:%M"),
            e.recipient_id,
            e.purpose,
            ", ".join(e.categories),
            str(e.people),
            e.actor,
            e.order_reference or "-",
        )
    console.print(table)


@app.command("propagations")
def propagations_command(
    state: str = typer.Option(
        "unacknowledged",
        help="unacknowledged (delivered ones included), pending, sending, delivered, acknowledged or failed.",
    ),
    person: str | None = typer.Option(None, "--person", help="Only notices about this person (per_…)."),
    limit: int = typer.Option(50, min=1, max=1000),
) -> None:
    """Notices to recipients; by default those no recipient has acknowledged yet."""
    from fiduciary.disclosures.propagation import list_deliveries  # lazy: see module docstring

    with _session() as (_runtime, session):
        deliveries = list_deliveries(session, state=state, person_id=person, limit=limit)
    table = Table("id", "recipient", "person", "event", "state", "attempts", "last error", "since", "delivered")
    for d in deliveries:
        table.add_row(
            d.id,
            d.recipient_id,
            d.person_id,
            d.event,
            d.state,
            str(d.attempts),
            d.last_error or "-",
            d.created_at.strftime("%Y-%m-%d %H:%M"),
            d.delivered_at.strftime("%Y-%m-%d %H:%M") if d.delivered_at else "-",
        )
    console.print(table)
    console.print(f"{len(deliveries)} notice(s)")


@app.command("acknowledge")
def acknowledge_command(
    notice: str = typer.Argument(help="The notice's id (whd_…), as `propagations` lists it."),
    outcome: str = typer.Option(..., "--outcome", help="What the recipient said it did: done or not_held."),
) -> None:
    """Record an acknowledgement a recipient sent another way (a letter, an email); the first one stands."""
    from fiduciary.disclosures.acknowledgements import record_for_recipient  # lazy: see module docstring

    with _session() as (runtime, session):
        recorded = record_for_recipient(runtime, session, notice, outcome, actor=CLI_ACTOR)
        session.commit()
    if recorded.first:
        console.print(f"{recorded.notice_id}: acknowledged by {recorded.recipient_id} ({recorded.outcome})")
    else:
        console.print(f"{recorded.notice_id}: already acknowledged ({recorded.outcome}); nothing changed")


@app.command("deliver")
def deliver_command() -> None:
    """Send the notices that are due now (what the job `disclosures.deliver` does)."""
    from fiduciary.disclosures.webhooks import deliver  # lazy: see module docstring

    with command_runtime(console) as runtime:
        report = deliver(runtime)
    console.print(", ".join(f"{name} {count}" for name, count in report.counts().items()))


def ropa_command(
    output_format: str = typer.Option("html", "--format", help="json, csv or html."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of the terminal."),
) -> None:
    """The records of processing (GDPR Art 30) from the policy and the disclosure log."""
    import json  # lazy: see module docstring

    from fiduciary.disclosures import ropa  # lazy: see module docstring
    from fiduciary.storage.base import utcnow  # lazy: as above

    if output_format not in ropa.FORMATS:
        console.print(f"[red]error: --format must be one of {', '.join(ropa.FORMATS)}[/red]")
        raise typer.Exit(2)
    with _session() as (runtime, session):
        record = ropa.records(runtime.policy(), session, now=utcnow())
    text = {
        "json": lambda: json.dumps(record, indent=2, ensure_ascii=False) + "\n",
        "csv": lambda: ropa.as_csv(record),
        "html": lambda: ropa.as_html(record),
    }[output_format]()
    if output is None:
        console.print(text, markup=False, end="")
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"Wrote {output}")

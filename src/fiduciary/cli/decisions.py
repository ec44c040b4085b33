"""`fiduciary decisions decide|audience`: the same decisions and audiences as the API, from a shell.

Thin: parse, call `fiduciary.decisions.flows` (which decides and audits, as the API does), print.
Exit codes for scripts: 0 allowed, 1 denied, 2 bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console

from fiduciary.cli import CLI_ACTOR, start_runtime
from fiduciary.errors import FiduciaryError

app = typer.Typer(help="Runtime decisions and audiences.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True, stderr=True)


def _fail(error: FiduciaryError) -> typer.Exit:
    console.print(f"[red]{error.title}[/red]: {error.detail}")
    for problem in error.fields:
        hint = f" ({problem.hint})" if problem.hint else ""
        console.print(f"  {problem.field}: {problem.message}{hint}")
    return typer.Exit(2)


@app.command("decide")
def decide_command(
    subject_id: str = typer.Argument(..., help="A person id per_… or a visitor id vis_…"),
    purpose: str = typer.Argument(..., help="A purpose id of the policy in force."),
    category: list[str] = typer.Option([], "--category", "-c", help="A data category to use (repeatable)."),
    actor: str = typer.Option("cli", help="Who will use the data (a staff id, a job name)."),
    strict: bool = typer.Option(False, help="Deny when any category is outside the purpose."),
    jurisdiction: str | None = typer.Option(
        None, help="Where the person lives (IN, EU, UK, US-CA; one the policy declares): decide on its grounds."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the decision as JSON."),
) -> None:
    """May ACTOR use these categories of SUBJECT_ID's data for PURPOSE? Exit 0 when allowed, 1 when denied.

    Audited as the API's decisions are (actor `cli`; a named --actor as `on_behalf_of`)."""
    # Imported here, not at the top, so `fiduciary --help` stays fast (tests/cli/test_cli_imports.py).
    from fiduciary.decisions.flows import decide_audited
    from fiduciary.storage import session_scope

    runtime = start_runtime()
    try:
        with session_scope(runtime.sessions) as session:
            decision = decide_audited(
                runtime,
                session,
                caller=CLI_ACTOR,
                subject_id=subject_id,
                purpose=purpose,
                categories=category,
                actor=actor,
                strict=strict,
                jurisdiction=jurisdiction,
            )
    except FiduciaryError as error:
        raise _fail(error) from None
    finally:
        runtime.close()
    if as_json:
        out = {
            "subject_id": subject_id,
            "purpose": purpose,
            **({"jurisdiction": jurisdiction} if jurisdiction else {}),
            "allow": decision.allow,
            "reasons": [str(r) for r in decision.reasons],
            "allowed_categories": sorted(decision.allowed_categories),
            "denied_categories": sorted(decision.denied_categories),
        }
        typer.echo(json.dumps(out))
    else:
        verdict = "[green]allow[/green]" if decision.allow else "[red]deny[/red]"
        Console(highlight=False).print(f"{verdict}: {', '.join(str(r) for r in decision.reasons)}")
        if decision.allowed_categories:
            Console(highlight=False).print(f"  may use: {', '.join(sorted(decision.allowed_categories))}")
        if decision.denied_categories:
            Console(highlight=False).print(f"  may not: {', '.join(sorted(decision.denied_categories))}")
    if not decision.allow:
        raise typer.Exit(1)


@app.command("audience")
def audience_command(
    purpose: str = typer.Argument(..., help="The purpose to reach, e.g. marketing.email."),
    channel: str | None = typer.Option(None, help="A marketing channel the purpose declares."),
    subjects: Path | None = typer.Option(
        None, exists=True, dir_okay=False, help="A file of person ids, one a line; default everyone."
    ),
) -> None:
    """Print the person ids PURPOSE may reach now, one a line, in id order (audited, actor `cli`)."""
    # Imported here, not at the top, so `fiduciary --help` stays fast (tests/cli/test_cli_imports.py).
    from fiduciary.decisions.audiences import eligible_people
    from fiduciary.decisions.flows import audience_audited
    from fiduciary.decisions.service import DecisionService
    from fiduciary.storage import session_scope

    ids = None
    if subjects is not None:
        ids = [line.strip() for line in subjects.read_text(encoding="utf-8").splitlines() if line.strip()]
    runtime = start_runtime()
    try:
        service = DecisionService.for_runtime(runtime)
        policy = service.policy()
        # The audit event is committed before the list streams, as the API does (decision 0012).
        with session_scope(runtime.sessions) as session:
            cp = audience_audited(runtime, session, caller=CLI_ACTOR, purpose=purpose, channel=channel, subject_ids=ids)
        count = 0
        with runtime.sessions() as session:
            for chunk in eligible_people(session, cp, today=service.today(policy), policy=policy, subject_ids=ids):
                if chunk:
                    sys.stdout.write("\n".join(chunk) + "\n")
                    count += len(chunk)
        console.print(f"{count:,} eligible for {purpose}")
    except FiduciaryError as error:
        raise _fail(error) from None
    finally:
        runtime.close()

"""`fiduciary audit verify`: check the audit stream's chain and signatures, and that its index agrees.

Exit codes: 0 intact, 1 tampering found (the first bad position is named), 2 a configuration problem.
"""

from __future__ import annotations

import typer
from rich.console import Console

from fiduciary.cli import start_runtime

app = typer.Typer(help="The audit trail: who used which personal data, for which purpose.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)

EXIT_TAMPERED = 1
EXIT_CONFIG = 2


@app.callback()
def main() -> None:
    """The audit trail: who used which personal data, for which purpose (never the values)."""


@app.command("verify")
def verify_command() -> None:
    """Verify every audit event's hash, link and signed checkpoint, then the index GET /v1/audit reads.

    The hashes printed by GET /v1/audit can be compared with the head printed here.
    """
    from fiduciary.audit.service import STREAM
    from fiduciary.audit.verification import verify_audit
    from fiduciary.ledger.signing import SigningKeyError, known_public_keys

    runtime = start_runtime()
    try:
        try:
            keys = known_public_keys(runtime.settings)
        except SigningKeyError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(EXIT_CONFIG) from None
        with runtime.sessions() as session:
            result = verify_audit(session, keys)
    finally:
        runtime.close()
    report = result.ledger
    if result.ok:
        if report.events_checked == 0:
            console.print(f"{STREAM}: no audit events yet: nothing to verify")
            return
        console.print(
            f"{STREAM}: [green]ok[/green] — {report.events_checked:,} events, {report.checkpoints_checked:,} signed "
            f"checkpoints, index {result.index_rows_checked:,} rows agree; head {report.head_position} "
            f"{report.head_hash}"
        )
        return
    where = (
        f"first bad position {result.first_bad_position}"
        if result.first_bad_position is not None
        else "no single position"
    )
    part = "ledger" if not report.ok else "index"
    console.print(f"{STREAM}: [red]FAILED[/red] ({part}) — {where}: {result.problem}")
    raise typer.Exit(EXIT_TAMPERED)

"""`fiduciary ledger ...`: verify the hash chains, seal a stream, print the checkpoint public key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

import typer
from rich.console import Console

from fiduciary.cli import start_runtime
from fiduciary.ledger.chain import STREAM_RE

app = typer.Typer(help="Verify and maintain the append-only ledgers.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)


@contextmanager
def _key_errors() -> Iterator[None]:
    """A configuration problem with the signing key is a message and exit code 2, not a traceback."""
    from fiduciary.ledger.signing import SigningKeyError  # cryptography, only for commands that sign

    try:
        yield
    except SigningKeyError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _stream_name(value: str) -> str:
    if not STREAM_RE.fullmatch(value):
        raise typer.BadParameter("a stream name is lower-case letters, digits and '_', e.g. consent or audit")
    return value


@app.command("verify")
def verify_command(
    stream: str = typer.Option("all", "--stream", help="consent, audit, another stream name, or all."),
) -> None:
    """Check every event hash, link and signed checkpoint; exit 1 naming the first bad position."""
    from fiduciary.ledger.service import streams, verify
    from fiduciary.ledger.signing import known_public_keys

    if stream != "all":
        _stream_name(stream)
    runtime = start_runtime()
    try:
        with _key_errors():
            keys = known_public_keys(runtime.settings)
        with runtime.sessions() as session:
            names = streams(session) if stream == "all" else [stream]
            if not names:
                console.print("no ledger streams yet: nothing to verify")
                return
            failed = False
            for name in names:
                report = verify(session, name, keys)
                if report.ok:
                    console.print(
                        f"{name}: [green]ok[/green] — {report.events_checked:,} events, "
                        f"{report.checkpoints_checked:,} signed checkpoints, head {report.head_position} "
                        f"{report.head_hash[:16]}…"
                    )
                else:
                    failed = True
                    where = (
                        f"first bad position {report.first_bad_position}"
                        if report.first_bad_position is not None
                        else "no single position"
                    )
                    console.print(
                        f"{name}: [red]FAILED[/red] — {where}: {report.problem} "
                        f"({report.events_checked:,} events, {report.checkpoints_checked:,} checkpoints good before it)"
                    )
    finally:
        runtime.close()
    if failed:
        raise typer.Exit(1)


@app.command("seal")
def seal_command(
    stream: str = typer.Option(..., "--stream", help="The stream to sign now, e.g. consent or audit."),
) -> None:
    """Sign a checkpoint over the stream's current head (run from a scheduler to bound the unsigned tail)."""
    from fiduciary.ledger.service import Ledger

    _stream_name(stream)
    runtime = start_runtime()
    try:
        with _key_errors():
            ledger = Ledger.from_settings(stream, runtime.settings)
        with runtime.sessions() as session:
            checkpoint = ledger.seal(session)
            session.commit()
    finally:
        runtime.close()
    if checkpoint is None:
        console.print(f"{stream}: empty, nothing to seal")
    else:
        console.print(
            f"{stream}: sealed at position {checkpoint.position}, hash {checkpoint.hash[:16]}…, key {checkpoint.key_id}"
        )


class KeyFormat(StrEnum):
    BASE64 = "base64"
    PEM = "pem"
    JSON = "json"


@app.command("public-key")
def public_key_command(
    output_format: KeyFormat = typer.Option(KeyFormat.BASE64, "--format", help="base64 (raw 32 bytes), pem or json."),
) -> None:
    """Print the public key that verifies checkpoints (json: every key, as /.well-known/fiduciary-keys.json)."""
    from fiduciary.ledger.signing import load_signer, public_keys_document

    runtime = start_runtime(migrate=False)
    try:
        with _key_errors():
            signer = load_signer(runtime.settings)
    finally:
        runtime.close()
    if output_format is KeyFormat.PEM:
        typer.echo(signer.public_key_pem, nl=False)
    elif output_format is KeyFormat.JSON:
        typer.echo(json.dumps(public_keys_document(signer, issuer=runtime.public_base_url), indent=2))
    else:
        typer.echo(f"{signer.public_key_b64}  key_id={signer.key_id}")


# The consent state is a projection of the consent stream, so its rebuild is offered here too, under the
# name the ledger's operators look for; it is the same command as `fiduciary consent rebuild-state`.
from fiduciary.cli.consent import rebuild_state_command  # noqa: E402

app.command(
    "rebuild-state",
    help="Rebuild the consent state projection from the consent ledger and recorded erasures (--check compares).",
)(rebuild_state_command)

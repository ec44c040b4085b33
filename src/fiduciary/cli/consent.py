"""`fiduciary consent ...` (rebuild the state projection, verify a receipt) and `fiduciary receipt verify`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from fiduciary.cli import load_settings, report_data, start_runtime

app = typer.Typer(help="Consent state and receipts.", no_args_is_help=True)
receipt_app = typer.Typer(help="Consent receipts.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)


@receipt_app.callback()
def receipt_main() -> None:
    """Consent receipts (ISO/IEC TS 27560 shape, Ed25519-signed)."""


@app.command("rebuild-state")
def rebuild_state_command(
    check: bool = typer.Option(False, "--check", help="Only compare; change nothing (exit 1 if different)."),
) -> None:
    """Recompute consent_state (and visitor links, GPC opt-outs) from the consent ledger alone.

    Erasures recorded in vault_erasures are applied where they happened, so erased people's rows are not
    brought back. Reports whether the rebuilt tables are identical to the current ones; without --check
    the current tables are replaced by the rebuilt ones in one transaction.
    """
    from fiduciary.consent.projection import rebuild_state

    runtime = start_runtime()
    try:
        with runtime.sessions() as session:
            report = rebuild_state(session, apply=not check)
            session.commit()
    finally:
        runtime.close()
    summary = (
        f"{report.events:,} ledger events and {report.erasures:,} erasures → {report.state_rows:,} state rows, "
        f"{report.link_rows:,} visitor links, {report.gpc_rows:,} GPC opt-outs"
    )
    if report.identical:
        console.print(f"[green]identical[/green]: {summary}")
        return
    console.print(
        f"[yellow]different[/yellow]: {summary}; {report.missing} missing, {report.extra} extra, "
        f"{report.changed} changed rows in the previous tables"
    )
    if report.applied:
        console.print("the tables were replaced by the ones rebuilt from the ledger")
    else:
        raise typer.Exit(1)


def _trusted_keys(public_keys: list[str]) -> dict[str, str]:
    from fiduciary.consent.receipt_check import configured_trusted_keys, parse_trusted_key  # cryptography: lazy

    if public_keys:
        keys: dict[str, str] = {}
        for text in public_keys:
            try:
                keys.update(parse_trusted_key(text))
            except ValueError as exc:
                console.print(f"[red]--public-key is not usable[/red]: {exc}")
                raise typer.Exit(2) from None
        return keys
    settings = load_settings()
    report_data(settings)  # the configured keys are read from the data folder (or variables)
    return configured_trusted_keys(settings)


def _load(path: Path) -> Any:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        console.print(f"[red]FAILED[/red]: {path} does not exist")
        raise typer.Exit(1) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        console.print(f"[red]FAILED[/red]: {path} is not JSON ({exc.__class__.__name__})")
        raise typer.Exit(1) from None
    if isinstance(data, dict) and "receipt" in data and "signature" not in data:
        data = data["receipt"]  # an API answer that wraps the receipt
    return data


def verify_receipt_file(
    file: Path = typer.Argument(..., help="A receipt saved as JSON (as the API returned it)."),
    public_key: list[str] = typer.Option(
        [],
        "--public-key",
        help="Trusted signing key (base64 of the raw 32 bytes, or PEM), as published at "
        "/.well-known/fiduciary-keys.json; repeat for several. Default: this installation's configured keys.",
    ),
) -> None:
    """Check a consent receipt offline: its signature and, if attached, its signed checkpoint."""
    from fiduciary.consent.receipt_verify import verify_receipt

    keys = _trusted_keys(public_key)
    receipt = _load(file)
    if not keys:
        console.print("[red]FAILED[/red]: no trusted public key; pass --public-key")
        raise typer.Exit(1)
    check = verify_receipt(receipt, keys)
    if not check.ok:
        for problem in check.problems or ["the receipt is not valid"]:
            console.print(f"[red]FAILED[/red]: {problem}")
        raise typer.Exit(1)
    position = receipt.get("ledger", {}).get("position")
    key_id = receipt["signature"]["key_id"]
    line = f"[green]valid[/green]: consent receipt for ledger position {position}, signed by key {key_id}"
    if check.checkpoint_present:
        line += f"; covered by the signed checkpoint at position {receipt['checkpoint']['position']}"
    else:
        line += "; no checkpoint attached yet (fetch it again once the ledger is sealed)"
    console.print(line)


app.command("verify-receipt")(verify_receipt_file)
receipt_app.command("verify")(verify_receipt_file)

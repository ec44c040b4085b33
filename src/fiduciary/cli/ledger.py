"""`fiduciary ledger ...`: verify the hash chains, rebuild projections."""

from __future__ import annotations

import typer

app = typer.Typer(help="Verify and maintain the append-only ledgers.", no_args_is_help=True)

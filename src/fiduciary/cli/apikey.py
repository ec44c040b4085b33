"""`fiduciary apikey ...`: create (shown once), list, revoke."""

from __future__ import annotations

import typer

app = typer.Typer(help="Manage API keys for store backends.", no_args_is_help=True)

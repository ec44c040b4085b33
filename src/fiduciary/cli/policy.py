"""`fiduciary policy ...`: check, publish, diff, render, schema."""

from __future__ import annotations

import typer

app = typer.Typer(help="Check, publish, compare and render policy files.", no_args_is_help=True)

"""`fiduciary policy ...`: check, publish, diff, render, export, schema.

The commands live in one module per concern (policy_check, policy_versions, policy_notice, policy_export) and register
themselves on this Typer app when imported below.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="Check, publish, compare and render policy files.", no_args_is_help=True)

from fiduciary.cli import policy_check, policy_export, policy_notice, policy_versions  # noqa: E402, F401

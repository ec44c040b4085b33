"""`fiduciary policy` sub-commands (see cli/policy.py)."""

from __future__ import annotations

from fiduciary.cli.policy import app  # noqa: F401

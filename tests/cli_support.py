"""What CLI tests share: a data folder created the way an operator creates one, with `fiduciary init`.

Every command but `init` and `serve` refuses a data folder `fiduciary init` has not created, so a fixture
that points the CLI at a test's database and data folder initialises it first (after setting the
environment, as the command reads it from there).
"""

from __future__ import annotations

from typer.testing import CliRunner

from fiduciary.cli.main import app
from fiduciary.config import get_settings


def init_data_folder() -> None:
    """Run `fiduciary init` on the configured data folder (idempotent: an initialised one is kept)."""
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    get_settings.cache_clear()

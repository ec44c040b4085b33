"""Every benchmark and maintenance script still starts: `--help` imports all it needs and exits 0.

A module moved inside `src/fiduciary` breaks a script that nothing else imports (bench/serving.py imported
`fiduciary.vault.people` for a session after issue 11 moved people out of the vault); this catches it.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p for folder in ("bench", "scripts") for p in (ROOT / folder).glob("[a-z]*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_script_starts(script: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    monkeypatch.syspath_prepend(str(script.parent))  # bench scripts import their `_support` module
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(script), run_name="__main__")
    assert exit_.value.code in (0, None)
    assert "usage:" in capsys.readouterr().out

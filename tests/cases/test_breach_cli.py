"""`fiduciary cases breach …` on both databases: open, a refused future detection (exit 1, field named), steps,
facts, notify, the timeline and a report written to a file."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from breach_support import NOTICE_TEXTS
from fiduciary.cli import breach as breach_cli
from fiduciary.cli.main import app
from fiduciary.storage.base import utcnow

pytestmark = pytest.mark.usefixtures("cli_env")


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(breach_cli, "console", Console(width=200, highlight=False, soft_wrap=True))


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["cases", "breach", *args])
    return result.exit_code, result.output


def test_the_register_from_the_shell(tmp_path: Path) -> None:
    detected = (utcnow() - timedelta(hours=2)).isoformat()
    code, out = run("open", "--summary", "Export left open", "--detected-at", detected, "--category", "contact.email")
    assert code == 0, out
    match = re.search(r"cs_[a-z2-7]{26}", out)
    assert match is not None and "cert_in" in out and "running" in out
    case_id = match.group(0)
    code, out = run("step", case_id, "report_cert_in")
    assert code == 0 and re.search(r"cert_in\s+due .* met", out), out
    sets = [f"--set={name}={text}" for name, text in NOTICE_TEXTS.items()]
    assert run("update", case_id, *sets)[0] == 0
    code, out = run("notify", case_id)
    assert code == 0 and "selected 0 (0 new); 0 batches queued" in out
    code, out = run("timeline", case_id)
    assert code == 0 and [line.split()[1] for line in out.splitlines()] == [
        "opened", "report_cert_in", "update", "select_affected",
    ]  # fmt: skip
    target = tmp_path / "report.html"
    assert run("report", case_id, "--kind", "dpdp_detailed", "--format", "html", "--out", str(target))[0] == 0
    assert "Detailed report" in target.read_text(encoding="utf-8")
    assert run("close", case_id, "--reason", "resolved") == (0, "closed\n")


def test_a_future_detection_is_refused_naming_the_field() -> None:
    tomorrow = (utcnow() + timedelta(days=1)).isoformat()
    code, out = run("open", "--summary", "x", "--detected-at", tomorrow, "--category", "contact.email")
    assert code == 1 and "detected_at: is in the future" in out

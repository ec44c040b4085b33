"""Policy files written before issue 12 keep working (issue 12, item 9): schema_version stays 1.

Issue 12 adds fields to the format (jurisdictions per purpose, event-driven retention, opt-out mechanisms,
new sources and recipients); every addition is optional, so a version-1 file needs no upgrade command.
This test holds the promise: tests/policy/fixtures/v1/ keeps each example policy and the demo policy
exactly as they were at commit bf13c66 (before issue 12), and each must still load without an error,
compile for the runtime, render and export. The current examples are held to the same here, and to
more (no warnings at all) in tests/policy/test_examples.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiduciary.cli.main import app
from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.export import ExportFormat, export_policy
from fiduciary.policy.loader import analyse_policy_file, analyse_policy_text, policy_json_schema
from fiduciary.policy.notice import render_notice

ROOT = Path(__file__).resolve().parents[2]
V1 = sorted((Path(__file__).parent / "fixtures" / "v1").glob("*.yaml"))
CURRENT = [*sorted((ROOT / "examples" / "policies").glob("*.yaml")), DEMO_POLICY_PATH]


def test_the_v1_copies_are_all_there() -> None:
    """Five examples and the demo policy as of bf13c66; a lost copy would silently shrink the test."""
    assert [p.name for p in V1] == [
        "01_manufacturer_retailer.yaml",
        "02_membership_shop.yaml",
        "03_regional_marketplace.yaml",
        "04_cross_border_shop.yaml",
        "05_b2b_import_platform.yaml",
        "demo_policy.yaml",
    ]


def test_the_format_is_still_version_1() -> None:
    assert policy_json_schema()["properties"]["schema_version"]["const"] == 1


@pytest.mark.parametrize("path", [*V1, *CURRENT], ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_policy_loads_checks_compiles_renders_and_exports(path: Path) -> None:
    report = analyse_policy_file(path)
    assert [str(p) for p in report.errors] == []
    assert report.document is not None and report.document.schema_version == 1
    compiled = CompiledPolicy.build(report.document, "sha256:v1")
    assert compiled.purposes and compiled.categories
    assert render_notice(report.document, "markdown").startswith("# ")
    for fmt in ExportFormat:
        assert export_policy(report.document, fmt).data


@pytest.mark.parametrize("path", V1, ids=lambda p: p.stem)
def test_policy_check_command_accepts_the_v1_copy(path: Path) -> None:
    result = CliRunner().invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 0, result.output


def test_another_schema_version_is_refused_at_its_line() -> None:
    text = DEMO_POLICY_PATH.read_text(encoding="utf-8")
    assert text.count("schema_version: 1\n") == 1
    line = text.splitlines().index("schema_version: 1") + 1
    report = analyse_policy_text(text.replace("schema_version: 1\n", "schema_version: 2\n"), "v2.yaml")
    assert report.document is None
    [problem] = [p for p in report.errors if p.path == "schema_version"]
    assert (problem.file, problem.line) == ("v2.yaml", line)

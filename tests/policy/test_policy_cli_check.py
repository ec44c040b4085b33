"""`fiduciary policy check` and `fiduciary policy schema`: output lines, summary and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiduciary.cli.main import app
from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy.loader import policy_json_schema_text

DEMO = DEMO_POLICY_PATH.read_text(encoding="utf-8")
runner = CliRunner()
LINE = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<severity>error|warning): (?P<rest>.+)$")


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_clean_policy_exits_0(tmp_path: Path) -> None:
    path = write(tmp_path, DEMO)
    result = runner.invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == f"{path}: no problems found\n"


def test_errors_are_listed_with_positions_and_exit_1(tmp_path: Path) -> None:
    text = DEMO.replace("  legal_name:", "  legal_nmae:", 1).replace("    keep_for: 180d", "    keep_for: 0d", 1)
    path = write(tmp_path, text)
    result = runner.invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    problems = [LINE.match(line) for line in lines[:-1]]
    assert all(problems), lines
    assert [(int(m["line"]), m["severity"]) for m in problems if m] == [
        (line_of(text, "controller:"), "error"),
        (line_of(text, "legal_nmae"), "error"),
        (line_of(text, "keep_for: 0d"), "error"),
    ]
    assert lines[1] == (
        f"{path}:{line_of(text, 'legal_nmae')}:3: error: unknown key 'legal_nmae' [controller.legal_nmae] "
        "(hint: did you mean 'legal_name'?)"
    )
    assert lines[-1] == f"{path}: 3 errors, 0 warnings"
    assert "\x1b[" not in result.output  # plain text when not a terminal


def test_warnings_exit_0_unless_strict(tmp_path: Path) -> None:
    text = DEMO.replace("    legal_basis_reference: DPDP Rules 2025 Rule 6; CERT-In Directions 2022\n", "", 1)
    assert text != DEMO
    path = write(tmp_path, text)
    relaxed = runner.invoke(app, ["policy", "check", str(path)])
    assert relaxed.exit_code == 0
    assert ": warning: purpose 'security' relies on a legal obligation but does not name the law" in relaxed.output
    assert relaxed.output.splitlines()[-1] == f"{path}: 0 errors, 1 warning"
    strict = runner.invoke(app, ["policy", "check", "--strict", str(path)])
    assert strict.exit_code == 1


def test_json_output(tmp_path: Path) -> None:
    text = DEMO.replace("  - kind: access", "  - kind: acess", 1)
    path = write(tmp_path, text)
    result = runner.invoke(app, ["policy", "check", "--format", "json", str(path)])
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert body["valid"] is False
    assert (body["errors"], body["warnings"]) == (1, 0)
    [problem] = body["problems"]
    assert problem == {
        "file": str(path),
        "line": line_of(text, "kind: acess"),
        "column": 11,
        "path": "rights[0].kind",
        "severity": "error",
        "code": "invalid_value",
        "message": problem["message"],
        "hint": "did you mean 'access'?",
    }


def test_json_output_for_a_clean_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["policy", "check", "--format", "json", str(write(tmp_path, DEMO))])
    assert result.exit_code == 0
    assert json.loads(result.output)["valid"] is True


@pytest.mark.parametrize("output_format", ["text", "json"])
def test_missing_file_exits_2(tmp_path: Path, output_format: str) -> None:
    missing = tmp_path / "nope.yaml"
    result = runner.invoke(app, ["policy", "check", "--format", output_format, str(missing)])
    assert result.exit_code == 2
    if output_format == "text":
        assert result.output == f"error: {missing}: no such file\n"
    else:
        assert json.loads(result.output)["problems"][0]["code"] == "file_not_found"


def test_directory_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["policy", "check", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a file" in result.output


@pytest.mark.parametrize(
    ("content", "code_text"),
    [(b"", "the file is empty"), (b"\x00\x01\x02", "binary"), (b"a: [b\n", "invalid YAML")],
)
def test_unusable_files_exit_1_with_a_message(tmp_path: Path, content: bytes, code_text: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    result = runner.invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 1
    assert code_text in result.output
    assert result.output.splitlines()[-1] == f"{path}: 1 error, 0 warnings"


def test_bad_format_option_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["policy", "check", "--format", "xml", str(write(tmp_path, DEMO))])
    assert result.exit_code == 2


def test_schema_prints_the_published_schema() -> None:
    result = runner.invoke(app, ["policy", "schema"])
    assert result.exit_code == 0
    assert result.output == policy_json_schema_text()
    schema = json.loads(result.output)
    assert schema["title"] == "PolicyDocument"
    assert "children_allowed" in schema["$defs"]["Purpose"]["properties"]


def test_schema_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    result = runner.invoke(app, ["policy", "schema", "--output", str(out)])
    assert result.exit_code == 0
    assert out.read_text(encoding="utf-8") == policy_json_schema_text()


def test_schema_to_an_unwritable_place(tmp_path: Path) -> None:
    result = runner.invoke(app, ["policy", "schema", "--output", str(tmp_path / "missing-dir" / "s.json")])
    assert result.exit_code == 2
    assert "cannot write" in result.output
    assert not (tmp_path / "missing-dir").exists()


def test_what_stores_get_wrong_is_reported_at_its_line_with_a_hint(tmp_path: Path) -> None:
    """Issue 12: a template placeholder, a post channel nobody can write to, GPC claimed ignored."""
    text = (
        DEMO.replace("    email: privacy@saffronlane.example", "    email: privacy@example.com", 1)
        .replace("    channels: [privacy_center, email]", "    channels: [privacy_center, post]", 1)
        .replace("security_measures:", "browser_signals: {gpc: ignored}\nsecurity_measures:", 1)
    )
    path = write(tmp_path, text)
    result = runner.invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 1, result.output
    found = {m["rest"].split(" [", 1)[0]: int(m["line"]) for m in map(LINE.match, result.output.splitlines()) if m}
    assert found == {
        "placeholder left in the policy: the reserved example host 'example.com'": line_of(text, "privacy@example.com"),
        "the right 'access' may be asked for by post, but the contact who answers it has no postal address": line_of(
            text, "channels: [privacy_center, post]"
        ),
        "the policy says Global Privacy Control is ignored, but this service honours it": line_of(text, "gpc: ignored"),
    }
    assert result.output.count("(hint: ") == 3

"""`fiduciary policy render`: formats, output file, languages, and clear failures with exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fiduciary.cli.main import app
from fiduciary.config import DEMO_POLICY_PATH

runner = CliRunner()


def render(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["policy", "render", *args])
    return result.exit_code, result.stdout, result.stderr


def test_renders_each_format_to_stdout() -> None:
    code, out, err = render(str(DEMO_POLICY_PATH), "--format", "html")
    assert code == 0, err
    assert out.startswith("<!DOCTYPE html>") and "Meera Iyer" in out
    code, out, _ = render(str(DEMO_POLICY_PATH), "--format", "markdown")
    assert code == 0 and out.startswith("# Saffron Lane privacy policy")
    code, out, _ = render(str(DEMO_POLICY_PATH), "--format", "json")
    assert code == 0 and json.loads(out)["title"] == "Saffron Lane privacy policy"


def test_html_is_the_default_format() -> None:
    code, out, _ = render(str(DEMO_POLICY_PATH))
    assert code == 0 and out.startswith("<!DOCTYPE html>")


def test_writes_output_file_and_base_url_links(tmp_path: Path) -> None:
    target = tmp_path / "privacy.html"
    code, out, err = render(
        str(DEMO_POLICY_PATH), "--format", "html", "--output", str(target), "--base-url", "https://shop.example"
    )
    assert code == 0
    assert out == ""
    assert f"wrote {target}" in err
    page = target.read_text(encoding="utf-8")
    assert 'href="#right-withdraw_consent"' in page and "privacy-center" not in page  # no privacy center yet
    md = tmp_path / "notice.md"
    code, _, _ = render(
        str(DEMO_POLICY_PATH), "--format", "markdown", "--output", str(md), "--base-url", "https://shop.example"
    )
    assert code == 0
    assert "(<https://shop.example/privacy#right-withdraw_consent>)" in md.read_text(encoding="utf-8")


def test_language_option_and_fallback() -> None:
    code, out, err = render(str(DEMO_POLICY_PATH), "--format", "markdown", "--language", "hi")
    assert code == 0 and "## आपके अधिकार" in out and err == ""
    code, out, err = render(str(DEMO_POLICY_PATH), "--format", "markdown", "--language", "ta")
    assert code == 0 and "## Your rights" in out
    assert "no catalogue for language 'ta'; rendering in English" in err


def test_invalid_policy_prints_problems_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nname: Broken\nunknown_key: 3\n", encoding="utf-8")
    target = tmp_path / "out.html"
    code, out, err = render(str(bad), "--output", str(target))
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) >= 2 and all(line.startswith(str(bad)) for line in lines)
    assert any("controller" in line for line in lines)
    assert not target.exists()  # nothing written


def test_yaml_error_exits_1_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    code, out, err = render(str(bad))
    assert code == 1 and out == "" and "Traceback" not in err and str(bad) in err


def test_missing_or_binary_file_exits_1(tmp_path: Path) -> None:
    code, out, err = render(str(tmp_path / "nope.yaml"))
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.startswith(str(tmp_path / "nope.yaml"))
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 64)
    code, out, err = render(str(binary))
    assert code == 1 and out == "" and "Traceback" not in err


def test_bad_format_and_bad_base_url_are_usage_errors(tmp_path: Path) -> None:
    code, out, _ = render(str(DEMO_POLICY_PATH), "--format", "pdf")
    assert code == 2 and out == ""
    code, out, err = render(str(DEMO_POLICY_PATH), "--base-url", "javascript:alert(1)")
    assert code == 2 and out == "" and "--base-url must start with https:// or http://" in err


def test_unwritable_output_exits_1(tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "privacy.html"
    code, _, err = render(str(DEMO_POLICY_PATH), "--output", str(target))
    assert code == 1 and "cannot write the notice" in err and not target.exists()

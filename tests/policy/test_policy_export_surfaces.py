"""`fiduciary policy export` and `GET /v1/policy/export` (issue 12, item 8): formats, output, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fiduciary.cli.main import app
from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.runtime import Runtime

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policies" / "03_regional_marketplace.yaml"


def export(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["policy", "export", *args])
    return result.exit_code, result.stdout, result.stderr


# ------------------------------------------------------------------------------------------------------ CLI


def test_exports_fideslang_yaml_to_stdout_with_notes_on_stderr() -> None:
    code, out, err = export("--format", "fideslang", str(EXAMPLE))
    assert code == 0, err
    manifest = yaml.safe_load(out)
    assert manifest["system"][0]["privacy_declarations"]
    # 03 declares user.professional_information.workplace, which fideslang does not know: said on stderr
    assert "note: category business.contact" in err and "nearest parent" in err
    assert "note:" not in out


def test_exports_dpv_json_ld_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "policy.jsonld"
    code, out, err = export(str(DEMO_POLICY_PATH), "-f", "DPV", "--output", str(target))
    assert code == 0, err
    assert out == "" and f"wrote {target}" in err
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["@context"]["dpv"] == "https://w3id.org/dpv#" and data["@graph"]


def test_unknown_format_is_refused_naming_the_option() -> None:
    code, out, err = export("--format", "owl", str(DEMO_POLICY_PATH))
    assert code == 2 and out == ""
    assert "--format" in err and "fideslang" in err and "dpv" in err


def test_a_format_is_required() -> None:
    code, _, err = export(str(DEMO_POLICY_PATH))
    assert code == 2 and "--format" in err


def test_a_policy_with_errors_prints_its_file_line_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text = DEMO_POLICY_PATH.read_text(encoding="utf-8").replace("legal_ground: contract", "legal_ground: contrac", 1)
    broken.write_text(text, encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "legal_ground: contrac" in row)
    code, out, err = export("--format", "dpv", str(broken))
    assert code == 1 and out == ""
    assert f"{broken}:{line}:" in err and "nothing was exported" in err


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    code, out, err = export("--format", "dpv", str(tmp_path / "nope.yaml"))
    assert code == 1 and out == "" and "nope.yaml" in err and "Traceback" not in err


def test_without_a_file_exports_the_version_in_force(cli_env: None, runtime: Runtime) -> None:
    code, out, err = export("--format", "fideslang")
    assert code == 0, err
    assert yaml.safe_load(out)["system"][0]["name"] == "Saffron Lane"


def test_an_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = export("--format", "dpv", str(DEMO_POLICY_PATH), "--output", str(tmp_path / "no" / "x.json"))
    assert code == 1 and "cannot write the export" in err


# ------------------------------------------------------------------------------------------------------ API


def test_api_exports_the_policy_in_force_in_each_format(client: TestClient) -> None:
    response = client.get("/v1/policy/export", params={"format": "fideslang"})  # public, like /v1/policy
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["system"][0]["fides_key"] == "saffron_lane"
    content_hash = client.get("/v1/policy").json()["content_hash"]
    assert response.headers["etag"] == f'"{content_hash}:fideslang"'
    dpv = client.get("/v1/policy/export", params={"format": "dpv"})
    assert dpv.status_code == 200 and dpv.headers["content-type"].startswith("application/ld+json")
    assert "@graph" in dpv.json() and dpv.headers["etag"] != response.headers["etag"]
    again = client.get("/v1/policy/export?format=dpv", headers={"If-None-Match": dpv.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_api_refuses_an_unknown_or_missing_format_naming_the_field(client: TestClient) -> None:
    for query in ("?format=xml", ""):
        response = client.get(f"/v1/policy/export{query}")
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert [e["field"] for e in problem["errors"]] == ["query.format"], problem
        assert "xml" not in json.dumps(problem)  # submitted values are never echoed

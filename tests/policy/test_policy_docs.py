"""The committed schema reference must be what scripts/gen_policy_docs.py generates from the code now."""

from __future__ import annotations

import importlib.util
import json
import re
from enum import StrEnum
from pathlib import Path
from types import ModuleType

from fiduciary.policy.loader import DURATION_PATTERN, policy_json_schema
from fiduciary.policy.schema import PolicyDocument, Purpose, RightKind

ROOT = Path(__file__).resolve().parents[2]
FIX = "run `.venv/bin/python scripts/gen_policy_docs.py` and commit the result"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_policy_docs", ROOT / "scripts" / "gen_policy_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _script()


def test_committed_json_schema_is_current() -> None:
    committed = (ROOT / "docs" / "policy-schema.json").read_text(encoding="utf-8")
    assert committed == GEN.render_schema(), f"docs/policy-schema.json is out of date: {FIX}"


def test_committed_reference_is_current() -> None:
    committed = (ROOT / "docs" / "policy-reference.md").read_text(encoding="utf-8")
    assert committed == GEN.render_reference(), f"docs/policy-reference.md is out of date: {FIX}"


def test_check_mode_reports_nothing_stale() -> None:
    assert GEN.main(["--check"]) == 0


def test_reference_documents_every_key_and_enum_value() -> None:
    reference = GEN.render_reference()
    for name in PolicyDocument.model_fields:
        assert f"| `{name}` |" in reference
    for name, info in Purpose.model_fields.items():
        assert f"| `{name}` |" in reference
        if info.description:
            assert info.description.replace("|", "\\|") in reference
    for kind in RightKind:
        assert f"| `{kind.value}` |" in reference
    assert "| `retention_minimum_india` |" in reference  # the checks are listed too


def test_schema_is_sorted_json_and_accepts_written_durations() -> None:
    text = GEN.render_schema()
    assert json.loads(text) == policy_json_schema()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    duration = json.loads(text)["$defs"]["Duration"]
    patterns = [branch.get("pattern") for branch in duration["anyOf"]]
    assert DURATION_PATTERN in patterns
    assert re.match(DURATION_PATTERN, "10 business days") and not re.match(DURATION_PATTERN, "3 fortnights")


class _Noted(StrEnum):
    PLAIN = "plain"
    # a note written above its member,
    # over two lines
    ABOVE = "above"
    BESIDE = "beside"  # a note on the member's own line

    AFTER_BLANK = "after_blank"


def test_enum_notes_belong_to_the_member_they_are_written_for() -> None:
    """A comment above a member is its note; it never slides onto the member before it (issue 12)."""
    assert GEN._enum_comments(_Noted) == {
        "above": "a note written above its member, over two lines",
        "beside": "a note on the member's own line",
    }


def test_reference_prints_each_legal_ground_note_against_its_own_value() -> None:
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (.*) \|$", GEN.render_reference(), re.MULTILINE))
    assert rows["contract"].startswith("necessary to provide the service asked for")
    assert rows["consent"] == ""
    assert rows["exemption"].startswith("DPDP s.17(1)")
    assert rows["vital_interests"] == ""


def test_json_schema_gives_each_enum_value_its_own_note() -> None:
    legal_ground = policy_json_schema()["$defs"]["LegalGround"]
    notes = dict(zip(legal_ground["enum"], legal_ground["enumDescriptions"], strict=True))
    assert notes["contract"].startswith("necessary to provide the service asked for")
    assert notes["consent"] == ""
    assert notes["exemption"].startswith("DPDP s.17(1)")

"""Loading a policy file: every bad input gives problems with the exact line, and nothing raises.

Line numbers in the demo-based cases are computed from the text itself (the line holding a unique
marker), so an edit of the demo policy moves the expectation with it; the small inline documents use
literal numbers.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy import loader
from fiduciary.policy.loader import (
    MAX_POLICY_BYTES,
    MAX_PROBLEMS,
    LoadedPolicy,
    PolicyInvalid,
    PolicyProblem,
    PolicyReport,
    analyse_policy_bytes,
    analyse_policy_file,
    analyse_policy_text,
    load_policy,
    load_policy_text,
)
from fiduciary.policy.schema import PolicyDocument

DEMO = DEMO_POLICY_PATH.read_text(encoding="utf-8")


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing `needle`."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) >= occurrence, f"{needle!r} not found {occurrence} time(s)"
    return hits[occurrence - 1]


def edit(old: str, new: str, text: str = DEMO, count: int = 1) -> str:
    assert text.count(old) >= count, f"{old!r} not in the demo policy"
    return text.replace(old, new, count)


def report(text: str) -> PolicyReport:
    return analyse_policy_text(text, "policy.yaml")


def only(rep: PolicyReport, code: str | None = None) -> PolicyProblem:
    problems = [p for p in rep.problems if code is None or p.code == code]
    assert len(problems) == 1, "\n".join(map(str, rep.problems))
    return problems[0]


def errors(text: str) -> list[PolicyProblem]:
    return report(text).errors


# ---------------------------------------------------------------------------------------------- demo


def test_demo_policy_loads_with_no_errors_and_no_warnings() -> None:
    loaded = load_policy(DEMO_POLICY_PATH)
    assert isinstance(loaded, LoadedPolicy)
    assert loaded.document.name == "Saffron Lane privacy policy"
    assert loaded.warnings == []
    assert loaded.path == DEMO_POLICY_PATH
    assert loaded.source == DEMO
    rep = analyse_policy_file(DEMO_POLICY_PATH)
    assert rep.ok and rep.problems == []


def test_values_match_a_yaml_1_2_loader() -> None:
    """The event-built data is what ruamel (YAML 1.2) reads, so the document is the same either way."""
    rep = report(DEMO)
    assert rep.document is not None
    assert rep.document.model_dump() == PolicyDocument.model_validate(YAML(typ="safe").load(DEMO)).model_dump()


def test_yaml_1_2_keeps_country_no_as_text() -> None:
    """Under YAML 1.1 `NO` (Norway) would be false; policies are read as YAML 1.2."""
    text = edit("    country: IN\n  jurisdictions", "    country: NO\n  jurisdictions")
    loaded = load_policy_text(text)
    assert loaded.document.controller.address.country == "NO"


def test_scalars_follow_the_core_schema() -> None:
    root, _, problems = loader._compose(
        "a: yes\nb: true\nc: 012\nd: 0x1F\ne: 1.5\nf: ~\ng: 2027-01-26\nh: '12'\ni: 2027-02-30\nj: !!str 5\n", "x"
    )
    assert problems == []
    assert root == {
        "a": "yes",
        "b": True,
        "c": 12,
        "d": 31,
        "e": 1.5,
        "f": None,
        "g": datetime.date(2027, 1, 26),
        "h": "12",
        "i": "2027-02-30",
        "j": "5",
    }


def test_utf8_bom_is_accepted() -> None:
    rep = analyse_policy_bytes(b"\xef\xbb\xbf" + DEMO.encode("utf-8"), "bom.yaml")
    assert rep.ok


# ------------------------------------------------------------------------------------- whole-file problems


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_bytes(b"")
    with pytest.raises(PolicyInvalid) as caught:
        load_policy(path)
    problem = only(PolicyReport("x", caught.value.problems))
    assert (problem.code, problem.line, problem.file) == ("empty", 1, str(path))
    assert "empty" in problem.message


@pytest.mark.parametrize("text", ["   \n\n\t\n", "# only a comment\n\n# another\n", "---\n", "~\n"])
def test_file_with_no_content(text: str) -> None:
    problem = only(report(text))
    assert problem.code == "empty"
    assert problem.line == 1


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "logo.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    problem = only(analyse_policy_file(path))
    assert problem.code == "binary"
    assert problem.line == 3  # the NUL byte follows the header's two line breaks
    assert "binary" in problem.message


def test_invalid_utf8_names_line_and_column() -> None:
    problem = only(analyse_policy_bytes(b"schema_version: 1\nname: Caf\xe9 policy\n", "latin1.yaml"))
    assert (problem.code, problem.line, problem.column) == ("invalid_encoding", 2, 10)
    assert "0xe9" in problem.message


def test_utf16_file_is_named_as_such() -> None:
    problem = only(analyse_policy_bytes(DEMO[:200].encode("utf-16"), "utf16.yaml"))
    assert problem.code == "invalid_encoding"
    assert "UTF-16" in problem.message


def test_lone_surrogate_in_text() -> None:
    problem = only(report("name: a\nb: \ud800\n"))
    assert (problem.code, problem.line) == ("invalid_encoding", 2)


def test_control_character() -> None:
    problem = only(report("schema_version: 1\nname: Shop\x07 policy\n"))
    assert (problem.code, problem.line, problem.column) == ("control_character", 2, 11)
    assert "U+0007" in problem.message


def test_ten_megabyte_file_is_refused_without_reading_or_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.write(b"name: x\n" * (10 * 1024 * 1024 // 8))
    assert path.stat().st_size == 10 * 1024 * 1024

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("a file over the limit must not be decoded or parsed")

    monkeypatch.setattr(loader, "_decode", must_not_run)
    monkeypatch.setattr(loader, "_compose", must_not_run)
    with pytest.raises(PolicyInvalid) as caught:
        load_policy(path)
    problem = only(PolicyReport("x", caught.value.problems))
    assert (problem.code, problem.line) == ("too_large", 0)
    assert "10.0 MiB" in problem.message and "2 MiB" in problem.message


def test_size_limit_applies_to_text_and_bytes() -> None:
    big = "a: " + "x" * MAX_POLICY_BYTES
    assert only(report(big)).code == "too_large"
    assert only(analyse_policy_bytes(big.encode(), "b.yaml")).code == "too_large"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(PolicyInvalid) as caught:
        load_policy(tmp_path / "nope.yaml")
    assert caught.value.problems[0].code == "file_not_found"
    assert only(analyse_policy_file(tmp_path)).code == "not_a_file"


@pytest.mark.parametrize(
    ("text", "kind"), [("- schema_version: 1\n- name: x\n", "a list"), ("just some words\n", "a single value")]
)
def test_top_level_must_be_a_mapping(text: str, kind: str) -> None:
    problem = only(report(text))
    assert (problem.code, problem.line) == ("not_a_mapping", 1)
    assert kind in problem.message


def test_more_than_one_document() -> None:
    problem = only(report("schema_version: 1\n---\nname: second\n"))
    assert (problem.code, problem.line) == ("multiple_documents", 2)


# ---------------------------------------------------------------------------------------- YAML syntax


@pytest.mark.parametrize(
    ("text", "line", "column", "hint_part"),
    [
        ("schema_version: 1\nname: x\n  language: en\n", 3, 11, "quotes"),
        ("schema_version: 1\ncontroller:\n\tlegal_name: x\n", 3, 1, "tabs"),
        ("schema_version: 1\nlanguage: [en, hi\nname: x\n", 3, 5, "not closed"),
        ('schema_version: 1\nname: "unterminated\n', 3, 1, "quoted"),
    ],
)
def test_malformed_yaml_reports_the_line_and_column(text: str, line: int, column: int, hint_part: str) -> None:
    problem = only(report(text))
    assert problem.code == "yaml_syntax"
    assert (problem.line, problem.column) == (line, column)
    assert problem.message.startswith("invalid YAML: ")
    assert problem.hint is not None and hint_part in problem.hint


def test_malformed_yaml_inside_the_demo() -> None:
    text = edit("  jurisdictions: [IN]", "  jurisdictions: [IN\n  role_typo: x")
    problem = only(report(text))
    assert problem.code == "yaml_syntax"
    assert problem.line == line_of(text, "role_typo")


def test_duplicate_keys_report_each_second_occurrence() -> None:
    rep = report("a: 1\nb: 2\na: 3\nc:\n  d: 1\n  d: 2\n")
    dupes = [p for p in rep.problems if p.code == "duplicate_key"]
    assert [(p.line, p.column, p.path) for p in dupes] == [(3, 1, "a"), (6, 3, "c.d")]
    assert "already set on line 1" in dupes[0].message


def test_duplicate_key_in_the_demo() -> None:
    text = edit("    name: Mobile number\n", "    name: Mobile number\n    name: Phone\n")
    problem = only(report(text))
    assert problem.code == "duplicate_key"
    assert problem.line == line_of(text, "name: Phone")
    assert f"line {line_of(text, 'name: Mobile number')}" in problem.message
    with pytest.raises(PolicyInvalid):
        load_policy_text(text)


def test_anchors_aliases_and_merge_keys() -> None:
    text = edit(
        "  - kind: correction\n    deadline: {respond_within: 30d, acknowledge_within: 2d}",
        "  - kind: correction\n    deadline:\n      <<: *answer\n      respond_within: 15d",
    )
    text = edit(
        "    deadline: {respond_within: 30d, acknowledge_within: 2d}",
        "    deadline: &answer {respond_within: 30d, acknowledge_within: 2d}",
        text,
    )
    doc = load_policy_text(text).document
    access, correction = doc.rights[0], doc.rights[1]
    assert str(access.deadline.respond_within) == "30d"
    assert str(correction.deadline.respond_within) == "15d"  # the explicit key wins over the merged one
    assert str(correction.deadline.acknowledge_within) == "2d"


def test_alias_expansion_bomb_is_refused() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i, name in enumerate("bcdefg"):
        prev = "abcdefg"[i]
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    lines.append("h: [" + ", ".join(["*g"] * 10) + "]")
    problem = only(report("\n".join(lines) + "\n"))
    assert problem.code == "alias_expansion"
    assert problem.line == 6  # f already stands for 1.1 million values


def test_recursive_and_undefined_aliases() -> None:
    problem = only(report("a: 1\nb: &x [1, *x]\n"))
    assert (problem.code, problem.line) == ("recursive_alias", 2)
    rep = report("a: *nothing\n")
    assert [(p.code, p.line) for p in rep.problems if p.code == "undefined_alias"] == [("undefined_alias", 1)]


def test_deep_nesting_is_refused_before_parsing() -> None:
    problem = only(report("a: " + "[" * 200 + "]" * 200 + "\n"))
    assert (problem.code, problem.line) == ("too_deep", 1)
    block = "".join(f"{'  ' * i}k{i}:\n" for i in range(80)) + "  " * 80 + "v: 1\n"
    problem = only(report(block))
    assert problem.code == "too_deep"


def test_unsupported_tag() -> None:
    rep = report("schema_version: !custom 1\n")
    assert [(p.code, p.line) for p in rep.problems if p.code == "unsupported_tag"] == [("unsupported_tag", 1)]


# ------------------------------------------------------------------------------------ schema problems


def test_unknown_key_with_did_you_mean() -> None:
    text = edit("  legal_name:", "  legal_nmae:")
    rep = report(text)
    unknown = only(rep, "unknown_key")
    assert unknown.line == line_of(text, "legal_nmae")
    assert unknown.column == 3
    assert unknown.path == "controller.legal_nmae"
    assert unknown.message == "unknown key 'legal_nmae'"
    assert unknown.hint == "did you mean 'legal_name'?"
    missing = only(rep, "missing_key")
    assert missing.line == line_of(text, "controller:")
    assert missing.message == "missing required key 'legal_name'"
    assert missing.hint == f"'legal_nmae' on line {unknown.line} looks like a misspelling of it"


def test_unknown_key_in_a_list_item() -> None:
    text = edit(
        "    legal_ground: legal_obligation\n    legal_basis_reference: CGST",
        "    legal_ground: legal_obligation\n    legal_basis_refrence: CGST",
    )
    problem = only(report(text))
    assert problem.path == "purposes[2].legal_basis_refrence"
    assert problem.line == line_of(text, "legal_basis_refrence")
    assert problem.hint == "did you mean 'legal_basis_reference'?"


def test_unknown_top_level_section() -> None:
    text = edit("policy_changes:", "policy_change:")
    rep = report(text)
    assert only(rep, "unknown_key").hint == "did you mean 'policy_changes'?"
    assert only(rep, "unknown_key").line == line_of(text, "policy_change:")
    missing = only(rep, "missing_key")
    assert missing.message == "missing required section 'policy_changes'"


def test_unknown_key_without_a_close_match_lists_the_allowed_keys() -> None:
    text = edit("  role: seller", "  zzzqqq: seller")
    problem = only(report(text))
    assert problem.hint is not None and problem.hint.startswith("the keys allowed here are: legal_name,")


def test_unknown_key_inside_a_union_member() -> None:
    text = edit("    lifetime: 90d", "    lifetime: {amount: 90, unit: days, extra: 1}")
    problem = only(report(text))
    assert (problem.path, problem.line) == ("cookies[6].lifetime.extra", line_of(text, "extra: 1"))
    assert problem.hint == "the keys allowed here are: amount, unit"


def test_missing_required_section() -> None:
    start, end = DEMO.index("\ncases:\n"), DEMO.index("\npolicy_changes:\n")
    text = DEMO[:start] + DEMO[end:]
    problem = only(report(text))
    assert problem.code == "missing_key"
    assert problem.message == "missing required section 'cases'"
    assert problem.path == "cases"
    assert problem.line == line_of(text, "schema_version:")  # the top-level mapping starts there


def test_missing_key_in_a_list_item_points_at_the_item() -> None:
    text = edit(
        "    legal_hold:\n      minimum: 1y\n      basis: DPDP Rules 2025 Rule 8(3)\n",
        "    legal_hold:\n      minimum: 1y\n",
    )
    problem = only(report(text))
    assert problem.path == "retention[1].legal_hold.basis"
    assert problem.line == line_of(text, "legal_hold:")


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("0d", "a duration must be longer than zero"),
        ("-3d", "'-3d': a duration cannot be negative"),
        ("5000y", "a duration longer than 100 years is not a plausible retention or deadline"),
        ("3 fortnights", "'3 fortnights' is not a duration"),
        ("30", "a duration needs a unit, e.g. '30d' or '30 years'"),
        # issue 12: the bad inputs it names, in the short and the ISO 8601 forms
        ("0min", "a duration must be longer than zero"),
        ("PT0S", "a duration must be longer than zero"),
        ("-5m", "'-5m': a duration cannot be negative"),
        ("5m", "'5m': 'm' could mean minutes or months: write 'min' for minutes or 'mo' for months"),
        ("PT30S", "'PT30S': seconds are not a policy unit"),
        ("P1Y6M", "'P1Y6M': use a single unit, e.g. P1Y, P30D or PT30M"),
    ],
)
def test_impossible_durations(written: str, message: str) -> None:
    text = edit("    keep_for: 180d", f"    keep_for: {written}")
    problem = only(report(text))
    assert problem.message == message
    assert problem.path == "retention[4].keep_for"
    lines = [i for i, line in enumerate(text.splitlines(), start=1) if line == f"    keep_for: {written}"]
    assert (problem.line, problem.column) == (lines[0], 15)


def test_impossible_cookie_lifetime_mentions_session() -> None:
    text = edit("    lifetime: 90d", "    lifetime: 3 fortnights")
    problem = only(report(text))
    assert problem.message == "'3 fortnights' is not a duration"
    assert problem.hint is not None and problem.hint.endswith("or 'session'")
    assert problem.line == line_of(text, "3 fortnights")


def test_enum_value_with_did_you_mean() -> None:
    text = edit("  - kind: access", "  - kind: acess")
    problem = only(report(text))
    assert problem.hint == "did you mean 'access'?"
    assert problem.message.startswith("'acess' is not allowed here; expected one of: 'access', 'correction'")
    assert problem.line == line_of(text, "kind: acess")


def test_number_where_text_is_expected_suggests_quotes() -> None:
    text = edit('    postal_code: "201309"', "    postal_code: 201309")
    problem = only(report(text))
    assert problem.message == "expected text, got a number (201309)"
    assert problem.hint == "put the value in quotes"
    assert problem.line == line_of(text, "postal_code: 201309")


def test_invalid_id_explains_the_form() -> None:
    text = edit("  - id: account\n", "  - id: Your Account\n")
    rep = report(text)
    problem = only(rep, "invalid_value")
    assert problem.message == "'Your Account' is not a valid id"
    assert problem.line == line_of(text, "id: Your Account")


def test_model_validator_error_points_at_the_item() -> None:
    text = edit("    legitimate_use: 7a\n", "")
    problem = only(report(text))
    assert problem.path == "purposes[3]"
    assert "needs the DPDP s.7 clause" in problem.message
    assert problem.line == line_of(text, "id: customer_support")


def test_wrong_shapes() -> None:
    text = edit("  jurisdictions: [IN]", "  jurisdictions: IN")
    problem = only(report(text))
    assert problem.message == "expected a list, got text ('IN')"
    text = edit("name: Saffron Lane privacy policy", "name: {a: 1}")
    assert only(report(text)).message == "expected text, got a mapping"
    text = edit("categories: [contact.phone]", "categories: []")
    problem = only(report(text))
    assert (problem.message, problem.line) == ("needs at least 1 item", line_of(text, "categories: []"))


def test_problems_are_sorted_by_line_and_all_reported() -> None:
    text = edit("  role: seller", "  role: vendor")
    text = edit("    keep_for: 180d", "    keep_for: 0d", text)
    text = edit("  - kind: access", "  - kind: acess", text)
    rep = report(text)
    assert len(rep.errors) == 3
    assert [p.line for p in rep.problems] == sorted(p.line for p in rep.problems)


def test_a_flood_of_problems_is_truncated() -> None:
    items = "".join(f"  - id: bad{i}\n" for i in range(MAX_PROBLEMS + 100))
    rep = report(f"schema_version: 1\nsecurity_measures:\n{items}")
    assert len(rep.problems) == MAX_PROBLEMS + 1
    assert rep.problems[-1].code == "truncated"


def test_policy_invalid_carries_every_problem_and_field_paths() -> None:
    text = edit("  - kind: access", "  - kind: acess")
    with pytest.raises(PolicyInvalid) as caught:
        load_policy_text(text, "mine.yaml")
    exc = caught.value
    assert exc.status == 422 and exc.code == "policy_invalid"
    assert [f.field for f in exc.fields] == ["rights[0].kind"]
    assert str(exc.problems[0]).startswith(f"mine.yaml:{line_of(text, 'acess')}:11: error: ")


def test_problem_text_format() -> None:
    problem = PolicyProblem("p.yaml", 3, 5, "a.b", "bad", "fix it", "warning", "code")
    assert str(problem) == "p.yaml:3:5: warning: bad [a.b] (hint: fix it)"
    assert str(PolicyProblem("p.yaml", 0, 0, "", "bad")) == "p.yaml:0:0: error: bad"
    assert problem.as_dict()["code"] == "code"


def test_check_findings_carry_positions() -> None:
    text = edit("    categories: [contact.phone]\n", "    categories: [contact.phon]\n")
    problem = only(report(text))
    assert problem.code == "dangling_reference"
    assert (problem.line, problem.column) == (line_of(text, "[contact.phon]"), 18)
    assert problem.hint == "did you mean 'contact.phone'?"


def test_duplicate_id_reports_the_second_with_the_first_line() -> None:
    text = edit("  - id: contact.phone\n    name: Mobile number", "  - id: contact.email\n    name: Mobile number")
    dupe = only(report(text), "duplicate_id")
    assert dupe.line == line_of(text, "id: contact.email", 2)
    assert f"first defined at line {line_of(text, 'id: contact.email')}" in dupe.message


def test_warnings_do_not_stop_loading() -> None:
    text = edit("    legal_basis_reference: DPDP Rules 2025 Rule 6; CERT-In Directions 2022\n", "")
    loaded = load_policy_text(text)
    assert [w.code for w in loaded.warnings] == ["legal_obligation_basis"]
    assert loaded.warnings[0].severity == "warning"


@pytest.mark.parametrize("zone", ["Asia/Kolkatta", "IST+5:30", "../../etc/passwd"])
def test_unknown_calendar_time_zone_names_its_line(zone: str) -> None:
    """A zone ZoneInfo cannot find would otherwise fail at the first decision (500), not at publish."""
    text = edit("  timezone: Asia/Kolkata", f"  timezone: {zone!r}")
    problem = only(report(text))
    assert problem.path == "calendar.timezone"
    assert problem.line == line_of(text, "  timezone:")
    assert "unknown time zone" in problem.message and "Asia/Kolkata" in (problem.hint or "")


def test_undeclared_retention_event_names_file_line_and_hint() -> None:
    """issue 12: a rule counting from an event the policy never declared, reported where it is written."""
    declared = "retention_events:\n  - id: dispute_closed\n    description: the dispute is closed\ncookies:\n"
    text = edit("cookies:\n", declared, edit("    trigger: case_closed", "    trigger: {event: dispute_closd}"))
    problem = only(report(text), "retention_event_undeclared")
    assert problem.severity == "error"
    assert problem.path == "retention[3].trigger.event"
    assert problem.line == line_of(text, "trigger: {event: dispute_closd}")
    assert problem.hint == "did you mean 'dispute_closed'?"
    assert str(problem).startswith(f"policy.yaml:{problem.line}:")
    # declared under its own id, the same file has no problem of that kind
    fixed = text.replace("{event: dispute_closd}", "{event: dispute_closed}")
    assert [p for p in report(fixed).problems if (p.code or "").startswith("retention_event")] == []

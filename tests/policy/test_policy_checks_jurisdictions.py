"""The per-jurisdiction checks (issue 12 item 1): for each, a policy that fails it and a close one that passes.

The base is the demo policy made to serve India, the EU, the UK and California (tests/jurisdictions_support.py),
which passes every check; each case edits it and looks only at the findings of the check under test.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fiduciary.policy.checks import CHECKS, Finding, run_checks
from fiduciary.policy.diff import diff_policies
from fiduciary.policy.loader import analyse_policy_text
from fiduciary.policy.schema import PolicyDocument
from jurisdictions_support import DEMO, GDPR_LI, RECOMMENDATIONS, Data, dump_yaml, three_jurisdictions

BASE = three_jurisdictions()


def findings(data: Data, code: str) -> list[Finding]:
    return [f for f in run_checks(PolicyDocument.model_validate(data)) if f.code == code]


def base(change: Callable[[Data], object] | None = None, start: Data = BASE) -> Data:
    data = copy.deepcopy(start)
    if change is not None:
        change(data)
    return data


def purpose(data: Data, pid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in data["purposes"] if p["id"] == pid)
    return found


def right(data: Data, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in data["rights"] if r["kind"] == kind)
    return found


def idx(data: Data, section: str, value: str, key: str = "id") -> int:
    return [x.get(key) for x in data[section]].index(value)


def serve(*jurisdictions: str) -> Callable[[Data], None]:
    def change(d: Data) -> None:
        d["controller"]["jurisdictions"] = list(jurisdictions)

    return change


def both(*changes: Callable[[Data], object]) -> Callable[[Data], None]:
    def change(d: Data) -> None:
        for c in changes:
            c(d)

    return change


def on_demo(change: Callable[[Data], object] | None = None) -> Callable[[Data], None]:
    """Start from the India-only demo policy instead of the three-jurisdiction one."""

    def start(d: Data) -> None:
        d.clear()
        d.update(copy.deepcopy(DEMO))
        if change is not None:
            change(d)

    return start


def eu_only(d: Data) -> None:
    """The three-jurisdiction policy cut down to the EU: everything Indian, British or Californian removed."""
    d["controller"]["jurisdictions"] = ["EU"]
    d["contacts"]["authorities"] = [a for a in d["contacts"]["authorities"] if a["jurisdiction"] == "EU"]
    d["contacts"]["representatives"] = [r for r in d["contacts"]["representatives"] if r["jurisdiction"] == "EU"]
    for p in d["purposes"]:
        p.get("grounds_by_jurisdiction", {}).pop("UK", None)
    for r in d["rights"]:
        r.get("deadlines_by_jurisdiction", {}).pop("UK", None)
        r.get("deadlines_by_jurisdiction", {}).pop("US-CA", None)
        if r.get("jurisdictions"):
            r["jurisdictions"] = [j for j in r["jurisdictions"] if j == "EU"] or ["EU"]
    d["rights"] = [r for r in d["rights"] if r["kind"] != "opt_out_sale_sharing"]
    d["children"]["by_jurisdiction"] = {"EU": d["children"]["by_jurisdiction"]["EU"]}


SUPPORT, FRAUD, RECS = (idx(BASE, "purposes", p) for p in ("customer_support", "fraud_screening", "recommendations"))
ACCESS = idx(BASE, "rights", "access", "kind")
PORTABILITY = idx(BASE, "rights", "portability", "kind")


def test_the_base_passes_every_check() -> None:
    assert run_checks(PolicyDocument.model_validate(base())) == []


def test_every_jurisdiction_check_has_a_failing_and_a_passing_case() -> None:
    mine = {code for code, func in CHECKS if func.__module__.endswith("checks_jurisdictions")}
    assert mine == {case.values[0] for case in FAILING} == {case.values[0] for case in PASSING}


# (code, failing change, path of the finding, severity)
FAILING = [
    # The bad input: a jurisdiction named in a purpose but not declared by the controller.
    pytest.param(
        "jurisdiction_not_declared",
        serve("IN", "EU", "US-CA"),
        {
            ("purposes", SUPPORT, "grounds_by_jurisdiction", "UK"),
            ("purposes", FRAUD, "grounds_by_jurisdiction", "UK"),
            ("purposes", RECS, "grounds_by_jurisdiction", "UK"),
            ("rights", ACCESS, "deadlines_by_jurisdiction", "UK"),
            *{
                ("rights", idx(BASE, "rights", k, "kind"), "jurisdictions", 1)
                for k in ("portability", "restriction", "objection")
            },
            ("children", "by_jurisdiction", "UK"),
            ("contacts", "authorities", 2, "jurisdiction"),
            ("contacts", "representatives", 1, "jurisdiction"),
        },
        "error",
        id="uk-named-everywhere-not-declared",
    ),
    pytest.param(
        "jurisdiction_not_declared",
        on_demo(lambda d: purpose(d, "analytics").update(grounds_by_jurisdiction={"EU": GDPR_LI})),
        {("purposes", idx(DEMO, "purposes", "analytics"), "grounds_by_jurisdiction", "EU")},
        "error",
        id="eu-ground-in-india-only-policy",
    ),
    pytest.param(
        "ground_of_another_law",
        both(eu_only, lambda d: purpose(d, "customer_support").pop("grounds_by_jurisdiction")),
        {("purposes", SUPPORT, "legal_ground")},
        "error",
        id="dpdp-7a-in-eu-only-policy",
    ),
    pytest.param(
        "ground_of_another_law",
        both(eu_only, lambda d: purpose(d, "fraud_screening").pop("grounds_by_jurisdiction")),
        {("purposes", FRAUD, "legal_ground")},
        "error",
        id="dpdp-exemption-in-eu-only-policy",
    ),
    pytest.param(
        "ground_of_another_law",
        lambda d: purpose(d, "recommendations")["grounds_by_jurisdiction"].update(
            EU={"legal_ground": "legitimate_use", "legitimate_use": "7a"}
        ),
        {("purposes", RECS, "grounds_by_jurisdiction", "EU", "legal_ground")},
        "error",
        id="dpdp-ground-stated-for-eu",
    ),
    pytest.param(
        "ground_of_another_law",
        lambda d: purpose(d, "recommendations")["grounds_by_jurisdiction"].update(IN=GDPR_LI),
        {("purposes", RECS, "grounds_by_jurisdiction", "IN", "legal_ground")},
        "error",
        id="legitimate-interests-stated-for-india",
    ),
    pytest.param(
        "ground_of_another_law",
        lambda d: purpose(d, "customer_support")["grounds_by_jurisdiction"].pop("UK"),
        {("purposes", SUPPORT, "legal_ground")},
        "warning",
        id="dpdp-ground-reaches-uk-people",
    ),
    pytest.param(
        "age_band",
        lambda d: d["children"]["by_jurisdiction"]["IN"].update(minimum_age=16),
        {("children", "by_jurisdiction", "IN", "minimum_age")},
        "error",
        id="india-band-under-18",
    ),
    pytest.param(
        "age_band",
        lambda d: d["children"]["by_jurisdiction"]["EU"].update(minimum_age=14),
        {("children", "by_jurisdiction", "EU", "minimum_age")},
        "error",
        id="eu-band-below-its-country-ages",
    ),
    pytest.param(
        "age_band",
        lambda d: d["children"]["by_jurisdiction"]["EU"].update(minimum_age=14, country_ages={}),
        {("children", "by_jurisdiction", "EU", "minimum_age")},
        "warning",
        id="eu-band-below-16-without-country-ages",
    ),
    pytest.param(
        "age_band",
        lambda d: d["children"]["by_jurisdiction"]["US-CA"].update(sale_opt_in_age=15, sale_parent_age=12),
        {
            ("children", "by_jurisdiction", "US-CA", "sale_opt_in_age"),
            ("children", "by_jurisdiction", "US-CA", "sale_parent_age"),
        },
        "error",
        id="ca-sale-bands-too-low",
    ),
    pytest.param(
        "age_band",
        lambda d: d["children"].update(minimum_age=16),
        {("children", "by_jurisdiction", "IN", "minimum_age")},
        "error",
        id="band-above-the-age-decisions-apply",
    ),
    pytest.param(
        "authority_per_jurisdiction",
        lambda d: d["contacts"].update(
            authorities=[a for a in d["contacts"]["authorities"] if a["jurisdiction"] != "UK"]
        ),
        {("contacts",)},
        "warning",
        id="no-uk-authority",
    ),
    pytest.param(
        "eu_representative",
        lambda d: d["contacts"].update(representatives=d["contacts"]["representatives"][1:]),
        {("controller", "jurisdictions")},
        "error",
        id="no-eu-representative",
    ),
    pytest.param(
        "eu_representative",
        both(
            lambda d: d["contacts"].update(representatives=[]),
            lambda d: d["controller"].update(occasional_processing=True),
        ),
        {("controller", "occasional_processing")},
        "warning",
        id="occasional-processing-art-27-2",
    ),
]


@pytest.mark.parametrize(("code", "change", "paths", "severity"), FAILING)
def test_check_fails(code: str, change: Callable[[Data], object], paths: set[Any], severity: str) -> None:
    found = findings(base(change), code)
    assert {f.path for f in found} == paths, found
    assert {f.severity for f in found} == {severity}
    assert all(f.message and f.hint for f in found)


PASSING = [
    pytest.param("jurisdiction_not_declared", None, id="all-declared"),
    pytest.param("ground_of_another_law", eu_only, id="eu-only-with-gdpr-grounds"),
    pytest.param("ground_of_another_law", on_demo(), id="india-only-with-dpdp-grounds"),
    pytest.param("age_band", None, id="every-band-at-its-floor"),
    pytest.param(
        "age_band",
        lambda d: d["children"]["by_jurisdiction"]["EU"].update(minimum_age=16, country_ages={}),
        id="eu-default-16",
    ),
    pytest.param("authority_per_jurisdiction", None, id="one-authority-each"),
    pytest.param(
        "authority_per_jurisdiction",
        on_demo(lambda d: d["contacts"].update(authorities=[])),
        id="single-law-policy-left-alone",
    ),
    pytest.param("eu_representative", None, id="representatives-named"),
    pytest.param(
        "eu_representative",
        both(
            lambda d: d["contacts"].update(representatives=[]),
            lambda d: d["controller"]["address"].update(country="IE"),
            serve("IN", "EU", "US-CA"),
            lambda d: [
                p["grounds_by_jurisdiction"].pop("UK", None) for p in d["purposes"] if "grounds_by_jurisdiction" in p
            ],
            lambda d: right(d, "access")["deadlines_by_jurisdiction"].pop("UK"),
            lambda d: [r.update(jurisdictions=["EU"]) for r in d["rights"] if r.get("jurisdictions") == ["EU", "UK"]],
            lambda d: d["children"]["by_jurisdiction"].pop("UK"),
            lambda d: d["contacts"].update(
                authorities=[a for a in d["contacts"]["authorities"] if a["jurisdiction"] != "UK"]
            ),
        ),
        id="established-in-ireland",
    ),
]


@pytest.mark.parametrize(("code", "change"), PASSING)
def test_check_passes(code: str, change: Callable[[Data], object] | None) -> None:
    assert findings(base(change), code) == []


def test_eu_only_policy_passes_every_check() -> None:
    assert run_checks(PolicyDocument.model_validate(base(eu_only))) == []


def test_india_ground_for_india_silences_the_legitimate_interests_check() -> None:
    """A purpose on legitimate interests with its own ground for India is not on legitimate interests there."""
    data = base(
        lambda d: purpose(d, "recommendations").update(
            legal_ground="legitimate_interests", grounds_by_jurisdiction={"IN": {"legal_ground": "consent"}}
        )
    )
    assert findings(data, "legitimate_interests_in_india") == []
    data = base(
        lambda d: purpose(d, "recommendations").update(legal_ground="legitimate_interests", grounds_by_jurisdiction={})
    )
    assert [f.severity for f in findings(data, "legitimate_interests_in_india")] == ["warning"]


def test_rights_deadlines_are_checked_per_jurisdiction() -> None:
    """45 days suits California but not the EU: the override for EU is checked against GDPR Art 12(3)."""
    data = base(lambda d: right(d, "access")["deadlines_by_jurisdiction"]["EU"].update(respond_within="45d"))
    assert [f.path for f in findings(data, "rights_deadline")] == [
        ("rights", ACCESS, "deadlines_by_jurisdiction", "EU", "respond_within")
    ]
    data = base(lambda d: right(d, "access")["deadlines_by_jurisdiction"]["US-CA"].update(respond_within="60d"))
    assert [f.path for f in findings(data, "rights_deadline")] == [
        ("rights", ACCESS, "deadlines_by_jurisdiction", "US-CA", "respond_within")
    ]
    # The default deadline no longer governs the EU once the EU has its own.
    data = base(lambda d: right(d, "access").update(deadline={"respond_within": "45d"}))
    assert findings(data, "rights_deadline") == []


def test_a_right_offered_only_in_california_does_not_cover_the_eu() -> None:
    data = base(lambda d: right(d, "portability").update(jurisdictions=["US-CA"]))
    messages = [f.message for f in findings(data, "missing_right")]
    assert messages == ["the right 'portability' is missing (GDPR Art 20, UK GDPR Art 20)"]


def test_undeclared_jurisdiction_is_reported_at_its_line(tmp_path: Path) -> None:
    """The bad input of the issue, through the loader: file, line and hint."""
    data = base(serve("IN", "EU", "US-CA"))
    text = dump_yaml(data)
    report = analyse_policy_text(text, "three.yaml")
    found = [p for p in report.problems if p.code == "jurisdiction_not_declared"]
    assert found and all(p.severity == "error" and p.line > 0 and p.hint for p in found)
    line = text.splitlines()[found[0].line - 1]
    assert "UK" in line, line
    assert RECOMMENDATIONS["id"] in text


def test_a_changed_ground_for_one_jurisdiction_is_a_material_change() -> None:
    """GDPR Art 13(3), DPDP s.5: a new basis for processing needs a new notice (and a new consent if it is one)."""
    old = PolicyDocument.model_validate(BASE)
    new = PolicyDocument.model_validate(
        base(lambda d: purpose(d, "recommendations")["grounds_by_jurisdiction"].update(EU={"legal_ground": "consent"}))
    )
    changes = [c for c in diff_policies(old, new) if "grounds_by_jurisdiction" in c.path]
    assert [(c.path, c.material, c.reason, c.affected_purposes) for c in changes] == [
        (
            "purposes[recommendations].grounds_by_jurisdiction.EU",
            True,
            "legal ground changed to or from consent",
            ("recommendations",),
        )
    ]
    assert "now relies on consent instead of legitimate interests for people in EU" in changes[0].summary
    same = PolicyDocument.model_validate(base())
    assert [c for c in diff_policies(old, same) if "grounds_by_jurisdiction" in c.path] == []

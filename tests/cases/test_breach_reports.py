"""The regulators' reports: each law's fields, missing ones shown as missing, text escaped in every format."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from fiduciary.cases.breach.kind import BreachStep
from fiduciary.cases.breach.reports import (
    IncidentRecord,
    Notified,
    ReportFormat,
    ReportKind,
    build_report,
    render_report,
)
from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy.loader import load_policy

IST = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=IST)
POLICY = load_policy(DEMO_POLICY_PATH).document
SCRIPT = "<script>alert(1)</script>"


def record(**texts: str) -> IncidentRecord:
    return IncidentRecord(
        reference="cas_01TESTTESTTESTTESTTESTTEST",
        texts={"summary": f"Export bucket public {SCRIPT}", **texts},
        detected_at=datetime(2026, 5, 4, 9, 0, tzinfo=IST),
        aware_at=datetime(2026, 5, 4, 9, 30, tzinfo=IST),
        occurred_at=None,
        categories=[POLICY.categories[0].id],
        people_affected=1200,
        records_affected=None,
        natures=["confidentiality"],
        systems=["orders-export"],
        steps={BreachStep.INFORM_AUTHORITY: datetime(2026, 5, 4, 11, 0, tzinfo=IST)},
    )


def test_the_dpdp_initial_report_has_rule_7_2_a_fields_and_names_what_is_missing() -> None:
    report = build_report(ReportKind.DPDP_INITIAL, POLICY, record(), NOW)
    names = [f.name for f in report.fields]
    for required in (
        "nature",
        "categories",
        "extent",
        "detected_at",
        "aware_at",
        "location",
        "likely_impact",
        "contact",
    ):
        assert required in names
    assert set(report.missing) == {"occurred_at", "location", "likely_impact"}
    values = {f.name: f.value for f in report.fields}
    assert values["extent"] == "about 1,200 people"
    assert values["contact"] is not None and "grievance@saffronlane.example" in values["contact"]


def test_the_detailed_report_adds_rule_7_2_b_and_the_intimations() -> None:
    filled = record(
        circumstances="c",
        measures_taken="m",
        cause="x",
        remedial_measures="r",
        location="Mumbai",
        likely_consequences="l",
    )
    notified = Notified(selected=1200, told=1100, without_contact=100, first_at=NOW, last_at=NOW)
    report = build_report(
        ReportKind.DPDP_DETAILED, POLICY, IncidentRecord(**{**filled.__dict__, "notified": notified}), NOW
    )
    values = {f.name: f.value for f in report.fields}
    assert values["intimations"] is not None and values["intimations"].startswith("1,100 of 1,200")
    assert report.missing == ["occurred_at"]


def test_cert_in_report_names_the_point_of_contact_and_gdpr_the_numbers() -> None:
    cert_in = {f.name: f.value for f in build_report(ReportKind.CERT_IN, POLICY, record(), NOW).fields}
    assert cert_in["point_of_contact"] is not None and "certin-poc@saffronlane.example" in cert_in["point_of_contact"]
    assert cert_in["incident_type"] is None and cert_in["systems"] == "orders-export"
    gdpr = build_report(ReportKind.GDPR_ART33, POLICY, record(), NOW)
    assert {"nature", "categories", "data_subjects", "records", "contact", "likely_consequences", "measures_taken"} <= {
        f.name for f in gdpr.fields
    }
    assert "delay_reasons" not in {f.name for f in gdpr.fields}
    late = build_report(ReportKind.GDPR_ART33, POLICY, record(), NOW, late=True)
    assert "delay_reasons" in late.missing  # GDPR Art 33(1): reasons for the delay


@pytest.mark.parametrize("fmt", list(ReportFormat))
def test_every_format_shows_missing_fields_and_never_runs_staff_text(fmt: ReportFormat) -> None:
    text = render_report(build_report(ReportKind.DPDP_INITIAL, POLICY, record(), NOW), fmt)
    if fmt is ReportFormat.JSON:
        data = json.loads(text)
        assert data["missing"] == ["occurred_at", "location", "likely_impact"]
        assert {"name": "location", "label": "Location", "value": None} in data["fields"]
    else:
        assert SCRIPT not in text
        assert "&lt;script&gt;" in text
        assert "missing" in text

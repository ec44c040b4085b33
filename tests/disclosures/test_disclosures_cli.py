"""`fiduciary disclosures ...` and `fiduciary ropa` on both databases: an endpoint's secret printed once, the
log, the notices never acknowledged (delivered ones included), a delivery run against a local receiver, the
records of processing, and a refusal naming the field (exit 1)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from rich.console import Console
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from disclosure_support import FIELDS, customer, receiver
from fiduciary.audit.models import AuditEventIndex
from fiduciary.cli import disclosures as disclosures_cli
from fiduciary.cli.main import app
from fiduciary.disclosures.flows import DisclosureRequest, disclose
from fiduciary.rights.flows import erase_person
from fiduciary.runtime import Runtime


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert all(value not in result.output for value in FIELDS.values())
    return result.exit_code, result.output


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disclosures_cli, "console", Console(highlight=False, width=250))


def test_the_commands_from_endpoint_to_delivery(
    cli_env: None, wide: None, runtime: Runtime, session: Session, tmp_path: Path
) -> None:
    person = customer(session, runtime)
    request = DisclosureRequest(
        "couriers", "order_fulfilment", ["identity.name"], people=[person], include_values=False
    )
    disclose(runtime, session, request, actor="key_backend")
    erase_person(runtime, session, actor="key_backend", person_id=person)
    session.commit()

    code, out = run("disclosures", "endpoint", "couriers", "--url", "http://127.0.0.1:9/hooks")
    assert code == 0, out
    secret = re.search(r"whsec_\S+", out)
    assert secret is not None
    code, out = run("disclosures", "recipients")
    assert code == 0 and "http://127.0.0.1:9/hooks" in out and secret.group(0) not in out
    code, out = run("disclosures", "list", "--person", person)
    assert code == 0 and "couriers" in out and "identity.name" in out
    code, out = run("disclosures", "propagations")
    assert code == 0 and "erasure" in out and "1 notice(s)" in out

    with receiver(secret.group(0)) as courier:
        code, out = run("disclosures", "endpoint", "couriers", "--url", courier.url, "--keep-secret")
        assert code == 0 and "whsec_" not in out
        code, out = run("disclosures", "deliver")
    assert code == 0 and "delivered 1" in out, out
    assert len(courier.received) == 1
    code, out = run("disclosures", "propagations")  # delivered, but the courier has not acknowledged yet
    assert code == 0 and "1 notice(s)" in out and "delivered" in out
    assert "0 notice(s)" in run("disclosures", "propagations", "--state", "acknowledged")[1]

    # The courier answers by email: staff record it; the first acknowledgement stands, audited as the CLI's.
    notice = re.search(r"whd_[a-z2-7]{26}", run("disclosures", "propagations")[1])
    assert notice is not None
    for bad, field in (
        (("whd_nope", "--outcome", "done"), "notice_id"),
        ((notice.group(0), "--outcome", "maybe"), "outcome"),
    ):
        code, out = run("disclosures", "acknowledge", *bad)
        assert code == 1 and field in out, out
    assert run("disclosures", "acknowledge", "whd_" + "a" * 26, "--outcome", "done")[0] == 1  # no such notice
    code, out = run("disclosures", "acknowledge", notice.group(0), "--outcome", "done")
    assert code == 0 and "acknowledged by couriers (done)" in out, out
    code, out = run("disclosures", "acknowledge", notice.group(0), "--outcome", "not_held")
    assert code == 0 and "already acknowledged (done)" in out
    assert "1 notice(s)" in run("disclosures", "propagations", "--state", "acknowledged")[1]
    assert "0 notice(s)" in run("disclosures", "propagations")[1]
    with runtime.sessions() as reading:
        actors = reading.scalars(
            sa.select(AuditEventIndex.actor).where(AuditEventIndex.action == "recipient.acknowledge")
        ).all()
    assert actors == ["cli"]

    code, out = run("ropa", "--format", "csv")
    assert code == 0 and out.startswith("purpose,name,") and "couriers" in out
    target = tmp_path / "ropa.html"
    assert run("ropa", "--output", str(target))[0] == 0
    assert "<h2>Processing activities</h2>" in target.read_text(encoding="utf-8")
    assert run("ropa", "--format", "pdf")[0] == 2


def test_a_refused_endpoint_names_the_field(cli_env: None, wide: None) -> None:
    code, out = run("disclosures", "endpoint", "couriers", "--url", "http://courier.example/hooks")
    assert code == 1 and "body.url" in out
    code, out = run("disclosures", "endpoint", "nobody", "--url", "https://courier.example/hooks")
    assert code == 1 and "recipient" in out

"""`consent rebuild-state`: the projection rebuilt from the ledger alone equals the live one exactly."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from consent_support import adult, child, item, projection_tables
from fiduciary.cli.main import app
from fiduciary.consent.evidence import Evidence
from fiduciary.consent.gpc import apply_gpc
from fiduciary.consent.linking import link_visitor
from fiduciary.consent.models import ConsentState, GpcOptOut
from fiduciary.consent.projection import rebuild_state
from fiduciary.consent.service import ConsentChannel, ConsentService
from fiduciary.people.service import new_visitor_id
from fiduciary.runtime import Runtime

runner = CliRunner()


def mixed_history(session: Session, runtime: Runtime) -> None:
    service = ConsentService.for_runtime(runtime)
    banner = ConsentChannel.BANNER
    people = [adult(session, runtime) for _ in range(3)]
    kid, parent = child(session, runtime), people[0]
    visitors = [new_visitor_id() for _ in range(3)]
    evidence = Evidence("UA/1", "198.51.100.0/24")
    service.record_many(session, [item(p, "marketing.email", evidence=evidence) for p in people])
    service.record(session, item(people[1], "marketing.email", "withdraw"))
    service.record(session, item(people[2], "marketing.sms", "withdraw"))  # never given
    service.record(session, item(kid, "marketing.email", channel=ConsentChannel.GUARDIAN, guardian_id=parent))
    service.record_many(
        session,
        [item(v, "analytics", channel=banner) for v in visitors]
        + [
            item(visitors[0], "personalised_ads", "deny", channel=banner),
            item(visitors[1], "analytics", "withdraw", channel=banner),
        ],
    )
    service.record(session, item(people[0], "analytics", "deny"), idempotency_key="k:1")
    link_visitor(service, session, people[0], visitors[0])
    link_visitor(service, session, people[1], visitors[1])
    service.record(session, item(visitors[0], "marketing.sms", "withdraw", channel=banner))  # reaches people[0]
    apply_gpc(service, session, visitors[2], evidence)
    apply_gpc(service, session, people[2], None)
    service.record(session, item(people[2], "personalised_ads", "grant"))
    session.commit()


def test_rebuild_equals_live_state_exactly(session: Session, runtime: Runtime) -> None:
    mixed_history(session, runtime)
    live = projection_tables(session)
    assert live["consent_state"] and live["visitor_links"] and live["gpc_opt_outs"]
    report = rebuild_state(session, apply=False)
    assert report.identical and not report.applied
    assert (report.state_rows, report.link_rows, report.gpc_rows) == tuple(
        len(live[t]) for t in ("consent_state", "visitor_links", "gpc_opt_outs")
    )
    # Damage the projection in every way, then rebuild.
    session.execute(sa.delete(ConsentState).where(ConsentState.purpose == "analytics"))
    session.execute(sa.update(ConsentState).where(ConsentState.purpose == "marketing.email").values(status="granted"))
    session.add(
        ConsentState(
            subject_id="per_" + "z" * 26,
            purpose="analytics",
            status="granted",
            policy_version=1,
            notice_hash="sha256:x",
            channel="api",
            language="en",
            updated_at=live["consent_state"][0][8],
            ledger_position=999,
        )
    )
    session.execute(sa.delete(GpcOptOut))
    session.commit()
    damaged = rebuild_state(session, apply=False)
    assert not damaged.identical and damaged.missing and damaged.extra and damaged.changed
    session.rollback()
    fixed = rebuild_state(session)
    session.commit()
    assert fixed.applied
    assert projection_tables(session) == live
    assert rebuild_state(session, apply=False).identical


def test_empty_ledger_rebuilds_to_empty(session: Session) -> None:
    report = rebuild_state(session, apply=False)
    assert report.identical and report.events == 0 and report.state_rows == 0


@pytest.mark.parametrize("command", [["consent", "rebuild-state"], ["ledger", "rebuild-state"]])
def test_cli_rebuild_state(session: Session, runtime: Runtime, cli_env: None, command: list[str]) -> None:
    mixed_history(session, runtime)
    live = projection_tables(session)
    ok = runner.invoke(app, [*command, "--check"])
    assert ok.exit_code == 0, ok.output
    assert "identical" in ok.output
    session.execute(sa.delete(ConsentState).where(ConsentState.subject_id.like("vis_%")))
    session.commit()
    check = runner.invoke(app, [*command, "--check"])
    assert check.exit_code == 1 and "missing" in check.output
    assert projection_tables(session) != live  # --check changed nothing
    fix = runner.invoke(app, command)
    assert fix.exit_code == 0 and "replaced" in fix.output
    assert projection_tables(session) == live

"""`rebuild-state` after erasures: the projection rebuilt from the ledger equals the one the write path left.

Erasure (the rights registry: fiduciary.consent.rights) deletes the erased person's consent_state rows and
GPC opt-outs, their linked visitors' rows and the visitor links, and keeps the ledger. The replay applies
the same deletions at the erasure's place in time (`vault_erasures.erased_at`), so a rebuild never brings
an erased person's "granted" back (DPDP s.8(7), s.12(3)).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from consent_support import adult, child, item, projection_tables
from fiduciary.cli.main import app
from fiduciary.consent.evidence import Evidence
from fiduciary.consent.gpc import apply_gpc
from fiduciary.consent.linking import link_visitor
from fiduciary.consent.models import ConsentState, GpcOptOut, VisitorLink
from fiduciary.consent.projection import Replay, rebuild_state
from fiduciary.consent.service import ConsentChannel, ConsentService
from fiduciary.people.service import new_visitor_id
from fiduciary.personal_data.registry import registry_for
from fiduciary.runtime import Runtime
from fiduciary.vault.service import VaultService

runner = CliRunner()
BANNER = ConsentChannel.BANNER


def subjects_in(tables: dict[str, list[tuple[Any, ...]]]) -> set[str]:
    """Every subject, visitor or person id the tables mention (first column, and a link's person)."""
    out = {row[0] for rows in tables.values() for row in rows}
    out |= {row[1] for row in tables["visitor_links"]}
    return out


@dataclass
class Cast:
    erased: str
    kept: list[str]
    kid: str
    linked_to_erased: list[str]
    linked_to_kept: str
    unlinked: str


def history_with_erasure(session: Session, runtime: Runtime) -> Cast:
    """Consents of several people and visitors (linked and not), one erasure, then life goes on."""
    VaultService(runtime)  # first: proving the keys at first use writes in a transaction of its own
    service = ConsentService.for_runtime(runtime)
    erased, keep1, keep2 = (adult(session, runtime) for _ in range(3))
    kid = child(session, runtime)
    v1, v2, v3, v4 = (new_visitor_id() for _ in range(4))
    evidence = Evidence("UA/1", "198.51.100.0/24")
    service.record_many(session, [item(p, "marketing.email", evidence=evidence) for p in (erased, keep1, keep2)])
    service.record(session, item(keep2, "marketing.sms"))
    service.record(session, item(erased, "personalised_ads"))
    # The erased person is a guardian: the child's row names them and is not theirs to erase.
    service.record(session, item(kid, "marketing.email", channel=ConsentChannel.GUARDIAN, guardian_id=erased))
    service.record_many(
        session,
        [item(v, "analytics", channel=BANNER) for v in (v1, v2, v3, v4)]
        + [item(v1, "personalised_ads", "deny", channel=BANNER)],
    )
    link_visitor(service, session, erased, v1)  # copies v1's rows onto the person
    link_visitor(service, session, erased, v2)
    link_visitor(service, session, keep1, v3)
    service.record(session, item(v1, "marketing.sms", "withdraw", channel=BANNER))  # reaches the erased person
    apply_gpc(service, session, v2, evidence)  # opts out v2 and the person it is linked to
    apply_gpc(service, session, v4, evidence)
    session.commit()

    registry_for(runtime).erase_person(session, erased, reason="erasure_request")
    session.commit()

    # After the erasure the browsers still hold their visitor ids.
    service.record(session, item(v1, "analytics", "withdraw", channel=BANNER))
    apply_gpc(service, session, v2, evidence)  # no longer covered: a new opt-out for the visitor alone
    link_visitor(service, session, keep2, v1)  # v1 signs in as someone else: its new rows are copied
    service.record(session, item(keep1, "analytics"))
    session.commit()
    return Cast(erased, [keep1, keep2], kid, [v1, v2], v3, v4)


def test_rebuild_after_erasure_is_identical_row_by_row(session: Session, runtime: Runtime) -> None:
    cast = history_with_erasure(session, runtime)
    live = projection_tables(session)
    erased, (v1, v2) = cast.erased, cast.linked_to_erased

    # What erasure left: nothing of the person, only post-erasure rows of their former visitors.
    assert erased not in subjects_in(live)
    assert {r[1] for r in live["consent_state"] if r[0] == v1} == {"analytics"}  # the withdrawal after
    assert [r[2] for r in live["consent_state"] if r[0] == v1] == ["withdrawn"]
    assert [(r[0], r[1]) for r in live["visitor_links"]] == sorted(
        [(v1, cast.kept[1]), (cast.linked_to_kept, cast.kept[0])]
    )
    assert {r[0] for r in live["gpc_opt_outs"]} == {v2, cast.unlinked}
    assert any(r[0] == cast.kid and r[7] == erased for r in live["consent_state"])  # guardian id stays

    report = rebuild_state(session, apply=False)
    assert report.erasures == 1
    assert report.identical, report
    assert (report.state_rows, report.link_rows, report.gpc_rows) == tuple(
        len(live[t]) for t in ("consent_state", "visitor_links", "gpc_opt_outs")
    )

    # Replace the tables with the replay's and compare every column of every row.
    session.execute(sa.delete(ConsentState))
    session.execute(sa.delete(GpcOptOut))
    session.execute(sa.delete(VisitorLink))
    session.commit()
    rebuilt = rebuild_state(session)
    session.commit()
    assert rebuilt.applied and rebuilt.missing == sum(len(rows) for rows in live.values())
    assert projection_tables(session) == live
    assert rebuild_state(session, apply=False).identical


def _granted(subject: str, purpose: str) -> ConsentState:
    return ConsentState(
        subject_id=subject,
        purpose=purpose,
        status="granted",
        policy_version=1,
        notice_hash="sha256:" + "0" * 64,
        channel="api",
        language="en",
        updated_at=datetime.now(UTC),
        ledger_position=1,
    )


def test_erased_rows_put_back_by_hand_are_removed_by_rebuild(session: Session, runtime: Runtime) -> None:
    cast = history_with_erasure(session, runtime)
    live = projection_tables(session)
    v1, v2 = cast.linked_to_erased
    # What the replay without the erasure rule would bring back: the person's grant, a pre-erasure row of
    # a linked visitor, and the link.
    session.add(_granted(cast.erased, "marketing.email"))
    session.add(_granted(v1, "personalised_ads"))
    session.add(VisitorLink(visitor_id=v2, person_id=cast.erased, linked_at=datetime.now(UTC)))
    session.commit()
    check = rebuild_state(session, apply=False)
    assert not check.identical and check.extra == 3 and check.missing == 0 and check.changed == 0
    session.rollback()
    rebuild_state(session)
    session.commit()
    assert projection_tables(session) == live


def test_an_event_naming_the_erased_person_after_the_erasure_serves_nothing(session: Session, runtime: Runtime) -> None:
    """Only a request racing the erasure could append one (a closed account takes no consent)."""
    cast = history_with_erasure(session, runtime)
    service = ConsentService.for_runtime(runtime)
    policy = runtime.policy()
    common = {"version": policy.version, "notice": policy.content_hash, "lang": "en", "channel": "api"}
    service.ledger.append_many(
        session,
        [
            ("consent.granted", {**common, "subject": cast.erased, "purpose": "analytics"}),
            ("consent.linked", {"visitor": new_visitor_id(), "person": cast.erased, "copied": []}),
            (
                "gpc.signal",
                {**{k: common[k] for k in ("version", "notice")}, "subject": cast.erased, "purposes": ["x"]},
            ),
        ],
    )
    session.commit()
    report = rebuild_state(session, apply=False)
    assert report.identical, report


def test_a_vault_only_erasure_also_ends_the_persons_projection(session: Session, runtime: Runtime) -> None:
    """`vault_erasures` is what the rebuild reads: an erasure that skipped the consent eraser (a bare
    `VaultService.erase_person`, or restore-replay of a backup) leaves rows the rebuild removes."""
    vault = VaultService(runtime)
    service = ConsentService.for_runtime(runtime)
    person, other = adult(session, runtime), adult(session, runtime)
    visitor = new_visitor_id()
    service.record_many(session, [item(person, "marketing.email"), item(other, "marketing.email")])
    service.record(session, item(visitor, "analytics", channel=BANNER))
    link_visitor(service, session, person, visitor)
    session.commit()
    vault.erase_person(session, person, "rights_request")
    session.commit()
    before = projection_tables(session)
    assert person in subjects_in(before)
    report = rebuild_state(session)
    session.commit()
    assert report.applied and report.extra == 4  # person's 2 state rows, the visitor's row, the link
    after = projection_tables(session)
    assert subjects_in(after) == {other}
    assert after["consent_state"] == [r for r in before["consent_state"] if r[0] == other]


def test_replay_applies_an_erasure_only_to_what_came_before() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    common = {"version": 1, "notice": "sha256:n", "lang": "en", "channel": "banner"}
    person, visitor, stranger = "per_" + "a" * 26, "vis_" + "b" * 26, "vis_" + "c" * 26
    replay = Replay()
    replay.apply(1, "consent.granted", at, {**common, "subject": visitor, "purpose": "analytics"})
    replay.apply(2, "consent.granted", at, {**common, "subject": stranger, "purpose": "analytics"})
    replay.apply(3, "consent.linked", at, {"visitor": visitor, "person": person, "copied": ["analytics"]})
    replay.apply(4, "gpc.signal", at, {"subject": visitor, "purposes": ["ads"], "version": 1, "notice": "n"})
    assert set(replay.states) == {(visitor, "analytics"), (stranger, "analytics"), (person, "analytics")}
    replay.erase(person)
    assert set(replay.states) == {(stranger, "analytics")} and not replay.links and not replay.gpc
    later = at + timedelta(days=1)
    replay.apply(5, "consent.denied", later, {**common, "subject": visitor, "purpose": "ads", "person": person})
    replay.apply(6, "consent.granted", later, {**common, "subject": person, "purpose": "analytics"})
    assert set(replay.states) == {(stranger, "analytics"), (visitor, "ads")}
    assert replay.states[(visitor, "ads")]["status"] == "denied" and replay.erasures == 1


@pytest.mark.parametrize("command", [["ledger", "rebuild-state"], ["consent", "rebuild-state"]])
def test_cli_rebuild_after_erasure(session: Session, runtime: Runtime, cli_env: None, command: list[str]) -> None:
    history_with_erasure(session, runtime)
    live = projection_tables(session)
    check = runner.invoke(app, [*command, "--check"])
    assert check.exit_code == 0, check.output
    assert "identical" in check.output and "1 erasures" in check.output
    session.execute(sa.delete(ConsentState))
    session.commit()
    fix = runner.invoke(app, command)
    assert fix.exit_code == 0 and "replaced" in fix.output, fix.output
    assert projection_tables(session) == live

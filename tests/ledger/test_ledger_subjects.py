"""The ledger's subject index (`ledger_subjects`): written with the events, exact, rolled back with them, and
kept in step with the payloads by every consent writer. Both engines."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from consent_support import adult, item
from fiduciary.consent import projection, rights
from fiduciary.consent.gpc import apply_gpc
from fiduciary.consent.linking import link_visitor
from fiduciary.consent.rights import consent_ledger_events
from fiduciary.consent.service import ConsentChannel, ConsentService
from fiduciary.ledger.service import Ledger
from fiduciary.people.service import new_visitor_id
from fiduciary.runtime import Runtime

SHORT = "per_" + "a" * 10
LONG = SHORT + "b"  # SHORT is a prefix of LONG
SUFFIXED = "x" + SHORT  # and a suffix of this one


def _index(session: Session, stream: str = "consent") -> list[tuple[str, int]]:
    return [
        (row[0], row[1])
        for row in session.execute(
            sa.text("SELECT subject_id, position FROM ledger_subjects WHERE stream = :s ORDER BY position, subject_id"),
            {"s": stream},
        )
    ]


def test_append_writes_one_row_per_distinct_subject_of_each_event(session: Session) -> None:
    ledger = Ledger("consent")
    ledger.append_batch(
        session,
        [("t.a", {"subject": SHORT}), ("t.b", {"n": 1}), ("t.c", {"subject": LONG, "person": SHORT})],
        subjects=[[SHORT, SHORT], [], [LONG, SHORT]],
    )
    ledger.append(session, "t.d", {"subject": SUFFIXED}, subjects=[SUFFIXED])
    ledger.append(session, "t.e", {"subject": SHORT})  # no subjects given: not indexed
    session.commit()
    assert _index(session) == [(SHORT, 1), (SHORT, 3), (LONG, 3), (SUFFIXED, 4)]
    assert ledger.verify(session).ok


BAD_SUBJECTS = [
    [["per_x"]],  # one list for two events
    [["per_x"], ["per_y"], ["per_z"]],
    ["per_x", "per_y"],  # strings, not lists
    [[""], []],
    [["a" * 41], []],
    [["a\tb"], []],
    [["a\\b"], []],
    [[7], []],
]


@pytest.mark.parametrize("subjects", BAD_SUBJECTS)
def test_bad_subjects_change_nothing(session: Session, subjects: list[object]) -> None:
    with pytest.raises(ValueError, match="subjects"):
        Ledger("consent").append_many(session, [("t.a", {"n": 1}), ("t.b", {"n": 2})], subjects=subjects)  # type: ignore[arg-type]
    session.commit()
    assert _index(session) == []
    assert session.execute(sa.text("SELECT count(*) FROM ledger_events")).scalar_one() == 0


def test_rollback_leaves_no_index_rows(session: Session) -> None:
    ledger = Ledger("consent")
    ledger.append_texts(session, ["t.a"], ['{"subject":"per_x"}'], subjects=[["per_x"]])
    session.rollback()
    assert _index(session) == []
    assert session.execute(sa.text("SELECT count(*) FROM ledger_events")).scalar_one() == 0


def test_lookup_returns_exactly_the_subjects_events(session: Session) -> None:
    ledger = Ledger("consent")
    events = [("t.a", {"subject": s}) for s in (SHORT, LONG, SUFFIXED, SHORT)]
    ledger.append_many(session, events, subjects=[[s] for _, p in events for s in [p["subject"]]])
    Ledger("audit").append(session, "t.a", {"subject": SHORT}, subjects=[SHORT])  # another stream
    session.commit()
    assert [e["position"] for e in consent_ledger_events(session, [SHORT])] == [1, 4]
    assert [e["position"] for e in consent_ledger_events(session, [LONG])] == [2]
    assert [e["position"] for e in consent_ledger_events(session, [SHORT, SUFFIXED, "per_nobody"])] == [1, 3, 4]
    assert consent_ledger_events(session, ["per_nobody"]) == []
    first = consent_ledger_events(session, [SHORT])[0]
    assert first["payload"] == {"subject": SHORT} and first["stream"] == "consent" and len(first["hash"]) == 64


def test_lookup_pages_past_one_batch(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rights, "LEDGER_BATCH", 3)
    ledger = Ledger("consent")
    ledger.append_many(session, [("t.a", {"subject": SHORT, "person": LONG})] * 7, subjects=[[SHORT, LONG]] * 7)
    session.commit()
    assert [e["position"] for e in consent_ledger_events(session, [SHORT, LONG])] == list(range(1, 8))


def test_every_consent_writer_indexes_what_its_payload_names(session: Session, runtime: Runtime) -> None:
    """Consent and withdrawals (with a guardian and a linked person), links and GPC: the index is exactly
    what the payload keys name, event by event, so the lookup equals the old scan of the payloads."""
    service = ConsentService.for_runtime(runtime)
    person, guardian = adult(session, runtime), adult(session, runtime)
    visitor = new_visitor_id()
    service.record(session, item(person, "analytics", "grant"))
    service.record(session, item(visitor, "marketing.email", "grant", channel=ConsentChannel.BANNER))
    link_visitor(service, session, person, visitor)
    service.record(session, item(visitor, "marketing.email", "withdraw", channel=ConsentChannel.BANNER))
    service.record(session, item(person, "analytics", "grant", channel=ConsentChannel.GUARDIAN, guardian_id=guardian))
    apply_gpc(service, session, visitor)
    session.commit()
    expected = sorted(
        (subject, position)
        for position, text in session.execute(
            sa.text("SELECT position, payload FROM ledger_events WHERE stream = 'consent'")
        )
        for subject in dict.fromkeys(projection.payload_subjects(json.loads(text)))
    )
    assert sorted(_index(session)) == expected
    assert {s for s, _ in expected} == {person, guardian, visitor}
    assert any(s == guardian for s, _ in expected) and len(expected) > 6

"""The consent_state upsert on both engines (driver executemany on SQLite, one JSON parameter on PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy.orm import Session

from fiduciary.consent.projection import StateTuple, upsert_state_rows, upsert_states
from fiduciary.consent.service import state_for

T0 = datetime(2027, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
VIS = "vis_" + "a" * 26
PER = "per_" + "b" * 26
GUARDIAN = "per_" + "c" * 26


def row(subject: str, purpose: str, status: str, position: int, when: datetime = T0) -> StateTuple:
    guardian = GUARDIAN if subject == PER else None
    return (subject, purpose, status, 4, "sha256:" + "ab" * 32, "checkout", "hi-IN", guardian, when, position)


def test_rows_round_trip_exactly(session: Session) -> None:
    ist = datetime(2027, 3, 4, 10, 36, 7, 890123, tzinfo=timezone(timedelta(hours=5, minutes=30)))  # read back as UTC
    upsert_state_rows(session, [row(VIS, "analytics", "granted", 5), row(PER, "analytics", "denied", 6, ist)])
    session.commit()
    state = state_for(session, [VIS, PER])
    vis = state[VIS]["analytics"]
    assert (vis.status, vis.policy_version, vis.guardian_id, vis.language, vis.ledger_position) == (
        "granted",
        4,
        None,
        "hi-IN",
        5,
    )
    assert vis.updated_at == T0 and vis.updated_at.tzinfo is not None
    per = state[PER]["analytics"]
    assert (per.status, per.guardian_id, per.updated_at) == ("denied", GUARDIAN, ist.astimezone(UTC))


def test_the_last_row_per_key_wins_and_a_row_never_moves_back(session: Session) -> None:
    upsert_state_rows(session, [row(VIS, "analytics", "granted", 5)])
    later = T0 + timedelta(seconds=1)
    upsert_state_rows(
        session,
        [
            row(VIS, "analytics", "withdrawn", 7, later),
            row(VIS, "marketing.email", "granted", 8, later),
            row(VIS, "analytics", "denied", 9, later),  # same key in one batch: the last one counts
        ],
    )
    upsert_state_rows(session, [row(VIS, "analytics", "granted", 6)])  # older than the stored row: ignored
    session.commit()
    state = state_for(session, [VIS])[VIS]
    assert (state["analytics"].status, state["analytics"].ledger_position, state["analytics"].updated_at) == (
        "denied",
        9,
        later,
    )
    assert state["marketing.email"].ledger_position == 8


def test_dict_rows_and_an_empty_batch(session: Session) -> None:
    upsert_state_rows(session, [])
    upsert_states(session, [])
    columns = ("subject_id", "purpose", "status", "policy_version", "notice_hash", "channel", "language")
    values = (VIS, "analytics", "granted", 4, "sha256:" + "ab" * 32, "banner", "en")
    upsert_states(
        session,
        [{**dict(zip(columns, values, strict=True)), "guardian_id": None, "updated_at": T0, "ledger_position": 3}],
    )
    session.commit()
    assert state_for(session, [VIS])[VIS]["analytics"].ledger_position == 3

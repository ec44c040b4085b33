"""The last-contact clock per person (DPDP s.8(8), Rule 8(1) and the Third Schedule; docs/inactivity.md).

`touch` is one UPSERT on `inactivity_clocks`, run in the caller's transaction on every contact (sign-in,
reported event, rights request, consent change, `POST /v1/people/{id}/contacts`). It moves the clock forward
only (a late report of an older contact changes nothing), and when it moves it clears the reminder and the
notice: the contact cancels any erasure the sweep announced, and a later inactivity starts over with new
notices (DPDP Rule 8(2)). `touch_many` does the same for many people in one statement; it is what listens to
`personal_data.contacts` (a consent batch reports its people together).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fiduciary.personal_data.contacts import add_contact_listener
from fiduciary.retention.inactivity_models import CLOCKS


def _upsert(dialect: str) -> object:
    insert = postgresql.insert(CLOCKS) if dialect == "postgresql" else sqlite.insert(CLOCKS)
    return insert.on_conflict_do_update(
        index_elements=[CLOCKS.c.person_id],
        set_={
            "last_contact_at": insert.excluded.last_contact_at,
            "reminder_sent_at": None,
            "notice_sent_at": None,
            "language": func.coalesce(insert.excluded.language, CLOCKS.c.language),
        },
        where=CLOCKS.c.last_contact_at < insert.excluded.last_contact_at,
    )


_STATEMENTS = {name: _upsert(name) for name in ("postgresql", "sqlite")}


def _aware_utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a contact's time must be timezone-aware")
    return at.astimezone(UTC)


def touch_many(bind: Session | Connection, contacts: Iterable[tuple[str, datetime, str | None]]) -> None:
    """Record contacts `(person_id, at, language)` in one statement (executemany); the caller commits.

    The latest contact per person only (one row may not be updated twice by one statement), in person order
    (concurrent batches lock rows in the same order, so they cannot deadlock)."""
    latest: dict[str, tuple[datetime, str | None]] = {}
    for person_id, at, language in contacts:
        when = _aware_utc(at)
        if person_id not in latest or when >= latest[person_id][0]:
            latest[person_id] = (when, language)
    rows = [
        {"person_id": person_id, "last_contact_at": when, "language": language}
        for person_id, (when, language) in sorted(latest.items())
    ]
    if rows:
        # Core on the session's connection: the ORM's execute machinery would cost more than the statement
        connection = bind.connection() if isinstance(bind, Session) else bind
        connection.execute(_STATEMENTS[connection.dialect.name], rows)  # type: ignore[call-overload]


def touch(session: Session, person_id: str, at: datetime, language: str | None = None) -> None:
    """The person approached the store at `at`: the clock moves forward and any announced erasure is off."""
    touch_many(session, [(person_id, at, language)])


add_contact_listener(touch_many)

"""A policy with an inactivity rule (issue 15 item 3), and people with a last-contact clock, for the
inactivity tests (imported, not collected)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.comms.models import OutboxMessage
from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.people.service import create_person
from fiduciary.retention.inactivity_clock import touch
from fiduciary.retention.inactivity_models import CLOCKS
from fiduciary.runtime import Runtime
from fiduciary.vault.service import VaultService

RULE = "inactive_accounts"


def inactivity_policy_text(
    keep_for: str = "3y",
    notice: str | None = "48h",
    reminder: str | None = "30d",
    *,
    base: str | None = None,
    counts_from: str | None = None,
) -> str:
    """The demo policy (time zone Asia/Kolkata), or `base`, with an inactivity rule: erase `keep_for` after the
    last contact (counted from `counts_from` at the earliest), with `notice` and an earlier `reminder`."""
    text = base if base is not None else DEMO_POLICY_PATH.read_text(encoding="utf-8")
    rule = (
        f"  - id: {RULE}\n    categories: [contact.email]\n    trigger: last_activity\n"
        f"    keep_for: {keep_for}\n    action: delete\n"
    )
    if notice is not None:
        rule += f"    advance_notice: {notice}\n"
    if reminder is not None:
        rule += f"    reminder: {reminder}\n"
    if counts_from is not None:
        rule += f"    counts_from: {counts_from}\n"
    assert text.count("\nretention:\n") == 1
    return text.replace("\nretention:\n", "\nretention:\n" + rule, 1)


def write_inactivity_policy(
    directory: Path,
    keep_for: str = "3y",
    notice: str | None = "48h",
    reminder: str | None = "30d",
    *,
    base: str | None = None,
    counts_from: str | None = None,
) -> Path:
    path = directory / "inactivity-policy.yaml"
    text = inactivity_policy_text(keep_for, notice, reminder, base=base, counts_from=counts_from)
    path.write_text(text, encoding="utf-8")
    return path


def person_last_seen(
    session: Session,
    runtime: Runtime,
    at: datetime,
    *,
    email: str | None = "asha@example.com",
    language: str | None = None,
) -> str:
    """A person with an email on file (none when `email` is None) whose last contact was at `at`; committed."""
    person = create_person(session, policy=runtime.policy(), is_child=False)
    if email is not None:
        VaultService(runtime).add_identifiers(session, person.id, {"email": email})
    touch(session, person.id, at, language)
    session.commit()
    return person.id


def clock(session: Session, person_id: str) -> sa.Row[tuple[datetime, datetime | None, datetime | None]] | None:
    session.expire_all()
    return session.execute(
        sa.select(CLOCKS.c.last_contact_at, CLOCKS.c.reminder_sent_at, CLOCKS.c.notice_sent_at).where(
            CLOCKS.c.person_id == person_id
        )
    ).first()


def messages(session: Session, person_id: str) -> list[tuple[str, str, str]]:
    """(kind, language, subject) of the person's outbox messages, oldest first."""
    session.expire_all()
    return [
        (m.kind, m.language, m.subject)
        for m in session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.person_id == person_id).order_by(OutboxMessage.created_at)
        )
    ]

"""Helpers for the outbox tests (imported, not collected)."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.orm import Session

from fiduciary.comms.models import OutboxMessage
from fiduciary.comms.outbox import send
from fiduciary.comms.sealing import open_sealed
from fiduciary.people.service import create_person
from fiduciary.runtime import Runtime
from fiduciary.unit_of_work import unit_of_work

_CODE_LINE = re.compile(r"^ {4}([0-9]{6})$", re.MULTILINE)  # how rights_code.txt.j2 sets the code

ADDRESS = "asha.verma@example.com"
CODE = "482913"


def new_person(session: Session, runtime: Runtime) -> str:
    person = create_person(session, policy=runtime.policy(), is_child=False)
    session.commit()
    return person.id


def send_code(session: Session, runtime: Runtime, person_id: str, key: str, **kw: Any) -> OutboxMessage:
    """A `rights.code` message to ADDRESS in the session's transaction (the caller commits)."""
    return send(
        unit_of_work(runtime, session),
        kind="rights.code",
        channel=kw.pop("channel", "email"),
        to=kw.pop("to", ADDRESS),
        person_id=person_id,
        params=kw.pop("params", {"code": CODE, "minutes": 10}),
        idempotency_key=key,
        **kw,
    )


def use_smtp(runtime: Runtime, url: str, **settings: Any) -> None:
    runtime.settings = runtime.settings.model_copy(update={"smtp_url": SecretStr(url), **settings})


def statuses(session: Session) -> list[tuple[str, int]]:
    session.rollback()
    session.expire_all()  # the session's objects were loaded before the deliverer changed their rows
    rows = session.execute(sa.select(OutboxMessage.status, OutboxMessage.attempts).order_by(OutboxMessage.created_at))
    return [(str(s), int(a)) for s, a in rows]


def count_messages(session: Session) -> int:
    session.rollback()
    return int(session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) or 0)


def newest_code(runtime: Runtime, session: Session) -> str:
    """The one-time code in the newest message of the outbox, opened with the person's key as the deliverer
    does (the session's transaction is ended before and after, to see what other sessions committed)."""
    session.rollback()
    row = session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.created_at.desc()).limit(1)).one()
    body = open_sealed(runtime, session, row.person_id, row.key_version, row.id, "body", row.body or b"")
    session.rollback()
    match = _CODE_LINE.search(body)
    assert match is not None, "the newest message holds no code"
    return match.group(1)

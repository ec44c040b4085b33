"""Helpers shared by the consent and people tests (imported, not collected: no test_ prefix)."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.auth.service import create_api_key
from fiduciary.consent.models import ConsentIdempotency, ConsentState, GpcOptOut, VisitorLink
from fiduciary.consent.service import ConsentChannel, ConsentInput
from fiduciary.ledger.models import LedgerEvent
from fiduciary.people.service import create_person
from fiduciary.runtime import Runtime

ALL_SCOPES = ["consent:read", "consent:write", "people:read", "people:write"]


def api_headers(session: Session, scopes: list[str] | None = None) -> dict[str, str]:
    _key, plaintext = create_api_key(session, "consent-tests", scopes or ALL_SCOPES)
    session.commit()
    return {"Authorization": f"Bearer {plaintext}"}


def new_person(
    session: Session, runtime: Runtime, *, date_of_birth: date | None = None, is_child: bool | None = None
) -> str:
    person = create_person(session, policy=runtime.policy(), date_of_birth=date_of_birth, is_child=is_child)
    session.commit()
    return person.id


def adult(session: Session, runtime: Runtime) -> str:
    return new_person(session, runtime, is_child=False)


def child(session: Session, runtime: Runtime) -> str:
    return new_person(session, runtime, is_child=True)


def item(subject: str, purpose: str, action: str = "grant", **kw: Any) -> ConsentInput:
    return ConsentInput(
        subject_id=subject,
        purpose=purpose,
        action=action,  # type: ignore[arg-type]
        channel=kw.pop("channel", ConsentChannel.API),
        **kw,
    )


def ledger_length(session: Session) -> int:
    return int(
        session.scalar(sa.select(sa.func.count()).select_from(LedgerEvent).where(LedgerEvent.stream == "consent")) or 0
    )


def snapshot(session: Session) -> dict[str, Any]:
    """Everything a consent write may touch, to assert a failed request changed nothing."""
    session.expire_all()
    return {
        "ledger": ledger_length(session),
        "state": sorted(
            tuple(r)
            for r in session.execute(
                sa.select(
                    ConsentState.subject_id, ConsentState.purpose, ConsentState.status, ConsentState.ledger_position
                )
            )
        ),
        "links": sorted(tuple(r) for r in session.execute(sa.select(VisitorLink.visitor_id, VisitorLink.person_id))),
        "gpc": sorted(tuple(r) for r in session.execute(sa.select(GpcOptOut.subject_id, GpcOptOut.purpose))),
        "idempotency": int(session.scalar(sa.select(sa.func.count()).select_from(ConsentIdempotency)) or 0),
    }


def projection_tables(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every column of every row of the three projection tables, sorted: what a rebuild from the ledger must
    reproduce exactly."""
    session.expire_all()
    return {
        model.__tablename__: sorted(
            tuple(row) for row in session.execute(sa.select(*[getattr(model, c.key) for c in model.__table__.columns]))
        )
        for model in (ConsentState, VisitorLink, GpcOptOut)
    }

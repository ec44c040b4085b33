"""Issuing codes is rate-limited per identifier and per client address, the same for a stranger's identifier."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from identity_support import ADDRESS, EMAIL, STRANGER, T0, person_on_file
from sqlalchemy.orm import Session

from fiduciary.identity.codes import PER_IDENTIFIER, CodeLimits, Limit, TooManyCodes, issue_code
from fiduciary.identity.models import VerificationCode
from fiduciary.runtime import Runtime
from fiduciary.storage.ratelimit import DatabaseBuckets


def _count(session: Session) -> int:
    session.rollback()
    return int(session.scalar(sa.select(sa.func.count()).select_from(VerificationCode)) or 0)


@pytest.mark.parametrize("identifier", [EMAIL, STRANGER])
def test_per_identifier(runtime: Runtime, session: Session, identifier: str) -> None:
    person_on_file(session, runtime)
    for n in range(PER_IDENTIFIER.burst):
        issue_code(runtime, session, kind="email", identifier=identifier, client_address=f"198.51.100.{n}", now=T0)
        session.commit()
    with pytest.raises(TooManyCodes) as refused:
        issue_code(runtime, session, kind="email", identifier=identifier, client_address="198.51.100.99", now=T0)
    assert refused.value.status == 429 and refused.value.retry_after > 0
    assert _count(session) == PER_IDENTIFIER.burst  # the refused one wrote nothing
    later = T0.replace(minute=T0.minute + 5)  # one more every 5 minutes
    issue_code(runtime, session, kind="email", identifier=identifier, client_address="198.51.100.99", now=later)


def test_per_client_address(runtime: Runtime, session: Session) -> None:
    limits = CodeLimits(DatabaseBuckets(runtime.engine), per_address=Limit("test.address", 2, 60.0))
    for n in range(2):
        issue_code(
            runtime,
            session,
            kind="email",
            identifier=f"p{n}@example.org",
            client_address=ADDRESS,
            now=T0,
            limits=limits,
        )
        session.commit()
    with pytest.raises(TooManyCodes):
        issue_code(
            runtime, session, kind="email", identifier="p9@example.org", client_address=ADDRESS, now=T0, limits=limits
        )
    # Another address is not held back by this one.
    issue_code(
        runtime, session, kind="email", identifier="p9@example.org", client_address="192.0.2.1", now=T0, limits=limits
    )


def test_the_buckets_hold_no_address_or_identifier_in_clear(runtime: Runtime, session: Session) -> None:
    person_on_file(session, runtime)
    issue_code(runtime, session, kind="email", identifier=EMAIL, client_address=ADDRESS, now=T0)
    session.commit()
    with runtime.engine.connect() as connection:
        keys = connection.execute(sa.text("select key from rate_limit_buckets")).scalars().all()
    assert len(keys) == 2
    assert not any(ADDRESS in key or EMAIL in key for key in keys)

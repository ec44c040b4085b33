"""A guardian's consent for a child's account: one consent event per purpose the account runs on.

DPDP s.9(1) asks for a parent's verifiable consent "before processing any personal data of a child", so a
child's account (sign-up, orders, support: purposes on contract or legitimate use, which an adult never
consents to) cannot run on the child's say-so. `grant_for_account` records the guardian's consent to all of
them at once, as one `consent.given` event per purpose on the guardian channel with the guardian's id, so
each is as provable, withdrawable and rebuildable as any other consent. Consent purposes (marketing, …) are
still granted one by one through `POST /v1/consents`: bundling them would not be a free, specific choice.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.orm import Session

from fiduciary.consent.children import account_purposes
from fiduciary.consent.evidence import Evidence
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentResult, ConsentService
from fiduciary.errors import Conflict, FieldProblem


def grant_for_account(
    service: ConsentService,
    session: Session,
    child_id: str,
    guardian_id: str,
    *,
    action: Literal["grant", "withdraw"] = "grant",
    language: str = "en",
    evidence: Evidence | None = None,
) -> list[ConsentResult]:
    """The guardian's grant (or withdrawal) for every purpose of the child's account; all or nothing.

    The consent service checks the rest: the child is a child, the guardian an active adult other than the
    child (Rule 10), the store serves children at all.
    """
    purposes = account_purposes(service.policy())
    if not purposes:
        raise Conflict(
            "The policy declares no account purposes that need a guardian's consent.",
            code="no_account_purposes",
            fields=[FieldProblem("path.person_id", "nothing to consent to")],
        )
    items = [
        ConsentInput(child_id, purpose, action, ConsentChannel.GUARDIAN, language, evidence, guardian_id)
        for purpose in purposes
    ]
    return service.record_many(session, items, locate=lambda _index, name: f"body.{name}")

"""Record consent with the browser's Global Privacy Control signal: the one home of that step.

`POST /v1/consents`, `POST /v1/consents/batch` and the banner's `POST /v1/banner/consents` all call
`record_with_gpc`, so a signalled request is handled the same way whichever door it came through:
the opt-outs GPC means (11 CCR §7025(a), (c)) are recorded first, then the request's own actions, so an
explicit grant in the same request stands (11 CCR §7025(c)(3)); both in the caller's transaction, so a
request that fails validation rolls its opt-outs back with it. The consent ledger is the evidence of both.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet

from sqlalchemy.orm import Session

from fiduciary.consent.evidence import Evidence
from fiduciary.consent.gpc import apply_gpc_many
from fiduciary.consent.service import ConsentInput, ConsentResult, ConsentService, Locate
from fiduciary.people.service import PERSON_ID_RE
from fiduciary.personal_data.contacts import report_contacts
from fiduciary.storage.base import utcnow


def record_with_gpc(
    service: ConsentService,
    session: Session,
    items: Sequence[ConsentInput],
    *,
    gpc_signals: Sequence[tuple[str, Evidence | None]] = (),
    idempotency_key: str | None = None,
    locate: Locate | None = None,
    base_url: str | None = None,
    new_visitors: AbstractSet[str] = frozenset(),
) -> list[ConsentResult]:
    """Apply the GPC opt-outs of the subjects whose browser sent the signal, then record `items`; all or
    nothing. The signal is part of the idempotency fingerprint: the same key without it is another request.
    `new_visitors`: visitor ids minted for this request (`ConsentService.record_many`)."""
    if gpc_signals:
        apply_gpc_many(service, session, gpc_signals)
    extra = {"locate": locate} if locate is not None else {}
    results = service.record_many(
        session,
        items,
        idempotency_key=idempotency_key,
        gpc_subjects=[subject for subject, _ in gpc_signals],
        base_url=base_url,
        new_visitors=new_visitors,
        **extra,
    )
    now = utcnow()
    # a person's consent change is a contact (DPDP s.8(8)), once per person however many purposes; a visitor
    # has no account clock
    people = {item.subject_id: item.language for item in items if PERSON_ID_RE.fullmatch(item.subject_id)}
    report_contacts(session, [(person, now, language) for person, language in sorted(people.items())])
    return results

"""The privacy center's "who received what, when" page: the person's own disclosures from the disclosure log
— which organisation, which kinds of data, for which purpose, on which day (DPDP s.11(1)(b); GDPR Art
15(1)(c)). The log holds no value, so the page shows none; an authority's order reference is not shown.
Read for the signed-in person only: the customer session names them, nothing in the URL does.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from fiduciary.disclosures.log import disclosures_of
from fiduciary.web.privacy_center.pages import BASE
from fiduciary.web.privacy_center.routes import Context, page_context
from fiduciary.web.security import public_rate_limit

router = APIRouter(prefix=BASE, include_in_schema=False, dependencies=[Depends(public_rate_limit)])


@router.get("/disclosures")
def my_disclosures(ctx: Context = Depends(page_context)) -> Response:
    """Each disclosure of the person's data, newest first."""
    policy = ctx.runtime.policy()
    categories = {c.id: c.name for c in policy.document.categories}
    purposes = {p.id: p.name for p in policy.document.purposes}
    rows = []
    for entry, _ref in disclosures_of(ctx.session, ctx.customer.person_id):
        recipient = policy.recipients.get(entry.recipient_id)
        rows.append(
            {
                "recipient": recipient.name if recipient is not None else entry.recipient_id,
                "countries": list(recipient.countries) if recipient is not None else [],
                "categories": [categories.get(c, c) for c in entry.categories],
                "purpose": purposes.get(entry.purpose, entry.purpose),
                "day": entry.disclosed_at.date().isoformat(),
            }
        )
    return ctx.page("disclosures.html.j2", rows=rows)

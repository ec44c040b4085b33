"""The banner of this browser follows the choices the person makes in the privacy center (issue 14 item 4:
"stops after withdrawal in the privacy center").

The banner decides from its consent cookie (`fiduciary_consent`, docs/banner.md) before it loads any tag, so a
withdrawal made here must reach that cookie or the shop would keep running the tag (GDPR Art 7(3), DPDP
s.6(4): withdrawing is as easy as giving, and takes effect at once). The center is served from the same host
as the banner endpoint (docs/banner.md, "Embedding it"), so it sees the cookie and can rewrite it:

- At sign-in the browser's banner visitor is linked to the person (`consent.linking`, the same link a store
  makes through `POST /v1/people/{id}/link-visitor`): the banner's choices become the person's where newer,
  and the consents page shows them, so a category accepted on the banner can be withdrawn here. A visitor
  already linked to someone else, or a closed account, is left unlinked (a browser's history is one
  person's).
- At sign-in and after each change on the consents page the cookie's categories become those whose every
  consent purpose the person has granted now; its visitor id, policy version and time stay, so the banner asks
  again exactly when it would have. Without a well-formed consent cookie nothing is set: the banner asks
  on the shop as usual.
"""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy.orm import Session

from fiduciary.consent.linking import link_visitor
from fiduciary.consent.service import ConsentService, state_for
from fiduciary.errors import FiduciaryError
from fiduciary.runtime import Runtime
from fiduciary.web.banner_config import CONSENT_COOKIE, accepted_categories, consent_cookie, read_consent_cookie
from fiduciary.web.routes.banner import consent_cookie_secure, optional_categories


def link_browser_visitor(runtime: Runtime, session: Session, request: Request, person_id: str) -> None:
    """Link the banner visitor of this browser's consent cookie to the person who just signed in."""
    stored = read_consent_cookie(request.cookies.get(CONSENT_COOKIE))
    if stored is None:
        return
    try:
        link_visitor(ConsentService.for_runtime(runtime), session, person_id, stored.visitor_id)
    except FiduciaryError:  # linked to another person, or an account that takes no new record: no link
        return


def sync_banner_cookie(
    runtime: Runtime, session: Session, request: Request, person_id: str, response: Response
) -> None:
    """Rewrite the consent cookie's categories from the person's current consents (see the module's text)."""
    stored = read_consent_cookie(request.cookies.get(CONSENT_COOKIE))
    if stored is None:
        return
    states = state_for(session, [person_id]).get(person_id, {})
    granted = [purpose for purpose, row in states.items() if row.status == "granted"]
    categories = accepted_categories(optional_categories(runtime.policy()), granted)
    cookie = consent_cookie(
        stored.visitor_id, stored.version, stored.chosen_at, categories, secure=consent_cookie_secure(request)
    )
    response.headers.append("Set-Cookie", cookie)

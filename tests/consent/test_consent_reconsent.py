"""Re-consent after a material change: floors per purpose and set-wise notices for the right people."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from consent_support import adult, item
from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.consent.models import ReconsentNotice
from fiduciary.consent.reconsent import handle_published, reconsent_floors
from fiduciary.consent.service import ConsentChannel, ConsentService
from fiduciary.people.service import close_person, new_visitor_id
from fiduciary.policy import versions
from fiduciary.policy.loader import load_policy_text
from fiduciary.runtime import Runtime

DEMO = DEMO_POLICY_PATH.read_text(encoding="utf-8")
EMAIL_PURPOSE = """    legal_ground: consent
    categories: [identity.name, contact.email]
    marketing_channels: [email]"""
BROWSING_RULE = "    purposes: [analytics, personalised_ads]\n"


def publish(session: Session, text: str) -> versions.PublishedPolicy:
    published = versions.publish(session, load_policy_text(text).document, text)
    session.commit()
    return published


def notices(session: Session) -> list[tuple[str, str, int]]:
    rows = session.execute(
        sa.select(ReconsentNotice.person_id, ReconsentNotice.purpose, ReconsentNotice.policy_version)
    )
    return sorted((person, purpose, version) for person, purpose, version in rows)


def test_gained_category_sets_floor_and_queues_notices(session: Session, runtime: Runtime) -> None:
    assert EMAIL_PURPOSE in DEMO
    service = ConsentService.for_runtime(runtime)
    granted, withdrew, closed, sms_only = (adult(session, runtime) for _ in range(4))
    visitor = new_visitor_id()
    service.record_many(
        session,
        [
            item(granted, "marketing.email"),
            item(withdrew, "marketing.email"),
            item(withdrew, "marketing.email", "withdraw"),
            item(closed, "marketing.email"),
            item(sms_only, "marketing.sms"),
            item(visitor, "marketing.email", channel=ConsentChannel.BANNER),
        ],
    )
    close_person(session, closed)
    session.commit()
    v1 = versions.current(session)
    assert v1 is not None and v1.version == 1
    # The purpose gains browsing data, which a retention rule must then cover for it (policy check
    # `retention_missing`): the browsing rule now names marketing.email too.
    gained = DEMO.replace(EMAIL_PURPOSE, EMAIL_PURPOSE.replace("contact.email]", "contact.email, usage.browsing]"))
    assert gained.count(BROWSING_RULE) == 1
    v2 = publish(session, gained.replace(BROWSING_RULE, BROWSING_RULE.replace("]", ", marketing.email]")))
    outcome = handle_published(session, v1, v2)
    session.commit()
    assert outcome.purposes == frozenset({"marketing.email"})
    assert outcome.notices_queued == 1
    assert reconsent_floors(session) == {"marketing.email": 2}
    assert notices(session) == [(granted, "marketing.email", 2)]
    # Running it again for the same version queues nothing more and keeps the floor.
    assert handle_published(session, v1, v2).notices_queued == 0
    session.commit()
    assert notices(session) == [(granted, "marketing.email", 2)]
    # Consent given again under version 2 is not asked again for version 2.
    runtime.policy()  # the runtime now serves version 2
    assert service.policy().version == 2
    service.record(session, item(granted, "marketing.email"))
    session.commit()
    assert handle_published(session, v1, v2).notices_queued == 0


def test_minor_change_and_first_version_set_no_floor(session: Session, runtime: Runtime) -> None:
    service = ConsentService.for_runtime(runtime)
    person = adult(session, runtime)
    service.record(session, item(person, "marketing.email"))
    session.commit()
    v1 = versions.current(session)
    assert v1 is not None
    assert handle_published(session, None, v1).purposes == frozenset()
    v2 = publish(session, DEMO.replace("name: Saffron Lane privacy policy", "name: Saffron Lane privacy notice"))
    outcome = handle_published(session, v1, v2)
    session.commit()
    assert outcome.purposes == frozenset() and outcome.notices_queued == 0
    assert reconsent_floors(session) == {} and notices(session) == []


def test_non_consent_purpose_change_sets_no_floor(session: Session, runtime: Runtime) -> None:
    v1 = versions.current(session)
    assert v1 is not None
    text = DEMO.replace(
        "categories: [identity.name, contact.email, support.messages, commerce.orders]",
        "categories: [identity.name, contact.email, contact.phone, support.messages, commerce.orders]",
    )
    assert text != DEMO
    v2 = publish(session, text)
    outcome = handle_published(session, v1, v2)
    assert outcome.purposes == frozenset() and reconsent_floors(session) == {}

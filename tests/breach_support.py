"""Breach incidents under test: one opened through the flow with the demo policy (imported, not collected)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from fiduciary.cases.breach.flows import open_breach
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import unit_of_work

NOTICE_TEXTS = {
    "likely_consequences": "Phishing messages that use your order details",
    "measures_taken": "The export was closed and its keys rotated",
    "safety_measures": "Do not share one-time codes; we never ask for them",
}


def incident(**changes: Any) -> dict[str, Any]:
    return {
        "summary": "An order export was readable without signing in",
        "detected_at": (utcnow() - timedelta(hours=1)).isoformat(),
        "categories": ["contact.email"],
        "people_affected": 1200,
        "systems": ["orders-export"],
        **changes,
    }


def open_incident(runtime: Runtime, session: Session, **changes: Any) -> str:
    case = open_breach(unit_of_work(runtime, session), incident(**changes), actor="ops.lead")
    session.commit()
    return case.id

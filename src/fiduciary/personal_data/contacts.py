"""The person approached the store: a sign-in, an order, a rights request, a consent change, a contact the
store reports. Domains say so here, and whoever keeps a clock of it listens (the inactivity clock of
`retention.inactivity_clock`, DPDP s.8(8) and its explanation: "approaches the Data Fiduciary").

A base package below every domain (like the registry beside it), so that identity, rights, consent and
the vault can report a contact without importing the retention domain, which itself runs erasure through
them. A listener runs in the caller's transaction and must be cheap: it is on the hot paths (one statement).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

ContactListener = Callable[[Session, str, datetime, str | None], None]

_listeners: list[ContactListener] = []
_lock = threading.Lock()


def add_contact_listener(listener: ContactListener) -> None:
    """Listen for every contact of this process (call at import time; a second add of one listener is a no-op)."""
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)


def report_contact(session: Session, person_id: str, at: datetime, language: str | None = None) -> None:
    """The person approached the store at `at` (aware), in `language` when the contact says (a BCP 47 tag);
    every listener records it in `session`'s transaction."""
    for listener in tuple(_listeners):
        listener(session, person_id, at, language)

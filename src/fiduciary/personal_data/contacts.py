"""The person approached the store: a sign-in, an order, a rights request, a consent change, a contact the
store reports. Domains say so here, and whoever keeps a clock of it listens (the inactivity clock of
`retention.inactivity_clock`, DPDP s.8(8) and its explanation: "approaches the Data Fiduciary").

A base package below every domain (like the registry beside it), so that identity, rights, consent and
the vault can report a contact without importing the retention domain, which itself runs erasure through
them. A listener runs in the caller's transaction and must be cheap: it is on the hot paths (one statement).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

Contact = tuple[str, datetime, str | None]  # (person id, when, language or None)
ContactListener = Callable[[Session, Sequence[Contact]], None]

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
    report_contacts(session, [(person_id, at, language)])


def report_contacts(session: Session, contacts: Sequence[Contact]) -> None:
    """Many contacts at once (a consent batch): each listener records them all in one go."""
    if contacts:
        for listener in tuple(_listeners):
            listener(session, contacts)

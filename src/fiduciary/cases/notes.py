"""Staff's words on a case, for every kind: the free text checked and redacted, then kept as a note sealed
under the case key (`workflow.add_note`). Grievances and vulnerability reports write their internal notes and
replies through `write_note`; each kind then sends a reply in its own message.

The text is redacted (`vault.redaction`: card, Aadhaar, PAN, bank and phone numbers become `[CARD_NUMBER]`,
…) before it is sealed, so neither staff views nor the person's copy shows such a number; it is never logged
or audited (the audit event names the case, never the words).
"""

from __future__ import annotations

from collections import Counter
from typing import Final

from fiduciary.cases.models import Case, CaseNote
from fiduciary.cases.workflow import add_note, check_actor
from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.unit_of_work import UnitOfWork
from fiduciary.vault.redaction import redact_free_text

MAX_TEXT: Final = 4000  # characters: a complaint or a reply, not a document (the complaint form's bound too)


def clean_text(policy: CompiledPolicy, text: object, field_name: str = "text") -> tuple[str, dict[str, int]]:
    """(redacted text, count per entity type masked): 422 naming `field_name` when empty or too long."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise ValidationFailed("Bad text.", [FieldProblem(field_name, f"1 to {MAX_TEXT} characters")])
    result = redact_free_text(text.strip(), default_country=policy.document.controller.default_country)
    return result.text, dict(Counter(f.entity_type.lower() for f in result.findings))


def write_note(uow: UnitOfWork, case: Case, text: object, *, actor: str, kind: str) -> tuple[CaseNote, str]:
    """(the note, its redacted text): `kind` is `internal` (staff only) or `reply` (the caller sends it)."""
    check_actor(actor, "author")
    cleaned, _ = clean_text(uow.runtime.policy(), text)
    note = add_note(uow, case, author=actor, kind=kind, values={"text": cleaned})
    return note, cleaned

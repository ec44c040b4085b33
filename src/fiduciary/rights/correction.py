"""Correction requests (DPDP s.12(1)-(2): correct, complete or update; GDPR Art 16; CCPA §1798.106).

`personal["corrections"]` lists 1 to 50 {category, value}. At receipt every value is validated exactly as a
vault write validates it (`vault.fields.prepare_fields`: the category's type, size, card numbers, Aadhaar
masking), and a bad one refuses the whole request naming `corrections[i].value` with the validator's
message, which never quotes the value: nothing is written, not even the request. The values stay sealed
under the person's key on the request until it runs.

When it runs, the values are written through the vault (`VaultService.put_fields`: the old ciphertext is
overwritten in place and never read, so no old value can reach a log), each under the purpose it was first
collected for (a correction changes a value, not why the store holds it), with one `field.write` audit
event per purpose naming the categories and the request. It does not ask the decision engine first, as
`VaultAccess.write_fields` does for collection: a correction is the store's duty to the person, and must
also go through for a person who restricted processing while contesting accuracy (GDPR Art 18(1)(a)) or
withdrew the consent the value was collected under. `details["propagate_to"]` names the recipients the
disclosure log says received the corrected categories of this person (GDPR Art 19; DPDP s.8(3)); list them
as the right's `manual_steps` to have staff confirm each, and the request completes when the last is
confirmed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy.orm import Session

from fiduciary.audit.service import Action, AuditEvent
from fiduciary.context import RuntimeContext
from fiduciary.errors import Conflict, FieldProblem, ValidationFailed
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.schema import Right, Source
from fiduciary.rights.kind_support import person_at_receipt, recipients_receiving
from fiduciary.rights.requests import NewRequest, open_personal
from fiduciary.rights.running import Outcome, Run
from fiduciary.vault.fields import Problems, default_validator, prepare_fields
from fiduciary.vault.service import VaultService

CORRECTIONS: Final = "corrections"  # in `personal`: [{category, value}]
MAX_CORRECTIONS: Final = 50
CORRECTED: Final = "corrected"  # in `details`: the categories written
PROPAGATE_TO: Final = "propagate_to"  # in `details`: who received those categories (ids and names)
AUDIT_REASON: Final = "rights_correction"


def _declaring(policy: CompiledPolicy, category: str) -> list[str]:
    """The purposes that use `category`, in the policy's order."""
    return [pid for pid, cp in policy.compiled_purposes.items() if category in cp.categories]


def check_correction(runtime: RuntimeContext, session: Session, new: NewRequest, right: Right) -> NewRequest:
    raw = new.personal.get(CORRECTIONS)
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_CORRECTIONS:
        raise ValidationFailed(
            "Say what to correct.", [FieldProblem(CORRECTIONS, f"1 to {MAX_CORRECTIONS} corrections")]
        )
    if person_at_receipt(runtime, session, new.person_id).closed:
        raise Conflict(
            "The person's account is closed; its data are no longer used and take no correction.",
            code="person_closed",
            fields=[FieldProblem("person_id", "account closed")],
        )
    policy = runtime.policy()
    problems: list[FieldProblem] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        problems.extend(_item_problems(policy, i, item, seen))
    if problems:
        raise ValidationFailed("Some corrections are not valid; nothing was changed.", problems)
    return new


def _item_problems(policy: CompiledPolicy, i: int, item: object, seen: set[str]) -> list[FieldProblem]:
    """What is wrong with correction `i`: its category, or its value as a vault write would judge it."""
    at = f"{CORRECTIONS}[{i}]"
    if not isinstance(item, Mapping) or not isinstance(item.get("category"), str) or "value" not in item:
        return [FieldProblem(at, "an object with a category and a value")]
    category: str = item["category"]
    if category not in policy.categories:
        return [FieldProblem(f"{at}.category", "is not a data category the policy declares")]
    if category in seen:
        return [FieldProblem(f"{at}.category", "is corrected twice in this request")]
    seen.add(category)
    found = Problems()
    prepare_fields(default_validator(), policy, {category: item["value"]}, _declaring(policy, category), at, found)
    return [FieldProblem(f"{at}.value", p.message, p.hint) for p in found]


def start_correction(run: Run) -> Outcome:
    """Write the corrected values, each under the purpose it was collected for, and say whom to tell."""
    uow, row = run.uow, run.row
    corrections: list[dict[str, Any]] = open_personal(uow, row).get(CORRECTIONS, [])
    fields = {str(c["category"]): str(c["value"]) for c in corrections}
    policy = uow.runtime.policy()
    vault = VaultService(uow.runtime)
    recorded = vault.collected_for(uow.session, row.person_id, list(fields))
    by_purpose: dict[str, dict[str, str]] = {}
    for category, value in fields.items():
        declaring = _declaring(policy, category)
        # The purpose it was stored under; else (never stored, or no longer collected for it) the first.
        purpose = next((p for p in declaring if p == recorded.get(category)), declaring[0])
        by_purpose.setdefault(purpose, {})[category] = value
    for purpose, group in by_purpose.items():
        vault.put_fields(uow.session, row.person_id, group, purpose=purpose, source=Source.PROVIDED.value)
        uow.audit(
            AuditEvent(
                actor=run.actor,
                action=Action.FIELD_WRITE,
                person_id=row.person_id,
                purpose=purpose,
                categories=sorted(group),
                reasons=[AUDIT_REASON],
                target=row.id,
            )
        )
    row.details = {
        **row.details,
        CORRECTED: sorted(fields),
        PROPAGATE_TO: recipients_receiving(policy, uow.session, row.person_id, categories=set(fields)),
    }
    uow.session.flush()
    return Outcome.DONE

"""Erasure requests (DPDP s.12(3), GDPR Art 17, CCPA §1798.105): after the policy's waiting period, if any,
during which the person may cancel; then every registered eraser; then, once staff confirmed the manual
steps, the person is told what the law keeps, why and until when."""

from __future__ import annotations

from typing import Final

from fiduciary.comms.sealing import open_sealed, seal
from fiduciary.rights.flows import erase_person
from fiduciary.rights.requests import complete_request, contact_on_file
from fiduciary.rights.running import Outcome, Run, waits_first
from fiduciary.vault.legal_holds import held_records

_CONTACT: Final = "contact"
ERASED: Final = "erased"  # in `details`: how many rows the erasers deleted or changed


def start_erasure(run: Run) -> Outcome:
    return Outcome.WAITING if waits_first(run) else erase_now(run)


def erase_now(run: Run) -> Outcome:
    """Run every eraser; record what the law keeps, why and until when, for the completion message. The
    address is read first: the erasure destroys it with the person's key."""
    uow, row = run.uow, run.row
    contact = contact_on_file(uow, row.person_id)
    summary = erase_person(uow.runtime, uow.session, actor=run.actor, person_id=row.person_id)
    # After the erasers: a staff hold's values were just kept as legal-hold records (retention.holds)
    held = held_records(uow.session, row.person_id)
    kept = [{"what": h.record_type, "count": h.count, "why": h.basis, "until": h.kept_until.isoformat()} for h in held]
    row.details = {**row.details, "kept": kept, ERASED: sum(r.deleted + r.changed for r in summary.reports)}
    if contact is not None:
        # Kept for the completion message only, under the outbox key; cleared when the request closes.
        version, sealed = seal(uow.runtime, uow.session, None, row.id, {_CONTACT: "\n".join(contact)})
        row.sealed_key_version, row.sealed = version, sealed[_CONTACT]
    uow.session.flush()
    return Outcome.DONE


def finish_erasure(run: Run) -> None:
    """Complete an erasure whose erasers ran and whose manual steps are all confirmed: tell the person what
    was kept, why and until when (GDPR Art 12(4) and 17(3); DPDP s.8(7)), then forget their address."""
    uow, row = run.uow, run.row
    contact: tuple[str, str] | None = None
    if row.sealed is not None and row.sealed_key_version == 0:
        opened = open_sealed(uow.runtime, uow.session, None, 0, row.id, _CONTACT, row.sealed)
        channel, _, address = opened.partition("\n")
        contact = (channel, address)
    kept = list(row.details.get("kept", []))
    row.sealed = row.sealed_key_version = None
    uow.session.flush()
    complete_request(
        uow,
        row,
        actor=run.actor,
        now=run.now,
        message="rights.erased",
        params={"kept": kept},
        to=contact,
        sealed_for_person=contact is None,
    )

"""Compare consent receipts held outside the database with the consent ledger (forks, lost events).

A receipt is the customer's copy of the evidence (DPDP s.6(10), GDPR Art 7(1)). If the server acknowledged
a write that was never committed (a crash, a restore from backup), the ledger later reuses that position
for another event, and the chain still verifies: only a copy held outside the database can show it. This
module checks each receipt's signature, as `fiduciary receipt verify` does, and then that the ledger holds,
at the receipt's position, exactly the event the receipt was bound to: the same event hash, a stored row
whose hash is the hash of its content, and the subject, purpose, policy version, notice, type and time the
receipt states. A checkpoint attached to the receipt must also match the ledger at its own position.

Used by `fiduciary ledger verify --receipts DIR` and `POST /v1/receipts/verify`; both only translate.
Results carry positions, reason codes and fixed sentences, never a value from the receipt or the ledger.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from fiduciary.config import Settings
from fiduciary.consent.receipt_verify import verify_receipt
from fiduciary.consent.receipts import RECEIPT_EVENT_TYPES
from fiduciary.ledger.chain import STREAM_RE
from fiduciary.ledger.lookup import StoredEvent, events_at, head_position
from fiduciary.ledger.signing import key_id_for, known_public_keys, parse_public_key, public_key_b64

MAX_POSITION = 2**53 - 1


class ReceiptReason(StrEnum):
    """Why a receipt and the ledger agree or not; stable codes for scripts and the privacy center."""

    AGREES = "agrees"
    MALFORMED = "malformed"  # not a receipt at all (no ledger block, wrong types)
    SIGNATURE_INVALID = "signature_invalid"  # altered, forged, unknown key, or a bad attached checkpoint
    POSITION_BEYOND_HEAD = "position_beyond_head"  # the ledger lost an acknowledged event
    EVENT_MISSING = "event_missing"  # a gap below the head
    EVENT_HASH_DIFFERS = "event_hash_differs"  # another event holds the position: a fork
    LEDGER_ROW_ALTERED = "ledger_row_altered"  # the stored hash is not the hash of the stored row
    EVENT_CONTENT_DIFFERS = "event_content_differs"  # same hash, but the receipt states other facts
    CHECKPOINT_DIFFERS = "checkpoint_differs"  # the attached checkpoint's position is gone or holds another hash


_DETAIL: dict[ReceiptReason, str] = {
    ReceiptReason.AGREES: "the signature is valid and the ledger holds the event the receipt was bound to",
    ReceiptReason.MALFORMED: "this is not a consent receipt (its ledger block is missing or malformed)",
    ReceiptReason.SIGNATURE_INVALID: "the signature does not verify with a trusted key (altered or forged)",
    ReceiptReason.POSITION_BEYOND_HEAD: "the ledger ends before this position: it lost an acknowledged event",
    ReceiptReason.EVENT_MISSING: "the ledger has no event at this position",
    ReceiptReason.EVENT_HASH_DIFFERS: "the ledger holds a different event at this position (a fork)",
    ReceiptReason.LEDGER_ROW_ALTERED: "the ledger row at this position does not hash to its stored hash",
    ReceiptReason.EVENT_CONTENT_DIFFERS: "the ledger event at this position differs from what the receipt states",
    ReceiptReason.CHECKPOINT_DIFFERS: "the receipt's signed checkpoint does not match the ledger (another event "
    "at its position, or the ledger ends before it)",
}


@dataclass(frozen=True, slots=True)
class ReceiptComparison:
    """The outcome for one receipt. `problems` are the signature checker's own words (they may quote the
    receipt's key id), for an operator's terminal; `detail` is a fixed sentence safe to publish."""

    reason: ReceiptReason
    signature_valid: bool
    stream: str | None = None
    position: int | None = None
    fields: tuple[str, ...] = ()  # for EVENT_CONTENT_DIFFERS: which receipt fields disagree (names only)
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.reason is ReceiptReason.AGREES

    @property
    def ledger_agrees(self) -> bool | None:
        """None when the ledger was not consulted (a receipt whose signature fails proves nothing)."""
        if not self.signature_valid or self.reason is ReceiptReason.MALFORMED:
            return None
        return self.ok

    @property
    def detail(self) -> str:
        text = _DETAIL[self.reason]
        if self.fields:
            text += " (" + ", ".join(self.fields) + ")"
        return text


def trusted_keys(keys: Iterable[Ed25519PublicKey]) -> dict[str, str]:
    """{key_id: base64 raw key}, the form `verify_receipt` takes, from configured public keys."""
    return {key_id_for(key): public_key_b64(key) for key in keys}


@dataclass(frozen=True, slots=True)
class _Claim:
    """What a receipt with a valid signature attests about the ledger."""

    stream: str
    position: int
    event_hash: str
    checkpoint: tuple[int, str] | None  # (position, hash) of an attached, signature-checked checkpoint


def parse_trusted_key(text: str) -> dict[str, str]:
    """{key id: base64} of one public key given as text (base64 of the raw 32 bytes, or PEM); ValueError says
    why it is not usable."""
    return trusted_keys([parse_public_key(text)])


def configured_trusted_keys(settings: Settings) -> dict[str, str]:
    """{key id: base64} of this installation's signing keys, current and previous."""
    return trusted_keys(known_public_keys(settings))


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_POSITION:
        return value
    return None


def _claim(receipt: Mapping[str, Any]) -> _Claim | None:
    ledger = receipt.get("ledger")
    if not isinstance(ledger, dict):
        return None
    stream, position, event_hash = ledger.get("stream"), _int(ledger.get("position")), ledger.get("event_hash")
    if not (isinstance(stream, str) and STREAM_RE.fullmatch(stream)) or position is None:
        return None
    if not isinstance(event_hash, str):
        return None
    checkpoint = receipt.get("checkpoint")
    cp: tuple[int, str] | None = None
    if isinstance(checkpoint, dict):
        cp_position, cp_hash = _int(checkpoint.get("position")), checkpoint.get("hash")
        if cp_position is None or not isinstance(cp_hash, str):
            return None
        cp = (cp_position, cp_hash)
    return _Claim(stream, position, event_hash, cp)


def _get(value: Any, *path: str | int) -> Any:
    for step in path:
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and len(value) > step else None
        else:
            value = value.get(step) if isinstance(value, dict) else None
    return value


def _purpose(receipt: Mapping[str, Any]) -> Any:
    return _get(receipt, "processing", "purposes", 0, "purpose")


def _content_fields(receipt: Mapping[str, Any], event: StoredEvent) -> tuple[str, ...]:
    """Names of the receipt fields that differ from the stored event (the hash matched, so this finds a
    receipt signed over facts that are not the event's: a bug or a key misuse, never a normal state)."""
    try:
        payload = json.loads(event.payload)
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or event.event_type not in RECEIPT_EVENT_TYPES:
        return ("ledger.event_type",)
    expected: list[tuple[str, Any, Any]] = [
        ("ledger.event_type", _get(receipt, "ledger", "event_type"), event.event_type),
        ("event.event_time", _get(receipt, "event", "event_time"), event.recorded_at),
        ("header.pii_principal_id", _get(receipt, "header", "pii_principal_id"), payload.get("subject")),
        (
            "processing.purposes.0.purpose",
            _get(receipt, "processing", "purposes", 0, "purpose"),
            payload.get("purpose"),
        ),
        ("event.validity.policy_version", _get(receipt, "event", "validity", "policy_version"), payload.get("version")),
        ("event.validity.notice_hash", _get(receipt, "event", "validity", "notice_hash"), payload.get("notice")),
    ]
    return tuple(name for name, stated, stored in expected if stated != stored)


def _against_ledger(
    receipt: Mapping[str, Any], claim: _Claim, head: int, events: Mapping[int, StoredEvent]
) -> ReceiptComparison:
    def result(reason: ReceiptReason, fields: tuple[str, ...] = ()) -> ReceiptComparison:
        return ReceiptComparison(reason, True, claim.stream, claim.position, fields)

    if claim.position > head:
        return result(ReceiptReason.POSITION_BEYOND_HEAD)
    event = events.get(claim.position)
    if event is None:
        return result(ReceiptReason.EVENT_MISSING)
    if event.hash != claim.event_hash:
        return result(ReceiptReason.EVENT_HASH_DIFFERS)
    if not event.hash_matches_content:
        return result(ReceiptReason.LEDGER_ROW_ALTERED)
    differing = _content_fields(receipt, event)
    if differing:
        return result(ReceiptReason.EVENT_CONTENT_DIFFERS, differing)
    if claim.checkpoint is not None:
        cp_position, cp_hash = claim.checkpoint
        sealed = events.get(cp_position) if cp_position <= head else None
        if sealed is None or sealed.hash != cp_hash:
            return result(ReceiptReason.CHECKPOINT_DIFFERS)
    return result(ReceiptReason.AGREES)


def compare_receipts(
    session: Session, receipts: Sequence[Any], public_keys: Mapping[str, str]
) -> list[ReceiptComparison]:
    """Check each receipt's signature, then compare it with the ledger; one result per receipt, in order.

    `public_keys` are trusted keys ({key_id: base64}), never keys found in a receipt or the database. The
    ledger is read with one head query per stream and one query per 500 positions.
    """
    results: list[ReceiptComparison | None] = [None] * len(receipts)
    claims: dict[int, _Claim] = {}
    for index, receipt in enumerate(receipts):
        if not isinstance(receipt, dict):
            results[index] = ReceiptComparison(ReceiptReason.MALFORMED, False, problems=("not a JSON object",))
            continue
        check = verify_receipt(receipt, public_keys)
        claim = _claim(receipt)
        if not check.ok:
            results[index] = ReceiptComparison(
                ReceiptReason.SIGNATURE_INVALID,
                False,
                claim.stream if claim else None,
                claim.position if claim else None,
                problems=tuple(check.problems),
            )
        elif claim is None:
            results[index] = ReceiptComparison(ReceiptReason.MALFORMED, True)
        else:
            claims[index] = claim
    wanted: dict[str, set[int]] = defaultdict(set)
    for claim in claims.values():
        wanted[claim.stream].add(claim.position)
        if claim.checkpoint is not None:
            wanted[claim.stream].add(claim.checkpoint[0])
    heads = {stream: head_position(session, stream) for stream in wanted}
    stored = {stream: events_at(session, stream, positions) for stream, positions in wanted.items()}
    for index, claim in claims.items():
        results[index] = _against_ledger(receipts[index], claim, heads[claim.stream], stored[claim.stream])
    return [r for r in results if r is not None]


def compare_receipt(session: Session, receipt: Any, public_keys: Mapping[str, str]) -> ReceiptComparison:
    """`compare_receipts` for one receipt."""
    return compare_receipts(session, [receipt], public_keys)[0]

"""Consent receipts: what a person gets back for every consent event, verifiable without our database.

Shape: ISO/IEC TS 27560:2023 consent record (header, processing, party, event; field names from the W3C
DPVCG implementation guide), with a `kantara` sub-object carrying the Kantara Consent Receipt v1.1 fields
where they map, plus the evidence and the ledger position and event hash the receipt is bound to. The
record is what DPDP s.6(10) and GDPR Art 7(1) ask a store to be able to demonstrate.

Signature: Ed25519 with the ledger's signing key (so one published key set,
`/.well-known/fiduciary-keys.json`, verifies checkpoints and receipts). A receipt from a single write is
signed directly over the RFC 8785 canonical JSON of the receipt without its `signature` and `checkpoint`
blocks. A batch of receipts is signed once: each receipt's leaf hash goes into a Merkle tree, the signed
statement names the root, and each receipt carries its audit path (docs/decisions/consent-receipt-batch-
signing.md explains why: one Ed25519 signature costs about as much as the whole rest of a consent write).

A receipt is a pure function of the ledger event and the policy version it cites, so it can be rebuilt
and re-signed later (`GET /v1/consents/receipts/{position}`) and is byte-identical apart from the
signature block; once a signed checkpoint covers its position the checkpoint is attached.

This module builds receipts (the write path and the rebuild); the concepts it uses live beside it:
`receipt_text` (canonical JSON and compiled text templates), `receipt_templates` (the policy-dependent
blocks of a receipt), `receipt_signing` (direct and Merkle-batch signatures) and `receipt_verify`
(offline verification).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from fiduciary.consent.receipt_signing import ReceiptSigner, batch_statement, path_texts
from fiduciary.consent.receipt_templates import ReceiptTemplate, receipt_template
from fiduciary.consent.receipt_text import Encoded, TextTemplate, encode_string, iso_time, scalar_text
from fiduciary.ledger.signing import b64
from fiduciary.policy.compiled import CompiledPolicy

EVENT_STATE = {"consent.granted": "given", "consent.withdrawn": "withdrawn", "consent.denied": "refused"}
EVENT_KIND = {
    "consent.granted": "expressed consent",
    "consent.withdrawn": "withdrawal",
    "consent.denied": "refusal",
}
RECEIPT_EVENT_TYPES: Final = frozenset(EVENT_STATE)


def record_id_for(event_hash: str) -> str:
    """A UUID-shaped id derived from the event hash: unique across installations and reproducible."""
    h = event_hash
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


_times: dict[datetime, tuple[str, int]] = {}


def _time_texts(moment: datetime) -> tuple[str, int]:
    """ISO text and Unix seconds of an event time; a batch shares one time, so this is cached briefly."""
    found = _times.get(moment)
    if found is None:
        if len(_times) > 64:
            _times.clear()
        found = _times[moment] = (iso_time(moment), int(moment.timestamp()))
    return found


@dataclass(frozen=True, slots=True)
class ReceiptEvent:
    """The ledger facts a receipt is bound to."""

    position: int
    event_hash: str
    event_type: str
    recorded_at: datetime
    payload: Mapping[str, Any]
    stream: str = "consent"


def build_receipt(policy: CompiledPolicy, event: ReceiptEvent, *, base_url: str) -> dict[str, Any]:
    """The unsigned receipt of one consent event, under the policy version its payload cites."""
    parsed: dict[str, Any] = json.loads(build_receipt_text(policy, event, base_url=base_url))
    return parsed


def build_receipt_text(policy: CompiledPolicy, event: ReceiptEvent, *, base_url: str) -> str:
    """The unsigned receipt as canonical JSON text (exactly what a signature covers).

    The text comes from a per-purpose template compiled once (`_receipt_shape`), which is several times
    faster than building and serialising the receipt for every event; a property test checks it against
    `canonical` of the parsed receipt. Callers parse it when they need a dict (`json.loads`), which also
    gives each caller an object of its own.
    """
    return build_receipt_texts(
        policy,
        [(event.position, event.event_hash, event.event_type, event.payload)],
        event.recorded_at,
        base_url=base_url,
        stream=event.stream,
    )[0]


def build_receipt_texts(
    policy: CompiledPolicy,
    events: Sequence[tuple[int, str, str, Mapping[str, Any]]],
    recorded_at: datetime,
    *,
    base_url: str,
    stream: str = "consent",
) -> list[str]:
    """`build_receipt_text` for a batch of (position, event_hash, event_type, payload) recorded together."""
    return [
        template.render(values) for template, values in _receipt_values(policy, events, recorded_at, base_url, stream)
    ]


def signed_receipt_texts(
    policy: CompiledPolicy,
    events: Sequence[tuple[int, str, str, Mapping[str, Any]]],
    recorded_at: datetime,
    signer: ReceiptSigner,
    *,
    base_url: str,
    stream: str = "consent",
) -> list[str]:
    """`sign_texts(build_receipt_texts(…))` for the write path (equal to it, property-tested), cheaper.

    Each receipt is rendered once without its closing brace: the leaf hash covers that text and the
    brace, and the signed text appends the signature member and the brace in one join. (Rendering twice,
    to avoid keeping a batch of texts alive, cost more once the allocator keeps freed memory for reuse:
    see `fiduciary.runtime.tune_process`.)
    """
    rendered = _receipt_values(policy, events, recorded_at, base_url, stream)
    key_id = scalar_text(signer.key_id)
    if len(rendered) == 1:
        [(template, values)] = rendered
        text = template.render_open(values, "")
        value = b64(signer.sign((text + "}").encode("utf-8")))
        return [f'{text},"signature":{{"alg":"Ed25519","key_id":{key_id},"merkle":null,"value":"{value}"}}}}']
    leaf_prefix = hashlib.sha256(b"\x00")
    opened: list[str] = []
    leaves: list[bytes] = []
    for template, values in rendered:
        text = template.render_open(values, "")
        leaf = leaf_prefix.copy()
        leaf.update(text.encode("utf-8"))
        leaf.update(b"}")
        leaves.append(leaf.digest())
        opened.append(text)
    root_hex, paths = path_texts(leaves)
    size = len(rendered)
    value = b64(signer.sign(batch_statement(root_hex, size, signer.key_id)))
    head = ',"signature":{"alg":"Ed25519","key_id":' + key_id + ',"merkle":{"index":'
    tail = '],"root":"' + root_hex + '","size":' + str(size) + '},"value":"' + value + '"}}'
    # An f-string builds each signed text in one allocation (a chain of `+` would copy it at every step).
    return [
        f'{text}{head}{index},"path":[{path}{tail}'
        for index, (text, path) in enumerate(zip(opened, paths, strict=True))
    ]


def _receipt_values(
    policy: CompiledPolicy,
    events: Sequence[tuple[int, str, str, Mapping[str, Any]]],
    recorded_at: datetime,
    base_url: str,
    stream: str,
) -> list[tuple[TextTemplate, tuple[str, ...]]]:
    """Each receipt's template and encoded per-event members (in `SLOTS` order); the members shared by
    the batch (time, stream) are encoded once."""
    # Every member is encoded here exactly as `canonical` would: strings through the C JSON string encoder,
    # integers as decimal text, absent values as null.
    enc = encode_string
    memo = Encoded()  # members a batch repeats (language, channel, notice, evidence, event type)
    event_time, timestamp = _time_texts(recorded_at)
    event_time_text, timestamp_text, stream_text = enc(event_time), str(timestamp), enc(stream)
    kinds = _EVENT_TEXTS
    templates: dict[str, ReceiptTemplate] = {}
    rendered: list[tuple[TextTemplate, tuple[str, ...]]] = []
    versions: dict[Any, str] = {}
    for position, event_hash, event_type, payload in events:
        purpose = payload["purpose"]
        template = templates.get(purpose)
        if template is None:
            template = templates[purpose] = receipt_template(policy, purpose, base_url)
        subject_text = enc(payload["subject"])
        guardian = payload.get("guardian")
        ua = payload.get("ua")
        ip_prefix = payload.get("ip_prefix")
        ref = payload.get("ref")
        kind_text, state_text = kinds[event_type]
        version = payload["version"]
        version_text = versions.get(version)
        if version_text is None:
            version_text = versions[version] = scalar_text(version)
        # A hash from the chain is 64 hex digits, which JSON never escapes (checked, not assumed: a receipt
        # may be rebuilt from a stored row).
        h = event_hash
        if h.isalnum() and h.isascii():
            hash_text, record_text = f'"{h}"', f'"{record_id_for(h)}"'
        else:
            hash_text, record_text = enc(h), enc(record_id_for(h))
        values = (
            subject_text,
            "null" if guardian is None else enc(guardian),
            record_text,
            memo[payload["lang"]],
            memo[payload["channel"]],
            event_time_text,
            kind_text,
            state_text,
            enc(guardian) if guardian else subject_text,
            version_text,
            memo[payload["notice"]],
            "null" if ua is None else memo[ua],
            "null" if ip_prefix is None else memo[ip_prefix],
            "null" if ref is None else memo[ref],
            stream_text,
            str(int(position)),
            hash_text,
            memo[event_type],
            timestamp_text,
        )
        rendered.append((template.text_with_guardian if guardian else template.text, values))
    return rendered


_EVENT_TEXTS: Final = {
    event_type: (encode_string(EVENT_KIND[event_type]), encode_string(EVENT_STATE[event_type]))
    for event_type in EVENT_STATE
}

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
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

from fiduciary.ledger.chain import checkpoint_statement, iso_utc
from fiduciary.ledger.signing import b64, verify_signature
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.schema import Contact, PostalAddress, RecipientKind, trigger_code

RECEIPT_SCHEMA: Final = "fiduciary.consent-receipt.v1"
ISO_SCHEMA: Final = "ISO/IEC TS 27560:2023"
KANTARA_VERSION: Final = "KI-CR-v1.1.0"
BATCH_STATEMENT_TYPE: Final = "fiduciary.consent-receipt.batch.v1"
ALGORITHM: Final = "Ed25519"
UNSIGNED_BLOCKS: Final = ("signature", "checkpoint")

EVENT_STATE = {"consent.granted": "given", "consent.withdrawn": "withdrawn", "consent.denied": "refused"}
EVENT_KIND = {
    "consent.granted": "expressed consent",
    "consent.withdrawn": "withdrawal",
    "consent.denied": "refusal",
}
RECEIPT_EVENT_TYPES: Final = frozenset(EVENT_STATE)


class ReceiptSigner(Protocol):
    """What receipts need of `fiduciary.ledger.signing.Signer`."""

    @property
    def key_id(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_enc = _ENCODER.encode
_encode_string: Any = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring


def _scalar(value: str | int | None) -> str:
    """Canonical JSON of a string, an int or None, without building an encoder."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return str(_encode_string(value))
    return str(int(value))


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON for receipts (ASCII keys only, so sorting by code point equals JCS order).

    The ledger's own `canonical_json` refuses keys such as `address` and `email`, which a receipt needs
    for the controller's (not the person's) contact details, so receipts use this plain serialiser.
    """
    return _enc(value).encode("utf-8")


class _Field:
    """A variable member of a text template: filled with already-encoded canonical JSON."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _object_parts(members: Mapping[str, Any]) -> list[str | _Field]:
    """Parts of an object's canonical text: literals, `_Field` slots, nested objects (dicts) and lists."""
    parts: list[str | _Field] = ["{"]
    for index, key in enumerate(sorted(members)):
        parts.append(("," if index else "") + _enc(key) + ":")
        parts.extend(_value_parts(members[key]))
    parts.append("}")
    return parts


def _value_parts(value: Any) -> list[str | _Field]:
    if isinstance(value, _Field):
        return [value]
    if isinstance(value, _Const):
        return [_enc(value.value)]
    if isinstance(value, dict):
        return _object_parts(value)
    if isinstance(value, list):
        parts: list[str | _Field] = ["["]
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            parts.extend(_value_parts(item))
        parts.append("]")
        return parts
    return [_enc(value)]


class _Const:
    """A constant member serialised as a whole (e.g. the controller block), not walked into."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class _TextTemplate:
    """Literal text with named slots: `render` interleaves the literals with the encoded values and joins.

    Slot names index `_SLOTS`, so a caller fills a plain tuple in that order and no dict is built per event.
    (A `%` format was tried: it scans the 3.7 KB of literal text on every call and was slower than a join.)
    """

    __slots__ = ("literals", "literals_open", "pick", "width")

    def __init__(self, parts: Sequence[str | _Field]) -> None:
        literals: list[str] = [""]
        indices: list[int] = []
        for part in parts:
            if isinstance(part, _Field):
                indices.append(_SLOT_INDEX[part.name])
                literals.append("")
            else:
                literals[-1] += part
        self.literals = literals
        self.literals_open = [*literals[:-1], literals[-1][:-1]]  # without the closing brace
        self.width = 2 * len(indices) + 1
        self.pick: Callable[[Sequence[str]], Sequence[str]] = (
            operator.itemgetter(*indices) if len(indices) > 1 else (lambda values: [values[i] for i in indices])
        )

    def render(self, values: Sequence[str]) -> str:
        """`values` holds the encoded member for every name in `_SLOTS`, in that order."""
        out: list[str] = [""] * self.width
        out[0::2] = self.literals
        out[1::2] = self.pick(values)
        return "".join(out)

    def render_open(self, values: Sequence[str], end: str) -> str:
        """`render` with `end` in place of the final '}' (signing adds a member before it)."""
        out: list[str] = [""] * (self.width + 1)
        out[0 : self.width : 2] = self.literals_open
        out[1 : self.width : 2] = self.pick(values)
        out[-1] = end
        return "".join(out)


# The per-event members of a receipt, in the order `_event_values` lists them.
_SLOTS: Final = (
    "subject",
    "guardian",
    "record_id",
    "language",
    "channel",
    "event_time",
    "event_kind",
    "event_state",
    "entity",
    "version",
    "notice",
    "ua",
    "ip_prefix",
    "ref",
    "stream",
    "position",
    "event_hash",
    "event_type",
    "timestamp",
)
_SLOT_INDEX: Final = {name: index for index, name in enumerate(_SLOTS)}


def _compile(shape: Mapping[str, Any]) -> _TextTemplate:
    """A text template producing the canonical JSON of `shape` once its `_Field` slots are filled."""
    return _TextTemplate(_object_parts(shape))


def signed_bytes(receipt: Mapping[str, Any]) -> bytes:
    """The bytes a receipt signature covers: the receipt without its signature and checkpoint blocks."""
    return canonical({k: v for k, v in receipt.items() if k not in UNSIGNED_BLOCKS})


def notice_url(base_url: str, version: int | None) -> str:
    return f"{base_url.rstrip('/')}/v1/policy/versions/{version}"


def iso_time(moment: datetime) -> str:
    return iso_utc(moment)


def record_id_for(event_hash: str) -> str:
    """A UUID-shaped id derived from the event hash: unique across installations and reproducible."""
    h = event_hash
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


# ------------------------------------------------------------------------------------------- templates


def _address_text(address: PostalAddress) -> str:
    parts = [*address.lines, address.city, address.region, address.postal_code, address.country]
    return ", ".join(p for p in parts if p)


def _contact_text(contact: Contact | None) -> str | None:
    if contact is None:
        return None
    if contact.email:
        return str(contact.email)
    if contact.url:
        return str(contact.url)
    if contact.phone:
        return contact.phone
    return _address_text(contact.address) if contact.address else None


_VALIDITY_DURATION = "until withdrawn, or until a material change of this purpose"


@dataclass(frozen=True)
class _Template:
    """The parts of a receipt that depend only on the policy version and the purpose."""

    processing: dict[str, Any]
    controller_party: dict[str, Any]
    kantara: dict[str, Any]
    text: _TextTemplate  # the whole receipt without a guardian
    text_with_guardian: _TextTemplate


def _receipt_shape(
    processing: Mapping[str, Any], controller: Mapping[str, Any], kantara: Mapping[str, Any], *, guardian: bool
) -> dict[str, Any]:
    """The receipt with its per-event members replaced by `_Field` slots (names shared where values are)."""
    f = _Field
    party: list[Any] = [
        {"party_id": f("subject"), "party_type": "natural person", "party_role": "pii principal"},
        _Const(controller),
    ]
    if guardian:
        party.append({"party_id": f("guardian"), "party_type": "natural person", "party_role": "guardian"})
    return {
        "schema_version": RECEIPT_SCHEMA,
        "header": {"schema_version": ISO_SCHEMA, "record_id": f("record_id"), "pii_principal_id": f("subject")},
        "processing": {
            **{k: _Const(v) for k, v in processing.items()},
            "language": f("language"),
            "collection_method": f("channel"),
        },
        "party": party,
        "event": {
            "event_time": f("event_time"),
            "event_type": f("event_kind"),
            "event_state": f("event_state"),
            "entity_id": f("entity"),
            "validity_duration": _VALIDITY_DURATION,
            "validity": {"policy_version": f("version"), "notice_hash": f("notice")},
        },
        "evidence": {
            "channel": f("channel"),
            "guardian_id": f("guardian"),
            "user_agent_sha256": f("ua"),
            "ip_prefix": f("ip_prefix"),
            "request_ref": f("ref"),
        },
        "ledger": {
            "stream": f("stream"),
            "position": f("position"),
            "event_hash": f("event_hash"),
            "event_type": f("event_type"),
        },
        "kantara": {
            **{k: _Const(v) for k, v in kantara.items()},
            "consentTimestamp": f("timestamp"),
            "collectionMethod": f("channel"),
            "consentReceiptID": f("record_id"),
            "language": f("language"),
            "piiPrincipalId": f("subject"),
        },
    }


_times: dict[datetime, tuple[str, int]] = {}


def _time_texts(moment: datetime) -> tuple[str, int]:
    """ISO text and Unix seconds of an event time; a batch shares one time, so this is cached briefly."""
    found = _times.get(moment)
    if found is None:
        if len(_times) > 64:
            _times.clear()
        found = _times[moment] = (iso_time(moment), int(moment.timestamp()))
    return found


_templates: dict[tuple[str, int | None, str, str], _Template] = {}


def _template(policy: CompiledPolicy, purpose_id: str, base_url: str) -> _Template:
    key = (policy.content_hash, policy.version, purpose_id, base_url)
    cached = _templates.get(key)
    if cached is not None:
        return cached
    doc = policy.document
    controller = doc.controller
    contacts = doc.contacts
    purpose = policy.purposes[purpose_id]
    contact = contacts.privacy_contact or contacts.data_protection_officer or contacts.grievance_officer
    contact_text = _contact_text(contact)
    address = _address_text(controller.address)
    url = notice_url(base_url, policy.version)
    optional = set(purpose.optional_categories)
    category_ids = [*purpose.categories, *purpose.optional_categories]
    categories = [policy.categories[c] for c in category_ids if c in policy.categories]
    recipients = [r for r in doc.recipients if purpose_id in r.purposes]
    third_parties = [r for r in recipients if r.kind is not RecipientKind.PROCESSOR]
    storage = sorted(
        {controller.address.country} | {c for r in recipients if r.kind is RecipientKind.PROCESSOR for c in r.countries}
    )
    retention = [
        {
            "rule": rule.id,
            "keep_for": str(rule.keep_for) if rule.keep_for else None,
            "trigger": trigger_code(rule.trigger),
            "action": rule.action.value,
        }
        for rule in doc.retention
        if purpose_id in rule.purposes or (not rule.purposes and set(rule.categories) & set(category_ids))
    ]
    sensitive = sorted({c.sensitivity.value for c in categories if c.sensitivity.value != "standard"})
    jurisdiction = ",".join(j.value for j in controller.jurisdictions)  # Kantara: one string
    withdrawal = (
        f"Withdraw at any time, as easily as you gave it: {base_url.rstrip('/')}/privacy, the unsubscribe "
        "link in every message, or the store's API (POST /v1/consents with action withdraw)."
    )
    controller_party: dict[str, Any] = {
        "party_id": "controller",
        "party_name": controller.legal_name,
        "party_address": address,
        "party_contact": contact_text,
        "party_url": str(controller.website),
        "party_type": "legal entity",
        "party_role": "pii controller",
    }
    processing: dict[str, Any] = {
        "privacy_notice": {"url": url, "version": policy.version, "hash": policy.content_hash},
        "purposes": [
            {
                "purpose": purpose.id,
                "name": purpose.name,
                "description": purpose.description,
                "service": purpose.service,
                "lawful_basis": purpose.legal_ground.value,
                "marketing_channels": [c.value for c in purpose.marketing_channels],
                "barred_for_children": purpose.barred_for_children,
                "sale_or_sharing": purpose.sale_or_sharing,
            }
        ],
        "pii_information": [
            {
                "pii_type": c.id,
                "name": c.name,
                "pii_optional": c.id in optional or not c.required,
                "sensitive_pii_category": None if c.sensitivity.value == "standard" else c.sensitivity.value,
            }
            for c in categories
        ],
        "pii_controllers": [controller_party],
        "storage_locations": storage,
        "retention_period": retention,
        "jurisdiction": [j.value for j in controller.jurisdictions],
        "recipient_third_parties": [
            {"party_name": r.name, "party_type": r.kind.value, "countries": list(r.countries)} for r in recipients
        ],
        "withdrawal_method": withdrawal,
    }
    kantara: dict[str, Any] = {
        "version": KANTARA_VERSION,
        "jurisdiction": jurisdiction,
        "piiControllers": [
            {
                "piiController": controller.legal_name,
                "onBehalf": False,
                "contact": (contact.name if contact and contact.name else "Privacy contact"),
                "address": address,
                "email": str(contact.email) if contact and contact.email else None,
                "phone": contact.phone if contact else None,
                "piiControllerUrl": str(controller.website),
            }
        ],
        "policyUrl": url,
        "services": [
            {
                "service": purpose.service,
                "purposes": [
                    {
                        "purpose": purpose.name,
                        "purposeCategory": [purpose.id],
                        "consentType": "EXPLICIT",
                        "piiCategory": [c.name for c in categories],
                        "primaryPurpose": purpose.required_for_service,
                        "termination": "Until you withdraw consent or the purpose changes materially.",
                        "thirdPartyDisclosure": bool(third_parties),
                        "thirdPartyName": ", ".join(r.name for r in third_parties) or None,
                    }
                ],
            }
        ],
        "sensitive": bool(sensitive),
        "spiCat": sensitive,
    }
    built = _Template(
        processing,
        controller_party,
        kantara,
        _compile(_receipt_shape(processing, controller_party, kantara, guardian=False)),
        _compile(_receipt_shape(processing, controller_party, kantara, guardian=True)),
    )
    _templates[key] = built
    return built


# --------------------------------------------------------------------------------------------- building


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
    key_id = _scalar(signer.key_id)
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
    root_hex, paths = _path_texts(leaves)
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
) -> list[tuple[_TextTemplate, tuple[str, ...]]]:
    """Each receipt's template and encoded per-event members (in `_SLOTS` order); the members shared by
    the batch (time, stream) are encoded once."""
    # Every member is encoded here exactly as `canonical` would: strings through the C JSON string encoder,
    # integers as decimal text, absent values as null.
    enc = _encode_string
    memo = _Encoded()  # members a batch repeats (language, channel, notice, evidence, event type)
    event_time, timestamp = _time_texts(recorded_at)
    event_time_text, timestamp_text, stream_text = enc(event_time), str(timestamp), enc(stream)
    kinds = _EVENT_TEXTS
    templates: dict[str, _Template] = {}
    rendered: list[tuple[_TextTemplate, tuple[str, ...]]] = []
    versions: dict[Any, str] = {}
    for position, event_hash, event_type, payload in events:
        purpose = payload["purpose"]
        template = templates.get(purpose)
        if template is None:
            template = templates[purpose] = _template(policy, purpose, base_url)
        subject_text = enc(payload["subject"])
        guardian = payload.get("guardian")
        ua = payload.get("ua")
        ip_prefix = payload.get("ip_prefix")
        ref = payload.get("ref")
        kind_text, state_text = kinds[event_type]
        version = payload["version"]
        version_text = versions.get(version)
        if version_text is None:
            version_text = versions[version] = _scalar(version)
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


class _Encoded(dict[str, str]):
    """JSON string encodings, computed on first use: a dict lookup is cheaper than re-encoding."""

    def __missing__(self, key: str) -> str:
        value: str = _encode_string(key)
        self[key] = value
        return value


_EVENT_TEXTS: Final = {
    event_type: (_encode_string(EVENT_KIND[event_type]), _encode_string(EVENT_STATE[event_type]))
    for event_type in EVENT_STATE
}


# ---------------------------------------------------------------------------------------------- signing


def _leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_paths(leaves: Sequence[bytes]) -> tuple[bytes, list[list[str]]]:
    """The root over `leaves` and each leaf's audit path (sibling hashes in hex, from the bottom up).

    Pairs are hashed level by level; an odd node out is carried up unchanged (no duplication, so no
    second-preimage trick with a repeated last leaf). Leaf and node hashes are domain-separated
    (0x00 / 0x01, as RFC 6962). Which side each sibling is on follows from the leaf's index and the tree
    size, so the path holds only hashes; `_root_from_path` shows the walk.
    """
    size = len(leaves)
    levels: list[list[bytes]] = [list(leaves)]
    while len(levels[-1]) > 1:
        level = levels[-1]
        nxt = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        levels.append(nxt)
    hexes = [[h.hex() for h in level] for level in levels[:-1]]
    paths: list[list[str]] = []
    for index in range(size):
        path: list[str] = []
        i = index
        for level_hex in hexes:
            sibling = i ^ 1
            if sibling < len(level_hex):
                path.append(level_hex[sibling])
            i >>= 1
        paths.append(path)
    return levels[-1][0], paths


def batch_statement(root_hex: str, size: int, key_id: str) -> bytes:
    """What a batch signature covers; the `type` keeps it from meaning anything else."""
    return canonical({"key_id": key_id, "root": root_hex, "size": size, "type": BATCH_STATEMENT_TYPE})


def _path_texts(leaves: Sequence[bytes]) -> tuple[str, list[str]]:
    """The root (hex) and, per leaf, its audit path as the inside of a JSON array (`"h1","h2",…`).

    Equal to `merkle_paths`, built from the top down instead of leaf by leaf: a node's path is its
    sibling's fragment followed by its parent's path, so each level costs one pass over its nodes.
    """
    levels: list[list[bytes]] = [list(leaves)]
    while len(levels[-1]) > 1:
        level = levels[-1]
        nxt = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        levels.append(nxt)
    above = [""]  # the root's path
    for level in reversed(levels[:-1]):
        width = len(level)
        hexes = [h.hex() for h in level]
        above = [(f'"{hexes[j ^ 1]}",' if j ^ 1 < width else "") + above[j >> 1] for j in range(width)]
    return levels[-1][0].hex(), [path[:-1] for path in above]


def _signature_blocks(texts: Sequence[str], signer: ReceiptSigner) -> list[str]:
    """The `signature` block (as canonical JSON text) for each unsigned receipt text.

    One receipt: Ed25519 over its text. Several: one Ed25519 signature over the batch statement naming
    the Merkle root; each block carries its leaf index, the tree size and the audit path.
    """
    key_id = _scalar(signer.key_id)
    if len(texts) == 1:
        value = b64(signer.sign(texts[0].encode("utf-8")))
        return ['{"alg":"Ed25519","key_id":' + key_id + ',"merkle":null,"value":"' + value + '"}']
    leaf_prefix = hashlib.sha256(b"\x00")
    leaves = []
    for text in texts:
        leaf = leaf_prefix.copy()
        leaf.update(text.encode("utf-8"))
        leaves.append(leaf.digest())
    root_hex, paths = _path_texts(leaves)
    size = len(texts)
    value = b64(signer.sign(batch_statement(root_hex, size, signer.key_id)))
    head = '{"alg":"Ed25519","key_id":' + key_id + ',"merkle":{"index":'
    tail = '],"root":"' + root_hex + '","size":' + str(size) + '},"value":"' + value + '"}'
    return [head + str(index) + ',"path":[' + path + tail for index, path in enumerate(paths)]


def sign_texts(texts: Sequence[str], signer: ReceiptSigner) -> list[str]:
    """Signed receipt texts: each unsigned text with its `signature` member added (still canonical JSON,
    since "signature" sorts after every other top-level key of a receipt)."""
    if not texts:
        return []
    return [
        t[:-1] + ',"signature":' + block + "}" for t, block in zip(texts, _signature_blocks(texts, signer), strict=True)
    ]


def sign_receipts(receipts: Sequence[dict[str, Any]], signer: ReceiptSigner) -> None:
    """Add the `signature` block to receipt dicts (direct for one, Merkle batch for several)."""
    if not receipts:
        return
    blocks = _signature_blocks([signed_bytes(r).decode("utf-8") for r in receipts], signer)
    for receipt, block in zip(receipts, blocks, strict=True):
        receipt["signature"] = json.loads(block)


def attach_checkpoint(
    receipt: dict[str, Any], *, stream: str, position: int, hash_: str, signed_at: datetime, key_id: str, signature: str
) -> None:
    """Attach the signed checkpoint that covers the receipt's ledger position (itself signed separately)."""
    receipt["checkpoint"] = {
        "stream": stream,
        "position": position,
        "hash": hash_,
        "signed_at": iso_time(signed_at),
        "key_id": key_id,
        "signature": signature,
    }


# ------------------------------------------------------------------------------------------ verification


@dataclass
class ReceiptCheck:
    """The outcome of checking one receipt; `problems` say what failed, in plain words."""

    signature_ok: bool = False
    checkpoint_present: bool = False
    checkpoint_ok: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.signature_ok and (self.checkpoint_ok or not self.checkpoint_present) and not self.problems


def _root_from_path(leaf: bytes, index: Any, size: Any, path: Any) -> bytes | None:
    """Walk from a leaf to the root; None if the path does not fit a tree of `size` leaves."""
    if not (isinstance(index, int) and isinstance(size, int) and isinstance(path, list)):
        return None
    if not 0 <= index < size or size > 2**32:
        return None
    current, i, width, steps = leaf, index, size, iter(path)
    while width > 1:
        sibling_index = i ^ 1
        if sibling_index < width:
            step = next(steps, None)
            if not isinstance(step, str):
                return None
            try:
                sibling = bytes.fromhex(step)
            except ValueError:
                return None
            if len(sibling) != 32:
                return None
            current = _node(sibling, current) if i & 1 else _node(current, sibling)
        i >>= 1
        width = (width + 1) // 2
    if next(steps, None) is not None:
        return None
    return current


@functools.lru_cache(maxsize=1024)
def _batch_signature_valid(public_key: str, root_hex: str, size: int, key_id: str, value: str) -> bool:
    """One Ed25519 check per batch, not per receipt: checking a directory of receipts from one batch (up to
    10,000) repeats the same statement and signature, and the check is a pure function of its arguments."""
    return verify_signature(public_key, batch_statement(root_hex, size, key_id), value)


def verify_receipt(receipt: Any, public_keys: Mapping[str, str]) -> ReceiptCheck:
    """Check a receipt offline against trusted public keys ({key_id: base64 raw key}).

    Checks the receipt signature (directly or through its Merkle path) and, if a checkpoint is attached,
    the checkpoint signature and that it covers the receipt's ledger position.
    """
    check = ReceiptCheck()
    if not isinstance(receipt, dict):
        check.problems.append("the file is not a JSON object")
        return check
    sig = receipt.get("signature")
    if not isinstance(sig, dict) or sig.get("alg") != ALGORITHM:
        check.problems.append("the receipt has no Ed25519 signature block")
        return check
    key_id = sig.get("key_id")
    public_key = public_keys.get(key_id) if isinstance(key_id, str) else None
    if public_key is None or not isinstance(key_id, str):
        check.problems.append(f"the receipt is signed with key {key_id!r}, which is not among the trusted keys")
        return check
    value = sig.get("value")
    if not isinstance(value, str):
        check.problems.append("the signature value is missing")
        return check
    try:
        body = signed_bytes(receipt)
    except (TypeError, ValueError):
        check.problems.append("the receipt cannot be serialised canonically")
        return check
    merkle = sig.get("merkle")
    if merkle is None:
        check.signature_ok = verify_signature(public_key, body, value)
    elif isinstance(merkle, dict):
        size = merkle.get("size")
        root = _root_from_path(_leaf(body), merkle.get("index"), size, merkle.get("path"))
        if root is None or not isinstance(size, int) or root.hex() != merkle.get("root"):
            check.problems.append("the receipt content does not match its Merkle path (it was altered)")
            return check
        check.signature_ok = _batch_signature_valid(public_key, root.hex(), size, key_id, value)
    if not check.signature_ok:
        check.problems.append("the signature does not match the receipt content (it was altered or forged)")
    checkpoint = receipt.get("checkpoint")
    if checkpoint is not None:
        check.checkpoint_present = True
        check.checkpoint_ok = _verify_checkpoint(checkpoint, receipt.get("ledger"), public_keys, check.problems)
    return check


def _verify_checkpoint(checkpoint: Any, ledger: Any, public_keys: Mapping[str, str], problems: list[str]) -> bool:
    try:
        stream = checkpoint["stream"]
        position = checkpoint["position"]
        hash_ = checkpoint["hash"]
        signed_at = checkpoint["signed_at"]
        key_id = checkpoint["key_id"]
        signature = checkpoint["signature"]
    except (KeyError, TypeError):
        problems.append("the checkpoint block is incomplete")
        return False
    key = public_keys.get(key_id) if isinstance(key_id, str) else None
    if key is None:
        problems.append(f"the checkpoint is signed with key {key_id!r}, which is not among the trusted keys")
        return False
    try:
        statement = checkpoint_statement(stream, position, hash_, signed_at, key_id)
    except (TypeError, ValueError):
        problems.append("the checkpoint block is malformed")
        return False
    if not verify_signature(key, statement, signature):
        problems.append("the checkpoint signature does not match (it was altered or forged)")
        return False
    if not isinstance(ledger, dict) or ledger.get("stream") != stream:
        problems.append("the checkpoint is for another ledger stream than the receipt")
        return False
    receipt_position = ledger.get("position")
    if not isinstance(receipt_position, int) or receipt_position > position:
        problems.append("the checkpoint does not cover the receipt's ledger position")
        return False
    if receipt_position == position and ledger.get("event_hash") != hash_:
        problems.append("the checkpoint hash differs from the receipt's event hash at the same position")
        return False
    return True

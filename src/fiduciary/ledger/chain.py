"""Pure ledger logic: canonical JSON, the payload guard, event hashes and checkpoint statements.

Nothing here touches a database, so an auditor can re-implement (or import) exactly this file to check a
ledger export or a consent receipt without trusting our database (DESIGN.md principle 3; DPDP Act s.6(10)
and GDPR Art 7(1) put the burden of proving consent on the fiduciary).

Canonical JSON is RFC 8785 (JCS) restricted to I-JSON integers: object keys sorted by UTF-16 code units,
no insignificant whitespace, UTF-8, strings escaped as ECMAScript's JSON.stringify does. Floats are refused
because their text form differs across platforms and libraries (`1e16` vs `1E+16`, `0.1` vs
`0.10000000000000001`), so a verifier on another stack could compute a different hash for the same event.
Integers are limited to ±(2**53 - 1) so JavaScript verifiers read them exactly.

An event's hash is SHA-256 over the canonical JSON of the object
`{"event_type", "payload", "position", "prev_hash", "recorded_at", "stream"}`; any JCS library reproduces it.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

GENESIS_HASH: Final = "0" * 64
MAX_SAFE_INTEGER: Final = 2**53 - 1
MAX_PAYLOAD_BYTES: Final = 64 * 1024
MAX_DEPTH: Final = 16
CHECKPOINT_STATEMENT_TYPE: Final = "fiduciary.ledger.checkpoint.v1"

STREAM_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
EVENT_TYPE_RE: Final = re.compile(r"[a-z][a-z0-9_.:-]{0,79}")
HASH_RE: Final = re.compile(r"[0-9a-f]{64}")
ISO_LENGTH: Final = len("2026-01-01T00:00:00.000000Z")

# Exact key names (lower-cased, '-' read as '_') that only ever hold a personal value. A tripwire against
# mistakes, not a data-loss-prevention system: payloads carry pseudonymous ids ("per_…", "vis_…") and
# references (purpose ids, notice hashes), never the values themselves, because the ledger can never be
# erased (DPDP s.8(7) erasure is done by crypto-shredding the vault, which must leave nothing behind here).
PERSONAL_KEYS: Final = frozenset(
    {
        "email",
        "e_mail",
        "email_address",
        "phone",
        "phone_number",
        "mobile",
        "mobile_number",
        "name",
        "first_name",
        "last_name",
        "full_name",
        "given_name",
        "family_name",
        "ip",
        "ip_address",
        "address",
        "postal_address",
        "street",
        "dob",
        "date_of_birth",
        "birth_date",
        "password",
        "aadhaar",
        "pan",
        "ssn",
    }
)
_EMAIL_VALUE_RE: Final = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


class LedgerPayloadError(ValueError):
    """A payload the ledger refuses; the message names the offending path, never the value."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"ledger payload {path}: {reason}")


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


_personal_verdicts: dict[str, bool] = {}  # key name -> refused; payload keys repeat, so this stays small


def _is_personal(key: str) -> bool:
    verdict = _personal_verdicts.get(key)
    if verdict is None:
        verdict = key.lower().replace("-", "_") in PERSONAL_KEYS
        if len(_personal_verdicts) < 10_000:
            _personal_verdicts[key] = verdict
    return verdict


def _check_str(value: str) -> None:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise LedgerPayloadError("", "string is not valid Unicode (lone surrogate)") from None
    if "@" in value and _EMAIL_VALUE_RE.search(value):
        raise LedgerPayloadError("", "looks like an email address; store a pseudonymous id instead")


def _normalise(value: Any, depth: int) -> Any:
    """Check one JSON value and return it with every object's keys in JCS order.

    Errors carry the path below `value` and gain a segment per level on the way up, so the happy path
    (every append) never formats a path string.
    """
    if depth > MAX_DEPTH:
        raise LedgerPayloadError("", f"nested deeper than {MAX_DEPTH} levels")
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        _check_str(value)
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise LedgerPayloadError("", "integer outside ±(2**53 - 1); store it as a string")
        return value
    if isinstance(value, float):
        raise LedgerPayloadError(
            "",
            "floats (and NaN/Infinity) are refused: their text form differs across platforms; use an int or a string",
        )
    if isinstance(value, Mapping):
        items: list[tuple[str, Any]] = []
        ascii_keys = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise LedgerPayloadError("", f"object keys must be strings, got {type(key).__name__}")
            if _is_personal(key):
                raise LedgerPayloadError(
                    f".{key}", f"key '{key}' would hold a personal value; ledger payloads carry pseudonymous ids only"
                )
            try:
                items.append((key, _normalise(item, depth + 1)))
            except LedgerPayloadError as exc:
                raise LedgerPayloadError(f".{key}{exc.path}", exc.reason) from None
            ascii_keys = ascii_keys and key.isascii()
        # For ASCII keys code-point order is UTF-16 order; otherwise sort as RFC 8785 says.
        items.sort(key=(lambda kv: kv[0]) if ascii_keys else (lambda kv: _utf16_key(kv[0])))
        return dict(items)
    if isinstance(value, list | tuple):
        result = []
        for index, item in enumerate(value):
            try:
                result.append(_normalise(item, depth + 1))
            except LedgerPayloadError as exc:
                raise LedgerPayloadError(f"[{index}]{exc.path}", exc.reason) from None
        return result
    raise LedgerPayloadError("", f"{type(value).__name__} is not a JSON value; use a string, int, bool, list or object")


def _checked_canonical(value: Any, path: str) -> str:
    """The careful path: walk and normalise every value, naming the path of the first problem."""
    try:
        normalised = _normalise(value, 0)
    except LedgerPayloadError as exc:
        raise LedgerPayloadError(f"{path}{exc.path}", exc.reason) from None
    return json.dumps(normalised, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


# -- the fast path --------------------------------------------------------------------------------------
#
# Every append canonicalises its payload, and walking it value by value in Python was half the cost of an
# append. The fast path proves, with C-level operations where possible, that the careful path would accept
# the value and produce exactly what the C JSON encoder produces with sorted keys; anything it cannot prove
# (an unseen or non-ASCII key, a float, an '@' anywhere, a non-ASCII character, an unusual type, deep
# nesting) goes to the careful path, which gives the same text or names the problem. Why the proof holds:
# - keys: every key is in `_SAFE_KEYS`, so it is an ASCII `str` the careful path accepted as not personal;
#   for ASCII keys Python's code-point sort equals RFC 8785's UTF-16 sort, so `sort_keys` gives JCS order;
# - values: exactly `str`, `int` within ±(2**53 - 1), `bool`, `None`, or `dict`/`list`/`tuple` of those
#   (checked by exact type, so no subclass can change how the encoder prints it); no floats ever;
# - strings: the text is ASCII (no lone surrogate possible) and holds no '@' (no email-looking value);
#   escaping is the C encoder's, the same as the careful path's `json.dumps`;
# - size: an ASCII text is as long in UTF-8 bytes as in characters.
#
# Flat payloads (the common case: consent and audit events) go faster still through a shape cache: once a
# payload with some keys (in insertion order) and value types has passed the checks above, its canonical
# text is a `%` format with the keys already in JCS order; the next payload with the same keys and the
# same exact value types only has its values encoded (strings by the C encoder, ints checked for range)
# and spliced in, then passes the same '@' / ASCII / size checks on the whole text.

_SAFE_KEYS: set[str] = set()  # keys the careful path accepted: ASCII str, not personal
_SAFE_KEYS_MAX = 10_000
_SCALAR_TYPES: Final = frozenset({str, bool, type(None)})
_FLAT_TYPES: Final = frozenset({str, int, bool, type(None)})
_ENCODE_SORTED: Final = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
).encode


def _learn_keys(value: Any) -> None:
    """Remember the keys of an accepted payload (at every depth) so the next one of its shape is fast."""
    if len(_SAFE_KEYS) >= _SAFE_KEYS_MAX:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if type(key) is str and key.isascii() and not _is_personal(key):
                _SAFE_KEYS.add(key)
            _learn_keys(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _learn_keys(item)


def _plain_values(value: dict[Any, Any] | list[Any] | tuple[Any, ...], depth: int) -> bool:
    """True if every value inside `value` (an object or array at `depth`) passes the fast checks."""
    if depth >= MAX_DEPTH:
        return False
    items = value.values() if type(value) is dict else value
    types = set(map(type, items))
    if types <= _SCALAR_TYPES:
        return True
    for item in items:
        kind = type(item)
        if kind is int:
            if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                return False
        elif kind is dict:
            if not (item.keys() <= _SAFE_KEYS and _plain_values(item, depth + 1)):
                return False
        elif kind is list or kind is tuple:
            if not _plain_values(item, depth + 1):
                return False
        elif kind not in _SCALAR_TYPES:
            return False
    return True


_encode_str: Callable[[str], str] = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.encode_basestring


class _FlatShape:
    """The canonical text of a flat payload with given keys and value types, as a `%` format."""

    __slots__ = ("bools", "fmt", "ints", "pick", "strs")

    def __init__(self, keys: tuple[str, ...], types: tuple[type, ...]) -> None:
        members: list[str] = []
        picked: list[int] = []
        kinds: list[type] = []
        for index in sorted(range(len(keys)), key=keys.__getitem__):  # ASCII keys: code-point order is JCS
            name = _encode_str(keys[index]).replace("%", "%%")  # a key may hold '"', '\\' or '%'
            if types[index] is type(None):
                members.append(name + ":null")
            else:
                members.append(name + ":%s")
                picked.append(index)
                kinds.append(types[index])
        self.fmt = "{" + ",".join(members) + "}"
        self.pick: Callable[[tuple[Any, ...]], Any] = (
            operator.itemgetter(*picked) if len(picked) > 1 else (lambda values: tuple(values[i] for i in picked))
        )
        self.strs = tuple(i for i, kind in enumerate(kinds) if kind is str)
        self.ints = tuple(i for i, kind in enumerate(kinds) if kind is int)
        self.bools = tuple(i for i, kind in enumerate(kinds) if kind is bool)

    def render(self, values: tuple[Any, ...]) -> str | None:
        out = list(self.pick(values))
        encode = _encode_str
        for i in self.strs:
            out[i] = encode(out[i])
        for i in self.ints:
            if not -MAX_SAFE_INTEGER <= out[i] <= MAX_SAFE_INTEGER:
                return None
        for i in self.bools:
            out[i] = "true" if out[i] else "false"
        text: str = self.fmt % tuple(out)
        return text


_SHAPES: dict[tuple[tuple[Any, ...], tuple[type, ...]], _FlatShape] = {}
_SHAPES_MAX = 2_000


def fast_canonical(value: Any) -> str | None:
    """Canonical JSON of a payload object if the fast checks prove it acceptable, else None.

    None means "take the careful path", never "refused".
    """
    if type(value) is not dict:
        return None
    values = tuple(value.values())
    types = tuple(map(type, values))
    shape = _SHAPES.get((tuple(value), types))
    if shape is not None:
        text = shape.render(values)
    else:
        if not value.keys() <= _SAFE_KEYS or not _plain_values(value, 1):
            return None
        text = _ENCODE_SORTED(value)
        if len(_SHAPES) < _SHAPES_MAX and set(types) <= _FLAT_TYPES:
            keys = tuple(value)
            _SHAPES[(keys, types)] = _FlatShape(keys, types)
    if text is None or "@" in text or not text.isascii() or len(text) > MAX_PAYLOAD_BYTES:
        return None
    return text


def canonical_json(value: Any, *, path: str = "payload") -> str:
    """RFC 8785 canonical JSON of `value` after the ledger's checks (no floats, no personal keys)."""
    if type(value) is dict:
        text = fast_canonical(value)
        if text is not None:
            return text
        text = _checked_canonical(value, path)
        _learn_keys(value)
        return text
    return _checked_canonical(value, path)


def canonical_payload(payload: Mapping[str, Any]) -> str:
    """The stored and hashed text of a payload; refuses anything that is not a small JSON object."""
    text = fast_canonical(payload)
    if text is not None:
        return text
    if not isinstance(payload, Mapping):
        raise LedgerPayloadError("payload", "must be an object (a mapping of string keys)")
    text = _checked_canonical(payload, "payload")
    if len(text.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        raise LedgerPayloadError("payload", f"larger than {MAX_PAYLOAD_BYTES} bytes; store a reference instead")
    _learn_keys(payload)
    return text


def check_stream(stream: str) -> str:
    if not isinstance(stream, str) or not STREAM_RE.fullmatch(stream):
        raise ValueError("ledger stream must match [a-z][a-z0-9_]{0,31}")
    return stream


def check_event_type(event_type: str) -> str:
    if not isinstance(event_type, str) or not EVENT_TYPE_RE.fullmatch(event_type):
        raise ValueError("ledger event_type must match [a-z][a-z0-9_.:-]{0,79}, e.g. 'consent.granted'")
    return event_type


def iso_utc(moment: datetime) -> str:
    """The one text form of a timestamp inside hashes: UTC, microseconds, 'Z' (27 characters)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are not recorded; pass an aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_preimage(
    stream: str, position: int, event_type: str, recorded_at: str, payload_json: str, prev_hash: str
) -> bytes:
    """The bytes an event hash covers: the JCS form of the event object, built by formatting for speed.

    Formatting equals JCS only because `stream` and `event_type` match their patterns (no character
    needs escaping), `payload_json` is already canonical, and `recorded_at` is `iso_utc` text.
    `ChainWalker` checks stored values against those shapes, so two different rows never share a
    preimage. Keep in step with the copy inlined in `ChainWalker.walk`.
    """
    return (
        f'{{"event_type":"{event_type}","payload":{payload_json},"position":{position},'
        f'"prev_hash":"{prev_hash}","recorded_at":"{recorded_at}","stream":"{stream}"}}'
    ).encode()


def event_hash(stream: str, position: int, event_type: str, recorded_at: str, payload_json: str, prev_hash: str) -> str:
    return hashlib.sha256(
        event_preimage(stream, position, event_type, recorded_at, payload_json, prev_hash)
    ).hexdigest()


def checkpoint_statement(stream: str, position: int, hash_: str, signed_at: str, key_id: str) -> bytes:
    """What a checkpoint signature covers. The `type` field keeps it from ever meaning anything else."""
    return canonical_json(
        {
            "hash": hash_,
            "key_id": key_id,
            "position": position,
            "signed_at": signed_at,
            "stream": stream,
            "type": CHECKPOINT_STATEMENT_TYPE,
        },
        path="statement",
    ).encode()


@dataclass(frozen=True)
class ChainProblem:
    position: int
    problem: str


EventRow = tuple[int, str, str, str, str, str]  # position, event_type, recorded_at (iso_utc), payload, prev, hash


class ChainWalker:
    """Checks events in position order, each against the one before.

    Kept apart from the database so the same code checks a database stream, an export file or the slice
    of a stream that proves one receipt. After a problem the walker must not be fed again.
    """

    __slots__ = ("_known_types", "events", "last_hash", "last_position", "stream")

    def __init__(self, stream: str, *, after_position: int = 0, after_hash: str = GENESIS_HASH) -> None:
        self.stream = check_stream(stream)
        self.last_position = after_position
        self.last_hash = after_hash
        self.events = 0
        self._known_types: set[str] = set()

    def feed(
        self, position: int, event_type: str, recorded_at: str, payload_json: str, prev_hash: str, hash_: str
    ) -> ChainProblem | None:
        return self.walk([(position, event_type, recorded_at, payload_json, prev_hash, hash_)])

    def walk(
        self,
        rows: Iterable[EventRow],
        watch: Container[int] = (),
        on_watch: Callable[[int, str], ChainProblem | None] | None = None,
    ) -> ChainProblem | None:
        """Check `rows`; return the first problem, else None. `on_watch(position, hash)` runs after each
        good event whose position is in `watch` (checkpoint positions), and may report a problem.

        This loop is the verifier's hot path (target: 100,000 events/s), hence the local names and the
        inlined preimage.
        """
        stream = self.stream
        sha256 = hashlib.sha256
        known = self._known_types
        last_position, last_hash, count = self.last_position, self.last_hash, self.events
        try:
            for position, event_type, recorded_at, payload, prev_hash, hash_ in rows:
                if position != last_position + 1:
                    expected = last_position + 1
                    if position > expected:
                        missing = f"{expected}" if position == expected + 1 else f"{expected}..{position - 1}"
                        return ChainProblem(expected, f"position {missing} missing (next stored event is {position})")
                    return ChainProblem(position, f"position {position} out of order after {last_position}")
                if prev_hash != last_hash:
                    return ChainProblem(
                        position, f"prev_hash at position {position} does not match the hash of {position - 1}"
                    )
                if event_type not in known:
                    if not EVENT_TYPE_RE.fullmatch(event_type):
                        return ChainProblem(position, f"event type at position {position} is malformed")
                    known.add(event_type)
                if len(recorded_at) != ISO_LENGTH or payload[:1] != "{" or payload[-1:] != "}":
                    return ChainProblem(position, f"time or payload at position {position} is malformed")
                digest = sha256(
                    f'{{"event_type":"{event_type}","payload":{payload},"position":{position},'
                    f'"prev_hash":"{prev_hash}","recorded_at":"{recorded_at}","stream":"{stream}"}}'.encode()
                ).hexdigest()
                if digest != hash_:
                    return ChainProblem(position, f"hash at position {position} does not match its content")
                last_position, last_hash = position, hash_
                count += 1
                if on_watch is not None and position in watch:
                    problem = on_watch(position, hash_)
                    if problem is not None:
                        return problem
            return None
        finally:
            self.last_position, self.last_hash, self.events = last_position, last_hash, count

"""Canonical bytes and content hash of a policy document.

A published version is identified by the hash of what it says, not of how the YAML was typed: two files
that differ only in key order, whitespace, comments, quoting or an explicitly written default produce the
same document and therefore the same hash. This is what lets a consent record cite a notice version that
anyone can later re-derive (ISO/IEC 29184 5.2.9 "ongoing reference"; DPDP s.6(10) burden of proof).

The canonical form is the JSON serialisation of the validated document (`model_dump(mode="json")`), with
keys sorted, no insignificant whitespace and UTF-8 (no `\\u` escapes for non-ASCII text). List order is
kept: the order of purposes or categories is part of the notice a person reads.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fiduciary.policy.schema import PolicyDocument

HASH_PREFIX = "sha256:"


def canonical_data(document: PolicyDocument) -> dict[str, Any]:
    """The JSON-compatible form that is stored, hashed and served."""
    data: dict[str, Any] = document.model_dump(mode="json")
    return data


def canonical_bytes(data: Any) -> bytes:
    """Deterministic JSON bytes of already JSON-compatible data."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def canonical_json(document: PolicyDocument) -> bytes:
    return canonical_bytes(canonical_data(document))


def content_hash(document: PolicyDocument) -> str:
    """`sha256:<64 hex>` of the canonical JSON."""
    return HASH_PREFIX + hashlib.sha256(canonical_json(document)).hexdigest()

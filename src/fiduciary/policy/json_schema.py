"""The policy's JSON Schema, for editors that check YAML as it is typed (`fiduciary policy schema`)."""

from __future__ import annotations

import json
import re
from enum import Enum
from typing import Any

from fiduciary.policy import schema as policy_schema
from fiduciary.policy.enum_notes import enum_notes
from fiduciary.policy.schema import PolicyDocument


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


_UNIT_PATTERN = "|".join(
    _any_case(u)
    for u in (
        "business days",
        "business day",
        "business_days",
        "bd",
        "minutes",
        "minute",
        "mins",
        "min",
        "hours",
        "hour",
        "h",
        "days",
        "day",
        "d",
        "weeks",
        "week",
        "w",
        "months",
        "month",
        "mo",
        "years",
        "year",
        "y",
    )
)
DURATION_PATTERN = rf"^\s*([0-9]+\s*({_UNIT_PATTERN})|[pP]([0-9]+[yYmMwWdD]|[tT][0-9]+[hHmM]))\s*$"
"""What `Duration` accepts as text, for editors that check YAML against the JSON Schema."""


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of the policy file, as published in docs/policy-schema.json.

    Pydantic describes `Duration` by its parsed form ({amount, unit}); authors write text such as `30d`,
    so the published schema accepts that text too, or an editor would flag every duration as invalid.
    """
    schema = PolicyDocument.model_json_schema()
    definitions = schema.get("$defs", {})
    parsed = definitions.get("Duration")
    if parsed is not None:
        definitions["Duration"] = {
            "title": "Duration",
            "description": "A positive length of time in one unit, at most 100 years: '30d', '6h', '2 weeks', "
            "'13mo', '1y', '10 business days', '30min', or ISO 8601 with one unit ('P1Y', 'PT6H', 'PT30M').",
            "examples": ["30d", "48h", "30min", "10 business days", "1y", "P1Y", "PT30M"],
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {key: value for key, value in parsed.items() if key not in ("title", "description")},
            ],
        }
    _describe_enum_values(definitions)
    return schema


def _describe_enum_values(definitions: dict[str, Any]) -> None:
    """Each enumeration's notes as `enumDescriptions` (read by editors' YAML and JSON support), in the order
    of its values, so the note of `contract` shows against `contract` (issue 12)."""
    for name, definition in definitions.items():
        enum = getattr(policy_schema, name, None)
        if not (isinstance(enum, type) and issubclass(enum, Enum)) or "enum" not in definition:
            continue
        notes = enum_notes(enum)
        if notes:
            definition["enumDescriptions"] = [notes.get(str(value), "") for value in definition["enum"]]


def policy_json_schema_text() -> str:
    """The schema as committed: sorted keys, two-space indent, final newline."""
    return json.dumps(policy_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

"""Generate docs/policy-schema.json and docs/policy-reference.md from the policy schema classes.

The reference is written by walking the Pydantic models, so it cannot drift from the code:
tests/policy/test_policy_docs.py fails when the committed files differ from what this script writes now.

    .venv/bin/python scripts/gen_policy_docs.py          # rewrite both files
    .venv/bin/python scripts/gen_policy_docs.py --check  # exit 1 if either file is out of date
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import sys
import types
import typing
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic import AnyUrl, BaseModel, EmailStr, StringConstraints
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from fiduciary.policy.checks import CHECKS
from fiduciary.policy.duration import _UNIT_WORDS, Duration, DurationUnit
from fiduciary.policy.enum_notes import enum_notes
from fiduciary.policy.loader import MAX_POLICY_BYTES, policy_json_schema_text
from fiduciary.policy.schema import PolicyDocument

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "docs" / "policy-schema.json"
REFERENCE_PATH = ROOT / "docs" / "policy-reference.md"

_NAMED_PATTERNS = {
    r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$": "[id](#ids)",
    r"^[A-Z]{2}$": "country code (ISO 3166, e.g. `IN`)",
    r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$": "language tag (e.g. `en`, `hi-IN`)",
    r"^[a-z_]+(\.[a-z_]+)*$": "fideslang category (e.g. `user.contact.email`)",
}


def _anchor(name: str) -> str:
    return name.lower()


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel) and tp is not Duration


def _is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Enum)


def _constraints(metadata: list[Any]) -> tuple[str | None, list[str]]:
    """A name for a constrained string (from its pattern) and the remaining constraints in words."""
    name = None
    words: list[str] = []
    for item in metadata:
        if isinstance(item, StringConstraints):
            if item.pattern is not None:
                name = _NAMED_PATTERNS.get(str(item.pattern), f"text matching `{item.pattern}`")
            elif item.max_length is not None:
                name = "text" if item.max_length <= 300 else "long text"
                words.append(f"at most {item.max_length} characters")
        elif isinstance(item, annotated_types.MinLen) and item.min_length:
            words.append(f"at least {item.min_length}")
        elif isinstance(item, annotated_types.Ge):
            words.append(f"{item.ge} or more")
        elif isinstance(item, annotated_types.Le):
            words.append(f"{item.le} or less")
    return name, words


def describe_type(tp: Any, metadata: list[Any] | None = None) -> str:
    """The type of a key in words, with links to the sections of models and enumerations."""
    metadata = list(metadata or [])
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        args = typing.get_args(tp)
        return describe_type(args[0], [*args[1:], *metadata])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(describe_type(m, metadata if len(members) == 1 else None) for m in members)
    named, words = _constraints(metadata)
    suffix = f" ({', '.join(words)})" if words else ""
    if origin is list:
        return f"list of {describe_type(typing.get_args(tp)[0])}{suffix}"
    if origin is dict:
        key, value = typing.get_args(tp)
        return f"map of {describe_type(key)} to {describe_type(value)}{suffix}"
    if origin is Literal:
        return " or ".join(f"`{a}`" for a in typing.get_args(tp))
    if tp is Duration:
        return "[duration](#durations)"
    if _is_model(tp) or _is_enum(tp):
        return f"[{tp.__name__}](#{_anchor(tp.__name__)})"
    if tp is str:
        if named and words and named in ("text", "long text"):
            return named
        return (named or "text") + suffix
    simple = {bool: "true or false", int: "whole number", dt.date: "date (YYYY-MM-DD)", AnyUrl: "URL"}
    if tp in simple:
        return simple[tp] + suffix
    if tp is EmailStr:
        return "email address"
    return getattr(tp, "__name__", str(tp)) + suffix


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return ""
    value = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
    if value is None or value is PydanticUndefined:
        return "—"
    if isinstance(value, BaseModel):
        return "the defaults below"
    if isinstance(value, list):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Enum):
        return f"`{value.value}`"
    return f"`{value}`"


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ").strip()


def _own_doc(cls: type) -> str:
    doc = cls.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""


def _model_order() -> tuple[list[type[BaseModel]], dict[type[BaseModel], list[str]], list[type[Enum]]]:
    """Models in the order a reader meets them walking the document, where each appears, and enums."""
    models: list[type[BaseModel]] = []
    paths: dict[type[BaseModel], list[str]] = {}
    enums: list[type[Enum]] = []

    def visit_type(tp: Any, path: str) -> None:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            visit_type(typing.get_args(tp)[0], path)
        elif origin in (typing.Union, types.UnionType):
            for member in typing.get_args(tp):
                visit_type(member, path)
        elif origin is list:
            visit_type(typing.get_args(tp)[0], path + "[]")
        elif origin is dict:  # e.g. grounds_by_jurisdiction: {EU: {...}}
            key, value = typing.get_args(tp)
            visit_type(key, path)
            visit_type(value, path + ".<key>")
        elif _is_enum(tp):
            if tp not in enums:
                enums.append(tp)
        elif _is_model(tp):
            paths.setdefault(tp, []).append(path)
            if tp not in models:
                models.append(tp)
            for name, info in tp.model_fields.items():  # every path, not only the first: models nest finitely
                visit_type(info.annotation, f"{path}.{name}" if path else name)

    visit_type(PolicyDocument, "")
    enums.append(DurationUnit)
    return models, paths, enums


_enum_comments = enum_notes  # one parser for the reference and the JSON Schema


def _field_table(model: type[BaseModel]) -> list[str]:
    lines = ["| key | type | required | default | description |", "|---|---|---|---|---|"]
    for name, info in model.model_fields.items():
        required = "**yes**" if info.is_required() else "no"
        kind = describe_type(info.annotation, info.metadata)
        lines.append(f"| `{name}` | {_cell(kind)} | {required} | {_cell(_default(info))} | {_cell(info.description)} |")
    return lines


def _duration_rows() -> list[str]:
    """The unit words `parse_duration` accepts, read from its table so the reference cannot drift."""
    examples = {
        DurationUnit.MINUTES: "30min",
        DurationUnit.HOURS: "48h",
        DurationUnit.DAYS: "30d",
        DurationUnit.BUSINESS_DAYS: "10 business days",
        DurationUnit.WEEKS: "2w",
        DurationUnit.MONTHS: "13mo",
        DurationUnit.YEARS: "8y",
    }
    rows = []
    for unit in DurationUnit:
        words = ", ".join(f"`{w}`" for w, u in _UNIT_WORDS.items() if u is unit)
        rows.append(f"| {unit.value.replace('_', ' ')} | {words} | `{examples.get(unit, '')}` |")
    return rows


def render_reference() -> str:
    models, paths, enums = _model_order()
    out: list[str] = [
        "# Policy file reference",
        "",
        "<!-- Generated by scripts/gen_policy_docs.py from src/fiduciary/policy/schema.py. Do not edit by hand:",
        "     change the schema and run `.venv/bin/python scripts/gen_policy_docs.py`. -->",
        "",
        "A policy file is one YAML document (UTF-8, at most "
        f"{MAX_POLICY_BYTES // 1024 // 1024} MiB) that declares what a store collects, why, on which legal "
        "ground, who receives it, how long it is kept and what customers may do about it. Check a file with "
        "`fiduciary policy check FILE`; the JSON Schema is in [policy-schema.json](policy-schema.json) "
        "(`fiduciary policy schema`) for editors that validate YAML.",
        "",
        "Unknown keys are errors (a misspelt key would otherwise silently drop a promise); the checker "
        "suggests the key you probably meant. Keys not marked required may be left out.",
        "",
        "## Contents",
        "",
    ]
    out += [f"- [{m.__name__}](#{_anchor(m.__name__)})" for m in models]
    out += ["- [Ids](#ids)", "- [Durations](#durations)", "- [Enumerations](#enumerations)", "- [Checks](#checks)"]
    for model in models:
        out += ["", f"## {model.__name__}", ""]
        doc = _own_doc(model)
        if doc:
            out += [doc, ""]
        where = paths[model]
        if where != [""]:
            shown = ", ".join(f"`{p}`" for p in sorted(set(where), key=where.index))
            out += [f"Appears at: {shown}", ""]
        out += _field_table(model)
    out += [
        "",
        "## Ids",
        "",
        "Ids name categories, purposes, recipients and retention rules; they are what the API, the consent "
        "ledger and the decisions refer to. An id is lower-case letters, digits and underscores, with dots "
        "between parts to group related entries: `contact.email`, `marketing.sms`. It starts with a letter "
        "and is at most 80 characters.",
        "",
        "## Durations",
        "",
        "A duration is a positive length of time in one unit, written as text:",
        "",
        "| unit | write | example |",
        "|---|---|---|",
        *_duration_rows(),
        "",
        "ISO 8601 with a single unit is accepted too (`P2Y`, `P30D`, `PT6H`, `PT30M`). A duration must be longer "
        "than zero and at most 100 years; `0d`, `0min`, `PT0S`, `-3d`, `5000y` and `3 fortnights` are refused, and "
        "so is `5m`, which could mean minutes or months (write `5min` or `5mo`). Months and years "
        "are calendar lengths (one month runs to the same date next month); business days skip the weekend "
        "and holidays of the [BusinessCalendar](#businesscalendar).",
        "",
        "## Enumerations",
    ]
    for enum in enums:
        out += ["", f"### {enum.__name__}", ""]
        doc = _own_doc(enum)
        if doc:
            out += [doc, ""]
        comments = _enum_comments(enum)
        out += ["| value | note |", "|---|---|"]
        out += [f"| `{member.value}` | {_cell(comments.get(str(member.value), ''))} |" for member in enum]
    out += [
        "",
        "## Checks",
        "",
        "Beyond the shape of each value, `fiduciary policy check` relates the sections to each other and to "
        "the law of the declared jurisdictions. Each problem names its line and a way to fix it. Errors stop "
        "the policy from loading; warnings do not (use `--strict` to fail on them in CI).",
        "",
        "| code | what it checks |",
        "|---|---|",
    ]
    for code, func in CHECKS:
        summary = inspect.getdoc(func) or ""
        out.append(f"| `{code}` | {_cell(summary.split(chr(10) + chr(10))[0])} |")
    return "\n".join(out) + "\n"


def render_schema() -> str:
    return policy_json_schema_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the policy schema reference.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files are out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, text in ((SCHEMA_PATH, render_schema()), (REFERENCE_PATH, render_reference())):
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())

"""Pydantic validation errors and `policy.checks` findings as `PolicyProblem`s a store owner can act on.

Each error is mapped back to the line it concerns, said in plain words (the allowed values, the expected
kind, the pattern), and given a "did you mean" hint where a key or identifier is misspelt.
"""

from __future__ import annotations

import datetime as dt
import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import replace
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from fiduciary.policy.checks import Finding, NodePath, format_path
from fiduciary.policy.problems import (
    PolicyProblem,
    PositionIndex,
)
from fiduciary.policy.schema import PolicyDocument


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional so the remaining type says what the value may be."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _members(tp: Any) -> list[Any]:
    tp = _unwrap(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [_unwrap(a) for a in typing.get_args(tp) if a is not type(None)]
    return [tp]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _walk(loc: Sequence[int | str]) -> tuple[NodePath, list[Any]]:
    """Follow a Pydantic error location through the model classes.

    Returns the location without union member tags (which are not in the file) and the type found at
    each step, so a hint can name the keys or values allowed there.
    """
    path: list[str | int] = []
    found: list[Any] = [PolicyDocument]
    tp: Any = PolicyDocument
    for part in loc:
        members = _members(tp) if tp is not None else []
        if isinstance(part, int):
            lists = [m for m in members if typing.get_origin(m) is list]
            tp = typing.get_args(lists[0])[0] if lists else None
            path.append(part)
            found.append(tp)
            continue
        models = [m for m in members if _is_model(m) and part in m.model_fields]
        if models:
            tp = models[0].model_fields[part].annotation
            path.append(part)
            found.append(tp)
            continue
        if len(members) > 1:  # a union member tag such as "literal['session']": not part of the file
            named = [m for m in members if getattr(m, "__name__", None) and m.__name__ in part]
            tp = named[0] if named else None
            continue
        path.append(part)
        tp = None
        found.append(tp)
    return tuple(path), found


def _allowed_values(tp: Any) -> list[str]:
    values: list[str] = []
    for member in _members(tp):
        if isinstance(member, type) and issubclass(member, Enum):
            values.extend(str(e.value) for e in member)
        elif typing.get_origin(member) is Literal:
            values.extend(str(a) for a in typing.get_args(member))
    return values


def _model_keys(tp: Any) -> list[str]:
    return [name for m in _members(tp) if _is_model(m) for name in m.model_fields]


def _did_you_mean(word: str, options: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    if not close and word.lower() != word:
        close = difflib.get_close_matches(word.lower(), list(options), n=1, cutoff=0.6)
    return close[0] if close else None


def _show(value: Any) -> str:
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return repr(text)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "an empty value"
    return repr(value) if not isinstance(value, dt.date) else value.isoformat()


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, dt.date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"text ({_show(value)})"


_PATTERN_TEXT = {
    r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$": (
        "is not a valid id",
        "ids are lower-case letters, digits and underscores, with dots between parts, e.g. 'contact.email'",
    ),
    r"^[A-Z]{2}$": ("is not a two-letter country code", "write the ISO 3166 code in capitals, e.g. 'IN' or 'US'"),
    r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$": ("is not a language tag", "write e.g. 'en', 'hi' or 'en-IN'"),
    r"^[a-z_]+(\.[a-z_]+)*$": ("is not a fideslang category", "write e.g. 'user.contact.email'"),
}


def _describe_error(err: Any, found: list[Any], key: str) -> tuple[str, str | None]:
    kind: str = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    here = found[-1] if found else None
    if kind == "missing":
        parent_fields = _members(found[-2]) if len(found) >= 2 else []
        description = next(
            (m.model_fields[key].description for m in parent_fields if _is_model(m) and key in m.model_fields),
            None,
        )
        what = "section" if len(found) == 2 else "key"
        return f"missing required {what} '{key}'", description
    if kind == "extra_forbidden":
        options = _model_keys(found[-2]) if len(found) >= 2 else []
        guess = _did_you_mean(key, options)
        if guess:
            return f"unknown key '{key}'", f"did you mean '{guess}'?"
        listed = ", ".join(options)
        return f"unknown key '{key}'", f"the keys allowed here are: {listed}" if listed else None
    if kind in ("literal_error", "enum"):
        options = _allowed_values(here) or [ctx.get("expected", "")]
        guess = _did_you_mean(str(value), options) if isinstance(value, str) else None
        listed = ", ".join(f"'{o}'" for o in options)
        message = f"{_show(value)} is not allowed here; expected one of: {listed}"
        return message, f"did you mean '{guess}'?" if guess else None
    if kind == "value_error":
        message = str(err["msg"]).removeprefix("Value error, ")
        for splitter in ("; write ", "; use "):
            if splitter in message:
                head, tail = message.split(splitter, 1)
                return head, splitter[2:] + tail
        return message, None
    if kind in ("string_type", "str_type"):
        hint = "put the value in quotes" if isinstance(value, bool | int | float | dt.date) else None
        return f"expected text, got {_kind(value)}", hint
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {_kind(value)}", None
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {_kind(value)}", None
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of keys (key: value lines), got {_kind(value)}", None
    if kind == "list_type":
        return f"expected a list, got {_kind(value)}", "write [a, b] or one '- item' per line"
    if kind == "too_short":
        need = ctx.get("min_length", 1)
        return f"needs at least {need} item{'s' if need != 1 else ''}", None
    if kind == "too_long":
        return f"has more than {ctx.get('max_length')} items", None
    if kind == "string_too_short":
        return "must not be empty", None
    if kind == "string_too_long":
        return f"is longer than {ctx.get('max_length')} characters", "shorten it"
    if kind == "string_pattern_mismatch":
        message, hint = _PATTERN_TEXT.get(str(ctx.get("pattern")), ("does not have the expected form", None))
        return f"{_show(value)} {message}", hint
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        words = {
            "greater_than_equal": "at least",
            "greater_than": "more than",
            "less_than_equal": "at most",
            "less_than": "less than",
        }
        limit = next(iter(ctx.values()), "")
        return f"must be {words[kind]} {limit} (got {_show(value)})", None
    if kind.startswith("url"):
        return f"{_show(value)} is not a valid URL", "write the full address, e.g. https://example.com/privacy"
    if kind.startswith("date"):
        return f"{_show(value)} is not a valid date", "write dates as YYYY-MM-DD, e.g. 2027-01-26"
    return str(err["msg"]), None


def schema_problems(exc: ValidationError, positions: PositionIndex, filename: str) -> list[PolicyProblem]:
    grouped: dict[NodePath, list[tuple[Any, list[Any]]]] = {}
    for err in exc.errors(include_url=False):
        path, found = _walk(err["loc"])
        grouped.setdefault(path, []).append((err, found))
    problems = []
    for path, errs in grouped.items():
        # A union (e.g. `Duration | 'session'`) fails once per member: report the most specific failure and
        # name the literal alternatives in the hint. When the value was a mapping meant for the model member,
        # its own errors are deeper; the "expected 'session'" alternative is then only noise.
        only_union_literals = all(e["type"] == "literal_error" and len(e["loc"]) > len(path) for e, _ in errs)
        if only_union_literals and any(len(other) > len(path) and other[: len(path)] == path for other in grouped):
            continue
        primary = next(((e, f) for e, f in errs if e["type"] != "literal_error"), errs[0])
        err, found = primary
        key = str(path[-1]) if path else ""
        message, hint = _describe_error(err, found, key)
        if len(errs) > 1 and primary[0]["type"] != "literal_error":
            alternatives = [str(e.get("ctx", {}).get("expected", "")) for e, _ in errs if e["type"] == "literal_error"]
            if alternatives:
                hint = (hint + ", " if hint else "") + "or " + " or ".join(alternatives)
        kind = err["type"]
        if kind == "missing":
            line, col = positions.nearest(path[:-1])
            shown = path
        elif kind == "extra_forbidden":
            line, col = positions.nearest(path)
            shown = path
        else:
            line, col = positions.value(path)
            shown = path
        code = {"missing": "missing_key", "extra_forbidden": "unknown_key"}.get(kind, "invalid_value")
        problems.append(PolicyProblem(filename, line, col, format_path(shown), message, hint, code=code))
    return _link_misspellings(problems)


def _link_misspellings(problems: list[PolicyProblem]) -> list[PolicyProblem]:
    """A missing key beside an unknown key that looks like it is one mistake: say so on both."""
    unknown: dict[tuple[str, str], PolicyProblem] = {}
    for problem in problems:
        if problem.code == "unknown_key" and problem.hint and problem.hint.startswith("did you mean '"):
            guess = problem.hint.removeprefix("did you mean '").removesuffix("'?")
            parent = problem.path.rpartition(".")[0]
            unknown[(parent, guess)] = problem
    if not unknown:
        return problems
    linked = []
    for problem in problems:
        if problem.code == "missing_key":
            parent, _, key = problem.path.rpartition(".")
            typo = unknown.get((parent, key))
            if typo is not None:
                written = typo.path.rpartition(".")[2]
                problem = replace(problem, hint=f"'{written}' on line {typo.line} looks like a misspelling of it")
        linked.append(problem)
    return linked


def finding_problem(finding: Finding, positions: PositionIndex, filename: str) -> PolicyProblem:
    line, col = positions.value(finding.path) if finding.at_value else positions.nearest(finding.path)
    return PolicyProblem(
        filename,
        line,
        col,
        format_path(finding.path),
        finding.message,
        finding.hint,
        severity=finding.severity,
        code=finding.code,
    )

"""Load a policy file into a validated `PolicyDocument`, reporting every problem with file:line:column.

The person editing a policy file is a store owner or their lawyer, not a Python developer: every way the
file can be wrong ends as a `PolicyProblem` that names the line, says what is wrong in plain words and,
where we can guess, how to fix it. Nothing raises a traceback.

The pipeline is: bytes (size, binary and encoding checks) → YAML events → plain dicts and lists plus a
position index (path → line/column) → Pydantic validation (errors mapped back to positions) → the
cross-section and legal checks of `policy.checks`.

Why YAML events and not ruamel's round-trip loader: round-trip positions come from ruamel's pure-Python
scanner, which takes about 1.7 s for a 500-category policy (bench/policy_load.py); libyaml's event parser
takes about 30 ms. Building the data from events also lets us report every duplicate key (not only the
first), bound alias expansion ("billion laughs") and nesting depth, and resolve plain scalars by the YAML
1.2 core schema, as ruamel does (so `country: NO` stays the string "NO").
"""

from __future__ import annotations

import datetime as dt
import difflib
import gc
import json
import re
import types
import typing
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError

from fiduciary.errors import FiduciaryError, FieldProblem
from fiduciary.policy.checks import Finding, NodePath, format_path, run_checks
from fiduciary.policy.schema import PolicyDocument

MAX_POLICY_BYTES = 2 * 1024 * 1024
"""A real policy is tens of kilobytes; a larger file is a mistake (or an attack) and is refused unread."""

MAX_NESTING = 64
"""libyaml's time grows with the square of flow nesting depth; the deepest real policy nests about 6."""

MAX_EXPANDED_VALUES = 1_000_000
"""Aliases may repeat a value, but not multiply the document into millions of values to validate."""

MAX_PROBLEMS = 500
"""A file that is wrong everywhere (e.g. a CSV saved as .yaml) gets a readable report, not a flood."""

Severity = Literal["error", "warning"]
Position = tuple[int, int]

_YAML_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class PolicyProblem:
    file: str
    line: int  # 1-based; 0 when the problem concerns the whole file
    column: int  # 1-based
    path: str  # dotted path into the document, e.g. purposes[3].categories[0]
    message: str
    hint: str | None = None
    severity: Severity = "error"
    code: str | None = None  # a stable name for the kind of problem, e.g. "unknown_key", "dangling_reference"

    def __str__(self) -> str:
        hint = f" (hint: {self.hint})" if self.hint else ""
        where = f" [{self.path}]" if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}{where}{hint}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


class PolicyInvalid(FiduciaryError):
    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(
            detail=f"The policy has {len(errors)} error(s).",
            status=422,
            title="Invalid policy",
            code="policy_invalid",
            fields=[FieldProblem(field=p.path or "policy", message=p.message, hint=p.hint) for p in errors],
        )


class PositionIndex:
    """Where each node of the file was written, by path: what lets any later check report a line.

    `keys` holds where each mapping key and each sequence item was written (what a person would point
    at); `values` where each scalar value was, which differs from its key's when the value is further
    along the line or on the next one. Both hold parser marks, turned into 1-based (line, column) here.
    """

    __slots__ = ("keys", "root_mark", "root_value", "values")

    def __init__(self) -> None:
        self.keys: dict[NodePath, Any] = {}
        self.values: dict[NodePath, Any] = {}
        self.root_mark: Any = None
        self.root_value: Any = None

    @property
    def root(self) -> Position:
        return _position(self.root_mark) if self.root_mark is not None else (1, 1)

    def nearest(self, path: NodePath) -> Position:
        """The position of `path`, or of the deepest part of it that exists in the file."""
        for end in range(len(path), 0, -1):
            found = self.keys.get(path[:end])
            if found is not None:
                return _position(found)
        return self.root

    def value(self, path: NodePath) -> Position:
        """The position of the value at `path` when it is a scalar, else of its key."""
        found = self.values.get(path)
        return _position(found) if found is not None else self.nearest(path)

    def line_of(self, path: NodePath) -> int | None:
        found = self.keys.get(path)
        return found.line + 1 if found is not None else None


def _position(mark: Any) -> Position:
    return mark.line + 1, mark.column + 1


@dataclass(frozen=True)
class LoadedPolicy:
    document: PolicyDocument
    source: str
    path: Path | None = None
    warnings: list[PolicyProblem] = field(default_factory=list)
    positions: PositionIndex | None = None


@dataclass(frozen=True)
class PolicyReport:
    """Everything known about one policy file: its problems and, when it validated, the document."""

    filename: str
    problems: list[PolicyProblem]
    document: PolicyDocument | None = None
    source: str | None = None
    positions: PositionIndex | None = None

    @property
    def errors(self) -> list[PolicyProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[PolicyProblem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return self.document is not None and not self.errors


# ------------------------------------------------------------------------------------------- entry points


def load_policy(path: Path | str) -> LoadedPolicy:
    """Load and check a policy file; raise `PolicyInvalid` with every problem if it has any error."""
    path = Path(path)
    return _loaded_or_raise(analyse_policy_file(path), path)


def load_policy_text(text: str, filename: str = "<string>") -> LoadedPolicy:
    """Like `load_policy` for text already in memory (an upload, a test)."""
    return _loaded_or_raise(analyse_policy_text(text, filename), None)


def analyse_policy_file(path: Path | str) -> PolicyReport:
    """Every problem of a policy file, never raising; the size limit is applied before reading."""
    path = Path(path)
    name = str(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            return _fail(name, "the path is not a file", "give the path of a .yaml policy file", "not_a_file")
        if size > MAX_POLICY_BYTES:
            return _too_large(name, size)
        with path.open("rb") as handle:
            data = handle.read(MAX_POLICY_BYTES + 1)  # the file may have grown since stat()
    except FileNotFoundError:
        return _fail(
            name,
            "no such file",
            "check the path, or run `fiduciary policy check` on an existing file",
            "file_not_found",
        )
    except OSError as exc:
        return _fail(name, f"cannot read the file ({exc.strerror or type(exc).__name__})", None, "unreadable")
    return analyse_policy_bytes(data, name)


def analyse_policy_text(text: str, filename: str = "<string>") -> PolicyReport:
    if len(text) > MAX_POLICY_BYTES:
        return _too_large(filename, len(text))
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line, col = _line_col(text, exc.start)
        return PolicyReport(
            filename,
            [
                _at(
                    filename,
                    (line, col),
                    "the text contains an invalid Unicode character (a lone surrogate)",
                    "save the file as UTF-8 text",
                    "invalid_encoding",
                )
            ],
        )
    return analyse_policy_bytes(data, filename)


def analyse_policy_bytes(data: bytes, filename: str = "<string>") -> PolicyReport:
    if len(data) > MAX_POLICY_BYTES:
        return _too_large(filename, len(data))
    text, problem = _decode(data, filename)
    if problem is not None:
        return PolicyReport(filename, [problem])
    assert text is not None
    problems = _precheck_text(text, filename)
    if problems:
        return PolicyReport(filename, problems, source=text)
    with _gc_paused():
        root, positions, problems = _compose(text, filename)
    if root is _ABORTED:
        return PolicyReport(filename, _finish(problems), source=text)
    if root is None:
        return PolicyReport(
            filename,
            [
                _at(
                    filename,
                    (1, 1),
                    "the file holds no policy (only comments or blank lines)",
                    "start from the demo policy (fiduciary/policy/demo_policy.yaml)",
                    "empty",
                )
            ],
            source=text,
        )
    if not isinstance(root, dict):
        kind = "a list" if isinstance(root, list) else "a single value"
        line, col = positions.root
        problems.append(
            _at(
                filename,
                (line, col),
                f"the top level of a policy must be a mapping of sections (schema_version:, name:, controller: …), "
                f"not {kind}",
                "write each section as 'name: value' at the start of a line",
                "not_a_mapping",
            )
        )
        return PolicyReport(filename, _finish(problems), source=text, positions=positions)
    document: PolicyDocument | None = None
    try:
        with _gc_paused():
            document = PolicyDocument.model_validate(root)
    except ValidationError as exc:
        problems.extend(_schema_problems(exc, positions, filename))
    if document is not None:
        problems.extend(_finding_problem(f, positions, filename) for f in run_checks(document, positions.line_of))
    return PolicyReport(filename, _finish(problems), document=document, source=text, positions=positions)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects.

    Parsing creates tens of thousands of dicts, lists and events that are all alive at once; each
    automatic collection would scan them again for cycles they cannot have. Pausing halves the parse time
    of a large policy (bench/policy_load.py). Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _loaded_or_raise(report: PolicyReport, path: Path | None) -> LoadedPolicy:
    if report.errors or report.document is None:
        raise PolicyInvalid(report.problems)
    return LoadedPolicy(
        document=report.document,
        source=report.source or "",
        path=path,
        warnings=report.warnings,
        positions=report.positions,
    )


def _at(filename: str, pos: Position, message: str, hint: str | None, code: str, path: NodePath = ()) -> PolicyProblem:
    return PolicyProblem(filename, pos[0], pos[1], format_path(path), message, hint, code=code)


def _fail(filename: str, message: str, hint: str | None, code: str) -> PolicyReport:
    return PolicyReport(filename, [_at(filename, (0, 0), message, hint, code)])


def _too_large(filename: str, size: int) -> PolicyReport:
    return _fail(
        filename,
        f"the file is too large ({size / 1024 / 1024:.1f} MiB); a policy file may be at most "
        f"{MAX_POLICY_BYTES // 1024 // 1024} MiB",
        "check that this is the policy file and not a data export or an archive",
        "too_large",
    )


def _finish(problems: list[PolicyProblem]) -> list[PolicyProblem]:
    problems = sorted(problems, key=lambda p: (p.line, p.column, p.severity != "error"))
    if len(problems) > MAX_PROBLEMS:
        rest = len(problems) - MAX_PROBLEMS
        last = problems[MAX_PROBLEMS - 1]
        problems = problems[:MAX_PROBLEMS]
        problems.append(
            PolicyProblem(
                last.file,
                last.line,
                last.column,
                "",
                f"{rest} more problem(s) not shown",
                "fix the problems above and check again",
                code="truncated",
            )
        )
    return problems


# ----------------------------------------------------------------------------------- bytes and raw text

_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}
# YAML allows tab, LF, CR, NEL and printable characters (YAML 1.2 §5.1); anything else is refused by the
# parser with a character offset, so find it ourselves and say which line.
_FORBIDDEN_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")


def _line_col_bytes(data: bytes, offset: int) -> Position:
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, offset - line_start + 1


def _line_col(text: str, offset: int) -> Position:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _decode(data: bytes, filename: str) -> tuple[str | None, PolicyProblem | None]:
    for bom, name in _BOMS.items():
        if data.startswith(bom):
            return None, _at(
                filename,
                (1, 1),
                f"the file is {name} text; policy files must be UTF-8",
                "save the file as UTF-8 (without BOM) in your editor",
                "invalid_encoding",
            )
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = _line_col_bytes(data, nul)
        return None, _at(
            filename,
            (line, col),
            "the file is binary, not text (it contains a NUL byte)",
            "a policy is a YAML text file; check that you gave the right file",
            "binary",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col_bytes(data, exc.start)
        return None, _at(
            filename,
            (line, col),
            f"the file is not valid UTF-8 text (byte 0x{data[exc.start]:02x})",
            "save the file as UTF-8; if it is not a text file, check that you gave the right file",
            "invalid_encoding",
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None


def _precheck_text(text: str, filename: str) -> list[PolicyProblem]:
    if not text.strip():
        return [
            _at(
                filename,
                (1, 1),
                "the file is empty",
                "start from the demo policy (fiduciary/policy/demo_policy.yaml)",
                "empty",
            )
        ]
    bad = _FORBIDDEN_CHARS.search(text)
    if bad:
        line, col = _line_col(text, bad.start())
        return [
            _at(
                filename,
                (line, col),
                f"the file contains the control character U+{ord(bad.group()):04X}, which YAML does not allow",
                "delete the character (it is often pasted in from a word processor)",
                "control_character",
            )
        ]
    # Flow nesting ([ [ [ …) makes libyaml quadratic; count it naively (brackets inside quotes count too,
    # which only makes the limit stricter for text no policy contains).
    if text.count("[") + text.count("{") > MAX_NESTING:
        depth = 0
        for match in re.finditer(r"[\[\]{}]", text):
            depth += 1 if match.group() in "[{" else -1
            if depth > MAX_NESTING:
                line, col = _line_col(text, match.start())
                return [
                    _at(
                        filename,
                        (line, col),
                        f"the file nests lists or mappings more than {MAX_NESTING} levels deep",
                        "a policy needs only a few levels; check for unbalanced brackets",
                        "too_deep",
                    )
                ]
    return []


# --------------------------------------------------------------------------------------- YAML to values

_ABORTED = object()
_BAD_KEY = object()
_STR_TAG = "tag:yaml.org,2002:str"
_KNOWN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "!",
}
_INT = re.compile(r"[-+]?[0-9]+\Z")
_INT_OCT = re.compile(r"0o[0-7]+\Z")
_INT_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_MAYBE_SPECIAL = frozenset("0123456789+-.~nNtTfF")


def _resolve_plain(value: str) -> Any:
    """A plain (unquoted) scalar by the YAML 1.2 core schema, plus dates as ruamel reads them."""
    if not value:
        return None
    if value[0] not in _MAYBE_SPECIAL:
        return value
    if value in ("~", "null", "Null", "NULL"):
        return None
    if value in ("true", "True", "TRUE"):
        return True
    if value in ("false", "False", "FALSE"):
        return False
    if _INT.match(value):
        return int(value)
    if _INT_OCT.match(value):
        return int(value[2:], 8)
    if _INT_HEX.match(value):
        return int(value[2:], 16)
    if _FLOAT.match(value):
        return float(value)
    if value in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"):
        return float("inf")
    if value in ("-.inf", "-.Inf", "-.INF"):
        return float("-inf")
    if value in (".nan", ".NaN", ".NAN"):
        return float("nan")
    if _DATE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value  # e.g. 2027-02-30: left as text so the date validation names the problem
    return value


class _Frame:
    """An open mapping or sequence while its events are read."""

    __slots__ = ("anchor", "is_map", "key", "mark", "merge_mark", "merges", "path", "value", "weight")

    def __init__(self, is_map: bool, path: NodePath, mark: Any, anchor: str | None) -> None:
        self.is_map = is_map
        self.value: Any = {} if is_map else []
        self.path = path
        self.mark = mark
        self.anchor = anchor
        self.key: Any = None  # in a mapping: the key whose value comes next; None while awaiting a key
        self.merges: list[dict[str, Any]] = []
        self.merge_mark: Any = mark
        self.weight = 1  # values inside, aliases expanded: what bounds an alias bomb


def _compose(text: str, filename: str) -> tuple[Any, PositionIndex, list[PolicyProblem]]:
    """Build plain dicts/lists/scalars from libyaml events, recording where every node was written.

    The loop is the hot path of loading (about one event per key, value and list item), so the common
    case (an untagged scalar inside a mapping or list) is handled inline; everything rarer goes through
    `deliver`. Positions are kept as libyaml marks and turned into line/column only when asked for.
    """
    positions = PositionIndex()
    problems: list[PolicyProblem] = []
    keys = positions.keys
    values = positions.values
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int]] = {}
    expanded = 0
    documents = 0

    def problem(mark: Any, path: NodePath, message: str, hint: str | None, code: str) -> None:
        problems.append(_at(filename, _position(mark), message, hint, code, path))

    def child_path(parent: _Frame) -> NodePath:
        if not parent.is_map:
            return (*parent.path, len(parent.value))
        if parent.key is None or parent.key is _BAD_KEY:
            return (*parent.path, "<key>")
        return (*parent.path, parent.key)

    def deliver(value: Any, mark: Any, weight: int, scalar_text: str | None, plain: bool) -> None:
        """Place a finished value (scalar, alias or closed container) into the open container."""
        if not stack:
            positions.root_mark = mark
            positions.root_value = value
            return
        top = stack[-1]
        top.weight += weight
        if not top.is_map:
            path = (*top.path, len(top.value))
            top.value.append(value)
            keys[path] = mark
            if scalar_text is not None:
                values[path] = mark
            return
        key = top.key
        if key is None:  # the value is a key
            if scalar_text is None:
                problem(
                    mark,
                    top.path,
                    "a key must be plain text, not a list or mapping",
                    "write keys as 'name: value'",
                    "complex_key",
                )
                top.key = _BAD_KEY
            elif plain and scalar_text == "<<":
                top.key = "<<"
                top.merge_mark = mark
            elif scalar_text in top.value:
                path = (*top.path, scalar_text)
                problem(
                    mark,
                    path,
                    f"duplicate key '{scalar_text}': it is already set on line {_position(keys[path])[0]}",
                    "keep one of the two; YAML would silently use only one value",
                    "duplicate_key",
                )
                top.key = _BAD_KEY
            else:
                keys[(*top.path, scalar_text)] = mark
                top.key = scalar_text
            return
        top.key = None
        if key is _BAD_KEY:
            return
        if key == "<<":
            merged = value if isinstance(value, list) else [value]
            if all(isinstance(m, dict) for m in merged):
                top.merges.extend(merged)
            else:
                problem(
                    top.merge_mark,
                    top.path,
                    "a merge key '<<' needs a mapping or a list of mappings",
                    "write '<<: *anchor' where the anchor names a mapping",
                    "bad_merge",
                )
            return
        top.value[key] = value
        if scalar_text is not None:
            values[(*top.path, key)] = mark

    scalar_event, resolve, bad_key = yaml.ScalarEvent, _resolve_plain, _BAD_KEY
    loader = _YAML_LOADER(text)
    get_event = loader.get_event
    try:
        while True:
            event = get_event()
            kind = type(event)
            if kind is scalar_event:
                if stack and event.tag is None and not event.anchor:
                    # The common case, inline: an untagged scalar key or value in a mapping or a list.
                    top = stack[-1]
                    raw = event.value
                    if not top.is_map:
                        path = (*top.path, len(top.value))
                        top.value.append(resolve(raw) if event.implicit[0] else raw)
                        keys[path] = values[path] = event.start_mark
                        top.weight += 1
                        continue
                    key = top.key
                    if key is None:
                        if raw != "<<" and raw not in top.value:
                            keys[(*top.path, raw)] = event.start_mark
                            top.key = raw
                            top.weight += 1
                            continue
                    elif key is not bad_key and key != "<<":
                        top.value[key] = resolve(raw) if event.implicit[0] else raw
                        values[(*top.path, key)] = event.start_mark
                        top.key = None
                        top.weight += 1
                        continue
                raw, tag, plain = event.value, event.tag, bool(event.implicit[0])
                if tag is None or tag == "!":
                    value: Any = resolve(raw) if plain else raw
                else:
                    value = raw if tag == _STR_TAG else resolve(raw)
                    if tag not in _KNOWN_TAGS:
                        problem(
                            event.start_mark,
                            child_path(stack[-1]) if stack else (),
                            f"unsupported YAML tag '{tag}'",
                            "remove the tag; a policy uses plain YAML values",
                            "unsupported_tag",
                        )
                if event.anchor:
                    anchors[event.anchor] = (value, 1)
                deliver(value, event.start_mark, 1, raw, plain and tag is None)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                path = child_path(stack[-1]) if stack else ()
                if event.tag and event.tag not in _KNOWN_TAGS:
                    problem(
                        event.start_mark,
                        path,
                        f"unsupported YAML tag '{event.tag}'",
                        "remove the tag; a policy uses plain YAML values",
                        "unsupported_tag",
                    )
                if len(stack) >= MAX_NESTING:
                    problem(
                        event.start_mark,
                        path,
                        f"the file nests lists or mappings more than {MAX_NESTING} levels deep",
                        "a policy needs only a few levels",
                        "too_deep",
                    )
                    return _ABORTED, positions, problems
                stack.append(_Frame(kind is yaml.MappingStartEvent, path, event.start_mark, event.anchor))
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                frame = stack.pop()
                if frame.merges:
                    for merged in frame.merges:
                        for key, item in merged.items():
                            if key not in frame.value:
                                frame.value[key] = item
                                keys.setdefault((*frame.path, key), frame.merge_mark)
                if frame.anchor:
                    anchors[frame.anchor] = (frame.value, frame.weight)
                deliver(frame.value, frame.mark, frame.weight, None, False)
            elif kind is yaml.AliasEvent:
                path = child_path(stack[-1]) if stack else ()
                mark = event.start_mark
                if any(f.anchor == event.anchor for f in stack):
                    problem(
                        mark,
                        path,
                        f"the alias '*{event.anchor}' refers to a value that contains it",
                        "an alias cannot repeat the list or mapping it is written inside",
                        "recursive_alias",
                    )
                    return _ABORTED, positions, problems
                if event.anchor not in anchors:
                    problem(
                        mark,
                        path,
                        f"the alias '*{event.anchor}' refers to no anchor",
                        f"define '&{event.anchor}' on a value before this line",
                        "undefined_alias",
                    )
                    deliver(None, mark, 1, None, False)
                    continue
                value, weight = anchors[event.anchor]
                expanded += weight
                if expanded > MAX_EXPANDED_VALUES:
                    problem(
                        mark,
                        path,
                        f"aliases expand the file to more than {MAX_EXPANDED_VALUES:,} values",
                        "write the values out; a policy has no need for nested aliases",
                        "alias_expansion",
                    )
                    return _ABORTED, positions, problems
                deliver(value, mark, weight, None, False)
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    problem(
                        event.start_mark,
                        (),
                        "the file holds more than one YAML document",
                        "a policy is one document: remove the '---' line and what follows, or split the file",
                        "multiple_documents",
                    )
                    return _ABORTED, positions, problems
            elif kind is yaml.StreamEndEvent:
                break
    except yaml.MarkedYAMLError as exc:
        problems.append(_syntax_problem(exc, text, filename))
        return _ABORTED, positions, problems
    except yaml.YAMLError as exc:  # reader errors carry an offset rather than a mark
        line, col = _line_col(text, min(int(getattr(exc, "position", 0)), len(text)))
        problems.append(_at(filename, (line, col), f"the file cannot be read as YAML: {exc}", None, "yaml_syntax"))
        return _ABORTED, positions, problems
    finally:
        loader.dispose()
    return positions.root_value, positions, problems


_SYNTAX_HINTS = [
    ("cannot start any token", "indent with spaces, not tabs, and quote values that start with @ or `"),
    ("mapping values are not allowed", "put the value in quotes if it contains ': ', or check the indentation"),
    ("did not find expected key", "check this line's indentation against the lines above it"),
    ("could not find expected ':'", "a key needs ': ' after it, or a long value needs quotes"),
    ("did not find expected ',' or ']'", "a list written as [a, b] is not closed with ']'"),
    ("did not find expected ',' or '}'", "a mapping written as {a: 1} is not closed with '}'"),
    ("found unexpected end of stream", "a quoted value is not closed"),
    ("did not find expected '-' indicator", "list items ('- ...') must line up with each other"),
    ("found undefined tag handle", "remove the '!' tag"),
    ("found unknown escape character", "inside double quotes write a backslash as \\\\, or use single quotes"),
]


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str, filename: str) -> PolicyProblem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    problem = (exc.problem or "invalid YAML").strip()
    message = f"invalid YAML: {problem}"
    context_mark = exc.context_mark
    if exc.context and context_mark is not None and mark is not None and context_mark.line != mark.line:
        message += f" ({exc.context} started on line {context_mark.line + 1})"
    hint = next((h for needle, h in _SYNTAX_HINTS if needle in problem), None)
    lines = text.splitlines()
    if 0 < line <= len(lines) and "\t" in lines[line - 1][: max(col, 1)]:
        hint = "indent with spaces, not tabs"
    return _at(filename, (line, col), message, hint, "yaml_syntax")


# ---------------------------------------------------------------------------- Pydantic errors to problems


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


def _schema_problems(exc: ValidationError, positions: PositionIndex, filename: str) -> list[PolicyProblem]:
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


def _finding_problem(finding: Finding, positions: PositionIndex, filename: str) -> PolicyProblem:
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


# ------------------------------------------------------------------------------------------ JSON Schema


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


_UNIT_PATTERN = "|".join(
    _any_case(u)
    for u in (
        "business days",
        "business day",
        "business_days",
        "bd",
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
DURATION_PATTERN = rf"^\s*([0-9]+\s*({_UNIT_PATTERN})|[pP]([0-9]+[yYmMwWdD]|[tT][0-9]+[hH]))\s*$"
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
            "'13mo', '1y', '10 business days', or ISO 8601 with one unit ('P1Y', 'PT6H').",
            "examples": ["30d", "48h", "10 business days", "1y", "P1Y"],
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {key: value for key, value in parsed.items() if key not in ("title", "description")},
            ],
        }
    return schema


def policy_json_schema_text() -> str:
    """The schema as committed: sorted keys, two-space indent, final newline."""
    return json.dumps(policy_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

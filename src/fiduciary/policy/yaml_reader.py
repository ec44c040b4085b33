"""Policy text to plain data plus positions: the byte checks, the YAML event reader, its syntax messages.

Bytes are checked (encoding, byte-order mark, control characters, nesting) before libyaml sees them; the
YAML events are then composed into dicts and lists while a `PositionIndex` records where each node was
written. Plain scalars are resolved by the YAML 1.2 core schema (so `country: NO` stays the string "NO"),
every duplicate key is reported, and alias expansion and nesting depth are bounded.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import yaml

from fiduciary.policy.checks import NodePath
from fiduciary.policy.problems import (
    PolicyProblem,
    Position,
    PositionIndex,
    mark_position,
    problem_at,
)

MAX_NESTING = 64
"""libyaml's time grows with the square of flow nesting depth; the deepest real policy nests about 6."""

MAX_EXPANDED_VALUES = 1_000_000
"""Aliases may repeat a value, but not multiply the document into millions of values to validate."""

_YAML_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


def line_col(text: str, offset: int) -> Position:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def decode(data: bytes, filename: str) -> tuple[str | None, PolicyProblem | None]:
    for bom, name in _BOMS.items():
        if data.startswith(bom):
            return None, problem_at(
                filename,
                (1, 1),
                f"the file is {name} text; policy files must be UTF-8",
                "save the file as UTF-8 (without BOM) in your editor",
                "invalid_encoding",
            )
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = _line_col_bytes(data, nul)
        return None, problem_at(
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
        return None, problem_at(
            filename,
            (line, col),
            f"the file is not valid UTF-8 text (byte 0x{data[exc.start]:02x})",
            "save the file as UTF-8; if it is not a text file, check that you gave the right file",
            "invalid_encoding",
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None


def precheck_text(text: str, filename: str) -> list[PolicyProblem]:
    if not text.strip():
        return [
            problem_at(
                filename,
                (1, 1),
                "the file is empty",
                "start from the demo policy (fiduciary/policy/demo_policy.yaml)",
                "empty",
            )
        ]
    bad = _FORBIDDEN_CHARS.search(text)
    if bad:
        line, col = line_col(text, bad.start())
        return [
            problem_at(
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
                line, col = line_col(text, match.start())
                return [
                    problem_at(
                        filename,
                        (line, col),
                        f"the file nests lists or mappings more than {MAX_NESTING} levels deep",
                        "a policy needs only a few levels; check for unbalanced brackets",
                        "too_deep",
                    )
                ]
    return []


# --------------------------------------------------------------------------------------- YAML to values

ABORTED = object()
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


def compose(text: str, filename: str) -> tuple[Any, PositionIndex, list[PolicyProblem]]:
    """Build plain dicts/lists/scalars from libyaml events, recording where every node was written."""
    return _Composer(text, filename).run()


class _Composer:
    """One pass over libyaml's events: the open containers, the anchors seen, and the problems found.

    The loop in `run` is the hot path of loading (about one event per key, value and list item), so the
    common case (an untagged scalar inside a mapping or list) is handled inline there; everything rarer
    goes through a method, and finished values through `deliver`. Positions are kept as libyaml marks and
    turned into line/column only when asked for.
    """

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self.positions = PositionIndex()
        self.problems: list[PolicyProblem] = []
        self.keys = self.positions.keys
        self.values = self.positions.values
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.expanded = 0
        self.documents = 0

    def run(self) -> tuple[Any, PositionIndex, list[PolicyProblem]]:
        stack, keys, values = self.stack, self.keys, self.values
        scalar_event, resolve, bad_key = yaml.ScalarEvent, _resolve_plain, _BAD_KEY
        loader = _YAML_LOADER(self.text)
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
                    self.scalar(event)
                elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                    if not self.open(event, kind is yaml.MappingStartEvent):
                        return ABORTED, self.positions, self.problems
                elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                    self.close()
                elif kind is yaml.AliasEvent:
                    if not self.alias(event):
                        return ABORTED, self.positions, self.problems
                elif kind is yaml.DocumentStartEvent:
                    if not self.document_start(event):
                        return ABORTED, self.positions, self.problems
                elif kind is yaml.StreamEndEvent:
                    break
        except yaml.MarkedYAMLError as exc:
            self.problems.append(_syntax_problem(exc, self.text, self.filename))
            return ABORTED, self.positions, self.problems
        except yaml.YAMLError as exc:  # reader errors carry an offset rather than a mark
            line, col = line_col(self.text, min(int(getattr(exc, "position", 0)), len(self.text)))
            self.problems.append(
                problem_at(self.filename, (line, col), f"the file cannot be read as YAML: {exc}", None, "yaml_syntax")
            )
            return ABORTED, self.positions, self.problems
        finally:
            loader.dispose()
        return self.positions.root_value, self.positions, self.problems

    # ------------------------------------------------------------------------------- the rarer events

    def problem(self, mark: Any, path: NodePath, message: str, hint: str | None, code: str) -> None:
        self.problems.append(problem_at(self.filename, mark_position(mark), message, hint, code, path))

    def next_path(self) -> NodePath:
        """The path of the next value in the open container (the root's when none is open)."""
        if not self.stack:
            return ()
        parent = self.stack[-1]
        if not parent.is_map:
            return (*parent.path, len(parent.value))
        if parent.key is None or parent.key is _BAD_KEY:
            return (*parent.path, "<key>")
        return (*parent.path, parent.key)

    def scalar(self, event: Any) -> None:
        """A scalar with a tag or an anchor, a scalar at the root, or a key the inline path declined."""
        raw, tag, plain = event.value, event.tag, bool(event.implicit[0])
        if tag is None or tag == "!":
            value: Any = _resolve_plain(raw) if plain else raw
        else:
            value = raw if tag == _STR_TAG else _resolve_plain(raw)
            if tag not in _KNOWN_TAGS:
                self.problem(
                    event.start_mark,
                    self.next_path(),
                    f"unsupported YAML tag '{tag}'",
                    "remove the tag; a policy uses plain YAML values",
                    "unsupported_tag",
                )
        if event.anchor:
            self.anchors[event.anchor] = (value, 1)
        self.deliver(value, event.start_mark, 1, raw, plain and tag is None)

    def open(self, event: Any, is_map: bool) -> bool:
        """Open a mapping or sequence; False when it nests too deep to go on."""
        path = self.next_path()
        if event.tag and event.tag not in _KNOWN_TAGS:
            self.problem(
                event.start_mark,
                path,
                f"unsupported YAML tag '{event.tag}'",
                "remove the tag; a policy uses plain YAML values",
                "unsupported_tag",
            )
        if len(self.stack) >= MAX_NESTING:
            self.problem(
                event.start_mark,
                path,
                f"the file nests lists or mappings more than {MAX_NESTING} levels deep",
                "a policy needs only a few levels",
                "too_deep",
            )
            return False
        self.stack.append(_Frame(is_map, path, event.start_mark, event.anchor))
        return True

    def close(self) -> None:
        frame = self.stack.pop()
        if frame.merges:
            for merged in frame.merges:
                for key, item in merged.items():
                    if key not in frame.value:
                        frame.value[key] = item
                        self.keys.setdefault((*frame.path, key), frame.merge_mark)
        if frame.anchor:
            self.anchors[frame.anchor] = (frame.value, frame.weight)
        self.deliver(frame.value, frame.mark, frame.weight, None, False)

    def alias(self, event: Any) -> bool:
        """Repeat an anchored value; False when the alias is recursive or expands the file too far."""
        path = self.next_path()
        mark = event.start_mark
        if any(f.anchor == event.anchor for f in self.stack):
            self.problem(
                mark,
                path,
                f"the alias '*{event.anchor}' refers to a value that contains it",
                "an alias cannot repeat the list or mapping it is written inside",
                "recursive_alias",
            )
            return False
        if event.anchor not in self.anchors:
            self.problem(
                mark,
                path,
                f"the alias '*{event.anchor}' refers to no anchor",
                f"define '&{event.anchor}' on a value before this line",
                "undefined_alias",
            )
            self.deliver(None, mark, 1, None, False)
            return True
        value, weight = self.anchors[event.anchor]
        self.expanded += weight
        if self.expanded > MAX_EXPANDED_VALUES:
            self.problem(
                mark,
                path,
                f"aliases expand the file to more than {MAX_EXPANDED_VALUES:,} values",
                "write the values out; a policy has no need for nested aliases",
                "alias_expansion",
            )
            return False
        self.deliver(value, mark, weight, None, False)
        return True

    def document_start(self, event: Any) -> bool:
        """False at a second document: a policy is one."""
        self.documents += 1
        if self.documents > 1:
            self.problem(
                event.start_mark,
                (),
                "the file holds more than one YAML document",
                "a policy is one document: remove the '---' line and what follows, or split the file",
                "multiple_documents",
            )
            return False
        return True

    def deliver(self, value: Any, mark: Any, weight: int, scalar_text: str | None, plain: bool) -> None:
        """Place a finished value (scalar, alias or closed container) into the open container."""
        if not self.stack:
            self.positions.root_mark = mark
            self.positions.root_value = value
            return
        top = self.stack[-1]
        top.weight += weight
        if not top.is_map:
            path = (*top.path, len(top.value))
            top.value.append(value)
            self.keys[path] = mark
            if scalar_text is not None:
                self.values[path] = mark
            return
        key = top.key
        if key is None:  # the value is a key
            self.key(top, mark, scalar_text, plain)
            return
        top.key = None
        if key is _BAD_KEY:
            return
        if key == "<<":
            merged = value if isinstance(value, list) else [value]
            if all(isinstance(m, dict) for m in merged):
                top.merges.extend(merged)
            else:
                self.problem(
                    top.merge_mark,
                    top.path,
                    "a merge key '<<' needs a mapping or a list of mappings",
                    "write '<<: *anchor' where the anchor names a mapping",
                    "bad_merge",
                )
            return
        top.value[key] = value
        if scalar_text is not None:
            self.values[(*top.path, key)] = mark

    def key(self, top: _Frame, mark: Any, scalar_text: str | None, plain: bool) -> None:
        """A mapping key: plain text, once per mapping; `<<` merges another mapping in."""
        if scalar_text is None:
            self.problem(
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
            self.problem(
                mark,
                path,
                f"duplicate key '{scalar_text}': it is already set on line {mark_position(self.keys[path])[0]}",
                "keep one of the two; YAML would silently use only one value",
                "duplicate_key",
            )
            top.key = _BAD_KEY
        else:
            self.keys[(*top.path, scalar_text)] = mark
            top.key = scalar_text


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
    return problem_at(filename, (line, col), message, hint, "yaml_syntax")

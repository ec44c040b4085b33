"""A problem in a policy file, with where it was written: what every stage of loading reports.

Each `PolicyProblem` names a file, a 1-based line and column, a dotted path into the document, a plain
message and, where one can be guessed, a hint; `PositionIndex` maps document paths back to the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fiduciary.errors import FiduciaryError, FieldProblem
from fiduciary.policy.checks import NodePath, format_path

Severity = Literal["error", "warning"]
Position = tuple[int, int]


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
        return mark_position(self.root_mark) if self.root_mark is not None else (1, 1)

    def nearest(self, path: NodePath) -> Position:
        """The position of `path`, or of the deepest part of it that exists in the file."""
        for end in range(len(path), 0, -1):
            found = self.keys.get(path[:end])
            if found is not None:
                return mark_position(found)
        return self.root

    def value(self, path: NodePath) -> Position:
        """The position of the value at `path` when it is a scalar, else of its key."""
        found = self.values.get(path)
        return mark_position(found) if found is not None else self.nearest(path)

    def line_of(self, path: NodePath) -> int | None:
        found = self.keys.get(path)
        return found.line + 1 if found is not None else None


def mark_position(mark: Any) -> Position:
    return mark.line + 1, mark.column + 1


def problem_at(
    filename: str, pos: Position, message: str, hint: str | None, code: str, path: NodePath = ()
) -> PolicyProblem:
    return PolicyProblem(filename, pos[0], pos[1], format_path(path), message, hint, code=code)

"""Load a policy file into a validated `PolicyDocument`, reporting every problem with file:line:column.

The person editing a policy file is a store owner or their lawyer, not a Python developer: every way the
file can be wrong ends as a `PolicyProblem` that names the line, says what is wrong in plain words and,
where we can guess, how to fix it. Nothing raises a traceback.

The pipeline is: bytes (size, binary and encoding checks) → YAML events → plain dicts and lists plus a
position index (path → line/column) → Pydantic validation (errors mapped back to positions) → the
cross-section and legal checks of `policy.checks`. This module runs the pipeline; its stages live in
`policy.yaml_reader` (bytes and YAML events to data and positions), `policy.schema_problems` (validation
errors and check findings to problems), `policy.problems` (the problem and position types) and
`policy.json_schema` (the schema for editors).

Why YAML events and not ruamel's round-trip loader: round-trip positions come from ruamel's pure-Python
scanner, which takes about 1.7 s for a 500-category policy (bench/policy_load.py); libyaml's event parser
takes about 30 ms. Building the data from events also lets us report every duplicate key (not only the
first), bound alias expansion ("billion laughs") and nesting depth, and resolve plain scalars by the YAML
1.2 core schema, as ruamel does (so `country: NO` stays the string "NO").
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from fiduciary.policy.checks import run_checks
from fiduciary.policy.json_schema import DURATION_PATTERN, policy_json_schema, policy_json_schema_text
from fiduciary.policy.problems import PolicyInvalid, PolicyProblem, Position, PositionIndex, Severity, problem_at
from fiduciary.policy.schema import PolicyDocument
from fiduciary.policy.schema_problems import finding_problem, schema_problems
from fiduciary.policy.yaml_reader import (
    ABORTED,
    MAX_EXPANDED_VALUES,
    MAX_NESTING,
    line_col,
    precheck_text,
)
from fiduciary.policy.yaml_reader import compose as _compose
from fiduciary.policy.yaml_reader import decode as _decode

__all__ = [
    "DURATION_PATTERN",
    "MAX_EXPANDED_VALUES",
    "MAX_NESTING",
    "MAX_POLICY_BYTES",
    "MAX_PROBLEMS",
    "LoadedPolicy",
    "PolicyInvalid",
    "PolicyProblem",
    "PolicyReport",
    "Position",
    "PositionIndex",
    "Severity",
    "analyse_policy_bytes",
    "analyse_policy_file",
    "analyse_policy_text",
    "load_policy",
    "load_policy_text",
    "policy_json_schema",
    "policy_json_schema_text",
]

MAX_POLICY_BYTES = 2 * 1024 * 1024
"""A real policy is tens of kilobytes; a larger file is a mistake (or an attack) and is refused unread."""

MAX_PROBLEMS = 500
"""A file that is wrong everywhere (e.g. a CSV saved as .yaml) gets a readable report, not a flood."""


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
        line, col = line_col(text, exc.start)
        return PolicyReport(
            filename,
            [
                problem_at(
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
    problems = precheck_text(text, filename)
    if problems:
        return PolicyReport(filename, problems, source=text)
    with _gc_paused():
        root, positions, problems = _compose(text, filename)
    if root is ABORTED:
        return PolicyReport(filename, _finish(problems), source=text)
    if root is None:
        return PolicyReport(
            filename,
            [
                problem_at(
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
            problem_at(
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
        problems.extend(schema_problems(exc, positions, filename))
    if document is not None:
        problems.extend(finding_problem(f, positions, filename) for f in run_checks(document, positions.line_of))
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


def _fail(filename: str, message: str, hint: str | None, code: str) -> PolicyReport:
    return PolicyReport(filename, [problem_at(filename, (0, 0), message, hint, code)])


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

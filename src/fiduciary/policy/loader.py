"""Load a policy file into a validated `PolicyDocument`, reporting every problem with file:line:column.

(Interface stub: the full implementation with positions, hints and cross-checks replaces this.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from fiduciary.errors import FiduciaryError, FieldProblem
from fiduciary.policy.schema import PolicyDocument


@dataclass(frozen=True)
class PolicyProblem:
    file: str
    line: int  # 1-based; 0 when the problem concerns the whole file
    column: int  # 1-based
    path: str  # dotted path into the document, e.g. purposes[3].categories[0]
    message: str
    hint: str | None = None
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        hint = f" (hint: {self.hint})" if self.hint else ""
        where = f" [{self.path}]" if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}{where}{hint}"


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


@dataclass(frozen=True)
class LoadedPolicy:
    document: PolicyDocument
    source: str
    path: Path | None = None
    warnings: list[PolicyProblem] = field(default_factory=list)


def load_policy(path: Path | str) -> LoadedPolicy:
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    loaded = load_policy_text(text, filename=str(path))
    return LoadedPolicy(document=loaded.document, source=text, path=path, warnings=loaded.warnings)


def load_policy_text(text: str, filename: str = "<string>") -> LoadedPolicy:
    try:
        data = YAML(typ="safe").load(text)
    except YAMLError as exc:
        raise PolicyInvalid([PolicyProblem(filename, 0, 0, "", f"not valid YAML: {exc}")]) from None
    try:
        document = PolicyDocument.model_validate(data)
    except ValidationError as exc:
        raise PolicyInvalid(
            [
                PolicyProblem(filename, 0, 0, ".".join(str(p) for p in err["loc"]), err["msg"])
                for err in exc.errors()
            ]
        ) from None
    return LoadedPolicy(document=document, source=text)

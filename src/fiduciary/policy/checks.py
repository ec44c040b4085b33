"""Checks that relate several parts of a validated policy: references, duplicates and the law.

The schema can only say whether each value is well formed. Whether a purpose names categories that
exist, whether a consent is bundled with the service, or whether a breach deadline is longer than the
law allows needs the whole document, and the answer depends on the jurisdictions the store declares.

Each check is a small function registered with `@check`; it yields `Finding`s that name the offending
node by path (e.g. `("purposes", 3, "legal_ground")`). The loader turns paths into file positions, so a
check never deals with YAML. To add a check, write a function in the module of its section (`checks_data`,
`checks_rights`, `checks_children`, `checks_jurisdictions`, `checks_practices`) and decorate it; `run_checks`
runs them all.
"""

from __future__ import annotations

from dataclasses import replace

# The check modules register their checks on import, in this order: the order findings and the generated
# docs list them in, so it is kept by hand rather than sorted.
# isort: off
from fiduciary.policy import checks_data  # noqa: F401
from fiduciary.policy import checks_retention  # noqa: F401
from fiduciary.policy import checks_rights  # noqa: F401
from fiduciary.policy import checks_children  # noqa: F401
from fiduciary.policy import checks_jurisdictions  # noqa: F401
from fiduciary.policy import checks_practices  # noqa: F401
from fiduciary.policy import checks_parties  # noqa: F401

# isort: on
from fiduciary.policy.checks_registry import (  # re-exported
    CHECKS,
    Check,
    CheckContext,
    Finding,
    LineOf,
    NodePath,
    Severity,
    check,
    first_by_id,
    format_path,
)
from fiduciary.policy.schema import PolicyDocument

__all__ = [
    "CHECKS",
    "Check",
    "CheckContext",
    "Finding",
    "LineOf",
    "NodePath",
    "Severity",
    "check",
    "format_path",
    "run_checks",
]


def run_checks(document: PolicyDocument, line_of: LineOf | None = None) -> list[Finding]:
    ctx = CheckContext(
        document=document,
        line_of=line_of or (lambda _path: None),
        jurisdictions=frozenset(document.controller.jurisdictions),
        categories=first_by_id(document.categories),
        purposes=first_by_id(document.purposes),
    )
    findings: list[Finding] = []
    for code, func in CHECKS:
        findings.extend(f if f.code else replace(f, code=code) for f in func(ctx))
    return findings

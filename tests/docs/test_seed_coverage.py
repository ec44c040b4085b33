"""docs/seed-coverage.md stays true to the code: every "Enforced by" names a package that exists and a test
that exists, so a row cannot claim enforcement that nothing checks (issue 9: the page said the audit trail
and field encryption were not built, and that a seed's "no one under 18" was enforced when it was not).
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "seed-coverage.md"
PACKAGES = ROOT / "src" / "fiduciary"
TEST_NAME = re.compile(r"`(tests/[a-z0-9_/]+\.py)::([a-zA-Z0-9_]+)`")


def _split_top_level(cell: str) -> list[str]:
    """`a (x; y); planned: b` → ['a (x; y)', 'planned: b']: semicolons inside parentheses stay."""
    parts, depth, current = [], 0, ""
    for ch in cell:
        depth += (ch == "(") - (ch == ")")
        if ch == ";" and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return [p for p in parts if p]


def rows() -> list[tuple[int, list[str]]]:
    """(line number, cells) of every practice row in the seed sections."""
    out: list[tuple[int, list[str]]] = []
    in_seed = False
    for number, line in enumerate(PAGE.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("## "):
            in_seed = line.startswith("## Seed ")
        elif in_seed and line.startswith("| ") and not line.startswith("| Practice |"):
            out.append((number, [c.strip() for c in line.strip().strip("|").split(" | ")]))
    return out


@cache
def functions_in(path: str) -> frozenset[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return frozenset(n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_"))


ROWS = rows()


def test_every_seed_table_has_the_test_column() -> None:
    headers = [line for line in PAGE.read_text(encoding="utf-8").splitlines() if line.startswith("| Practice |")]
    assert len(headers) == 5 and all(h == "| Practice | Where | Enforced by | Test |" for h in headers)
    assert len(ROWS) > 100 and all(len(cells) == 4 for _, cells in ROWS), [n for n, c in ROWS if len(c) != 4]


@pytest.mark.parametrize(("line", "cells"), ROWS, ids=[f"line{n}" for n, _ in ROWS])
def test_each_row_names_real_packages_and_existing_tests(line: int, cells: list[str]) -> None:
    _practice, _where, enforced, tests = cells
    built = []
    for part in _split_top_level(enforced):
        if part.startswith("planned:"):
            continue
        domain = re.match(r"[a-z]+", part)
        assert domain, f"docs/seed-coverage.md:{line}: cannot read the domain in {part!r}"
        assert (PACKAGES / domain.group()).is_dir(), f"docs/seed-coverage.md:{line}: no package {domain.group()}"
        built.append(domain.group())
    named = TEST_NAME.findall(tests)
    if not built:
        assert tests == "—", f"docs/seed-coverage.md:{line}: a row with nothing built names no test"
        return
    assert len(named) >= len(set(built)), f"docs/seed-coverage.md:{line}: {built} need a test each, got {named}"
    for path, function in named:
        assert (ROOT / path).is_file(), f"docs/seed-coverage.md:{line}: no file {path}"
        assert function in functions_in(path), f"docs/seed-coverage.md:{line}: no test {path}::{function}"

"""The lock files agree with pyproject.toml (decision 0013): a dependency edited without `./dev lock` fails."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)", re.MULTILINE)


def pins(name: str) -> dict[str, str]:
    text = (ROOT / "requirements" / f"{name}.txt").read_text(encoding="utf-8")
    return {canonicalize_name(package): version for package, version in _PIN.findall(text)}


def declared() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return (
        [Requirement(line) for line in project["dependencies"]],
        [Requirement(line) for line in project["optional-dependencies"]["test"]],
    )


@pytest.mark.parametrize(("lock", "groups"), [("base", ("base",)), ("test", ("base", "test"))])
def test_every_declared_dependency_is_pinned_within_its_range(lock: str, groups: tuple[str, ...]) -> None:
    base, test = declared()
    locked = pins(lock)
    problems = []
    for requirement in [*base, *(test if "test" in groups else [])]:
        version = locked.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement.name} is not in requirements/{lock}.txt")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name}=={version} is outside {requirement.specifier}")
    assert problems == [], "run ./dev lock: " + "; ".join(problems)


def test_test_lock_runs_the_same_versions_as_the_base_lock() -> None:
    base, test = pins("base"), pins("test")
    assert {name: (version, test.get(name)) for name, version in base.items() if test.get(name) != version} == {}


def test_every_pin_carries_hashes() -> None:
    for lock in ("base", "test"):
        text = (ROOT / "requirements" / f"{lock}.txt").read_text(encoding="utf-8")
        blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
        assert blocks and all("--hash=sha256:" in block for block in blocks if "==" in block), lock

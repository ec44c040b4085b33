"""Every relative link in README.md and docs/**/*.md stays inside the repository and finds its target.

A link that climbs out of the repository (`../shared/DESIGN.md`) works on one machine and nowhere else; a
link to a moved or renamed file is dead for every reader. Anchors (`file.md#section`) must name a heading
of the target, as GitHub renders it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Inline links and images `[text](target "title")`, and reference definitions `[ref]: target`.
INLINE = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def links(text: str) -> list[str]:
    """Link targets outside code blocks and code spans."""
    prose = CODE_SPAN.sub("", FENCE.sub("", text))
    return [m.group(1) for m in INLINE.finditer(prose)] + [m.group(1) for m in REFERENCE.finditer(prose)]


def slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*|_(?=\w)|(?<=\w)_", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.MULTILINE):
        base = slug(heading)
        name, n = base, 1
        while name in found:
            name, n = f"{base}-{n}", n + 1
        found.add(name)
    return found


def problems(source: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with each relative link of one file under `root`, as `file: target: why`."""
    out = []
    for target in links(source.read_text(encoding="utf-8")):
        if SCHEME.match(target) or target.startswith("//"):
            continue  # http(s), mailto: not a file of ours
        path_part, _, anchor = target.partition("#")
        resolved = (source.parent / path_part).resolve() if path_part else source
        where = f"{source.relative_to(root)}: {target}"
        if path_part.startswith("/"):
            out.append(f"{where}: absolute path; write it relative to the file")
        elif not resolved.is_relative_to(root):
            out.append(f"{where}: leaves the repository")
        elif not resolved.exists():
            out.append(f"{where}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            out.append(f"{where}: no heading with that anchor")
    return out


def test_every_relative_link_resolves_inside_the_repository() -> None:
    files = markdown_files()
    assert len(files) > 10 and (ROOT / "docs" / "architecture.md") in files
    found = [p for f in files for p in problems(f)]
    assert not found, "\n".join(found)


def test_the_architecture_page_is_linked_from_the_readme() -> None:
    readme = links((ROOT / "README.md").read_text(encoding="utf-8"))
    assert "docs/architecture.md" in readme


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("../shared/DESIGN.md", "leaves the repository"),
        ("../outside.md", "leaves the repository"),
        ("docs/nope.md", "no such file"),
        ("docs/vault.md#no-such-heading", "no heading with that anchor"),
        ("/docs/vault.md", "absolute path"),
    ],
)
def test_the_checker_reports_bad_links(tmp_path: Path, target: str, why: str) -> None:
    """The checker itself can fail: a repository with the real docs/vault.md and a README with one bad link."""
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "vault.md").write_text((ROOT / "docs" / "vault.md").read_text(encoding="utf-8"))
    (tmp_path / "outside.md").write_text("# Outside\n")
    fake = root / "README.md"
    fake.write_text(f"See [this]({target}), [fine](docs/vault.md#erasure) and `[code](../x.md)`.\n")
    reported = problems(fake, root)
    assert len(reported) == 1 and why in reported[0], reported


def test_slugs_follow_github() -> None:
    assert slug("The erasure journal and restore-replay") == "the-erasure-journal-and-restore-replay"
    assert slug("Purpose-bound access (`fiduciary.vault.access.VaultAccess`)") == (
        "purpose-bound-access-fiduciaryvaultaccessvaultaccess"
    )
    assert slug("KMS, OpenBao / Vault transit") == "kms-openbao--vault-transit"

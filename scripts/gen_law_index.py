"""Generate docs/law-index.md: every law citation in src/fiduciary, grouped by law, with where it is.

The code cites the law where it implements it (`# DPDP s.9(1)`, `GDPR Art 17(3)(b)` in a docstring). This
script reads those citations from comments and docstrings (not other strings: those are texts shown to
people, such as the notice), normalises their spelling (`s. 9(1)`, `section 9(1)`, `Art. 17`, `Article 17`)
and writes one table per law, sorted by provision, each row linking to the lines that cite it and naming the
function or class they sit in. tests/docs/test_law_index.py fails when the committed file differs from what this
script writes now.

    .venv/bin/python scripts/gen_law_index.py          # rewrite docs/law-index.md
    .venv/bin/python scripts/gen_law_index.py --check  # exit 1 if it is out of date

How a citation is read, so that a reader can predict it:
- A law is named (`DPDP`, `GDPR`, `CCPA`, `SPDI`, `IT Rules 2021`, `CERT-In`, `RFC 8058` …) and the provisions
  after it in the same docstring or comment block (consecutive comment lines) belong to it:
  `DPDP s.9(1), Rule 11` is DPDP Act s.9(1) and DPDP Rules Rule 11; `GDPR Art 17(3)(b), 18(2)` is
  Art 17(3)(b) and Art 18(2); `s.7(d)-(e)` is s.7(d) and s.7(e). `§1798.x` and `§70xx` are always CCPA.
- Where no law with that kind of provision is in force, the code's house style decides: a bare `s.N` is the
  DPDP Act, a `Rule N(…)` with a sub-clause and a `… Schedule` the DPDP Rules. A bare `Rule N` is nothing
  (the decision engine numbers its own rules), and `section N`, `Art N` and `§N` need a law's name.
- Engineering standards (RFC 3339, RFC 9457, ISO 8601, NIST SP …) are not law: they end the run of the law
  before them, so `RFC 9110 s.9.3.7` is not a DPDP section. The standards the legal requirements name
  (RFC 8058, RFC 9116, ISO/IEC TS 27560, ISO/IEC 29184, W3C GPC, Kantara) are indexed.
- A law named with no provision in the same block gets a "(named only)" row.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "fiduciary"
INDEX_PATH = ROOT / "docs" / "law-index.md"

# Section kinds a provision can have.
SECTION, RULE, ARTICLE, PARAGRAPH, SCHEDULE, RECITAL, DIRECTION, CLAUSE, NAMED = (
    "section",
    "rule",
    "article",
    "paragraph",
    "schedule",
    "recital",
    "direction",
    "clause",
    "named",
)


@dataclass(frozen=True)
class Family:
    """A law and its instruments: which document each kind of provision belongs to."""

    key: str
    docs: dict[str, str]  # provision kind → document name
    named_doc: str  # the document a bare mention of the law means
    bare: str | None = None  # kind of a number written right after the name (`GDPR 6(1)(f)`)


DPDP_ACT, DPDP_RULES = "DPDP Act 2023", "DPDP Rules 2025"
FAMILIES = {
    f.key: f
    for f in (
        Family("dpdp", {SECTION: DPDP_ACT, RULE: DPDP_RULES, SCHEDULE: DPDP_RULES}, DPDP_ACT),
        Family("gdpr", {ARTICLE: "GDPR", RECITAL: "GDPR"}, "GDPR", ARTICLE),
        Family("uk-gdpr", {ARTICLE: "UK GDPR"}, "UK GDPR", ARTICLE),
        Family("eprivacy", {ARTICLE: "ePrivacy Directive 2002/58/EC"}, "ePrivacy Directive 2002/58/EC", ARTICLE),
        Family("ccpa", {PARAGRAPH: "CCPA / CPRA"}, "CCPA / CPRA", PARAGRAPH),
        Family("spdi", {RULE: "SPDI Rules 2011"}, "SPDI Rules 2011"),
        Family("it-act", {SECTION: "IT Act 2000"}, "IT Act 2000"),
        Family(
            "it-rules", {RULE: "IT (Intermediary Guidelines) Rules 2021"}, "IT (Intermediary Guidelines) Rules 2021"
        ),
        Family(
            "ecommerce",
            {RULE: "Consumer Protection (E-Commerce) Rules 2020"},
            "Consumer Protection (E-Commerce) Rules 2020",
        ),
        Family("cert-in", {DIRECTION: "CERT-In Directions 2022"}, "CERT-In Directions 2022"),
        Family("aadhaar", {SECTION: "Aadhaar Act 2016"}, "Aadhaar Act 2016"),
        Family("aadhaar-regs", {}, "Aadhaar (Data Security) Regulations 2016"),
        Family("income-tax", {SECTION: "Income-tax Act 1961", RULE: "Income-tax Rules 1962"}, "Income-tax Act 1961"),
        Family("cgst-act", {SECTION: "CGST Act 2017", RULE: "CGST Rules 2017"}, "CGST Act 2017"),
        Family("cgst-rules", {SECTION: "CGST Act 2017", RULE: "CGST Rules 2017"}, "CGST Rules 2017"),
        Family(
            "iso-27560", {CLAUSE: "ISO/IEC TS 27560:2023", PARAGRAPH: "ISO/IEC TS 27560:2023"}, "ISO/IEC TS 27560:2023"
        ),
        Family(
            "iso-29184", {CLAUSE: "ISO/IEC 29184:2020", PARAGRAPH: "ISO/IEC 29184:2020"}, "ISO/IEC 29184:2020", CLAUSE
        ),
        Family("rfc-8058", {SECTION: "RFC 8058", PARAGRAPH: "RFC 8058"}, "RFC 8058"),
        Family("rfc-9116", {SECTION: "RFC 9116", PARAGRAPH: "RFC 9116"}, "RFC 9116"),
        Family("gpc", {PARAGRAPH: "W3C Global Privacy Control"}, "W3C Global Privacy Control"),
        Family("kantara", {}, "Kantara Consent Receipt v1.1"),
    )
}
# The order of the sections of the index: India, EU and UK, California, then standards.
DOC_ORDER = [
    DPDP_ACT,
    DPDP_RULES,
    "IT Act 2000",
    "SPDI Rules 2011",
    "IT (Intermediary Guidelines) Rules 2021",
    "Consumer Protection (E-Commerce) Rules 2020",
    "CERT-In Directions 2022",
    "Aadhaar Act 2016",
    "Aadhaar (Data Security) Regulations 2016",
    "Income-tax Act 1961",
    "Income-tax Rules 1962",
    "CGST Act 2017",
    "CGST Rules 2017",
    "GDPR",
    "ePrivacy Directive 2002/58/EC",
    "UK GDPR",
    "CCPA / CPRA",
    "ISO/IEC TS 27560:2023",
    "ISO/IEC 29184:2020",
    "RFC 8058",
    "RFC 9116",
    "W3C Global Privacy Control",
    "Kantara Consent Receipt v1.1",
]
LEGAL_RFCS = {"8058": "rfc-8058", "9116": "rfc-9116"}
LEGAL_ISO = {"27560": "iso-27560", "29184": "iso-29184"}

_YEAR = r"(?:\s+(?:19|20)\d\d\b)?"
# Law names. A name that ends the run of a law without starting one is None (an engineering standard).
_MARKERS: list[tuple[str, str | None]] = [
    (r"\bUK\s+GDPR\b", "uk-gdpr"),
    (r"\bGDPR\b", "gdpr"),
    (r"\bDPDP(?:\s+Act)?" + _YEAR, "dpdp"),
    (r"\b(?:CCPA|CPRA)(?:\s*/\s*CPRA)?(?:\s+regulations)?", "ccpa"),
    (r"\bSPDI(?:\s+Rules\b)?" + _YEAR, "spdi"),
    (r"\bIT\s+Act" + _YEAR, "it-act"),
    (r"\bIT\s+Rules" + _YEAR, "it-rules"),
    (r"(?:\bConsumer\s+Protection\s+\(E-Commerce\)|\bE-Commerce)\s+Rules" + _YEAR, "ecommerce"),
    (r"\bCERT-In(?:\s+[Dd]irections)?(?:\s+of\s+\d+\s+\w+\s+\d{4})?", "cert-in"),
    (r"\bAadhaar\s+\(Data\s+Security\)\s+Regulations" + _YEAR, "aadhaar-regs"),
    (r"\bAadhaar\s+Act" + _YEAR, "aadhaar"),
    (r"\bIncome-tax\s+Act" + _YEAR, "income-tax"),
    (r"\bCGST\s+Act" + _YEAR, "cgst-act"),
    (r"\bCGST\s+Rules" + _YEAR, "cgst-rules"),
    (r"\bePrivacy(?:\s+Directive)?", "eprivacy"),
    (r"\b(?:W3C\s+)?GPC\s+spec(?:ification)?\b|\bW3C\s+GPC\b", "gpc"),
    (r"\bKantara\s+Consent\s+Receipt(?:\s+v?\d+(?:\.\d+)*)?", "kantara"),
    (r"\bRFC\s*(?P<rfc>\d{3,5})\b", None),  # legal or not: decided by number
    (r"\bISO(?:/IEC)?(?:\s+TS)?\s+(?P<iso>\d{4,5})(?:-\d+)?(?::\d{4})?", None),
    (r"\bNIST\s+SP\s+[\d-]+[A-Z]?|\bPCI\s+DSS\b|\bYAML\s+\d+(?:\.\d+)*|\bBCP\s*\d+|\bUIDAI\b", None),
]
_MARKER_RE = re.compile("|".join(f"(?P<m{i}>{pattern})" for i, (pattern, _) in enumerate(_MARKERS)))

_SP = r"(?:\n\s*|\s?)"  # one space, or a line break and the next line's indent
_SUBS = r"(?P<subs>(?:\s?\((?:\d+|[a-z]{1,4}|[A-Z])\))*)"
_RANGE = r"(?:\s?[-–]\s?(?:\((?P<to_sub>[a-z]|\d+)\)|(?P<to_num>\d+)\b))?"
_PROVISIONS = {
    SECTION: r"(?<![\w.])(?P<word>s\.|ss\.|[Ss]ections?|[Ss]ec\.)"
    + _SP
    + r"(?P<num>\d+[A-Z]?(?:\.\d+)*)"
    + _SUBS
    + _RANGE,
    RULE: r"(?<![\w.])(?:[Rr]ules?|r\.)" + _SP + r"(?!(?:19|20)\d\d\b)(?P<num>\d+)" + _SUBS + _RANGE,
    ARTICLE: r"\b(?:Arts?\.?|Articles?)" + _SP + r"(?P<num>\d+)" + _SUBS + _RANGE,
    PARAGRAPH: r"(?:\bCiv\.\s*Code\s*§?\s*|\b11\s+CCR\s*§?\s*|§\s?)(?P<num>\d+(?:\.\d+)*)" + _SUBS + _RANGE,
    SCHEDULE: r"\b(?P<num>First|Second|Third|Fourth|Fifth|Sixth|Seventh)\s+Schedule(?:\s+Part\s+(?P<part>[AB])\b)?",
    RECITAL: r"\b[Rr]ecital\s+(?P<num>\d+)",
    DIRECTION: r"\b[Dd]irection\s*(?P<num>\([ivx]+\))",
}
_PROVISION_RES = {kind: re.compile(pattern) for kind, pattern in _PROVISIONS.items()}
# Only after a law's name: a number with no word (`GDPR 6(1)(f)`, `CCPA 1798.120(c)`, `ISO/IEC 29184 5.5.3`).
_BARE_RE = re.compile(r"\s+(?P<num>\d+(?:\.\d+)+[A-Z]?|\d+[A-Z]?(?=\())" + _SUBS + r"(?=[\s),;:/.]|$)")
# More of the same kind: `Art 17(3)(b), 18(2), 21(1)`, `s.9(1) and (3)`, `Art 15/20`.
_CONTINUE_RE = re.compile(
    r"(?:\s*,\s*|\s+and\s+|\s*/\s*)(?:(?P<num>\d+(?:\.\d+)*[A-Z]?)" + _SUBS + r"|(?P<sub>\((?:\d+|[a-z]{1,4})\)))"
    r"(?=[\s),;:/.]|$)(?!\s+[a-z])"
)
# California's statute (Civ. Code §1798.100 ff.) and regulations (11 CCR §7000 ff.): no other law numbers so.
_CCPA_NUMBER = re.compile(r"1798\.\d+$|7[0-3]\d\d$")
_ORDINALS = ["First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh"]


@dataclass(frozen=True, order=True)
class Citation:
    """One provision of one law, as the index spells it."""

    doc: str
    kind: str
    number: str  # "9", "1798.120", "5.5.3", "Fourth", "(iii)"
    subs: tuple[str, ...] = ()  # ("1", "a")
    part: str = ""

    def label(self) -> str:
        tail = "".join(f"({s})" for s in self.subs)
        if self.kind == NAMED:
            return "(named only)"
        if self.kind == SECTION:
            return f"s.{self.number}{tail}"
        if self.kind == RULE:
            return f"Rule {self.number}{tail}"
        if self.kind == ARTICLE:
            return f"Art {self.number}{tail}"
        if self.kind == RECITAL:
            return f"Recital {self.number}"
        if self.kind == SCHEDULE:
            return f"{self.number} Schedule" + (f" Part {self.part}" if self.part else "")
        if self.kind == DIRECTION:
            return f"Direction {self.number}"
        if self.kind == CLAUSE:
            return f"clause {self.number}{tail}"
        if self.doc == "CCPA / CPRA":
            return ("Civ. Code §" if self.number.startswith("1798") else "11 CCR §") + self.number + tail
        if self.doc.startswith("ISO"):
            return f"clause {self.number}{tail}"
        return f"§{self.number}{tail}"

    def sort_key(self) -> tuple[object, ...]:
        kinds = [SECTION, ARTICLE, RECITAL, RULE, PARAGRAPH, CLAUSE, DIRECTION, SCHEDULE, NAMED]
        number: list[tuple[int, object]] = []
        if self.kind == SCHEDULE:
            number = [(0, _ORDINALS.index(self.number)), (1, self.part)]
        else:
            for piece in re.findall(r"\d+|[A-Za-z]+", ".".join([self.number, *self.subs])):
                number.append((0, int(piece)) if piece.isdigit() else (1, piece))
        return (kinds.index(self.kind), number)


@dataclass(frozen=True, order=True)
class Place:
    """Where a citation is: a file under src/fiduciary, its line, and the function or class around it."""

    path: str  # relative to src/fiduciary, with forward slashes
    line: int
    scope: str  # "ConsentService.withdraw", or "" at module level


def _expand(num: str, subs: list[str], to_sub: str | None, to_num: str | None) -> list[tuple[str, list[str]]]:
    """`7(d)-(e)` → 7(d), 7(e); `10-12` → 10, 11, 12; anything else as it is."""
    if to_sub and subs:
        first, last = subs[-1], to_sub
        if first.isdigit() and last.isdigit() and int(first) < int(last) <= int(first) + 10:
            return [(num, [*subs[:-1], str(i)]) for i in range(int(first), int(last) + 1)]
        if len(first) == len(last) == 1 and first.isalpha() and first < last:
            return [(num, [*subs[:-1], chr(c)]) for c in range(ord(first), ord(last) + 1)]
    if to_num and not subs and num.isdigit() and int(num) < int(to_num) <= int(num) + 10:
        return [(str(i), []) for i in range(int(num), int(to_num) + 1)]
    return [(num, subs)]


def _subs(text: str | None) -> list[str]:
    return re.findall(r"\(([^)]+)\)", text or "")


def extract(text: str) -> list[tuple[int, Citation]]:
    """Citations in one comment block or docstring, each with the offset where it starts in `text`.

    The law in force is the last one named before a provision; an engineering standard's name ends it. A law
    named without any provision of its own in the whole text yields one "named only" citation.
    """
    found: list[tuple[int, Citation]] = []
    family: Family | None = None
    named: dict[str, int] = {}
    pos = 0
    while True:
        marker = _MARKER_RE.search(text, pos)
        provisions = [(m.start(), kind, m) for kind, rx in _PROVISION_RES.items() if (m := rx.search(text, pos))]
        first = min(provisions, key=lambda item: item[0], default=None)
        if marker is None and first is None:
            break
        if marker is not None and (first is None or marker.start() <= first[0]):
            family, pos = _marker(marker, text, found, named)
            continue
        assert first is not None
        _, kind, m = first
        pos = max(m.end(), pos + 1)
        owner = _owner(family, kind, m)
        if owner is not None:
            pos = _provision(owner, kind, m, text, found)
    cited = {citation.doc for _, citation in found}
    for key, offset in named.items():
        family_docs = {FAMILIES[key].named_doc, *FAMILIES[key].docs.values()}
        if not family_docs & cited:
            found.append((offset, Citation(FAMILIES[key].named_doc, NAMED, "")))
    found.sort(key=lambda item: item[0])
    return found


def _owner(family: Family | None, kind: str, m: re.Match[str]) -> Family | None:
    """The law a provision belongs to, or None when it names none."""
    if kind == PARAGRAPH and _CCPA_NUMBER.match(m.group("num")):  # §1798.x and §70xx name their law
        return FAMILIES["ccpa"]
    if family is not None and kind in family.docs:
        return family
    if family is not None and family.key == "none":
        return None  # after an engineering standard's name: its sections, not a law's
    # No law in force for this kind: the house style. `s.N` is the DPDP Act, and so is a Schedule (of the
    # Rules); `Rule N(x)` is the DPDP Rules; `section N`, a bare `Rule N`, `§N` or `Art N` name no law.
    if kind == SECTION:
        return FAMILIES["dpdp"] if m.group("word") == "s." else None
    if kind == SCHEDULE or (kind == RULE and m.group("subs")):
        return FAMILIES["dpdp"]
    return None


def _marker(
    m: re.Match[str], text: str, found: list[tuple[int, Citation]], named: dict[str, int]
) -> tuple[Family, int]:
    """The family a law's name starts (an empty one for an engineering standard) and where scanning resumes."""
    index = int((m.lastgroup or "m0")[1:])
    key = _MARKERS[index][1]
    if m.group("rfc"):
        key = LEGAL_RFCS.get(m.group("rfc"))
    elif m.group("iso"):
        key = LEGAL_ISO.get(m.group("iso"))
    if key is None:
        return Family("none", {}, ""), m.end()
    family = FAMILIES[key]
    named.setdefault(key, m.start())
    end = m.end()
    bare = _BARE_RE.match(text, end) if family.bare else None
    if family.bare and bare:
        num, subs = bare.group("num"), _subs(bare.group("subs"))
        found.append((bare.start("num"), Citation(family.docs[family.bare], family.bare, num, tuple(subs))))
        end = _continue(family, family.bare, num, subs, text, bare.end(), found)
    return family, end


def _provision(family: Family, kind: str, m: re.Match[str], text: str, found: list[tuple[int, Citation]]) -> int:
    num = m.group("num")
    doc = family.docs[kind]
    if kind == SCHEDULE:
        found.append((m.start(), Citation(doc, kind, num, (), m.group("part") or "")))
        return m.end()
    if kind in (DIRECTION, RECITAL):
        found.append((m.start(), Citation(doc, kind, num)))
        return m.end()
    subs = _subs(m.group("subs"))
    for n, s in _expand(num, subs, m.group("to_sub"), m.group("to_num")):
        found.append((m.start(), Citation(doc, kind, n, tuple(s))))
    return _continue(family, kind, num, subs, text, m.end(), found)


def _continue(
    family: Family, kind: str, num: str, subs: list[str], text: str, end: int, found: list[tuple[int, Citation]]
) -> int:
    """`Art 17(3)(b), 18(2), 21(1)`; `s.9(1) and (3)`; `Art 15/20`: more of the same kind of provision."""
    while more := _CONTINUE_RE.match(text, end):
        if more.group("num"):
            num, subs = more.group("num"), _subs(more.group("subs"))
        elif subs:
            subs = [*subs[:-1], more.group("sub")[1:-1]]
        else:
            break
        found.append((more.start(), Citation(family.docs[kind], kind, num, tuple(subs))))
        end = more.end()
    return end


def extract_lines(text: str, first_line: int = 1) -> list[tuple[int, Citation]]:
    """`extract`, with each offset turned into a line number (`text` starting at `first_line`)."""
    return [(first_line + text.count("\n", 0, offset), citation) for offset, citation in extract(text)]


def _scopes(tree: ast.Module) -> list[tuple[int, int, str]]:
    """(first line, last line, qualified name) of every function and class, outermost first."""
    out: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                out.append((child.lineno, child.end_lineno or child.lineno, name))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def _chunks(source: str, tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(first line, text) of every comment block (consecutive comment lines) and every docstring."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.body:
            first = node.body[0]
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.add((value.lineno, value.col_offset))
    block: list[str] = []
    block_start = block_end = 0
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            if block and tok.start[0] == block_end + 1:
                block.append(tok.string)
            else:
                if block:
                    yield block_start, "\n".join(block)
                block, block_start = [tok.string], tok.start[0]
            block_end = tok.start[0]
        elif tok.type == tokenize.STRING and tok.start in docstrings:
            yield tok.start[0], tok.string  # the source text, so line numbers stay exact
    if block:
        yield block_start, "\n".join(block)


def citations_in(path: Path, root: Path = SRC) -> Iterator[tuple[Citation, Place]]:
    """Every citation in the comments and docstrings of one file, with where it is."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, str(path))
    scopes = _scopes(tree)
    rel = path.relative_to(root).as_posix()
    for first_line, text in _chunks(source, tree):
        for line, citation in extract_lines(text, first_line):
            inner = [name for start, end, name in scopes if start <= line <= end]
            yield citation, Place(rel, line, inner[-1] if inner else "")


def collect(root: Path = SRC) -> dict[str, dict[Citation, set[Place]]]:
    """Law → provision → the places citing it, over every .py file under `root`."""
    index: dict[str, dict[Citation, set[Place]]] = {}
    for path in sorted(root.rglob("*.py")):
        for citation, place in citations_in(path, root):
            index.setdefault(citation.doc, {}).setdefault(citation, set()).add(place)
    return index


def _anchor(doc: str) -> str:
    text = re.sub(r"[^\w\- ]", "", doc.lower())
    return text.replace(" ", "-")


def render(root: Path = SRC) -> str:
    index = collect(root)
    docs = [doc for doc in DOC_ORDER if doc in index] + sorted(set(index) - set(DOC_ORDER))
    total = sum(len(places) for provisions in index.values() for places in provisions.values())
    out = [
        "# Law index",
        "",
        "<!-- Generated by scripts/gen_law_index.py from the comments and docstrings under src/fiduciary.",
        "     Do not edit by hand: run `.venv/bin/python scripts/gen_law_index.py` and commit the result. -->",
        "",
        "Where the code implements each provision it cites: the citations in comments and docstrings of",
        "`src/fiduciary` (`# DPDP s.9(1)`), grouped by law and sorted by provision. Each place names the function",
        "or class the citation sits in. Texts shown to people (the notice, reason codes) are not read. How a",
        "citation is read (which law a bare `s.7(a)` belongs to, what is not a citation) is described at the top",
        "of `scripts/gen_law_index.py`; how the packages fit together is in [architecture](architecture.md).",
        "",
        f"{total} citations of {sum(len(p) for p in index.values())} provisions in {len(docs)} laws and standards.",
        "",
        *[f"- [{doc}](#{_anchor(doc)})" for doc in docs],
    ]
    for doc in docs:
        out += ["", f"## {doc}", "", "| provision | where |", "|---|---|"]
        for citation in sorted(index[doc], key=Citation.sort_key):
            places = sorted(index[doc][citation])
            cells = []
            for place in places:
                link = f"[{place.path}:{place.line}](../src/fiduciary/{place.path}#L{place.line})"
                cells.append(f"{link} `{place.scope}`" if place.scope else link)
            out.append(f"| {citation.label()} | {'<br>'.join(cells)} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate docs/law-index.md from the law cited in the code.")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/law-index.md is out of date")
    args = parser.parse_args(argv)
    text = render()
    current = INDEX_PATH.read_text(encoding="utf-8") if INDEX_PATH.exists() else None
    if current == text:
        return 0
    if args.check:
        print(f"out of date: {INDEX_PATH.relative_to(ROOT)}")
        return 1
    INDEX_PATH.write_text(text, encoding="utf-8")
    print(f"wrote: {INDEX_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

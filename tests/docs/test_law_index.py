"""docs/law-index.md is what scripts/gen_law_index.py generates now, and the extractor reads citations right."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIX = "run `.venv/bin/python scripts/gen_law_index.py` and commit the result"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_law_index", ROOT / "scripts" / "gen_law_index.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


GEN = _script()


def cited(text: str) -> list[str]:
    """`law: provision` for each citation the extractor finds in one comment or docstring."""
    return [f"{c.doc}: {c.label()}" for _, c in GEN.extract(text)]


def test_committed_index_is_current() -> None:
    committed = (ROOT / "docs" / "law-index.md").read_text(encoding="utf-8")
    assert committed == GEN.render(), f"docs/law-index.md is out of date: {FIX}"


def test_check_mode_reports_nothing_stale() -> None:
    assert GEN.main(["--check"]) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The spellings of one provision all come out the same.
        ("# DPDP s.9(1): a guardian", ["DPDP Act 2023: s.9(1)"]),
        ("DPDP s. 9(1)", ["DPDP Act 2023: s.9(1)"]),
        ("the DPDP Act, section 9(1)", ["DPDP Act 2023: s.9(1)"]),
        ("DPDP Act 2023 Section 9 (1)", ["DPDP Act 2023: s.9(1)"]),
        ("GDPR Art. 17", ["GDPR: Art 17"]),
        ("GDPR Article 17(3)(b)", ["GDPR: Art 17(3)(b)"]),
        ("GDPR 6(1)(f); not a ground", ["GDPR: Art 6(1)(f)"]),
        ("CCPA §1798.120", ["CCPA / CPRA: Civ. Code §1798.120"]),
        ("CCPA 1798.120(c): the minor", ["CCPA / CPRA: Civ. Code §1798.120(c)"]),
        ("(11 CCR §7025(c)(3))", ["CCPA / CPRA: 11 CCR §7025(c)(3)"]),
        ("SPDI r.5(9)", ["SPDI Rules 2011: Rule 5(9)"]),
        ("SPDI Rules 2011 r.5(1): written", ["SPDI Rules 2011: Rule 5(1)"]),
        ("IT Rules 2021 r.3(2)", ["IT (Intermediary Guidelines) Rules 2021: Rule 3(2)"]),
        ("CERT-In direction (ii): 6 hours", ["CERT-In Directions 2022: Direction (ii)"]),
        ("one-click (RFC 8058 s.3.2)", ["RFC 8058: s.3.2"]),
        ("ISO/IEC 29184 5.5.3 renewing consent", ["ISO/IEC 29184:2020: clause 5.5.3"]),
        ("ISO/IEC TS 27560 shape", ["ISO/IEC TS 27560:2023: (named only)"]),
        # Provisions after a law's name belong to it, across a line break, and lists and ranges expand.
        ("DPDP s.9(1), Rule 11", ["DPDP Act 2023: s.9(1)", "DPDP Rules 2025: Rule 11"]),
        ("(DPDP Rule\n6(1)(a), GDPR Art 32(1)(a))", ["DPDP Rules 2025: Rule 6(1)(a)", "GDPR: Art 32(1)(a)"]),
        ("GDPR Art 17(3)(b), 18(2), 21(1)", ["GDPR: Art 17(3)(b)", "GDPR: Art 18(2)", "GDPR: Art 21(1)"]),
        ("GDPR Art 15/20", ["GDPR: Art 15", "GDPR: Art 20"]),
        ("DPDP s.9(1) and (3)", ["DPDP Act 2023: s.9(1)", "DPDP Act 2023: s.9(3)"]),
        ("DPDP s.7(d)-(e)", ["DPDP Act 2023: s.7(d)", "DPDP Act 2023: s.7(e)"]),
        ("DPDP s.9, Rules 10-12", ["DPDP Act 2023: s.9", *[f"DPDP Rules 2025: Rule {n}" for n in (10, 11, 12)]]),
        ("Rule 6(1)(e), 8(3)", ["DPDP Rules 2025: Rule 6(1)(e)", "DPDP Rules 2025: Rule 8(3)"]),
        ("IT Act / SPDI Rule 5(9)", ["IT Act 2000: (named only)", "SPDI Rules 2011: Rule 5(9)"]),
        ("Income-tax Act s.139A, Rule 114", ["Income-tax Act 1961: s.139A", "Income-tax Rules 1962: Rule 114"]),
        ("ePrivacy Art 5(3) and DPDP s.6", ["ePrivacy Directive 2002/58/EC: Art 5(3)", "DPDP Act 2023: s.6"]),
        # The house style: a bare `s.N` is the DPDP Act, a bare `Rule N(x)` the DPDP Rules.
        ("s.17(1) exemptions", ["DPDP Act 2023: s.17(1)"]),
        ("(Rule 10(1)(b))", ["DPDP Rules 2025: Rule 10(1)(b)"]),
        ("DPDP Fourth Schedule Part B", ["DPDP Rules 2025: Fourth Schedule Part B"]),
        ("GPC spec §4.1; CCPA 11 CCR §7025", ["W3C Global Privacy Control: §4.1", "CCPA / CPRA: 11 CCR §7025"]),
    ],
)
def test_extractor_normalises_citations(text: str, expected: list[str]) -> None:
    assert cited(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Rule 4 of `engine.decide`, set-wise",  # the decision engine's own numbered rules
        "a date is an ISO 8601 string; RFC 3339 date-time",  # engineering standards, not law
        "Answer OPTIONS (RFC 9110 s.9.3.7), else 405 (s.15.5.6)",  # an RFC's sections, not the DPDP Act's
        "truncation to 128 bits: NIST SP 800-107 s.5.3.4",
        "YAML 1.2 §5.1 allows tab",
        "the sections of the notice itself; see section 3 below",  # `section` needs a law's name
        "Article 5 of the terms; Art 17 of nothing",  # an article of no named law
        "e.g. s.t. the values.3 hold; rules 2025",  # abbreviations, attributes, years
        "any Eighth-Schedule language",  # the Constitution's, not the DPDP Rules'
        "DPDP Act 2023 + Rules 2025",  # a year is not a rule number (the law is named only)
    ],
)
def test_extractor_ignores_what_is_not_a_citation(text: str) -> None:
    assert [c for c in cited(text) if not c.endswith("(named only)")] == []


def test_provisions_sort_by_number_not_text() -> None:
    labels = ["s.17(1)", "s.6(10)", "s.9", "s.6(4)", "s.8(7)(b)", "s.8(7)"]
    citations = [
        GEN.Citation("DPDP Act 2023", "section", lab[2:].split("(")[0], tuple(GEN._subs(lab))) for lab in labels
    ]
    ordered = [c.label() for c in sorted(citations, key=GEN.Citation.sort_key)]
    assert ordered == ["s.6(4)", "s.6(10)", "s.8(7)", "s.8(7)(b)", "s.9", "s.17(1)"]


def test_places_carry_line_and_enclosing_scope(tmp_path: Path) -> None:
    """Comments and docstrings are read, other strings are not; each place names its function or class."""
    root = tmp_path / "fiduciary"
    root.mkdir()
    (root / "mod.py").write_text(
        '"""Module: DPDP s.6(10)."""\n'
        "\n"
        "class Ledger:\n"
        '    """Burden of proof (GDPR Art 7(1))."""\n'
        "\n"
        "    def withdraw(self) -> str:\n"
        "        # withdrawing is as easy as consenting (DPDP s.6(4),\n"
        "        # GDPR Art 7(3))\n"
        '        return "shown to people: DPDP s.9(3)"\n'
    )
    found = {(c.label(), p.line, p.scope) for c, p in GEN.citations_in(root / "mod.py", root)}
    assert found == {
        ("s.6(10)", 1, ""),
        ("Art 7(1)", 4, "Ledger"),
        ("s.6(4)", 7, "Ledger.withdraw"),
        ("Art 7(3)", 8, "Ledger.withdraw"),
    }
    page = GEN.render(root)
    assert "| s.6(4) | [mod.py:7](../src/fiduciary/mod.py#L7) `Ledger.withdraw` |" in page
    assert "s.9(3)" not in page


def test_the_index_covers_the_laws_the_code_cites() -> None:
    page = GEN.render()
    for row in ("| s.9(1) |", "| Rule 8(3) |", "| Art 17 |", "| Civ. Code §1798.120(c) |", "| Rule 5(9) |"):
        assert row in page
    for law in ("## RFC 8058", "## CERT-In Directions 2022", "## ISO/IEC TS 27560:2023"):
        assert law in page

"""Generalisation of kept quasi-identifiers (issue 15, k-anonymity): each coarsening, and what does not parse."""

from __future__ import annotations

import pytest

from fiduciary.policy.schema import Generalisation, QuasiIdentifier
from fiduciary.retention.anonymise import SUPPRESSED, generalise


@pytest.mark.parametrize(
    ("how", "digits", "value", "kept"),
    [
        (Generalisation.PREFIX, 3, "560 034", "560"),
        (Generalisation.PREFIX, 3, "56", SUPPRESSED),  # too short to keep 3 characters: suppressed
        (Generalisation.MONTH, None, "1990-04-17", "1990-04"),
        (Generalisation.YEAR, None, "1990-04-17", "1990"),
        (Generalisation.DECADE, None, "1990-04-17", "1990s"),
        (Generalisation.DECADE, None, "17/04/1990", SUPPRESSED),  # not ISO: suppressed, never guessed
        (Generalisation.EXACT, None, " delivered ", "delivered"),
        (Generalisation.EXACT, None, None, SUPPRESSED),  # the person has no such value
    ],
)
def test_generalise(how: Generalisation, digits: int | None, value: str | None, kept: str) -> None:
    assert generalise(QuasiIdentifier(category="x.y", generalise=how, digits=digits), value) == kept

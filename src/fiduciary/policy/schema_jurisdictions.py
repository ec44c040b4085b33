"""The policy schema for what differs by jurisdiction inside one policy (issue 12 item 1), and the facts
about each jurisdiction the checks and the notice share.

A store serving India, the EU/UK and California states, per jurisdiction, the ground of each purpose
(`Purpose.grounds_by_jurisdiction`, in `schema_data`), the rights offered and their deadlines
(`Right.jurisdictions`, `Right.deadlines_by_jurisdiction`, in `schema_rights`), the age bands
(`ChildrenRules.by_jurisdiction`, the `AgeBand` below), the authority to complain to (`Authority`, in
`schema_parties`) and the EU/UK representative (`Representative`, in `schema_parties`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from fiduciary.policy.schema_parties import Jurisdiction
from fiduciary.policy.schema_types import CountryCode, StrictModel

# Where GDPR applies by establishment: the 27 member states and the EEA states that apply it by the EEA
# Agreement (Iceland, Liechtenstein, Norway). A controller established here needs no GDPR Art 27
# representative; one established elsewhere that serves people here does (Art 3(2), Art 27(1)).
EEA_COUNTRIES: frozenset[str] = frozenset(
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT",
        "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
    }
)  # fmt: skip
# UK GDPR Art 27(1): a controller not established in the United Kingdom (ISO 3166 code GB).
UK_COUNTRIES: frozenset[str] = frozenset({"GB"})

# The countries where a controller counts as established, per jurisdiction that has an Art 27 duty.
ESTABLISHED_IN: dict[Jurisdiction, frozenset[str]] = {Jurisdiction.EU: EEA_COUNTRIES, Jurisdiction.UK: UK_COUNTRIES}

# The legal age floors each law sets for the age below which a person is a child (`AgeBand.minimum_age`):
# DPDP s.2(f) 18; GDPR Art 8(1) 16 unless a member state lowers it, never below 13; UK GDPR Art 8(1) as
# amended by the Data Protection Act 2018 s.9: 13. CCPA has no age of a child for consent, only the sale
# bands of Civ. Code 1798.120(c): opt-in under 16, a parent's under 13.
CHILD_AGE_FLOOR: dict[Jurisdiction, int] = {Jurisdiction.IN: 18, Jurisdiction.EU: 13, Jurisdiction.UK: 13}
GDPR_DEFAULT_CHILD_AGE = 16  # GDPR Art 8(1) first subparagraph
CCPA_SALE_OPT_IN_AGE = 16  # CCPA Civ. Code 1798.120(c)
CCPA_SALE_PARENT_AGE = 13  # CCPA Civ. Code 1798.120(c), 11 CCR 7070


class AgeBand(StrictModel):
    """The ages one jurisdiction sets, stated for the people who live there ("If you live in the EU: …").

    Decisions apply the band to the people whose recorded residence is this jurisdiction (`people.jurisdiction`,
    `fiduciary.policy.ages`), and `children.minimum_age`, `sale_opt_in_age` and `sale_parent_age` to everyone
    whose residence is unknown, so `policy check` requires those to be at least every band's.
    """

    minimum_age: int = Field(
        ge=13, le=21, description="Below this age a person of this jurisdiction is a child (DPDP s.2(f): 18)."
    )
    sale_opt_in_age: int | None = Field(
        default=None, ge=13, le=21, description="Below this age a sale or sharing needs an opt-in (CCPA: 16)."
    )
    sale_parent_age: int | None = Field(
        default=None, ge=0, le=21, description="Below this age the opt-in must come from a parent (CCPA: 13)."
    )
    country_ages: dict[CountryCode, Annotated[int, Field(ge=13, le=16)]] = Field(
        default_factory=dict,
        description="GDPR Art 8(1) ages of digital consent by member state (13 to 16), e.g. {DE: 16, FR: 15}.",
    )

    @model_validator(mode="after")
    def _bands(self) -> AgeBand:
        if (
            self.sale_parent_age is not None
            and self.sale_opt_in_age is not None
            and self.sale_parent_age > self.sale_opt_in_age
        ):
            raise ValueError("sale_parent_age must not be above sale_opt_in_age")
        return self

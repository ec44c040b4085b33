"""Shared state and small helpers of the notice builder: the translator, locale, lookups, and the
labels every section uses (durations, addresses, countries, links, legal grounds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from enum import StrEnum
from typing import Any

from babel.core import Locale
from babel.dates import format_date
from babel.lists import format_list

from fiduciary.policy.duration import Duration, DurationUnit
from fiduciary.policy.notice.view.labels import (
    EXEMPTION,
    GROUND_EXPLANATION,
    GROUND_LABEL,
    LEGITIMATE_USE,
)
from fiduciary.policy.notice.view.model import (
    AddressView,
    Coded,
    LegalGroundView,
    Translator,
)
from fiduciary.policy.schema import (
    Contact,
    JurisdictionGround,
    LegalGround,
    PolicyDocument,
    PostalAddress,
    Purpose,
    RightKind,
)


class BuilderBase:
    """Holds the translator, locale and lookups while the pure build functions run."""

    def __init__(self, document: PolicyDocument, t: Translator, locale: Locale, base_url: str | None) -> None:
        self.doc = document
        self.t = t
        self.locale = locale
        self.base_url = base_url.rstrip("/") if base_url else None
        self.categories = {c.id: c for c in document.categories}
        self.purposes = {p.id: p for p in document.purposes}
        self.home = document.controller.address.country

    def _(self, message: str) -> str:
        return self.t.gettext(message)

    def join(self, items: Sequence[str]) -> str:
        return format_list(list(items), locale=self.locale) if items else ""

    def join_or(self, items: Sequence[str]) -> str:
        return format_list(list(items), style="or", locale=self.locale) if items else ""

    def country(self, code: str) -> Coded:
        return Coded(code, self.locale.territories.get(code, code))

    def date_text(self, value: date) -> str:
        return format_date(value, format="long", locale=self.locale)

    def duration(self, value: Duration) -> str:
        n = value.amount
        t = self.t
        text = {
            DurationUnit.MINUTES: lambda: t.ngettext("%(num)d minute", "%(num)d minutes", n),
            DurationUnit.HOURS: lambda: t.ngettext("%(num)d hour", "%(num)d hours", n),
            DurationUnit.DAYS: lambda: t.ngettext("%(num)d day", "%(num)d days", n),
            DurationUnit.BUSINESS_DAYS: lambda: t.ngettext("%(num)d business day", "%(num)d business days", n),
            DurationUnit.WEEKS: lambda: t.ngettext("%(num)d week", "%(num)d weeks", n),
            DurationUnit.MONTHS: lambda: t.ngettext("%(num)d month", "%(num)d months", n),
            DurationUnit.YEARS: lambda: t.ngettext("%(num)d year", "%(num)d years", n),
        }[value.unit]()
        return text % {"num": n}

    def address(self, address: PostalAddress) -> AddressView:
        country = self.country(address.country)
        parts = [*address.lines]
        if address.city:
            parts.append(address.city)
        if address.region:
            parts.append(address.region)
        if address.postal_code:
            parts.append(address.postal_code)
        parts.append(country.label)
        return AddressView(
            lines=list(address.lines),
            city=address.city,
            region=address.region,
            postal_code=address.postal_code,
            country=country,
            text=", ".join(parts),
        )

    def link(self, path: str) -> str | None:
        return f"{self.base_url}{path}" if self.base_url else None

    def category_name(self, category_id: str) -> str:
        category = self.categories.get(category_id)
        return category.name if category else category_id

    def purpose_name(self, purpose_id: str) -> str:
        purpose = self.purposes.get(purpose_id)
        return purpose.name if purpose else purpose_id

    def rights_contact(self) -> Contact | None:
        """DPDP s.8(9) / Rule 9: the DPO if there is one, else the person who answers on processing."""
        contacts = self.doc.contacts
        return contacts.data_protection_officer or contacts.privacy_contact or contacts.grievance_officer

    def has_right(self, kind: RightKind) -> bool:
        return any(r.kind is kind for r in self.doc.rights)

    def label(self, labels: Mapping[Any, str], key: StrEnum) -> str:
        """The translated label; the raw code for a value added to the schema after this table."""
        text = labels.get(key)
        return self._(text) if text is not None else key.value

    def legal_ground(self, purpose: Purpose | JurisdictionGround) -> LegalGroundView:
        """A purpose's own ground, or the one it states for a jurisdiction (the same fields)."""
        ground = purpose.legal_ground
        clause = None
        if ground is LegalGround.LEGITIMATE_USE and purpose.legitimate_use is not None:
            label = self.label(LEGITIMATE_USE, purpose.legitimate_use)
            clause = f"s.7({purpose.legitimate_use.value[1:]})"
        elif ground is LegalGround.EXEMPTION and purpose.exemption is not None:
            label = self.label(EXEMPTION, purpose.exemption)
            clause = f"s.{purpose.exemption.value}"
        elif ground is LegalGround.LEGAL_OBLIGATION and purpose.legal_basis_reference:
            label = self._("Required by law (%(law)s)") % {"law": purpose.legal_basis_reference}
        else:
            label = self.label(GROUND_LABEL, ground)
        explanation = self.label(GROUND_EXPLANATION, ground)
        return LegalGroundView(
            code=ground.value,
            dpdp_clause=clause,
            reference=purpose.legal_basis_reference,
            label=label,
            explanation=explanation,
        )

"""The compiled policy: the in-memory form the runtime decisions read, built once per published version.

Lookups the hot path needs (purpose → categories, which purposes need consent, which are barred for
children) are precomputed into frozensets and dicts so a decision is a few hash lookups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.policy.ages import AgeRules
from fiduciary.policy.schema import (
    Channel,
    DataCategory,
    Jurisdiction,
    JurisdictionGround,
    LegalGround,
    LegitimateUse,
    PolicyDocument,
    Purpose,
    Recipient,
    RetentionRule,
    UnknownAge,
)


@dataclass(frozen=True, slots=True)
class CompiledPurpose:
    id: str
    legal_ground: LegalGround
    needs_consent: bool
    categories: frozenset[str]  # required and optional together: everything the purpose may touch
    marketing_channels: frozenset[Channel]
    barred_for_children: bool  # tracking, profiling or targeted advertising (DPDP s.9(3))
    sale_or_sharing: bool
    targeted_advertising: bool
    objectable: bool  # non-consent grounds a person may object to (DPDP s.7(a), GDPR Art 21)
    # Runs for a child without a guardian's consent: a Fourth Schedule Part B purpose (DPDP s.9(5)), or an
    # s.17(1) exemption, which disapplies Chapter II and with it s.9. `part_b` alone is the policy's flag.
    part_b: bool = False
    child_exempt: bool = False


def _objectable(ground: JurisdictionGround) -> bool:
    """Whether a person's objection or restriction stops a purpose on this ground.

    DPDP s.7(a) lasts only until the person says they do not consent (s.7 illustration II); the other s.7
    clauses (State functions, court orders, emergencies, employment) and the s.17(1) exemptions do not
    yield to an objection. GDPR Art 21 covers legitimate interests; Art 18 restriction also reaches
    processing for a contract. Legal obligations are never stopped by the person.
    """
    if ground.legal_ground is LegalGround.LEGITIMATE_USE:
        return ground.legitimate_use is LegitimateUse.VOLUNTARILY_PROVIDED
    return ground.legal_ground in (LegalGround.LEGITIMATE_INTERESTS, LegalGround.CONTRACT)


def _compile(p: Purpose, ground: JurisdictionGround, india: bool) -> CompiledPurpose:
    return CompiledPurpose(
        id=p.id,
        legal_ground=ground.legal_ground,
        needs_consent=ground.legal_ground is LegalGround.CONSENT,
        categories=frozenset(p.categories) | frozenset(p.optional_categories),
        marketing_channels=frozenset(p.marketing_channels),
        # DPDP s.9(3) bars tracking and targeted ads whatever the file says; a store may bar more. Where
        # Indian law applies a sale or sharing is barred too: it feeds others' tracking and ads (D25).
        barred_for_children=p.barred_for_children or p.children_allowed is False or (india and p.sale_or_sharing),
        sale_or_sharing=p.sale_or_sharing,
        targeted_advertising=p.targeted_advertising,
        objectable=_objectable(ground),
        part_b=p.children_exemption is not None,
        child_exempt=p.children_exemption is not None or ground.legal_ground is LegalGround.EXEMPTION,
    )


def _by_jurisdiction(
    document: PolicyDocument, compiled: dict[str, CompiledPurpose], india: bool
) -> dict[Jurisdiction, dict[str, CompiledPurpose]]:
    """The purposes as they apply to the people of each declared jurisdiction (`grounds_by_jurisdiction`).

    A jurisdiction without a ground of its own anywhere shares the default mapping, so a single-law policy
    costs nothing; otherwise only the purposes with an entry for it are compiled again.
    """
    out: dict[Jurisdiction, dict[str, CompiledPurpose]] = {}
    for j in document.controller.jurisdictions:
        own = [p for p in document.purposes if j in p.grounds_by_jurisdiction]
        if not own:
            out[j] = compiled
            continue
        purposes = dict(compiled)
        for p in own:
            purposes[p.id] = _compile(p, p.grounds_by_jurisdiction[j], india)
        out[j] = purposes
    return out


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    document: PolicyDocument
    content_hash: str
    version: int | None
    categories: dict[str, DataCategory]
    purposes: dict[str, Purpose]
    compiled_purposes: dict[str, CompiledPurpose]
    recipients: dict[str, Recipient]
    retention: dict[str, RetentionRule]
    consent_purposes: frozenset[str]
    child_age: int
    # Children's settings the rules read (docs/decisions/0015-unknown-age.md for unknown_age).
    guardian_consent: bool = True
    unknown_age: UnknownAge = UnknownAge.TREAT_AS_ADULT
    sale_opt_in_age: int = 16
    sale_parent_age: int = 13
    # The ages decisions apply (`policy.ages`): `default_ages` to a person whose residence is unknown (the
    # policy-wide ages, at least every band's), `age_bands` to the people of a jurisdiction with a band.
    default_ages: AgeRules = field(default_factory=lambda: AgeRules(18))
    age_bands: Mapping[Jurisdiction, AgeRules] = field(default_factory=dict)
    # The purposes as they apply to the people of each declared jurisdiction; the default mapping
    # (`compiled_purposes`, each purpose's own `legal_ground`) is shared where nothing differs.
    by_jurisdiction: Mapping[Jurisdiction, Mapping[str, CompiledPurpose]] = field(default_factory=dict)
    residences: Mapping[str, Jurisdiction] = field(default_factory=dict)  # code → declared jurisdiction
    # Purposes on consent for the people of every jurisdiction and of none (a consent write for anything
    # else must look at the person: a guardian's or a minor's opt-in, or another ground where they live).
    consent_everywhere: frozenset[str] = frozenset()

    @classmethod
    def build(cls, document: PolicyDocument, content_hash: str, version: int | None = None) -> CompiledPolicy:
        india = Jurisdiction.IN in document.controller.jurisdictions
        children = document.children
        compiled = {p.id: _compile(p, p.ground_for(None), india) for p in document.purposes}
        by_jurisdiction = _by_jurisdiction(document, compiled, india)
        return cls(
            document=document,
            content_hash=content_hash,
            version=version,
            categories={c.id: c for c in document.categories},
            purposes={p.id: p for p in document.purposes},
            compiled_purposes=compiled,
            recipients={r.id: r for r in document.recipients},
            retention={r.id: r for r in document.retention},
            # A purpose on consent for the people of any jurisdiction takes consents (issue 12 item 1).
            consent_purposes=frozenset(
                pid
                for purposes in (compiled, *by_jurisdiction.values())
                for pid, cp in purposes.items()
                if cp.needs_consent
            ),
            by_jurisdiction=by_jurisdiction,
            residences={j.value: j for j in by_jurisdiction},
            consent_everywhere=frozenset(
                pid
                for pid, cp in compiled.items()
                if cp.needs_consent and all(purposes[pid].needs_consent for purposes in by_jurisdiction.values())
            ),
            child_age=children.minimum_age,
            guardian_consent=children.guardian_consent,
            unknown_age=children.unknown_age or (UnknownAge.ASK if india else UnknownAge.TREAT_AS_ADULT),
            sale_opt_in_age=children.sale_opt_in_age,
            sale_parent_age=children.sale_parent_age,
            default_ages=AgeRules.of(
                children.minimum_age, children.minimum_age, children.sale_opt_in_age, children.sale_parent_age
            ),
            age_bands={
                j: AgeRules.of(children.minimum_age, band.minimum_age, band.sale_opt_in_age, band.sale_parent_age)
                for j, band in children.by_jurisdiction.items()
            },
        )

    def residence(self, code: str | None) -> Jurisdiction | None:
        """A person's recorded residence as a jurisdiction this policy declares; None when unknown or no
        longer declared (such a person is decided on each purpose's own ground and the policy-wide ages)."""
        return self.residences.get(code) if code is not None else None

    def declared_jurisdiction(
        self, value: Jurisdiction | str | None, field_name: str = "jurisdiction"
    ) -> Jurisdiction | None:
        """A jurisdiction a caller names (where the person lives), as this policy knows it; 422 naming the field
        for an unknown code or one the policy does not declare (deciding on a law the store does not serve
        would be a guess)."""
        if value is None:
            return None
        try:
            jurisdiction = Jurisdiction(value)
        except ValueError:
            raise ValidationFailed(
                "The jurisdiction is unknown.",
                [FieldProblem(field_name, "must be one of " + ", ".join(j.value for j in Jurisdiction))],
            ) from None
        if jurisdiction not in self.by_jurisdiction:
            declared = ", ".join(j.value for j in self.document.controller.jurisdictions)
            raise ValidationFailed(
                "The policy in force does not serve this jurisdiction.",
                [FieldProblem(field_name, f"must be a jurisdiction the policy declares: {declared}")],
            )
        return jurisdiction

    def ages_for(self, jurisdiction: Jurisdiction | None) -> AgeRules:
        """The ages for the people of `jurisdiction`: its band where the policy states one, else the
        policy-wide ages (which `policy check` keeps at least as strict as every band)."""
        if jurisdiction is None:
            return self.default_ages
        return self.age_bands.get(jurisdiction, self.default_ages)

    def purpose(self, purpose_id: str, jurisdiction: Jurisdiction | None = None) -> CompiledPurpose | None:
        """The purpose as it applies to people of `jurisdiction`; None: as declared (its own legal_ground)."""
        return self.purposes_for(jurisdiction).get(purpose_id)

    def purposes_for(self, jurisdiction: Jurisdiction | None) -> Mapping[str, CompiledPurpose]:
        """Every purpose for the people of `jurisdiction`; KeyError for one the policy does not declare."""
        if jurisdiction is None:
            return self.compiled_purposes
        return self.by_jurisdiction[jurisdiction]

    def ground(self, purpose_id: str, jurisdiction: Jurisdiction | None = None) -> LegalGround | None:
        """The legal ground of a purpose for the people of `jurisdiction` (GDPR Art 6(1), DPDP s.4); None
        for an undeclared purpose. A jurisdiction without a ground of its own gets the purpose's own."""
        compiled = self.purpose(purpose_id, jurisdiction)
        return compiled.legal_ground if compiled is not None else None

    def today(self, now: datetime | None = None) -> date:
        """Today's date in the policy's time zone (`calendar.timezone`, Asia/Kolkata unless declared).

        The one "today" for age rules: a child (DPDP s.2(f): under 18) comes of age on the birthday in
        the store's own calendar, not in UTC's; at 2026-03-01T20:00Z it is already 2 March in India.
        `now` is the instant to date (default: the current time); a naive datetime is refused, because
        it would silently be read in the server's local zone. ZoneInfo caches its instances, so this
        costs a dictionary lookup, not a file read.
        """
        if now is None:
            now = datetime.now(UTC)
        elif now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be a timezone-aware datetime")
        return now.astimezone(ZoneInfo(self.document.calendar.timezone)).date()

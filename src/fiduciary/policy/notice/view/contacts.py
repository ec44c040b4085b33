"""The controller and contact sections of the notice: who the store is, its links, its officers and
contacts, where to complain (DPDP s.13, GDPR Art 13(1)(a)-(b), 13(2)(d)), and its security practices.
"""

from __future__ import annotations

from fiduciary.policy.notice.view.jurisdictions import JurisdictionSections
from fiduciary.policy.notice.view.labels import (
    JURISDICTION,
    REGION,
    ROLE,
)
from fiduciary.policy.notice.view.model import (
    AuthorityView,
    Coded,
    ComplaintsView,
    ContactView,
    ControllerView,
    Links,
    SecurityMeasureView,
    SecuritySection,
)
from fiduciary.policy.schema import (
    Contact,
    Jurisdiction,
    RightKind,
)


class ContactSections(JurisdictionSections):
    """Builds the controller, links, contacts, complaints and security sections of the notice."""

    def controller(self) -> ControllerView:
        c = self.doc.controller
        display = c.trading_name or c.legal_name
        address = self.address(c.address)
        statement = self._(
            "%(legal_name)s decides why and how your personal data is used (the data fiduciary or "
            "controller). We are at %(address)s."
        ) % {"legal_name": c.legal_name, "address": address.text}
        return ControllerView(
            legal_name=c.legal_name,
            trading_name=c.trading_name,
            display_name=display,
            website=str(c.website),
            address=address,
            jurisdictions=[Coded(j.value, self.label(JURISDICTION, j)) for j in c.jurisdictions],
            role=Coded(c.role.value, self.label(ROLE, c.role)),
            statement=statement,
        )

    def links(self) -> Links:
        """DPDP Rule 3(c) links. The privacy center is not built yet (docs/architecture.md), so until it is
        they go to the notice's own sections, which list the store's channels for each right: every link in
        a notice answers."""
        withdraw = "#right-withdraw_consent" if self.has_right(RightKind.WITHDRAW_CONSENT) else "#rights"
        return Links(
            notice=self.link("/privacy"),
            rights=self.link("/privacy#rights"),
            withdraw_consent=self.link("/privacy" + withdraw),
            complain=[str(a.url) for a in self.doc.contacts.authorities if a.url],
        )

    def security(self) -> SecuritySection:
        breach = self._(
            "If a personal data breach affects you, we commit to telling you what happened, what it means for "
            "you, what we are doing and what you can do, within %(duration)s (DPDP Rule 7(1))."
        ) % {"duration": self.duration(self.doc.cases.breach.notify_people)}
        return SecuritySection(
            measures=[SecurityMeasureView(m.name, m.description) for m in self.doc.security_measures],
            breach=breach,
        )

    def contact(self, role: str, label: str, contact: Contact, notes: list[str]) -> ContactView:
        return ContactView(
            role=Coded(role, label),
            name=contact.name,
            designation=contact.designation,
            email=str(contact.email) if contact.email else None,
            phone=contact.phone,
            address=self.address(contact.address).text if contact.address else None,
            url=str(contact.url) if contact.url else None,
            hours=contact.hours,
            policy_url=None,
            notes=notes,
        )

    def contacts(self) -> list[ContactView]:
        contacts = self.doc.contacts
        views: list[ContactView] = []
        if contacts.grievance_officer is not None:
            g = self.doc.cases.grievance
            views.append(
                self.contact(
                    "grievance_officer",
                    self._("Grievance Officer"),
                    contacts.grievance_officer,
                    [
                        self._(
                            "We commit to acknowledging a grievance within %(ack)s and resolving it within %(resolve)s."
                        )
                        % {"ack": self.duration(g.acknowledge_within), "resolve": self.duration(g.resolve_within)}
                    ],
                )
            )
        if contacts.data_protection_officer is not None:
            views.append(
                self.contact(
                    "data_protection_officer", self._("Data Protection Officer"), contacts.data_protection_officer, []
                )
            )
        if contacts.privacy_contact is not None:
            views.append(
                self.contact(
                    "privacy_contact",
                    self._("Questions about your data"),
                    contacts.privacy_contact,
                    [self._("Answers questions about how we process your personal data (DPDP Rule 9).")],
                )
            )
        security = contacts.security
        if security is not None:
            notes = [self._("Report a security vulnerability here.")]
            if security.preferred_languages:
                names = [self.locale.languages.get(lang.split("-")[0], lang) for lang in security.preferred_languages]
                notes.append(self._("Preferred languages: %(languages)s") % {"languages": self.join(names)})
            views.append(
                ContactView(
                    role=Coded("security", self._("Security contact")),
                    name=None,
                    designation=None,
                    email=str(security.email) if security.email else None,
                    phone=None,
                    address=None,
                    url=str(security.url) if security.url else None,
                    hours=None,
                    policy_url=str(security.policy_url) if security.policy_url else None,
                    notes=notes,
                )
            )
        views.extend(self.representatives())  # GDPR Art 27, Art 13(1)(a)
        return views

    def complaints(self) -> ComplaintsView:
        officer = self.doc.contacts.grievance_officer
        g = self.doc.cases.grievance
        timing = {"ack": self.duration(g.acknowledge_within), "resolve": self.duration(g.resolve_within)}
        if officer is not None:
            grievance = self._(
                "First write to our Grievance Officer, %(name)s (%(email)s). We commit to acknowledging within "
                "%(ack)s and resolving within %(resolve)s."
            ) % {"name": officer.name, "email": str(officer.email), **timing}
        else:
            grievance = (
                self._(
                    "First raise a grievance with us. We commit to acknowledging within %(ack)s and resolving "
                    "within %(resolve)s."
                )
                % timing
            )
        authorities = [
            AuthorityView(
                name=a.name,
                url=str(a.url) if a.url else None,
                jurisdiction=Coded(a.jurisdiction.value, self.label(REGION, a.jurisdiction)),
                applies_to=self.authority_applies_to(a.jurisdiction),
            )
            for a in self.doc.contacts.authorities
        ]
        laws = []
        jurisdictions = set(self.doc.controller.jurisdictions)
        if Jurisdiction.IN in jurisdictions:
            laws.append("DPDP Act s.13(3)")
        if jurisdictions & {Jurisdiction.EU, Jurisdiction.UK}:
            laws.append("GDPR Art 77")
        if laws:
            statement = self._(
                "If you are not satisfied with our answer, you can complain to the data protection authority "
                "(%(laws)s)."
            ) % {"laws": ", ".join(laws)}
        else:
            statement = self._(
                "If you are not satisfied with our answer, you can complain to the data protection authority."
            )
        return ComplaintsView(grievance=grievance, authorities=authorities, statement=statement)

"""The rights sections of the notice: each right with its channels and deadlines (DPDP s.11-14, GDPR
Art 15-22), the marketing opt-outs, and the business-day calendar the deadlines are counted in.
"""

from __future__ import annotations

from babel.dates import get_day_names

from fiduciary.policy.duration import DurationUnit
from fiduciary.policy.notice.view.jurisdictions import JurisdictionSections
from fiduciary.policy.notice.view.labels import (
    CHANNEL,
    IDENTIFIER,
    RIGHT,
    VERIFICATION,
)
from fiduciary.policy.notice.view.model import (
    N_,
    BusinessDaysView,
    ChannelView,
    Coded,
    DeadlineView,
    HolidayView,
    MarketingSection,
    MarketingView,
    RegionalDeadlineView,
    RightView,
)
from fiduciary.policy.schema import (
    Contact,
    Deadline,
    RequestChannel,
    Right,
    RightKind,
    Verification,
)


class RightsSections(JurisdictionSections):
    """Builds the rights, marketing opt-out and business-day sections of the notice."""

    def right_channel(self, channel: RequestChannel, right: Right) -> ChannelView:
        """How to reach us for a right, with the address to use (DPDP Rule 3(c), Rule 14(1))."""
        contact: Contact | None = (
            self.doc.contacts.grievance_officer if right.kind is RightKind.GRIEVANCE else None
        ) or self.rights_contact()
        code = channel.value
        if channel is RequestChannel.PRIVACY_CENTER and contact is not None:
            # No privacy center yet: the contact who answers for this right stands in for it, by the page
            # or the address the policy gives (never a link to a page that does not exist).
            if contact.url is not None:
                return ChannelView(code, self._("Our privacy requests page"), str(contact.url))
            if contact.email:
                email = str(contact.email)
                return ChannelView(code, self._("Email %(email)s") % {"email": email}, f"mailto:{email}")
            channel = RequestChannel.PHONE if contact.phone else RequestChannel.POST
        if channel is RequestChannel.EMAIL and contact and contact.email:
            email = str(contact.email)
            return ChannelView(code, self._("Email %(email)s") % {"email": email}, f"mailto:{email}")
        if channel is RequestChannel.PHONE and contact and contact.phone:
            return ChannelView(code, self._("Phone %(phone)s") % {"phone": contact.phone}, None)
        if channel is RequestChannel.POST and contact and contact.address:
            text = self._("Post to %(address)s") % {"address": self.address(contact.address).text}
            return ChannelView(code, text, None)
        label = {
            RequestChannel.EMAIL: self._("Email"),
            RequestChannel.PHONE: self._("Phone"),
            RequestChannel.POST: self._("Post"),
            RequestChannel.IN_APP: self._("In our app"),
            RequestChannel.EMAIL_LINK: self._("The link in any email we send you"),
            RequestChannel.PRIVACY_CENTER: self._("Our privacy team"),
            RequestChannel.EXTERNAL_MECHANISM: self._("An opt-out run by another company"),
        }[channel]
        return ChannelView(code, label, None)

    def external_channels(self) -> list[ChannelView]:
        """A right's `external_mechanism` channel: each opt-out others run, as a link to it."""
        code = RequestChannel.EXTERNAL_MECHANISM.value
        return [
            ChannelView(
                code, self._("%(name)s (run by %(operator)s)") % {"name": m.name, "operator": m.operator}, str(m.url)
            )
            for m in self.doc.external_opt_outs
        ]

    def channels(self, right: Right) -> list[ChannelView]:
        """The right's channels, each way of asking once (the privacy center's stand-in may repeat one)."""
        views: list[ChannelView] = []
        for channel in right.channels:
            if channel is RequestChannel.EXTERNAL_MECHANISM:
                found = self.external_channels()
            else:
                found = [self.right_channel(channel, right)]
            for view in found:
                if not any(v.label == view.label and v.url == view.url for v in views):
                    views.append(view)
        return views

    def deadline(self, right: Right) -> DeadlineView:
        return self.deadline_view(self.right_deadline(right))

    def deadline_view(self, d: Deadline) -> DeadlineView:
        respond = self.duration(d.respond_within)
        if d.respond_within.unit is DurationUnit.BUSINESS_DAYS:
            counting = Coded("business_days", self._("Business days: weekends and public holidays do not count."))
        elif d.respond_within.unit in (DurationUnit.HOURS, DurationUnit.MINUTES):
            counting = Coded("hours", self._("Hours, counted around the clock."))
        else:
            counting = Coded("calendar_days", self._("Calendar days: weekends and holidays count."))
        # Deadlines are the store's commitments from its policy; nothing in Fiduciary tracks requests yet.
        parts = [self._("We commit to acting within %(duration)s of receiving your request.") % {"duration": respond}]
        ack = None
        if d.acknowledge_within is not None:
            ack = self.duration(d.acknowledge_within)
            parts.append(self._("We commit to acknowledging it within %(duration)s.") % {"duration": ack})
        extension = None
        if d.extendable_by is not None:
            extension = self.duration(d.extendable_by)
            parts.append(
                self._("If a request is complex we may take up to %(duration)s more, and tell you why.")
                % {"duration": extension}
            )
        return DeadlineView(
            respond_within=respond,
            counting=counting,
            acknowledge_within=ack,
            extension=extension,
            summary=" ".join(parts),
        )

    def right(self, right: Right) -> RightView:
        title, description = RIGHT[right.kind]
        link = self.link(f"/privacy#right-{right.kind.value}")
        identifiers = [Coded(i.value, self.label(IDENTIFIER, i)) for i in right.identifiers]
        verification = [Coded(v.value, self.label(VERIFICATION, v)) for v in right.verification]
        if right.verification == [Verification.NONE]:
            checks = self._("We do not need to check who you are for this.")
        else:
            checks = self._("We check it is you by %(methods)s.") % {
                "methods": self.join_or([v.label for v in verification])
            }
        return RightView(
            kind=right.kind.value,
            title=self._(title),
            description=right.description or self._(description),
            channels=self.channels(right),
            identifiers=identifiers,
            identifiers_text=self._("Your %(identifiers)s.")
            % {"identifiers": self.join_or([i.label for i in identifiers])},
            verification=verification,
            verification_text=checks,
            deadline=self.deadline(right),
            limitations=list(right.limitations),
            link=link,
            applies_to=self.right_applies_to(right),
            deadlines_by_jurisdiction=[
                RegionalDeadlineView(who, self.deadline_view(d)) for who, d in self.regional_deadlines(right)
            ],
            authorised_agent=self.authorised_agent(right),
        )

    def authorised_agent(self, right: Right) -> str | None:
        """CCPA §1798.185(a)(7) and Regulations §7063(a): the agent may be asked for the person's signed
        permission, and the person to verify their own identity or confirm the permission."""
        if not right.authorised_agents:
            return None
        return self._(
            "You can also ask through an authorised agent. We may ask the agent for your signed permission, and "
            "ask you to verify your identity with us or confirm that you gave that permission."
        )

    def marketing(self) -> MarketingSection:
        purposes = [
            MarketingView(
                purpose=p.id,
                name=p.name,
                channels=[Coded(c.value, self.label(CHANNEL, c)) for c in p.marketing_channels],
                legal_ground=self.legal_ground(p).label,
            )
            for p in self.doc.purposes
            if p.marketing_channels
        ]
        by_kind = {r.kind: r for r in self.doc.rights}
        right = by_kind.get(RightKind.OPT_OUT_MARKETING) or by_kind.get(RightKind.WITHDRAW_CONSENT)
        opt_out = self.channels(right) if right else []
        deadline = None
        if right is not None:
            deadline = self._("We commit to applying your choice within %(duration)s.") % {
                "duration": self.duration(right.deadline.respond_within)
            }
        return MarketingSection(purposes=purposes, opt_out=opt_out, opt_out_deadline=deadline)

    def business_days(self) -> BusinessDaysView:
        calendar = self.doc.calendar
        index = {
            "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
        }  # fmt: skip
        names = get_day_names("wide", locale=self.locale)
        weekend = [str(names[index[day]]) for day in calendar.weekend]
        holidays = [
            HolidayView(date=h.date.isoformat(), date_text=self.date_text(h.date), name=h.name)
            for h in sorted(calendar.holidays, key=lambda h: h.date)
        ]
        # Say only what is true: no "holidays below" when none are listed.
        if holidays:
            text = N_(
                "Where a deadline is in business days, %(weekend)s and the public holidays below do not count "
                "(time zone %(timezone)s)."
            )
        else:
            text = N_("Where a deadline is in business days, %(weekend)s do not count (time zone %(timezone)s).")
        statement = self._(text) % {"weekend": self.join(weekend), "timezone": calendar.timezone}
        return BusinessDaysView(
            timezone=calendar.timezone,
            weekend=weekend,
            holidays=holidays,
            statement=statement,
            used=self.business_days_used(),
        )

    def business_days_used(self) -> bool:
        """Whether a deadline the notice states (a right's, or a grievance's) is counted in business days."""
        stated = [
            d
            for r in self.doc.rights
            for d in (r.deadline.respond_within, r.deadline.acknowledge_within, r.deadline.extendable_by)
        ]
        stated += [self.doc.cases.grievance.acknowledge_within, self.doc.cases.grievance.resolve_within]
        return any(d is not None and d.unit is DurationUnit.BUSINESS_DAYS for d in stated)

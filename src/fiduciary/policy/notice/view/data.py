"""The data sections of the notice: the itemised table of data, purpose, retention and recipients (DPDP
Rule 3(a)-(b)), and the categories, purposes and recipients with their transfers (GDPR Art 13(1)(e)-(f)).
"""

from __future__ import annotations

from fiduciary.policy.notice.view.jurisdictions import JurisdictionSections
from fiduciary.policy.notice.view.labels import (
    ACTION,
    CHANNEL,
    EVENT_AFTER,
    EVENT_AT,
    OPEN_ENDED,
    RECIPIENT_KIND,
    SENSITIVITY,
    SOURCE,
    TRANSFER_AREA,
    TRANSFER_ORIGIN,
    TRIGGER_AFTER,
    TRIGGER_AT,
    TRIGGER_LABEL,
)
from fiduciary.policy.notice.view.model import (
    CategoryView,
    Coded,
    ItemRow,
    PurposeView,
    RecipientView,
    RetentionView,
)
from fiduciary.policy.schema import (
    DataCategory,
    EventTrigger,
    LegalGround,
    Purpose,
    Recipient,
    RecipientKind,
    RetentionRule,
    RetentionTrigger,
    Source,
    trigger_code,
)


class DataSections(JurisdictionSections):
    """Builds the itemised data table and the category, purpose and recipient sections of the notice."""

    def retention_rules(self, category_id: str, purpose_id: str | None) -> list[RetentionRule]:
        """Rules for a category; a rule limited to purposes applies only to data used for them."""
        return [
            rule
            for rule in self.doc.retention
            if category_id in rule.categories
            and (purpose_id is None or not rule.purposes or purpose_id in rule.purposes)
        ]

    def retention_summary(self, rule: RetentionRule) -> tuple[str, str | None, Coded]:
        """The generated sentence, the period as text, and the trigger (a store event by its own words)."""
        trigger = rule.trigger
        duration = self.duration(rule.keep_for) if rule.keep_for is not None else None
        if isinstance(trigger, EventTrigger):
            words = self.events.get(trigger.event, trigger.event)
            coded = Coded(trigger_code(trigger), words)
            if duration is not None:
                when = self._(EVENT_AFTER) % {"duration": duration, "event": words}
            else:
                when = self._(EVENT_AT) % {"event": words}
        else:
            coded = Coded(trigger.value, self.label(TRIGGER_LABEL, trigger))
            open_ended = OPEN_ENDED.get((trigger, rule.action))
            if open_ended is not None:  # said as worded: no period the store did not state
                return self._(open_ended) % {"law": rule.law or ""}, None, coded
            if duration is not None:
                when = self.label(TRIGGER_AFTER, trigger) % {"duration": duration}
            else:
                when = self.label(TRIGGER_AT, trigger)
        return self._(ACTION[rule.action][1]) % {"when": when}, duration, coded

    @property
    def events(self) -> dict[str, str]:
        return {e.id: e.description for e in self.doc.retention_events}

    def retention(self, rule: RetentionRule) -> RetentionView:
        summary, duration, trigger = self.retention_summary(rule)
        action_label = ACTION[rule.action][0]
        hold = None
        if rule.legal_hold is not None:
            hold = self._(
                "The law requires us to keep it for at least %(duration)s (%(basis)s), even if you ask us "
                "to erase it sooner."
            ) % {"duration": self.duration(rule.legal_hold.minimum), "basis": rule.legal_hold.basis}
        notice = None
        if rule.advance_notice is not None:
            notice = self._("We will tell you at least %(duration)s before we erase it.") % {
                "duration": self.duration(rule.advance_notice)
            }
        counts_from = None
        if rule.counts_from is not None and rule.trigger is RetentionTrigger.LAST_ACTIVITY:
            # What the inactivity sweep keeps (`InactivityTerms.due_at`): DPDP Third Schedule, "whichever is later".
            counts_from = self._("If your last activity was before %(date)s, the period counts from that date.") % {
                "date": self.date_text(rule.counts_from)
            }
        return RetentionView(
            rule=rule.id,
            summary=summary,
            duration=duration,
            trigger=trigger,
            action=Coded(rule.action.value, self._(action_label)),
            legal_hold=hold,
            advance_notice=notice,
            counts_from=counts_from,
            exceptions=list(rule.exceptions),
            description=rule.description,
            store_wording=rule.store_wording,
            law=rule.law,
        )

    def retention_text(self, category_id: str, purpose_id: str) -> list[str]:
        rules = self.retention_rules(category_id, purpose_id)
        if not rules:
            # `policy check` refuses this (retention_missing); say so rather than promise a period (issue 12).
            return [self._("This policy does not state how long it is kept for this use.")]
        texts: list[str] = []
        for rule in rules:
            view = self.retention(rule)
            texts.append(
                " ".join(x for x in (view.summary, view.counts_from, view.legal_hold, view.advance_notice) if x)
            )
            if view.exceptions:
                texts.append(self._("Kept longer: %(items)s.") % {"items": self.join(view.exceptions)})
            if view.store_wording:
                texts.append(self._("In our own words: %(wording)s") % {"wording": view.store_wording})
        return texts

    def recipients_for(self, category_id: str, purpose_id: str) -> list[str]:
        return [r.name for r in self.doc.recipients if category_id in r.categories and purpose_id in r.purposes]

    def required_label(self, required: bool) -> str:
        return self._("Required") if required else self._("Optional")

    def items(self) -> list[ItemRow]:
        rows: list[ItemRow] = []
        for purpose in self.doc.purposes:
            ground = self.ground_text(purpose)  # each jurisdiction's where they differ
            optional = set(purpose.optional_categories)
            for category_id in [*purpose.categories, *purpose.optional_categories]:
                category = self.categories.get(category_id)
                required = bool(category and category.required) and category_id not in optional
                rows.append(
                    ItemRow(
                        category=category_id,
                        category_name=self.category_name(category_id),
                        purpose=purpose.id,
                        purpose_name=purpose.name,
                        service=purpose.service,
                        legal_ground=ground,
                        required=required,
                        required_label=self.required_label(required),
                        recipients=self.recipients_for(category_id, purpose.id),
                        retention=self.retention_text(category_id, purpose.id),
                    )
                )
        return rows

    def obtained(self, category: DataCategory) -> tuple[list[Coded], str]:
        sources: list[Coded] = []
        phrases: list[str] = []
        for source in category.sources:
            label = self.label(SOURCE, source)
            sources.append(Coded(source.value, label))
            if source is Source.THIRD_PARTY:
                phrases.append(
                    self._("From others: %(sources)s") % {"sources": self.join(category.third_party_sources)}
                )
            else:
                phrases.append(label)
        return sources, "; ".join(phrases)

    def category(self, category: DataCategory) -> CategoryView:
        sources, obtained = self.obtained(category)
        return CategoryView(
            id=category.id,
            name=category.name,
            description=category.description,
            sensitivity=Coded(category.sensitivity.value, self.label(SENSITIVITY, category.sensitivity)),
            required=category.required,
            required_label=self.required_label(category.required),
            if_not_provided=category.if_not_provided,
            sources=sources,
            third_party_sources=list(category.third_party_sources),
            obtained=obtained,
            purposes=[
                p.name for p in self.doc.purposes if category.id in p.categories or category.id in p.optional_categories
            ],
        )

    def purpose_notes(self, purpose: Purpose) -> list[str]:
        notes: list[str] = []
        if purpose.required_for_service and purpose.legal_ground is not LegalGround.CONTRACT:
            notes.append(self._("Needed for the service: without it we cannot provide the service."))
        if purpose.marketing_channels:
            notes.append(
                self._("Direct marketing by %(channels)s.")
                % {"channels": self.join([self.label(CHANNEL, c) for c in purpose.marketing_channels])}
            )
        if purpose.tracking:
            notes.append(self._("Tracks or monitors how you use our services."))
        if purpose.profiling:
            notes.append(self._("Builds a profile of your interests."))
        if purpose.targeted_advertising:
            notes.append(self._("Used to show you targeted advertising."))
        if purpose.sale_or_sharing:
            notes.append(self._("Shares your data with another company for its advertising."))
        if purpose.automated_decision:
            notes.append(
                self._(
                    "Includes automated decisions that can significantly affect you; you can ask for a "
                    "person to review them."
                )
            )
        if purpose.withdrawal_limits_service and purpose.legal_ground is LegalGround.CONSENT:
            notes.append(
                self._("You can withdraw your consent at any time. If you do: %(effect)s")
                % {"effect": purpose.withdrawal_limits_service}
            )
        others = [m.name for m in self.doc.external_opt_outs if purpose.id in m.purposes]
        if others:
            notes.append(
                self._("You can also opt out of this through %(mechanisms)s (see “Opt-outs and browser signals”).")
                % {"mechanisms": self.join_or(others)}
            )
        if purpose.spdi_written_consent:
            notes.append(self._("We ask for your written consent before collecting this data (SPDI Rules r.5(1))."))
        if purpose.barred_for_children:
            notes.append(self._("Never used for children."))
        return notes

    def purpose(self, purpose: Purpose) -> PurposeView:
        return PurposeView(
            id=purpose.id,
            name=purpose.name,
            description=purpose.description,
            service=purpose.service,
            legal_ground=self.purpose_ground(purpose),
            required_for_service=purpose.required_for_service,
            categories=[self.category_name(c) for c in purpose.categories],
            optional_categories=[self.category_name(c) for c in purpose.optional_categories],
            marketing_channels=[Coded(c.value, self.label(CHANNEL, c)) for c in purpose.marketing_channels],
            notes=self.purpose_notes(purpose),
            grounds_by_jurisdiction=self.regional_grounds(purpose),
        )

    def transfers(self, countries: list[str]) -> list[tuple[str, list[str]]]:
        """Where data leaves the place it comes from: for each law the store serves that restricts transfers
        (DPDP s.16, GDPR and UK GDPR Chapter V), the recipient's countries outside that area. Counted from
        the data's origin, not the store's address: an EU shopper's data sent to India leaves the EEA."""
        origins = [j for j in self.doc.controller.jurisdictions if j in TRANSFER_AREA]
        if not origins:
            home = self.home
            abroad = [c for c in countries if c != home]
            return [(self.country(home).label, abroad)] if abroad else []
        moves: list[tuple[str, list[str]]] = []
        for origin in origins:
            area = TRANSFER_AREA[origin]
            abroad = [c for c in countries if c not in area]
            if abroad:
                moves.append((self._(TRANSFER_ORIGIN[origin]), abroad))
        return moves

    def recipient(self, recipient: Recipient) -> RecipientView:
        countries = [self.country(code) for code in recipient.countries]
        # The public is not a transfer to a country: what a person publishes is visible wherever they are.
        moves = [] if recipient.kind is RecipientKind.PUBLIC else self.transfers(recipient.countries)
        transfer = None
        if moves:
            safeguard = recipient.transfer_safeguard or self._("no safeguard is declared")
            sentences = [
                self._("Transferred outside %(home)s to %(countries)s.")
                % {"home": origin, "countries": self.join([self.country(c).label for c in abroad])}
                for origin, abroad in moves
            ]
            sentences.append(self._("Safeguard: %(safeguard)s.") % {"safeguard": safeguard})
            transfer = " ".join(sentences)
        return RecipientView(
            id=recipient.id,
            name=recipient.name,
            kind=Coded(recipient.kind.value, self.label(RECIPIENT_KIND, recipient.kind)),
            description=recipient.description,
            categories=[self.category_name(c) for c in recipient.categories],
            purposes=[self.purpose_name(p) for p in recipient.purposes],
            countries=countries,
            cross_border=bool(moves),
            transfer=transfer,
        )

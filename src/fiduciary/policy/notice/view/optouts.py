"""The notice's section on opt-outs others run and on browser signals (issue 12).

Stores send readers to opt-outs they do not operate: industry portals (NAI, DAA, EDAA) and platforms' ad
settings. The notice lists each with what it covers. How the store answers Do Not Track and Global Privacy
Control is said only when the policy states it; the GPC sentence describes what consent/gpc.py does
(11 CCR §7025(b): `Sec-GPC: 1` is an opt-out of sale and sharing), which `policy check` holds the policy to.
"""

from __future__ import annotations

from fiduciary.policy.notice.view.base import BuilderBase
from fiduciary.policy.notice.view.model import N_, Coded, OptOutSection, OptOutView
from fiduciary.policy.schema import DoNotTrack, ExternalOptOut, GpcHandling, OptOutKind

OPT_OUT_KIND = {
    OptOutKind.INDUSTRY_PORTAL: N_("Industry opt-out portal"),
    OptOutKind.PLATFORM_SETTINGS: N_("The platform's own ad settings"),
    OptOutKind.BROWSER_OR_DEVICE: N_("Your browser or device settings"),
    OptOutKind.OTHER: N_("Other opt-out"),
}


class OptOutSections(BuilderBase):
    """Builds the opt-outs others run and the browser-signal statements."""

    def opt_out(self, mechanism: ExternalOptOut) -> OptOutView:
        recipients = {r.id: r.name for r in self.doc.recipients}
        covers = [self.purpose_name(p) for p in mechanism.purposes]
        covers += [recipients.get(r, r) for r in mechanism.recipients]
        return OptOutView(
            name=mechanism.name,
            operator=mechanism.operator,
            kind=Coded(mechanism.kind.value, self.label(OPT_OUT_KIND, mechanism.kind)),
            url=str(mechanism.url),
            covers=covers,
            scope=mechanism.scope,
        )

    def signals(self) -> list[str]:
        stated = self.doc.browser_signals
        if stated is None:
            return []
        out: list[str] = []
        if stated.gpc is GpcHandling.OPT_OUT:
            out.append(
                self._(
                    "If your browser sends the Global Privacy Control signal, we treat it as your request to opt "
                    "out of the sale or sharing of your data and of targeted advertising, for that browser and "
                    "for your account if you are signed in."
                )
            )
        if stated.do_not_track is DoNotTrack.NOT_HONOURED:
            out.append(
                self._(
                    "We do not respond to the Do Not Track signal, because no common standard for it was agreed. "
                    "Use the choices described here instead."
                )
            )
        elif stated.do_not_track is DoNotTrack.HONOURED:
            out.append(self._("If your browser sends the Do Not Track signal, we do not track you across sites."))
        return out

    def opt_outs(self) -> OptOutSection:
        return OptOutSection(mechanisms=[self.opt_out(m) for m in self.doc.external_opt_outs], signals=self.signals())

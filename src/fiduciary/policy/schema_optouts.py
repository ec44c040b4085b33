"""The policy schema for opt-outs that others run, and the store's stated answer to browser signals.

Real stores point people at opt-outs they do not operate themselves: the industry portals for
interest-based advertising (NAI, DAA, EDAA's YourOnlineChoices) and the platforms' own ad settings
(Google, Meta, Microsoft). The policy names each mechanism with its URL and the purposes or recipients it
covers, and the notice shows it; a right may list `external_mechanism` among its channels.

How a store answers Do Not Track and Global Privacy Control is a stated fact of its notice too. The GPC
statement must be true to the code: `consent/gpc.py` honours `Sec-GPC: 1` as an opt-out of sale, sharing
and targeted advertising, so `policy check` refuses a policy that says it ignores GPC (and CCPA regulations
11 CCR §7025 require honouring it where the store serves California).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AnyUrl, Field, model_validator

from fiduciary.policy.schema_types import ShortText, Slug, StrictModel


class OptOutKind(StrEnum):
    INDUSTRY_PORTAL = "industry_portal"  # NAI, DAA WebChoices/AppChoices, EDAA YourOnlineChoices
    PLATFORM_SETTINGS = "platform_settings"  # a platform's own ad settings: Google, Meta, Microsoft
    BROWSER_OR_DEVICE = "browser_or_device"  # the browser's or the phone's own advertising settings
    OTHER = "other"


class ExternalOptOut(StrictModel):
    """An opt-out someone else runs, shown in the notice beside the purposes or recipients it covers."""

    name: ShortText = Field(description="What the reader clicks, e.g. 'NAI consumer opt-out'.")
    operator: ShortText = Field(description="Who runs it, e.g. 'Network Advertising Initiative', 'Google'.")
    kind: OptOutKind
    url: AnyUrl = Field(description="Where the opt-out is made.")
    purposes: list[Slug] = Field(default_factory=list, description="Purposes this mechanism opts a person out of.")
    recipients: list[Slug] = Field(default_factory=list, description="Recipients whose use it opts a person out of.")
    scope: ShortText | None = Field(
        default=None,
        description="What it does and does not stop, in the store's words, e.g. 'stops interest-based ads from "
        "member companies in this browser; you will still see ads'.",
    )

    @model_validator(mode="after")
    def _covers_something(self) -> ExternalOptOut:
        if not (self.purposes or self.recipients):
            raise ValueError("an external opt-out must name the purposes or recipients it covers")
        return self


class DoNotTrack(StrEnum):
    NOT_HONOURED = "not_honoured"  # the usual answer: no common standard for acting on DNT was agreed
    HONOURED = "honoured"  # the store's own tags stop tracking when a browser sends `DNT: 1`


class GpcHandling(StrEnum):
    # What consent/gpc.py does: `Sec-GPC: 1` opts out of sale/sharing and targeted advertising (11 CCR §7025)
    OPT_OUT = "opt_out"
    IGNORED = "ignored"  # untrue for a store running Fiduciary; `policy check` refuses it


class BrowserSignals(StrictModel):
    """The store's answer to the privacy signals a browser can send, stated in the notice."""

    do_not_track: DoNotTrack | None = Field(
        default=None, description="How the store responds to a browser's Do Not Track signal."
    )
    gpc: GpcHandling = Field(
        default=GpcHandling.OPT_OUT,
        description="How the store treats Global Privacy Control. Fiduciary honours `Sec-GPC: 1` as an opt-out of "
        "the purposes flagged sale_or_sharing or targeted_advertising, so `opt_out` is the only true value.",
    )

"""How the notice speaks of change: the policy's change rules and the published versions' history
(ISO/IEC 29184 5.5).
"""

from __future__ import annotations

from collections.abc import Sequence

from fiduciary.policy.notice.view.base import BuilderBase
from fiduciary.policy.notice.view.labels import ANNOUNCE
from fiduciary.policy.notice.view.model import (
    ChangesView,
    Coded,
    CurrentVersionView,
    VersionView,
)
from fiduciary.policy.notice.view.versions import NoticeVersion


class ChangeSections(BuilderBase):
    """Builds the change rules and the version history of the notice."""

    def changes(self) -> ChangesView:
        c = self.doc.policy_changes
        via = [Coded(a.value, self.label(ANNOUNCE, a)) for a in c.announce_via]
        parts = [
            self._("We announce changes to this notice by %(channels)s.")
            % {"channels": self.join([v.label for v in via])}
        ]
        advance = None
        if c.advance_notice is not None:
            advance = self.duration(c.advance_notice)
            parts.append(
                self._("We announce a change at least %(duration)s before it takes effect.") % {"duration": advance}
            )
        if c.material_changes_require_reconsent:
            parts.append(
                self._(
                    "If a change is material (a new purpose, new data, a new recipient or country, longer "
                    "retention or weaker rights), we ask for your consent again before it applies to you."
                )
            )
        else:
            parts.append(self._("We do not ask for your consent again when this notice changes."))
        return ChangesView(
            announce_via=via,
            advance_notice=advance,
            reconsent=c.material_changes_require_reconsent,
            statement=" ".join(parts),
        )

    def history(
        self, versions: Sequence[NoticeVersion], current: int | None
    ) -> tuple[CurrentVersionView, list[VersionView]]:
        ordered = sorted(versions, key=lambda v: v.version)
        if current is None and ordered:
            current = ordered[-1].version
        views: list[VersionView] = []
        first = ordered[0].version if ordered else None
        for v in reversed(ordered):
            if v.version == current:
                status = Coded("current", self._("Current"))
            elif current is not None and v.version > current:
                status = Coded("upcoming", self._("Upcoming"))
            else:
                status = Coded("previous", self._("Previous"))
            views.append(
                VersionView(
                    version=v.version,
                    status=status,
                    effective_from=v.effective_from.isoformat(),
                    effective_from_text=self.date_text(v.effective_from.date()),
                    content_hash=v.content_hash,
                    material=v.material,
                    material_label=(
                        self._("First version")
                        if v.version == first and not v.changes
                        else self._("Material change")
                        if v.material
                        else self._("Minor change")
                    ),
                    changes=list(v.changes),
                )
            )
        chosen = next((v for v in ordered if v.version == current), None)
        if chosen is None:
            head = CurrentVersionView(
                version=None,
                effective_from=None,
                effective_from_text=None,
                content_hash=None,
                statement=self._("Draft: this notice has not been published."),
            )
        else:
            head = CurrentVersionView(
                version=chosen.version,
                effective_from=chosen.effective_from.isoformat(),
                effective_from_text=self.date_text(chosen.effective_from.date()),
                content_hash=chosen.content_hash,
                statement=self._("Version %(version)d, in effect from %(date)s.")
                % {"version": chosen.version, "date": self.date_text(chosen.effective_from.date())},
            )
        return head, views

"""security.txt (RFC 9116) generated from the policy's security contact.

A researcher who finds a weakness looks for `/.well-known/security.txt` to learn whom to tell and how. The
file is a rendering of the policy like the notice (DESIGN.md principle 1: the contacts are configured once,
in `contacts.security`), so a published policy change updates it.

Fields, in the order RFC 9116 s.2.5 lists them:
- `Contact` (s.2.5.3, at least one, in order of preference): the policy's email (`mailto:`) and url, then
  the service's own report form, which opens a case and gives the researcher a status page;
- `Expires` (s.2.5.5, exactly one, "less than a year into the future" recommended): the policy's `expires`,
  never more than a year after the day the file is served; unset, a year after that day;
- `Encryption` (s.2.5.4), `Acknowledgments` (s.2.5.1: the policy's page, else the service's hall of thanks),
  `Preferred-Languages` (s.2.5.8), `Canonical` (s.2.5.2: where this copy is served), `Policy` (s.2.5.7: the
  policy's disclosure policy, else the report form, which states the rules).

An Expires in the past tells researchers the contacts may be stale (RFC 9116 s.2.5.5), so the service
checks it (`expiry_notice`): a warning at start and a detail of `/healthz` when it has passed or is close.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from fiduciary.policy.schema import PolicyDocument
from fiduciary.policy.schema_parties import SecurityContact

WELL_KNOWN_PATH = "/.well-known/security.txt"
REPORT_FORM_PATH = "/security/report"
THANKS_PATH = "/security/thanks"
# RFC 9116 s.2.5.5: "it is RECOMMENDED that the value of this field be less than a year into the future".
LONGEST_AHEAD = timedelta(days=365)
# How long before the Expires the service starts warning: time for a person to review the contacts and
# publish a policy version with a later date.
WARN_BEFORE = timedelta(days=30)


class ExpiryState(StrEnum):
    """How the served Expires stands: `expired` has passed, `expires_soon` is within WARN_BEFORE."""

    EXPIRED = "expired"
    EXPIRES_SOON = "expires_soon"


@dataclass(frozen=True)
class ExpiryNotice:
    """Why the served security.txt needs a person's attention; no personal value, safe to log."""

    state: ExpiryState
    expires: datetime

    def describe(self) -> str:
        stamp = format_stamp(self.expires)
        if self.state is ExpiryState.EXPIRED:
            return f"security.txt Expires ({stamp}) has passed: set contacts.security.expires later and publish"
        return f"security.txt Expires ({stamp}) is less than {WARN_BEFORE.days} days away: review the contacts"


def format_stamp(value: datetime) -> str:
    """RFC 9116 s.2.5.5 wants an RFC 3339 date-time; seconds and a Z keep every validator's pattern happy."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expires_at(contact: SecurityContact | None, now: datetime) -> datetime:
    """The Expires to serve at `now`: the policy's, capped at a year after today (UTC midnight, so the file
    and a signature over it stay the same all day); unset, that year-ahead day itself."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    ceiling = today + LONGEST_AHEAD
    if contact is None or contact.expires is None:
        return ceiling
    return min(contact.expires.astimezone(UTC), ceiling)


def expiry_notice(document: PolicyDocument, now: datetime) -> ExpiryNotice | None:
    """None while the served Expires is more than WARN_BEFORE away; else what a person should know."""
    expires = expires_at(document.contacts.security, now)
    if expires <= now:
        return ExpiryNotice(ExpiryState.EXPIRED, expires)
    if expires - now <= WARN_BEFORE:
        return ExpiryNotice(ExpiryState.EXPIRES_SOON, expires)
    return None


def render(document: PolicyDocument, base_url: str, now: datetime, *, version: int | None = None) -> str:
    """The security.txt text (LF line ends, the last line ended too: RFC 9116 s.4 ABNF)."""
    contact = document.contacts.security
    base = base_url.rstrip("/")
    form = base + REPORT_FORM_PATH
    # One line whatever the policy's text holds: a line break in a name would end the comment.
    controller = " ".join((document.controller.trading_name or document.controller.legal_name).split())
    of_version = f" version {version}" if version else ""
    fields: list[tuple[str, object]] = []
    if contact is not None:
        fields += [("Contact", f"mailto:{contact.email}" if contact.email else None), ("Contact", contact.url)]
    fields += [("Contact", form), ("Expires", format_stamp(expires_at(contact, now)))]
    if contact is not None:
        fields.append(("Encryption", contact.encryption_url))
    fields.append(("Acknowledgments", (contact and contact.acknowledgments_url) or base + THANKS_PATH))
    languages = contact.preferred_languages if contact is not None else ["en"]
    fields.append(("Preferred-Languages", ", ".join(languages) or None))
    fields.append(("Canonical", base + WELL_KNOWN_PATH))
    fields.append(("Policy", (contact and contact.policy_url) or form))
    lines = [f"# Security contacts of {controller}, from its privacy policy{of_version}"]
    lines += [f"{name}: {value}" for name, value in fields if value]
    return "\n".join(lines) + "\n"

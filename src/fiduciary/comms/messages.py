"""Message kinds and their templates, per language (English and Hindi through the notice's catalogue).

Each kind names its category, which decides what the outbox requires of it: a `rights` message carries the
policy's grievance contact (DPDP Rule 9; the Grievance Officer of SPDI Rule 5(9) and DPDP s.8(10), else the
DPO or privacy contact of a policy without one), a `marketing` message needs a decision that allows it.
Templates live in `comms/templates/<template>.subject.j2` and `<template>.txt.j2`; their fixed text goes
through gettext (`{% trans %}`), extracted into `src/fiduciary/locale` as docs/notice.md says. Subjects
never carry a personal value: the subject is stored in clear, the body sealed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final

from babel.dates import format_date
from jinja2 import Environment, PackageLoader, StrictUndefined

from fiduciary.errors import Conflict, FieldProblem, ValidationFailed
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.notice import load_translations, resolve_language
from fiduciary.policy.notice.i18n import babel_locale
from fiduciary.policy.schema import Contact


class Category(StrEnum):
    RIGHTS = "rights"  # answers to a person's rights requests: carry the grievance contact
    SERVICE = "service"  # messages the service itself needs to send (no gate)
    MARKETING = "marketing"  # direct marketing: refused without an allowing decision


@dataclass(frozen=True)
class MessageKind:
    name: str
    category: Category
    template: str
    params: frozenset[str]


KINDS: Final[Mapping[str, MessageKind]] = {
    kind.name: kind
    for kind in (
        MessageKind("rights.code", Category.RIGHTS, "rights_code", frozenset({"code", "minutes"})),
        MessageKind("rights.received", Category.RIGHTS, "rights_received", frozenset({"reference", "due_on"})),
        MessageKind(
            "rights.extended", Category.RIGHTS, "rights_extended", frozenset({"reference", "due_on", "reason"})
        ),
        MessageKind("rights.completed", Category.RIGHTS, "rights_completed", frozenset({"reference"})),
        MessageKind("rights.rejected", Category.RIGHTS, "rights_rejected", frozenset({"reference", "reason"})),
        MessageKind("rights.cancelled", Category.RIGHTS, "rights_cancelled", frozenset({"reference"})),
        MessageKind("rights.reminder", Category.RIGHTS, "rights_reminder", frozenset({"reference"})),
        MessageKind("rights.scheduled", Category.RIGHTS, "rights_scheduled", frozenset({"reference", "runs_on"})),
        MessageKind(
            "rights.package_ready",
            Category.RIGHTS,
            "rights_package_ready",
            frozenset({"reference", "link", "expires_on", "downloads"}),
        ),
        MessageKind("rights.erased", Category.RIGHTS, "rights_erased", frozenset({"reference", "kept"})),
        # DPDP Rule 8(2): the reminder and the notice before an inactivity erasure (retention.inactivity_sweep)
        MessageKind("inactivity.reminder", Category.RIGHTS, "inactivity_reminder", frozenset({"erase_on"})),
        MessageKind("inactivity.notice", Category.RIGHTS, "inactivity_notice", frozenset({"erase_on"})),
        MessageKind(
            "breach.notice",  # DPDP s.8(6), Rule 7(1)(a)-(e): the contact (e) is the grievance line
            Category.RIGHTS,
            "breach_notice",
            frozenset({"reference", "what_happened", "when", "consequences", "measures", "safety_steps"}),
        ),
        MessageKind(
            "cases.grievance.acknowledged",
            Category.RIGHTS,
            "cases_grievance_acknowledged",
            frozenset({"reference", "due_on"}),
        ),
        MessageKind(
            "cases.grievance.reply", Category.RIGHTS, "cases_grievance_reply", frozenset({"reference", "text"})
        ),
        MessageKind(
            "cases.grievance.closed",
            Category.RIGHTS,
            "cases_grievance_closed",
            frozenset({"reference", "outcome", "text", "authorities"}),
        ),
        MessageKind("marketing.message", Category.MARKETING, "marketing_message", frozenset({"headline", "text"})),
        # A researcher's vulnerability report moved (cases.vulnerability_reports); not a rights answer.
        MessageKind(
            "cases.vulnerability.status",
            Category.SERVICE,
            "cases_vulnerability_status",
            frozenset({"reference", "step", "link"}),
        ),
        MessageKind(
            "cases.vulnerability.reply",
            Category.SERVICE,
            "cases_vulnerability_reply",
            frozenset({"reference", "text"}),
        ),
    )
}


@dataclass(frozen=True)
class Rendered:
    language: str
    subject: str
    body: str


def message_kind(name: str) -> MessageKind:
    found = KINDS.get(name)
    if found is None:
        raise ValidationFailed(
            "Unknown message kind.", [FieldProblem("kind", "no such message kind", hint=", ".join(sorted(KINDS)))]
        )
    return found


def grievance_contact(policy: CompiledPolicy) -> str:
    """The one line every rights message ends with: who to complain to, and how (DPDP Rule 9)."""
    contacts = policy.document.contacts
    contact: Contact | None = contacts.grievance_officer or contacts.data_protection_officer or contacts.privacy_contact
    if contact is None:
        raise Conflict(
            "The policy names no grievance officer, DPO or privacy contact for rights messages.",
            code="no_grievance_contact",
        )
    who = ", ".join(str(part) for part in (contact.name, contact.designation) if part)
    reach = ", ".join(str(part) for part in (contact.email, contact.phone, contact.url) if part)
    return f"{who}: {reach}" if who else reach


@lru_cache(maxsize=16)
def _environment(language: str) -> Environment:
    env = Environment(
        loader=PackageLoader("fiduciary.comms", "templates"),
        autoescape=False,  # noqa: S701 - plain-text mail, never HTML
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(load_translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def _value(value: Any, language: str) -> Any:
    if isinstance(value, date):
        return format_date(value, format="long", locale=babel_locale(language))
    return value


def render(kind: MessageKind, policy: CompiledPolicy, params: Mapping[str, Any], language: str | None) -> Rendered:
    """Subject and body of `kind` in `language` (the policy's when None; English when no catalogue)."""
    missing = sorted(kind.params - set(params))
    extra = sorted(set(params) - kind.params)
    if missing or extra:
        problems = [FieldProblem(f"params.{name}", "required by this message kind") for name in missing]
        problems += [FieldProblem(f"params.{name}", "not a parameter of this message kind") for name in extra]
        raise ValidationFailed("Bad message parameters.", problems)
    resolved = resolve_language(language or policy.document.language)
    controller = policy.document.controller
    context: dict[str, Any] = {name: _value(value, resolved) for name, value in params.items()}
    context["store"] = controller.trading_name or controller.legal_name
    if kind.category is Category.RIGHTS:
        context["grievance"] = grievance_contact(policy)
    env = _environment(resolved)
    subject = env.get_template(f"{kind.template}.subject.j2").render(context).strip()
    body = _paragraphs(env.get_template(f"{kind.template}.txt.j2").render(context))
    return Rendered(resolved, " ".join(subject.split()), body)


def _paragraphs(body: str) -> str:
    """One blank line between paragraphs, one newline at the end. The templates end each `{% trans %}` with
    `{% endtrans +%}` so the blank line after it survives `trim_blocks`; a paragraph left out by an `if`
    would otherwise leave two."""
    return re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", body).strip("\n") + "\n"
